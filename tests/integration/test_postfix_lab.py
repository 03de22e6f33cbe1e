"""emailsec.hes.postfix against a real Postfix in network namespaces (needs root; make setup
installs postfix, dnsmasq and swaks).

Each test builds its own mail lab (hes_lab.mta: Postfix with postscreen in front, dnsmasq serving a
DNSBL zone that lists every address, a client with one address inside the allowed set and one
outside; RFC 5737 only) and tears it down whatever happened; Postfix's master and dnsmasq are
stopped by pid. The shipped playbooks (harden, verify, rollback) run through ansible-playbook with
the lab's inventory (host mx in group mta, modules run inside the mail namespace). Mail is sent
with swaks and judged from what the client saw, the Maildir and Postfix's own log.
"""
import json
import os
import stat
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "lab"))
from hes_lab.mta import MailLab  # noqa: E402

pytestmark = [pytest.mark.netns, pytest.mark.slow]

ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
HERE = os.path.dirname(os.path.abspath(__file__))
PLAYBOOKS = os.path.join(REPO, "playbooks")


def build(**options):
    instance = MailLab(**options)
    instance.up()
    return instance


def teardown(instance):
    instance.down()
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert not any(name.startswith(instance.prefix + "-") for name in listing.split())
    assert not os.path.exists(instance.state_dir)


@pytest.fixture
def lab():
    instance = MailLab()
    try:
        instance.up()
        yield instance
    finally:
        teardown(instance)


def play(lab, playbook, *args, extra=None):
    """Run a playbook against the lab: (rc, per-host stats, task results by host, stdout)."""
    command = [ANSIBLE_PLAYBOOK, "-i", lab.inventory_path, playbook, *args, "-e", json.dumps(dict({
        "hes_backup_dir": lab.path("backups"), "hes_verify_report_dir": lab.path("reports")}, **(extra or {})))]
    environment = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=environment, timeout=600, check=False)
    try:
        report = json.loads(proc.stdout[proc.stdout.index("{"):])
    except ValueError:
        pytest.fail("ansible-playbook printed no JSON: %s\n%s" % (proc.stdout, proc.stderr))
    results = {}
    for play_report in report["plays"]:
        for task in play_report["tasks"]:
            for host, result in task["hosts"].items():
                results.setdefault(host, []).append((task["task"]["name"], result))
    return proc.returncode, report["stats"], results, proc.stdout + proc.stderr


def harden(lab, *args, **kwargs):
    return play(lab, os.path.join(PLAYBOOKS, "harden.yml"), *args, **kwargs)


def module_result(results):
    return [r for name, r in results["mx"] if "DNSBL approved list" in name][-1]


def failure(results):
    return next(r for unused_name, r in results["mx"] if r.get("failed"))["msg"]


def main_cf(lab):
    with open(os.path.join(lab.config_dir, "main.cf")) as handle:
        return handle.read()


def tables(lab):
    return sorted(name for name in os.listdir(lab.config_dir) if name.startswith("tm_hes_"))


def reloads(lab):
    return lab.maillog().count(": reload -- version")


def outcomes(lab):
    return dict((case, (entry["outcome"], entry["delivered"])) for case, entry in lab.check_mail().items())


def test_before_the_role_runs_the_dnsbl_refuses_every_client(lab):
    mail = lab.check_mail()
    assert dict((case, entry["outcome"]) for case, entry in mail.items()) == {
        "inside": "blocked", "outside": "blocked", "inside_foreign": "blocked"}
    assert "550 5.7.1 Service unavailable; client [198.51.100.10] blocked using dnsbl.test" in mail["inside"]["replies"]
    assert "addr 198.51.100.10 listed by domain dnsbl.test as 127.0.0.2" in lab.maillog()
    assert "query[A] 10.100.51.198.dnsbl.test" in lab.dns_log()
    assert "ALLOWLISTED" not in lab.maillog()


def test_check_mode_harden_mail_second_run_verify_and_rollback(lab):
    original = main_cf(lab)

    rc, unused_stats, results, out = play(lab, os.path.join(PLAYBOOKS, "verify.yml"))
    assert rc != 0, out
    with open(lab.path("reports", "mx.verify.json")) as handle:
        before = json.load(handle)
    assert before["status"] == "fail" and "postscreen_position" in before["summary"]["failed_checks"]

    rc, stats, results, out = harden(lab, "--check", "--diff")
    assert rc == 0 and stats["mx"]["changed"] == 1, out
    checked = module_result(results)
    assert checked["commands"] == [] and checked["reloaded"] is False
    main_diff = checked["diff"][0]
    assert main_diff["before"] == original
    assert ("postscreen_access_list = permit_mynetworks, cidr:%s/tm_hes_postscreen.cidr\n" % lab.config_dir
            in main_diff["after"])
    assert ("smtpd_recipient_restrictions = check_client_access cidr:%s/tm_hes_smtpd.cidr reject_rbl_client "
            "dnsbl.test\n" % lab.config_dir in main_diff["after"])
    assert [d["after_header"] for d in checked["diff"][1:]] == [
        os.path.join(lab.config_dir, "tm_hes_postscreen.cidr"), os.path.join(lab.config_dir, "tm_hes_smtpd.cidr")]
    assert "198.51.100.0/25\tpermit\n203.0.113.64/26\tpermit\n" in checked["diff"][1]["after"]
    assert main_cf(lab) == original and tables(lab) == [] and reloads(lab) == 0
    assert not os.path.exists(lab.path("backups"))

    rc, stats, results, out = harden(lab)
    assert rc == 0 and stats["mx"]["changed"] >= 1, out
    applied = module_result(results)
    assert applied["reloaded"] is True and reloads(lab) == 1
    assert applied["commands"][0].startswith("postconf -c %s -e 'postscreen_access_list = " % lab.config_dir)
    assert applied["commands"][1:] == ["postfix -c %s check" % lab.config_dir, "postfix -c %s reload" % lab.config_dir]
    assert tables(lab) == ["tm_hes_postscreen.cidr", "tm_hes_smtpd.cidr"]
    backups = os.listdir(lab.path("backups"))
    assert len(backups) == 1 and backups[0].startswith("mx.postfix.")
    backup_path = lab.path("backups", backups[0])
    assert stat.S_IMODE(os.stat(backup_path).st_mode) == 0o600
    with open(backup_path) as handle:
        kept = json.load(handle)["restore"]
    assert kept["main_cf"] == original and kept["parameters"]["postscreen_access_list"] is None

    assert outcomes(lab) == {"inside": ("accepted", True), "outside": ("blocked", False),
                             "inside_foreign": ("relay-denied", False)}
    log = lab.maillog()
    assert "postscreen" in log and "ALLOWLISTED [198.51.100.10]" in log
    assert "ALLOWLISTED [203.0.113.10]" not in log
    assert "Relay access denied" in log

    mtimes = dict((name, os.stat(os.path.join(lab.config_dir, name)).st_mtime_ns)
                  for name in ["main.cf"] + tables(lab))
    rc, stats, results, out = harden(lab, "--diff")
    assert rc == 0 and stats["mx"]["changed"] == 0, out
    again = module_result(results)
    assert again["commands"] == [] and again["edits"] == [] and "diff" not in again
    assert any("already in place" in m for m in again["messages"])
    assert reloads(lab) == 1
    assert mtimes == dict((name, os.stat(os.path.join(lab.config_dir, name)).st_mtime_ns) for name in mtimes)

    rc, unused_stats, results, out = play(lab, os.path.join(PLAYBOOKS, "verify.yml"))
    assert rc == 0, out
    with open(lab.path("reports", "mx.verify.json")) as handle:
        after = json.load(handle)
    assert after["status"] == "pass" and after["vendor"] == "postfix"
    assert dict((c["id"], c["status"]) for c in after["checks"]) == {
        "postscreen_position": "pass", "smtpd_position": "pass", "postscreen_table": "pass", "smtpd_table": "pass",
        "relay_closed": "pass"}
    with open(lab.path("reports", "fleet-summary.md")) as handle:
        assert "| mx | postfix | PASS |" in handle.read()

    rc, stats, results, out = play(lab, os.path.join(PLAYBOOKS, "rollback.yml"))
    assert rc == 0 and stats["mx"]["changed"] >= 1, out
    assert main_cf(lab) == original and tables(lab) == [] and reloads(lab) == 2
    assert lab.send("inside").outcome == "blocked"


def test_a_site_play_in_check_mode_judges_the_planned_edits_and_changes_nothing(lab):
    original = main_cf(lab)
    rc, unused_stats, unused_results, out = play(lab, os.path.join(HERE, "site_check.yml"), "--check")
    assert rc == 0, out[-3000:]
    with open(lab.path("reports", "mx.verify.json")) as handle:
        report = json.load(handle)
    assert report["status"] == "pass" and report["planned"] is True
    assert "check_client_access cidr:%s/tm_hes_smtpd.cidr" % lab.config_dir in report["checks"][0]["detail"]
    assert stat.S_IMODE(os.stat(lab.path("reports", "mx.verify.json")).st_mode) == 0o600
    assert main_cf(lab) == original and tables(lab) == []
    # Without the role in the same play there is no plan to judge: the server as it is fails.
    rc, unused_stats, unused_results, out = play(lab, os.path.join(PLAYBOOKS, "verify.yml"), "--check")
    assert rc != 0


def test_without_reload_postscreen_keeps_refusing_and_absent_removes_exactly_what_was_added(lab):
    original = main_cf(lab)
    assert lab.send("inside").outcome == "blocked"  # starts postscreen (master spawns it on demand)
    rc, unused_stats, results, out = harden(lab, extra={"hes_postfix_reload": False})
    assert rc == 0, out
    assert module_result(results)["reloaded"] is False and reloads(lab) == 0
    assert tables(lab) == ["tm_hes_postscreen.cidr", "tm_hes_smtpd.cidr"]
    # postscreen is one long-running process that read its access list when it started
    assert lab.send("inside").outcome == "blocked"
    assert lab.maillog().count("ALLOWLISTED") == 0
    rc, stats, results, out = harden(lab, extra={"hes_postfix_state": "absent"})
    assert rc == 0 and stats["mx"]["changed"] >= 1, out
    assert main_cf(lab) == original and tables(lab) == []
    assert module_result(results)["messages"] == [
        "removing the emailsec.hes table references and tables; the DNSBL checks stay as they are"]
    assert lab.send("inside").outcome == "blocked"
    rc, stats, unused_results, out = harden(lab, extra={"hes_postfix_state": "absent"})
    assert rc == 0 and stats["mx"]["changed"] == 0, out


def fake_postfix(tmp_path, failing_step):
    """A command directory whose postfix fails one step the way Postfix does (message on the
    terminal, exit 1); postconf, postmap and the other steps are the real ones."""
    directory = tmp_path / "sbin"
    directory.mkdir()
    for name in ("postconf", "postmap"):
        os.symlink("/usr/sbin/" + name, directory / name)
    script = directory / "postfix"
    script.write_text(
        "#!/bin/sh\n"
        "for arg in \"$@\"; do if [ \"$arg\" = %s ]; then\n"
        "  echo 'postfix/postfix-script: fatal: injected by the test: %s refused' >&2; exit 1; fi; done\n"
        "exec /usr/sbin/postfix \"$@\"\n" % (failing_step, failing_step))
    script.chmod(0o755)
    return str(directory)


@pytest.mark.parametrize("failing_step", ["check", "reload"])
def test_a_failing_postfix_step_puts_main_cf_and_the_tables_back(lab, tmp_path, failing_step):
    original = main_cf(lab)
    rc, unused_stats, results, out = harden(lab, extra={"hes_postfix_command_directory": fake_postfix(tmp_path, failing_step)})
    assert rc != 0, out
    message = failure(results)
    assert "injected by the test: %s refused" % failing_step in message
    assert "put back as they were" in message
    assert main_cf(lab) == original and tables(lab) == []
    assert not os.path.exists(lab.path("backups"))
    assert lab.send("inside").outcome == "blocked"


def test_a_server_that_would_relay_for_every_trend_customer_is_refused(lab):
    lab_postconf = ["postconf", "-c", lab.config_dir, "-e", "mynetworks = 127.0.0.0/8, 198.51.100.0/24"]
    subprocess.run(lab_postconf, check=True)
    before = main_cf(lab)
    rc, unused_stats, results, out = harden(lab)
    assert rc != 0, out
    message = failure(results)
    assert "refuses to change" in message
    assert "a client in HES range 198.51.100.0/25 could relay mail to any domain" in message
    assert "mynetworks 198.51.100.0/24 covers" in message and "203.0.113.64/26" not in message.split("|")[0]
    assert main_cf(lab) == before and tables(lab) == []


def test_smtpd_alone_with_the_dnsbl_in_client_restrictions():
    lab = build(postscreen=False, rbl_list="smtpd_client_restrictions")
    try:
        assert lab.send("inside").outcome == "blocked"
        rc, unused_stats, results, out = harden(lab)
        assert rc == 0, out
        assert module_result(results)["edits"] == [{
            "parameter": "smtpd_client_restrictions", "before": "reject_rbl_client dnsbl.test",
            "after": "check_client_access cidr:%s/tm_hes_smtpd.cidr reject_rbl_client dnsbl.test" % lab.config_dir}]
        assert tables(lab) == ["tm_hes_smtpd.cidr"]
        mail = lab.check_mail()
        assert (mail["inside"]["outcome"], mail["inside"]["delivered"]) == ("accepted", True)
        assert mail["outside"]["outcome"] == "blocked"
        assert any("Client host [203.0.113.10] blocked using dnsbl.test" in r for r in mail["outside"]["replies"])
        # the client list runs before relay control: a foreign recipient meets the DNSBL, never a relay
        assert mail["inside_foreign"]["outcome"] == "blocked"
        assert "postscreen" not in lab.maillog()
    finally:
        teardown(lab)
