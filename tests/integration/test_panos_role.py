"""The panos role and modules through ansible-playbook against the PAN-OS emulator, and every
case of the PAN-OS corpus (tests/unit/plugins/module_utils/panos/golden/) through the module.

Every test boots its own emulator (stopped by pid) and reads the emulator's request log to
assert what was, and was not, sent. TLS is verified throughout: the providers point `ca_path` at
the lab CA; the TLS tests also face a hostile HTTPS server that poses as a firewall.
"""
import base64
import hashlib
import http.server
import json
import os
import ssl
import stat
import subprocess
import sys
import tempfile
import threading
import urllib.request
import xml.etree.ElementTree as ET

import pytest

from hes_lab.panos import tls
from hes_lab.panos.log import config_writes, read_log

from ansible_collections.emailsec.hes.plugins.module_utils.panos import plan as pp

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lab_fixtures import REPO_ROOT, start_lab  # noqa: E402
from ansible_collections.emailsec.hes.tests.unit.local_servers import self_signed_certificate  # noqa: E402

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
    def __init__(self, tmp_path, *faults, admins=(OTHER + ":" + OTHER_PASSWORD,), config=CONFIG):
        self.log = str(tmp_path / "requests.jsonl")
        self.config = config
        args = ["--config", config, "--port", 0, "--log", self.log, "--username", USER]
        for admin in admins:
            args += ["--admin", admin]
        self.proc = start_lab("panos", *args, *faults, password=PASSWORD)
        self.port = self.proc.port
        self.tmp = tmp_path

    def lab(self, path, body=None):
        context = tls.client_context()
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

    def provider(self, **changes):
        provider = {"ip_address": "127.0.0.1", "port": self.port, "username": USER, "password": PASSWORD,
                    "ca_path": tls.ca_file()}
        provider.update(changes)
        return {k: v for k, v in provider.items() if v is not None}

    def firewall(self, user=USER, password=PASSWORD):
        from ansible_collections.emailsec.hes.plugins.module_utils.panos.client import connect_firewall
        return connect_firewall(self.provider(username=user, password=password), "vsys1", 60)

    def writes(self, user=USER):
        return [r for r in config_writes(read_log(self.log)) if r["user"] == user]

    def inventory(self, host_name="fw1", **overrides):
        host = {"ansible_connection": "local",
                "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                "hes_panos_provider": self.provider(),
                "hes_ranges": RANGES,
                "hes_backup_dir": str(self.tmp / "backups")}
        host.update(overrides)
        host = {key: value for key, value in host.items() if value is not None}
        path = self.tmp / "inventory.json"
        path.write_text(json.dumps({"panos": {"hosts": {host_name: host}}}))
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
    assert ("gate: verdict changes: TCP/25 from outside the ranges to 203.0.113.25: allow -> deny; "
            "other flows: none") in check.stdout
    assert "fw1: would change" in check.stdout

    converge = playbook("harden_panos.yml", inventory)
    assert "fw1: changed" in converge.stdout
    writes = fw.writes()
    # The objects, the group and the rule's source in one multi-config request, then the commit.
    assert [(w["type"], w["action"]) for w in writes] == [("config", "multi-config"), ("commit", None)]
    assert "<partial><admin><member>%s</member></admin></partial>" % USER in writes[-1]["cmd"]
    running = fw.tree("running")
    assert members(running, RULE + "/source") == ["TM_HES_IP_RANGE"]
    assert our_objects(running) == ["TM_HES_150.70.149.0_27", "TM_HES_18.208.22.64_26"]
    assert fw.text("candidate") == fw.text("running")
    backups = os.listdir(fw.tmp / "backups")
    assert len(backups) == 1 and backups[0].startswith("fw1.panos.")
    backup_path = fw.tmp / "backups" / backups[0]
    assert stat.S_IMODE(os.stat(backup_path).st_mode) == 0o600
    assert json.loads(backup_path.read_text())["restore"]["rules"] == {"Inbound-SMTP": ["any"]}

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
    inventory = fw.inventory(hes_panos_provider=fw.provider(port=1))
    done = playbook("harden_panos.yml", inventory, check=False)
    assert done.returncode != 0
    assert "cannot reach the PAN-OS XML API at https://127.0.0.1:1/api/" in done.stdout


def test_bad_credentials(lab):
    fw = lab()
    inventory = fw.inventory(hes_panos_provider=fw.provider(password="Wrong-Pw-0000"))
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
    key_inventory = fw.inventory(hes_panos_provider=fw.provider(password=None, api_key=api_key))
    for args in (["--check", "--diff"], ["--diff"]):
        done = playbook("harden_panos.yml", key_inventory, "-vvv", *args, env=env)
        outputs += [done.stdout, done.stderr]
    done = playbook("rollback_panos.yml", fw.inventory(), "-vvv", env=env)
    outputs += [done.stdout, done.stderr]
    wrong = fw.inventory(hes_panos_provider=fw.provider(password=PASSWORD + "x"))
    done = playbook("harden_panos.yml", wrong, "-vvv", env=env, check=False)
    outputs += [done.stdout, done.stderr]
    written = [log_path.read_text()]
    written += [p.read_text() for p in (tmp_path / "backups").iterdir()]
    written.append(open(fw.log).read())
    # The verbose output holds the task's whole result (the action plugin needs no connection).
    assert "task path:" in outputs[0] and '"requests": [' in outputs[0] and len(written) == 3
    for secret in (api_key, PASSWORD):
        for text in outputs + written:
            assert secret not in text


def test_a_hostile_inventory_name_cannot_place_backups_or_reports_outside_the_state_directory(lab):
    """An inventory host name is text someone typed (or a dynamic inventory returned): the files
    named after it stay in their directories, under a name that cannot climb out or collide."""
    fw = lab()
    state = fw.tmp / "state"
    hostile = "../../escaped/fw1"
    inventory = fw.inventory(host_name=hostile, hes_backup_dir=None, hes_state_dir=str(state))
    playbook("harden_panos.yml", inventory)
    playbook("verify.yml", inventory)
    written = sorted(str(p.relative_to(fw.tmp)) for p in fw.tmp.rglob("*") if p.is_file())
    assert not (fw.tmp / "escaped").exists() and not (fw.tmp.parent / "escaped").exists()
    backups = [name for name in written if name.startswith("state/backups/")]
    reports = [name for name in written if name.startswith("state/reports/")]
    assert len(backups) == 1 and len(reports) == 4, written
    for name in backups + reports:
        base = os.path.basename(name)
        assert "/" not in base and not base.startswith("."), name
        assert stat.S_IMODE(os.stat(fw.tmp / name).st_mode) == 0o600
    assert json.loads((fw.tmp / backups[0]).read_text())["host"] == hostile
    assert json.loads((fw.tmp / [r for r in reports if r.endswith(".verify.json")][0]).read_text())["host"] == hostile
    assert "already as in the backup" not in playbook("rollback_panos.yml", inventory).stdout
    assert members(fw.tree("running"), RULE + "/source") == ["any"]


def test_group_name_taken_by_an_address_object_is_refused_before_any_write(lab):
    """An address object already carries the group's name (one namespace on PAN-OS): the plan
    says so and nothing is sent, where the firewall would refuse the group after our objects."""
    fw = lab()
    mine = fw.firewall()
    mine.xapi.set(xpath=VSYS + "/address",
                  element="<entry name='TM_HES_IP_RANGE'><ip-netmask>192.0.2.99/32</ip-netmask></entry>")
    mine.commit(sync=True)
    count = len(fw.writes())
    before = fw.text("running")
    done = playbook("harden_panos.yml", fw.inventory(), check=False)
    assert done.returncode != 0
    assert ("group name 'TM_HES_IP_RANGE' is taken by address object TM_HES_IP_RANGE (ip-netmask 192.0.2.99/32, "
            "vsys scope): PAN-OS keeps address objects and address groups in one namespace; choose another "
            "hes_group_name") in done.stdout
    assert len(fw.writes()) == count
    assert fw.text("candidate") == before and fw.text("running") == before


class HostileFirewall:
    """An HTTPS server on 127.0.0.1 with an untrusted self-signed certificate that answers like
    PAN-OS (a keygen key, success to everything else) and records every connection and request."""

    def __init__(self):
        self.requests = []
        self.handshakes = 0
        self.directory = tempfile.mkdtemp(prefix="hes-hostile-")
        cert_path, key_path = self_signed_certificate(self.directory)
        with open(cert_path, encoding="ascii") as handle:
            self.fingerprint = hashlib.sha256(ssl.PEM_cert_to_DER_cert(handle.read())).hexdigest()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path, key_path)
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                recorder.requests.append({"method": "POST", "path": self.path, "headers": str(self.headers),
                                          "body": self.rfile.read(length).decode("utf-8", "replace")})
                self.answer("<response status='success'><result><key>LUFRPT1stolen</key></result></response>")

            def do_GET(self):
                recorder.requests.append({"method": "GET", "path": self.path, "headers": str(self.headers),
                                          "body": ""})
                self.answer("<response status='success'><result/></response>")

            def answer(self, body):
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/xml; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def finish_request(self, request, client_address):
                try:
                    wrapped = context.wrap_socket(request, server_side=True)
                except (ssl.SSLError, OSError):
                    return
                recorder.handshakes += 1
                try:
                    Handler(wrapped, client_address, self)
                except OSError:
                    pass
                finally:
                    wrapped.close()

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    def credentials_received(self, *secrets):
        return [r for r in self.requests if any(s in r["path"] + r["headers"] + r["body"] for s in secrets)]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def colon_hex(digest):
    return ":".join(digest.upper()[i:i + 2] for i in range(0, len(digest), 2))


@pytest.mark.parametrize("tls_options", [
    {},
    {"ca_path": tls.ca_file()},
    {"certificate_fingerprint": "00" * 32},
], ids=["system-trust-store", "lab-ca", "other-pin"])
def test_hostile_server_never_receives_the_password(lab, tls_options):
    fw = lab()
    with HostileFirewall() as hostile:
        provider = {"ip_address": "127.0.0.1", "port": hostile.port, "username": USER, "password": PASSWORD}
        provider.update(tls_options)
        done = playbook("harden_panos.yml", fw.inventory(hes_panos_provider=provider), check=False)
    assert done.returncode != 0
    assert hostile.requests == [] and hostile.credentials_received(PASSWORD) == []
    assert hostile.handshakes >= 1
    assert "TLS certificate check failed for https://127.0.0.1:%d/api/" % hostile.port in done.stdout
    assert "nothing was sent to it, no password or API key" in done.stdout
    assert "it presents a certificate with SHA-256 fingerprint %s" % colon_hex(hostile.fingerprint) in done.stdout
    assert "pin it with provider.certificate_fingerprint" in done.stdout
    assert "provider.ca_path" in done.stdout
    assert PASSWORD not in done.stdout + done.stderr


def test_without_verification_the_hostile_server_gets_the_password(lab):
    """The recorder works: with checking switched off the keygen (and the password) reach it."""
    fw = lab()
    with HostileFirewall() as hostile:
        provider = {"ip_address": "127.0.0.1", "port": hostile.port, "username": USER, "password": PASSWORD,
                    "validate_certs": False}
        done = playbook("harden_panos.yml", fw.inventory(hes_panos_provider=provider), check=False)
    assert len(hostile.credentials_received(PASSWORD)) == 1
    assert "type=keygen" in hostile.requests[0]["body"]
    warning = " ".join(done.stderr.split())
    assert "provider.validate_certs is false: the certificate of https://127.0.0.1:%d/api/ is not checked" \
        % hostile.port in warning


def test_pinned_certificate_and_default_trust(lab):
    fw = lab()
    served = ssl.get_server_certificate(("127.0.0.1", fw.port))
    pin = colon_hex(hashlib.sha256(ssl.PEM_cert_to_DER_cert(served)).hexdigest()).lower()
    pinned = fw.inventory(hes_panos_provider=fw.provider(ca_path=None, certificate_fingerprint=pin))
    assert "fw1: would change" in playbook("harden_panos.yml", pinned, "--check").stdout

    answered = len(read_log(fw.log))
    untrusted = playbook("harden_panos.yml", fw.inventory(hes_panos_provider=fw.provider(ca_path=None)), check=False)
    assert untrusted.returncode != 0 and "TLS certificate check failed" in untrusted.stdout
    assert "certificate verify failed" in untrusted.stdout
    assert len(read_log(fw.log)) == answered

    missing = fw.inventory(hes_panos_provider=fw.provider(ca_path=str(fw.tmp / "no-such-ca.pem")))
    done = playbook("harden_panos.yml", missing, check=False)
    assert done.returncode != 0 and "provider.ca_path '%s': no such file" % (fw.tmp / "no-such-ca.pem") in done.stdout

    both = fw.inventory(hes_panos_provider=fw.provider(certificate_fingerprint=pin))
    done = playbook("harden_panos.yml", both, check=False)
    assert done.returncode != 0 and "mutually exclusive: ca_path|certificate_fingerprint" in done.stdout


# ---------------------------------------------------------------- the plan gate, through the role

GOLDEN = os.path.join(REPO_ROOT, "tests", "unit", "plugins", "module_utils", "panos", "golden")
CASE_RANGES = ["18.208.22.64/26", "150.70.149.0/27"]


def case_config(case):
    return os.path.join(GOLDEN, case, "config.xml")


def test_refusal_names_the_rule_and_a_witness_and_sends_nothing(lab):
    fw = lab(config=case_config("allow_all_below_any_zone"))
    for args in (["--check", "--diff"], []):
        done = playbook("harden_panos.yml", fw.inventory(hes_ranges=CASE_RANGES), *args, check=False)
        assert done.returncode != 0
        assert "refusing the plan, nothing was sent" in done.stdout
        assert ("rule Allow-All (index 3) admits TCP/25 from every source outside the ranges, "
                "e.g. tcp 1.0.0.7:40000 -> 203.0.113.25:25 app smtp") in done.stdout
        assert "set hes_panos_deny_after_rule" in done.stdout
    assert [r for r in read_log(fw.log) if r["type"] == "config" and r["action"] != "get"] == []
    assert fw.writes() == [] and not os.path.exists(fw.tmp / "backups")


def test_broader_rule_is_never_rewritten(lab):
    fw = lab(config=case_config("app_any_service_any_only"))
    done = playbook("harden_panos.yml", fw.inventory(hes_ranges=CASE_RANGES), check=False)
    assert done.returncode != 0
    assert ("broader rules admit TCP/25 there and are never rewritten: rule Inbound-Mail-Host (index 1)"
            in done.stdout)
    assert fw.writes() == []
    assert members(fw.tree("running"), VSYS + "/rulebase/security/rules/entry[@name='Inbound-Mail-Host']/source") == ["any"]


def test_carve_out_option_closes_smtp_and_keeps_everything_else(lab):
    fw = lab(config=case_config("allow_all_below_carve_out"))
    inventory = fw.inventory(hes_ranges=CASE_RANGES, hes_panos_deny_after_rule=True)
    check = playbook("harden_panos.yml", inventory, "--check", "--diff")
    assert "move vsys1 rulebase security rules TM_HES_deny-Inbound-SMTP after Inbound-SMTP" in check.stdout
    assert fw.writes() == []
    playbook("harden_panos.yml", inventory)
    # Five edits in one multi-config request; the move of the carve-out rule on its own.
    assert [(w["type"], w["action"]) for w in fw.writes()] == [
        ("config", "multi-config"), ("config", "move"), ("commit", None)]
    firewall = fw.firewall()

    def first(source, application="smtp", port=25, destination="203.0.113.25"):
        found = firewall.test_security_policy_match(source, destination, 6, application=application, port=port,
                                                    from_zone="untrust", to_zone="dmz")
        return found[0]["name"] if found else None

    assert first("198.51.100.7") == "TM_HES_deny-Inbound-SMTP"
    assert first("198.51.100.7", application="ssl", port=443) == "Allow-All"
    assert first("18.208.22.65") == "Inbound-SMTP"
    assert first("18.208.22.65", application="ssl", port=25) == "Allow-All"
    count = len(fw.writes())
    again = playbook("harden_panos.yml", inventory)
    assert "fw1: unchanged" in again.stdout and len(fw.writes()) == count
    playbook("rollback_panos.yml", inventory)
    running = fw.tree("running")
    assert running.find("." + VSYS[len("/config"):] + "/rulebase/security/rules/entry[@name='TM_HES_deny-Inbound-SMTP']") is None
    assert running.find("." + VSYS[len("/config"):] + "/service/entry[@name='TM_HES_tcp-25']") is None
    assert first("198.51.100.7") == "Inbound-SMTP"


def test_push_refuses_a_plan_the_device_outgrew(lab, tmp_path):
    """What check mode showed is what is pushed: a changed device makes the push refuse, sending nothing."""
    fw = lab()
    inventory = fw.inventory()
    check = playbook(os.path.join(HERE, "push_plan.yml"), inventory, "--check")
    shown = json.loads(base64.b64decode(check.stdout.split("PLAN>>")[1].split("<<PLAN")[0]))
    assert [r["action"] for r in shown] == ["set", "set", "edit"]
    bob = fw.firewall(OTHER, OTHER_PASSWORD)
    second = ET.fromstring(ET.tostring(fw.tree("running").find("." + RULE[len("/config"):])))
    second.set("name", "Inbound-SMTP-2")
    second.attrib.pop("uuid", None)
    bob.xapi.set(xpath=VSYS + "/rulebase/security/rules", element=ET.tostring(second, encoding="unicode"))
    bob.commit(sync=True)
    count = len(config_writes(read_log(fw.log)))
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps({"hes_expected_requests": shown}))
    done = playbook(os.path.join(HERE, "push_plan.yml"), inventory, "-e", "@%s" % plan_file, check=False)
    assert done.returncode != 0
    assert "the configuration changed since the plan was shown" in done.stdout and "nothing was sent" in done.stdout
    assert len(config_writes(read_log(fw.log))) == count
    pushed = playbook(os.path.join(HERE, "push_plan.yml"), inventory, "-e", "@%s" % plan_file,
                      "-e", "hes_replan=true")
    assert "fw1: pushed" in pushed.stdout


# ---------------------------------------------------------------- the corpus on the emulator

RUN_MODULE = (
    "import runpy, sys\n"
    "sys.path.insert(0, %r)\n"
    "from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder\n"
    "_AnsibleCollectionFinder(paths=[%r])._install()\n"
    "runpy.run_module('ansible_collections.emailsec.hes.plugins.modules.panos_hes_smtp', run_name='__main__')\n"
) % ((os.path.join(REPO_ROOT, ".collections"),) * 2)
CASES = sorted(d for d in os.listdir(GOLDEN) if os.path.isdir(os.path.join(GOLDEN, d)))


def run_module(fw, tmp_path, params, check_mode=False):
    """panos_hes_smtp itself (no playbook around it) against the emulator: its JSON result."""
    args = dict(params, provider=fw.provider())
    path = tmp_path / "args.json"
    path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=check_mode)}))
    done = subprocess.run([sys.executable, "-c", RUN_MODULE, str(path)], capture_output=True, text=True,
                          timeout=120, check=False, cwd=REPO_ROOT)
    return json.loads(done.stdout)


def normalized(tree):
    for node in tree.iter():
        for attribute in ("uuid", "admin", "dirtyId", "time"):
            node.attrib.pop(attribute, None)
        node.tail = None
        if node.text is not None and not node.text.strip():
            node.text = None
    return ET.tostring(tree, encoding="unicode")


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_corpus_case_on_the_emulator(lab, tmp_path, case):
    """Each case as its stated outcome on the emulator: a refusal sends no write (the request log
    proves it); a hardened case leaves exactly the configuration the planner's model of PAN-OS
    predicted, and a second run sends nothing."""
    with open(os.path.join(GOLDEN, case, "params.json"), encoding="utf-8") as handle:
        spec = json.load(handle)
    fw = lab(config=case_config(case))
    before = fw.tree("running")
    result = run_module(fw, tmp_path, spec["params"])
    outcome = spec["expect"]["outcome"]
    if outcome == "refused":
        assert result.get("failed") and "refusing the plan, nothing was sent" in result["msg"]
        for name in spec["expect"]["naming"]:
            assert name in result["msg"]
        assert fw.writes() == []
        return
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] == (outcome == "hardened")
    expected = pp.apply_edits(ET.parse(case_config(case)).getroot(), pp.plan_hardening(
        ET.parse(case_config(case)).getroot(), **spec["params"])["edits"])
    assert normalized(fw.tree("running")) == normalized(expected)
    if outcome == "unchanged":
        assert normalized(fw.tree("running")) == normalized(before) and fw.writes() == []
    count = len(fw.writes())
    again = run_module(fw, tmp_path, spec["params"])
    assert not again.get("failed") and not again["changed"] and len(fw.writes()) == count
