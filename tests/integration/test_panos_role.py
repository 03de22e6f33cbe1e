"""The panos role and modules through ansible-playbook against the PAN-OS emulator.

Every test boots its own emulator (stopped by pid) and reads the emulator's request log to
assert what was, and was not, sent. TLS is verified throughout: the providers point `ca_path` at
the lab CA; the TLS tests also face a hostile HTTPS server that poses as a firewall.
"""
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

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lab_fixtures import REPO_ROOT, start_lab  # noqa: E402
from local_servers import self_signed_certificate  # noqa: E402

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
        args = ["--config", CONFIG, "--port", 0, "--log", self.log, "--username", USER]
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

    def inventory(self, **overrides):
        host = {"ansible_connection": "local",
                "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                "hes_panos_provider": self.provider(),
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
    assert "ESTABLISH LOCAL CONNECTION" in outputs[0] and len(written) == 3
    for secret in (api_key, PASSWORD):
        for text in outputs + written:
            assert secret not in text


def test_firewall_refusal_is_reported_and_the_candidate_kept(lab):
    """The firewall refuses the group (its name is taken by an address object) after our objects
    went in: the module names the refused request and the device's words, and reverts."""
    fw = lab()
    mine = fw.firewall()
    mine.xapi.set(xpath=VSYS + "/address",
                  element="<entry name='TM_HES_IP_RANGE'><ip-netmask>192.0.2.99/32</ip-netmask></entry>")
    mine.commit(sync=True)
    before = fw.text("running")
    done = playbook("harden_panos.yml", fw.inventory(), check=False)
    assert done.returncode != 0
    refusal = ("https://127.0.0.1:%d/api/ refused set vsys1 address-group TM_HES_IP_RANGE static "
               "[ TM_HES_18.208.22.64_26 TM_HES_150.70.149.0_27 ]: address-group -> TM_HES_IP_RANGE  is invalid. "
               "An address object with this name already exists; the candidate configuration was reverted "
               "(revert config partial admin %s)" % (fw.port, USER))
    assert refusal in done.stdout
    assert [(w["action"], w["status"], w["code"]) for w in fw.writes()][-2:] == [
        ("set", "success", 20), ("set", "error", 12)]
    assert fw.text("candidate") == before and fw.text("running") == before
    assert mine.pending_changes() is False


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
