"""emailsec.hes.pfsense and the verify role against `hes-lab pfsense` boxes, through ansible-playbook.

Each test lays out its own box (hes_lab.pfsense.PfsenseBox: config.xml, pfSense's own xmlparse.inc
under Debian's php-cli, stand-ins for the rest of pfSense's PHP and for pfctl) and removes it. The
shipped playbooks run with an inventory whose host fw1 is in group pfsense, `ansible_connection:
local` and `hes_pfsense_root` pointing at the box: the same module code that runs over SSH on a
firewall. What the box saw is judged from its own log (lab/commands.log: every php run,
write_config, config_restore, filter reload and pfctl call), its config.xml, its history and what
its pfctl loaded.
"""
import json
import os
import re
import stat
import subprocess
import sys

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "lab"))
from hes_lab.pfsense import PfsenseBox  # noqa: E402

from ansible_collections.emailsec.hes.plugins.module_utils.pfsense.parse import (  # noqa: E402
    parse_config,
    without_revision,
)

pytestmark = [pytest.mark.slow]

ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
PLAYBOOKS = os.path.join(REPO, "playbooks")
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pfsense_role")
RANGES = ["203.0.113.0/25", "192.0.2.64/26"]


def site_check(lab):
    """The harden + verify play of tests/integration/site_check.yml in check mode."""
    command = [ANSIBLE_PLAYBOOK, "-i", lab.inventory, os.path.join(os.path.dirname(HERE), "site_check.yml"),
               "--check", "-e", json.dumps({"hes_backup_dir": str(lab.tmp / "backups"),
                                            "hes_verify_report_dir": str(lab.tmp / "reports")})]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600, check=False)


def original_config():
    with open(os.path.join(HERE, "fw1.xml")) as handle:
        return handle.read()


class Lab:
    def __init__(self, tmp_path, release="2.7.2"):
        self.tmp = tmp_path
        self.box = PfsenseBox(str(tmp_path / "fw1")).up(original_config(), release=release)
        self.inventory = str(tmp_path / "hosts.yml")
        with open(self.inventory, "w") as handle:
            yaml.safe_dump({"all": {"children": {"pfsense": {"hosts": {"fw1": {
                "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                "hes_pfsense_root": self.box.root, "hes_ranges": RANGES, "hes_allow_reserved": True}}}}}}, handle)

    def play(self, playbook, *args, extra=None):
        """(rc, stats, results by task name, output)."""
        command = [ANSIBLE_PLAYBOOK, "-i", self.inventory, os.path.join(PLAYBOOKS, playbook), *args, "-e",
                   json.dumps(dict({"hes_backup_dir": str(self.tmp / "backups"),
                                    "hes_verify_report_dir": str(self.tmp / "reports")}, **(extra or {})))]
        environment = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_NOCOLOR="1")
        proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=environment, timeout=600,
                              check=False)
        try:
            report = json.loads(proc.stdout[proc.stdout.index("{"):])
        except ValueError:
            pytest.fail("ansible-playbook printed no JSON: %s\n%s" % (proc.stdout, proc.stderr))
        results = {}
        for play_report in report["plays"]:
            for task in play_report["tasks"]:
                for host, result in task["hosts"].items():
                    results.setdefault(task["task"]["name"], []).append(result)
        return proc.returncode, report["stats"].get("fw1", {}), results, proc.stdout + proc.stderr

    def backups(self):
        folder = self.tmp / "backups"
        return sorted(os.listdir(folder)) if folder.exists() else []

    def config(self):
        return parse_config(self.box.config_text())


def task(results, prefix):
    return next(r for name, rs in results.items() if prefix in name for r in rs)


def failure(results):
    return next(r for rs in results.values() for r in rs if r.get("failed"))["msg"]


WRITE = "Write through pfSense's PHP"


@pytest.fixture
def lab(tmp_path):
    instance = Lab(tmp_path)
    try:
        yield instance
    finally:
        instance.box.down()
        assert not os.path.exists(instance.box.root)


def test_check_mode_harden_second_run_verify_and_rollback(lab):
    before = lab.box.config_text()
    rc, stats, results, out = lab.play("verify.yml")
    assert rc != 0, out
    with open(lab.tmp / "reports" / "fw1.verify.json") as handle:
        report = json.load(handle)
    assert report["status"] == "fail" and report["vendor"] == "pfsense"
    assert "group_members" in report["summary"]["failed_checks"] and "no_broader_permit" in report["summary"]["failed_checks"]
    leak = report["engine"]["leaks"][0]
    assert leak["rule"].startswith('rule "Inbound SMTP to mail relay" on wan') or leak["rule"].startswith('rule "NAT SMTP')

    php_runs = len(lab.box.events("php"))
    rc, stats, results, out = lab.play("harden.yml", "--check", "--diff")
    assert rc == 0 and stats["changed"] == 1, out
    assert lab.box.config_text() == before and len(lab.box.events("php")) == php_runs
    plan = task(results, "Plan on config.xml")
    assert [d["before_header"] for d in plan["diff"]] == [
        'config.xml aliases/alias/0 "TM_HES_IP_RANGE"', 'config.xml filter/rule/3 "Inbound SMTP to mail relay"',
        'config.xml filter/rule/4 "NAT SMTP to mail server"', 'config.xml nat/rule/0 "SMTP to mail server"',
        "plan gate"]
    assert "<address>TM_HES_IP_RANGE</address>" in plan["diff"][1]["after"]
    assert plan["diff"][-1]["after"] == "gate: %s\n" % plan["differential"]
    assert plan["differential"] == ("verdict changes: TCP/25 from outside the ranges to 10.0.20.25, 198.51.100.25: "
                                    "allow -> deny; other flows: none")
    assert lab.backups() == []

    rc, stats, results, out = lab.play("harden.yml")
    assert rc == 0 and stats["changed"] >= 1, out
    written = task(results, WRITE)
    assert written["filter_loaded"] is True
    assert written["revision_after"]["description"].startswith("(system): emailsec.hes: alias TM_HES_IP_RANGE created")
    config = lab.config()
    alias = config["aliases"]["alias"][0]
    assert (alias["name"], alias["type"], alias["address"]) == ("TM_HES_IP_RANGE", "network", "192.0.2.64/26 203.0.113.0/25")
    assert [r["source"] for r in config["filter"]["rule"][3:5]] == [{"address": "TM_HES_IP_RANGE"}] * 2
    assert config["nat"]["rule"][0]["source"] == {"address": "TM_HES_IP_RANGE"}
    assert len(lab.box.events("write_config")) == 1 and lab.box.dirty() == []
    assert lab.box.history() == ["config-1732900000.xml"]
    loaded = lab.box.pfctl("-sr").stdout
    assert "from <TM_HES_IP_RANGE> to 198.51.100.25 port = smtp" in loaded and "ridentifier 1700000101" in loaded
    assert lab.box.pfctl("-t", "TM_HES_IP_RANGE", "-T", "show").stdout.split() == ["192.0.2.64/26", "203.0.113.0/25"]
    [backup] = lab.backups()
    assert re.fullmatch(r"fw1\.pfsense\.\d{8}T\d{12}Z\.json", backup)
    assert stat.S_IMODE(os.stat(lab.tmp / "backups" / backup).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(lab.tmp / "backups").st_mode) == 0o700
    with open(lab.tmp / "backups" / backup) as handle:
        saved = json.load(handle)
    assert (saved["host"], saved["vendor"], saved["device"]) == ("fw1", "pfsense", {"hostname": "fw1.example.net"})
    assert saved["restore"]["config_xml"] == before and saved["restore"]["edits"] == written["edits"]
    assert "<bcrypt" not in out and "Local Database" not in json.dumps(task(results, "Write the backup"))

    php_runs = len(lab.box.events("php"))
    rc, stats, results, out = lab.play("harden.yml")
    assert rc == 0 and stats["changed"] == 0, out
    assert len(lab.box.events("php")) == php_runs and len(lab.box.events("write_config")) == 1
    assert lab.backups() == [backup]

    rc, stats, results, out = lab.play("verify.yml")
    assert rc == 0, out
    with open(lab.tmp / "reports" / "fw1.verify.json") as handle:
        report = json.load(handle)
    assert report["status"] == "pass", report["checks"]
    assert [c["id"] for c in report["checks"]] == ["group_members", "smtp_rule", "no_broader_permit", "probes_smtp",
                                                   "probes_other_ports"]
    # 2 mail servers x 2 ranges x (first, last, below, above)
    assert report["summary"]["probes"] == 2 * 2 * 4 and report["summary"]["failed_probes"] == 0

    rc, stats, results, out = lab.play("rollback.yml")
    assert rc == 0 and stats["changed"] >= 1, out
    assert without_revision(lab.config()) == without_revision(parse_config(before))
    assert lab.config()["revision"]["description"].startswith("(system): Reverted to config-1732900000.xml")
    assert "from any to 198.51.100.25 port = smtp" in lab.box.pfctl("-sr").stdout
    assert lab.box.dirty() == []
    rc, stats, results, out = lab.play("rollback.yml")
    assert rc == 0 and stats["changed"] == 0, out


def test_a_site_play_in_check_mode_judges_the_planned_configuration_and_changes_nothing(lab):
    before = lab.box.config_text()
    done = site_check(lab)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "the planned configuration was judged" in " ".join(done.stdout.split())
    report_path = lab.tmp / "reports" / "fw1.verify.json"
    report = json.loads(report_path.read_text())
    assert report["status"] == "pass" and report["planned"] is True and report["vendor"] == "pfsense"
    assert stat.S_IMODE(os.stat(report_path).st_mode) == 0o600
    assert lab.box.config_text() == before and lab.box.events("write_config") == []


def test_a_concurrent_edit_between_read_and_write_is_refused_and_nothing_is_written(lab):
    lab.box.control(concurrent_edit="edited by another admin")
    rc, stats, results, out = lab.play("harden.yml")
    assert rc != 0, out
    assert "config.xml changed between the read and the write" in failure(results)
    config = lab.config()
    assert config["aliases"] == "" or "alias" not in config["aliases"]
    assert config["filter"]["rule"][0]["descr"].endswith("(edited by another admin)")
    assert [e["description"] for e in lab.box.events("write_config")] == [
        "(system): Firewall: Rules - saved/edited a firewall rule."]
    rc, stats, results, out = lab.play("harden.yml")
    assert rc == 0 and stats["changed"] >= 1, out


def test_a_ruleset_that_does_not_load_puts_the_previous_revision_back(lab):
    before = lab.box.config_text()
    loaded_before = lab.box.pfctl("-sr").stdout
    lab.box.control(pfctl_load_fails="syntax error")
    rc, stats, results, out = lab.play("harden.yml")
    assert rc != 0, out
    assert "did not load the new ruleset" in failure(results) and "was restored with config_restore()" in failure(results)
    assert without_revision(lab.config()) == without_revision(parse_config(before))
    assert lab.box.pfctl("-sr").stdout == loaded_before
    assert [e["event"] for e in lab.box.events() if e["event"] in ("write_config", "config_restore")] == [
        "write_config", "config_restore", "write_config"]


def test_php_that_dies_gives_a_clear_failure_and_no_change(lab):
    before = lab.box.config_text()
    lab.box.control(php_dies="Allowed memory size exhausted")
    rc, stats, results, out = lab.play("harden.yml")
    assert rc != 0, out
    assert "pfSense's PHP gave no answer" in failure(results) and "Allowed memory size exhausted" in failure(results)
    assert lab.box.config_text() == before


def test_rollback_refuses_when_the_configuration_changed_after_the_hardening(lab):
    rc, stats, results, out = lab.play("harden.yml")
    assert rc == 0, out
    edit = lab.box.php("require_once('config.inc'); config_set_path('system/timeservers', 'ntp.example.net');"
                       " write_config('System: General Setup');")
    assert edit.returncode == 0, edit.stderr
    rc, stats, results, out = lab.play("rollback.yml")
    assert rc != 0 and "changed after the hardening wrote it" in failure(results), out
    assert lab.config()["system"]["timeservers"] == "ntp.example.net"
    rc, stats, results, out = lab.play("rollback.yml", extra={"hes_pfsense_rollback_force": True})
    assert rc == 0, out
    assert lab.config()["system"]["timeservers"] == "2.pfsense.pool.ntp.org"
    assert lab.config()["aliases"] == ""


def test_release_2_8_signatures(tmp_path):
    """pfSense 2.8 has config_restore($path, $descr) returning a bool and config_read_file()."""
    instance = Lab(tmp_path, release="2.8.0")
    try:
        before = instance.box.config_text()
        rc, stats, results, out = instance.play("harden.yml")
        assert rc == 0, out
        rc, stats, results, out = instance.play("rollback.yml")
        assert rc == 0, out
        assert without_revision(instance.config()) == without_revision(parse_config(before))
        assert instance.config()["revision"]["description"].startswith('(system): Reverted to "emailsec.hes: rollback')
    finally:
        instance.box.down()
