"""The panos role and modules through ansible-playbook against the PAN-OS emulator.

Every test boots its own emulator (stopped by pid) and reads the emulator's request log to
assert what was, and was not, sent.
"""
import json
import os
import ssl
import stat
import subprocess
import sys
import urllib.request
import xml.etree.ElementTree as ET

import pytest

from hes_lab.panos.log import config_writes, read_log

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lab_fixtures import REPO_ROOT, start_lab  # noqa: E402

CONFIG = os.path.join(REPO_ROOT, "tests", "lab", "panos_configs", "fw-appdefault-smtp.xml")
PLAYBOOKS = os.path.join(REPO_ROOT, "playbooks")
HERE = os.path.join(REPO_ROOT, "tests", "integration", "panos_role")
ANSIBLE_PLAYBOOK = os.path.join(REPO_ROOT, ".venv", "bin", "ansible-playbook")
USER, PASSWORD = "hes-automation", "Lab-Pw-9f3a7c21e4"
OTHER, OTHER_PASSWORD = "bob", "Bob-Pw-55aa0c"
RANGES = ["18.208.22.64/26", "150.70.149.0/27"]
VSYS = "/config/devices/entry[@name='localhost.localdomain']/vsys/entry[@name='vsys1']"
RULE = VSYS + "/rulebase/security/rules/entry[@name='Inbound-SMTP']"


class Lab:
    def __init__(self, tmp_path, *faults, admins=(OTHER + ":" + OTHER_PASSWORD,)):
        self.log = str(tmp_path / "requests.jsonl")
        args = ["--config", CONFIG, "--port", 0, "--log", self.log, "--username", USER, "--password", PASSWORD]
        for admin in admins:
            args += ["--admin", admin]
        self.proc = start_lab("panos", *args, *faults)
        self.port = self.proc.port
        self.tmp = tmp_path

    def lab(self, path, body=None):
        context = ssl._create_unverified_context()
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request("https://127.0.0.1:%d%s" % (self.port, path), data=data,
                                         headers={"Content-Type": "application/json"} if data else {})
        with urllib.request.urlopen(request, context=context, timeout=10) as answer:
            return answer.read().decode()

    def tree(self, which):
        return ET.fromstring(self.lab("/_lab/" + which))

    def text(self, which):
        """A configuration without rule uuids: the emulator gives rules it did not see edited (the
        NAT rule) a fresh uuid in the candidate after a commit, which a firewall would not."""
        tree = self.tree(which)
        for node in tree.iter():
            node.attrib.pop("uuid", None)
        return ET.tostring(tree, encoding="unicode")

    def firewall(self, user=USER, password=PASSWORD):
        from panos.firewall import Firewall
        return Firewall("127.0.0.1", user, password, port=self.port, vsys="vsys1")

    def writes(self, user=USER):
        return [r for r in config_writes(read_log(self.log)) if r["user"] == user]

    def inventory(self, **overrides):
        host = {"ansible_connection": "local",
                "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                "hes_panos_provider": {"ip_address": "127.0.0.1", "port": self.port, "username": USER,
                                       "password": PASSWORD},
                "hes_ranges": RANGES,
                "hes_backup_dir": str(self.tmp / "backups")}
        host.update(overrides)
        path = self.tmp / "inventory.json"
        path.write_text(json.dumps({"panos": {"hosts": {"fw1": host}}}))
        return str(path)

    def stop(self):
        self.proc.stop()


@pytest.fixture
def lab(tmp_path):
    labs = []

    def start(*faults, **kwargs):
        labs.append(Lab(tmp_path, *faults, **kwargs))
        return labs[-1]

    yield start
    for running in labs:
        running.stop()


def playbook(name, inventory, *args, env=None, check=True):
    path = name if os.path.isabs(name) else os.path.join(PLAYBOOKS, name)
    environment = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"),
                       ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
                       ANSIBLE_CALLBACK_RESULT_FORMAT="json", **(env or {}))
    done = subprocess.run([ANSIBLE_PLAYBOOK, "-i", inventory, path, *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, env=environment, timeout=300, check=False)
    if check:
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    return done


def members(tree, xpath):
    node = tree.find("." + xpath[len("/config"):])
    return None if node is None else [m.text for m in node.findall("member")]


def our_objects(tree):
    return sorted(e.get("name") for e in tree.findall("." + VSYS[len("/config"):] + "/address/entry")
                  if e.get("name").startswith("TM_HES_"))


def test_check_converge_verify_idempotence_and_rollback(lab):
    fw = lab()
    inventory = fw.inventory()
    before = fw.text("running")

    check = playbook("harden_panos.yml", inventory, "--check", "--diff")
    assert fw.writes() == []
    assert fw.text("candidate") == before
    for line in ("set vsys1 address TM_HES_18.208.22.64_26 ip-netmask 18.208.22.64/26",
                 "set vsys1 address-group TM_HES_IP_RANGE static [ TM_HES_18.208.22.64_26 TM_HES_150.70.149.0_27 ]",
                 "edit vsys1 rulebase security rules Inbound-SMTP source [ TM_HES_IP_RANGE ]",
                 "commit partial admin [ %s ]" % USER):
        assert line in check.stdout
    assert "-  Inbound-SMTP: any" in check.stdout and "+  Inbound-SMTP: TM_HES_IP_RANGE" in check.stdout
    assert "fw1: would change" in check.stdout

    converge = playbook("harden_panos.yml", inventory)
    assert "fw1: changed" in converge.stdout
    writes = fw.writes()
    assert [(w["type"], w["action"]) for w in writes] == [
        ("config", "set"), ("config", "set"), ("config", "edit"), ("commit", None)]
    assert "<partial><admin><member>%s</member></admin></partial>" % USER in writes[-1]["cmd"]
    running = fw.tree("running")
    assert members(running, RULE + "/source") == ["TM_HES_IP_RANGE"]
    assert our_objects(running) == ["TM_HES_150.70.149.0_27", "TM_HES_18.208.22.64_26"]
    assert fw.text("candidate") == fw.text("running")
    backups = os.listdir(fw.tmp / "backups")
    assert len(backups) == 1 and backups[0].startswith("panos-fw1-")
    backup_path = fw.tmp / "backups" / backups[0]
    assert stat.S_IMODE(os.stat(backup_path).st_mode) == 0o600
    assert json.loads(backup_path.read_text())["rules"] == {"Inbound-SMTP": ["any"]}

    playbook(os.path.join(HERE, "verify.yml"), inventory, "-e", "hes_probe_source=18.208.22.65",
             "-e", '{"hes_panos_expected_rules": ["Inbound-SMTP"]}')

    count = len(fw.writes())
    again = playbook("harden_panos.yml", inventory)
    assert "fw1: unchanged" in again.stdout and "changed=0" in again.stdout
    assert len(fw.writes()) == count

    rollback = playbook("rollback_panos.yml", inventory)
    assert "fw1: restored" in rollback.stdout
    running = fw.tree("running")
    assert members(running, RULE + "/source") == ["any"] and our_objects(running) == []
    assert running.find("." + VSYS[len("/config"):] + "/address-group/entry[@name='TM_HES_IP_RANGE']") is None
    count = len(fw.writes())
    assert "already as in the backup" in playbook("rollback_panos.yml", inventory).stdout
    assert len(fw.writes()) == count


def test_range_change_removes_only_our_stale_objects(lab):
    fw = lab()
    playbook("harden_panos.yml", fw.inventory())
    mine = fw.firewall()
    manual = "<entry name='TM_HES_manual'><ip-netmask>192.0.2.9/32</ip-netmask></entry>"
    mine.xapi.set(xpath=VSYS + "/address", element=manual)
    mine.commit(sync=True)
    changed = playbook("harden_panos.yml", fw.inventory(hes_ranges=["18.208.22.64/26", "34.230.24.0/24"]), "--diff")
    assert "delete vsys1 address TM_HES_150.70.149.0_27" in changed.stdout
    running = fw.tree("running")
    assert our_objects(running) == ["TM_HES_18.208.22.64_26", "TM_HES_34.230.24.0_24", "TM_HES_manual"]
    group = VSYS + "/address-group/entry[@name='TM_HES_IP_RANGE']/static"
    assert sorted(members(running, group)) == ["TM_HES_18.208.22.64_26", "TM_HES_34.230.24.0_24"]


def test_unreachable_device(lab, tmp_path):
    fw = lab()
    inventory = fw.inventory(hes_panos_provider={"ip_address": "127.0.0.1", "port": 1, "username": USER,
                                                 "password": PASSWORD})
    done = playbook("harden_panos.yml", inventory, check=False)
    assert done.returncode != 0
    assert "cannot reach the PAN-OS XML API at https://127.0.0.1:1/api/" in done.stdout


def test_bad_credentials(lab):
    fw = lab()
    inventory = fw.inventory(hes_panos_provider={"ip_address": "127.0.0.1", "port": fw.port, "username": USER,
                                                 "password": "Wrong-Pw-0000"})
    done = playbook("harden_panos.yml", inventory, check=False)
    assert done.returncode != 0
    assert "authentication failed at https://127.0.0.1:%d/api/ for user '%s' (HTTP 403)" % (fw.port, USER) in done.stdout
    assert "Wrong-Pw-0000" not in done.stdout + done.stderr
    assert fw.writes() == []


def test_failed_commit_reverts_the_candidate(lab):
    fw = lab("--fault-commit-fail")
    before = fw.text("running")
    done = playbook("harden_panos.yml", fw.inventory(), check=False)
    assert done.returncode != 0
    assert "commit job 1 failed" in done.stdout
    assert "the candidate configuration was reverted (revert config partial admin %s)" % USER in done.stdout
    assert fw.text("running") == before
    assert fw.text("candidate") == before
    assert fw.firewall().pending_changes() is False


def test_failed_full_commit_undoes_only_our_edits(lab):
    """With another admin's change taken along, the undo must keep their change: inverse edits."""
    fw = lab("--fault-commit-fail")
    fw.firewall(OTHER, OTHER_PASSWORD).xapi.set(
        xpath=VSYS + "/address", element="<entry name='bob-host'><ip-netmask>192.0.2.77/32</ip-netmask></entry>")
    done = playbook("harden_panos.yml", fw.inventory(hes_panos_commit_foreign_changes=True), check=False)
    assert done.returncode != 0 and "our edits were undone in the candidate configuration" in done.stdout
    candidate = fw.tree("candidate")
    assert members(candidate, RULE + "/source") == ["any"] and our_objects(candidate) == []
    assert candidate.find("." + VSYS[len("/config"):] + "/address/entry[@name='bob-host']") is not None


def test_lock_held_by_another_admin(lab):
    fw = lab("--fault-lock-by", OTHER)
    done = playbook("harden_panos.yml", fw.inventory(), check=False)
    assert done.returncode != 0
    assert "the configuration is locked by %s; nothing was changed" % OTHER in done.stdout
    assert fw.writes() == []


def test_lock_taken_mid_run_is_undone_or_reported(lab):
    """A lock injected while the role runs: our first write fails, nothing of ours stays behind."""
    fw = lab("--fault-lock-by", OTHER)
    fw.lab("/_lab/faults", {"lock_by": None})
    playbook("harden_panos.yml", fw.inventory(), "--check")
    fw.lab("/_lab/faults", {"lock_by": OTHER})
    done = playbook("harden_panos.yml", fw.inventory(), check=False)
    assert done.returncode != 0 and "locked by %s" % OTHER in done.stdout
    assert fw.text("candidate") == fw.text("running")


def test_foreign_pending_changes_refused_then_committed_on_request(lab):
    fw = lab()
    fw.firewall(OTHER, OTHER_PASSWORD).xapi.set(
        xpath=VSYS + "/address", element="<entry name='bob-host'><ip-netmask>192.0.2.77/32</ip-netmask></entry>")
    refused = playbook("harden_panos.yml", fw.inventory(), check=False)
    assert refused.returncode != 0
    assert "administrator(s) %s have uncommitted changes" % OTHER in refused.stdout
    assert fw.writes() == []

    playbook("harden_panos.yml", fw.inventory(hes_panos_commit_foreign_changes=True))
    commit = fw.writes()[-1]
    assert commit["type"] == "commit" and "<partial>" not in commit["cmd"]
    running = fw.tree("running")
    assert running.find("." + VSYS[len("/config"):] + "/address/entry[@name='bob-host']") is not None
    assert members(running, RULE + "/source") == ["TM_HES_IP_RANGE"]


def test_named_rule_that_does_not_exist(lab):
    fw = lab()
    done = playbook("harden_panos.yml", fw.inventory(hes_panos_rules=["Inbound-SMTP", "No-Such-Rule"]), check=False)
    assert done.returncode != 0 and "'No-Such-Rule' not found in vsys vsys1" in done.stdout
    assert fw.writes() == []


def test_secrets_never_written(lab, tmp_path):
    fw = lab()
    api_key = fw.firewall().api_key
    log_path = tmp_path / "ansible.log"
    env = {"ANSIBLE_LOG_PATH": str(log_path)}
    outputs = []
    key_inventory = fw.inventory(hes_panos_provider={"ip_address": "127.0.0.1", "port": fw.port,
                                                     "username": USER, "api_key": api_key})
    for args in (["--check", "--diff"], ["--diff"]):
        done = playbook("harden_panos.yml", key_inventory, "-vvv", *args, env=env)
        outputs += [done.stdout, done.stderr]
    done = playbook("rollback_panos.yml", fw.inventory(), "-vvv", env=env)
    outputs += [done.stdout, done.stderr]
    wrong = fw.inventory(hes_panos_provider={"ip_address": "127.0.0.1", "port": fw.port, "username": USER,
                                             "password": PASSWORD + "x"})
    done = playbook("harden_panos.yml", wrong, "-vvv", env=env, check=False)
    outputs += [done.stdout, done.stderr]
    written = [log_path.read_text()]
    written += [p.read_text() for p in (tmp_path / "backups").iterdir()]
    written.append(open(fw.log).read())
    assert "ESTABLISH LOCAL CONNECTION" in outputs[0] and len(written) == 3
    for secret in (api_key, PASSWORD):
        for text in outputs + written:
            assert secret not in text
