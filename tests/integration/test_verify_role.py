"""emailsec.hes.verify through playbooks/verify.yml against the lab.

Verification must FAIL, and say why, on small variations of the lab configurations
(tests/integration/verify_role/configs/): the "any" rule still present, a broader ACE elsewhere in
the ACL, a port range containing 25, an allow-all rule above the SMTP rule, a group missing a
range or holding an extra one, a disabled (PAN-OS) / inactive (ASA) rule, the rule on the wrong
interface (ASA) or zone (PAN-OS). It must PASS after hardening, on every vendor. The assertions
read the reports the role wrote (failing probe, expected vs actual, the rule named), not only rc.
Every emulator is started by the test and stopped by pid.
"""
import json
import os
import subprocess
import sys

import pytest

from hes_lab.panos import tls

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lab_fixtures import REPO_ROOT, start_lab  # noqa: E402

HERE = os.path.join(REPO_ROOT, "tests", "integration", "verify_role")
CONFIGS = os.path.join(HERE, "configs")
LAB_ASA = os.path.join(REPO_ROOT, "tests", "lab", "asa_configs", "fpr-9.18-hq.cfg")
LAB_PANOS = os.path.join(REPO_ROOT, "tests", "lab", "panos_configs", "fw-appdefault-smtp.xml")
ANSIBLE_PLAYBOOK = os.path.join(REPO_ROOT, ".venv", "bin", "ansible-playbook")
VERIFY = os.path.join(REPO_ROOT, "playbooks", "verify.yml")
RANGES = ["18.208.22.64/26", "150.70.149.0/27"]
PAN_USER, PAN_PASSWORD = "hes-automation", "Lab-Pw-9f3a7c21e4"
MX, MAILGW = "192.0.2.25", "172.16.30.25"
PAN_MX = "203.0.113.25"
# Fewer probes than the defaults keep each run short; the defaults run in the pass tests.
QUICK = {"hes_verify_other_ports": {"587": "deny", "80": "deny"}}


def asa_host(port, **overrides):
    host = {"ansible_connection": "ansible.netcommon.network_cli", "ansible_network_os": "cisco.asa.asa",
            "ansible_host": "127.0.0.1", "ansible_port": port, "ansible_user": "admin",
            "ansible_password": "admin", "ansible_become": True,
            "ansible_become_method": "ansible.netcommon.enable", "ansible_become_password": "enablepw",
            "ansible_host_key_checking": False, "ansible_network_cli_ssh_type": "paramiko",
            "hes_ranges": RANGES}
    host.update(overrides)
    return host


def panos_host(port, **overrides):
    host = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "hes_panos_provider": {"ip_address": "127.0.0.1", "port": port, "username": PAN_USER,
                                   "password": PAN_PASSWORD, "ca_path": tls.ca_file()},
            "hes_ranges": RANGES}
    host.update(overrides)
    return host


class Run:
    """One ansible-playbook run (json callback) and the reports it left."""

    def __init__(self, tmp_path, groups, playbook=VERIFY, args=(), extra=None):
        self.report_dir = tmp_path / "reports"
        inventory = tmp_path / "inventory.json"
        for hosts in groups.values():
            for host in hosts.values():
                host.setdefault("hes_verify_report_dir", str(self.report_dir))
                host.setdefault("hes_backup_dir", str(tmp_path / "backups"))
        inventory.write_text(json.dumps(dict((g, {"hosts": h}) for g, h in groups.items())))
        command = [ANSIBLE_PLAYBOOK, "-i", str(inventory), playbook, *args]
        if extra:
            command += ["-e", json.dumps(extra)]
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                   ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_SHOW_CUSTOM_STATS="1")
        done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, env=env, timeout=600, check=False)
        self.rc = done.returncode
        self.stdout = done.stdout
        try:
            self.json = json.loads(done.stdout[done.stdout.index("{"):])
        except ValueError:
            pytest.fail("ansible-playbook printed no JSON: %s\n%s" % (done.stdout[-3000:], done.stderr[-3000:]))

    def report(self, host):
        with open(os.path.join(str(self.report_dir), host + ".verify.json")) as handle:
            return json.load(handle)

    def check(self, host, check_id):
        return next(c for c in self.report(host)["checks"] if c["id"] == check_id)

    def failed_msg(self, host):
        for play in self.json["plays"]:
            for task in play["tasks"]:
                result = task["hosts"].get(host, {})
                if result.get("failed"):
                    return result.get("msg", "")
        return None


@pytest.fixture
def labs():
    started = []

    def start(kind, *args, **secrets):
        started.append(start_lab(kind, *args, **secrets))
        return started[-1]

    yield start
    for lab in started:
        lab.stop()


def boot_asa(labs, config):
    return labs("asa", "--config", config, "--port", 0)


def boot_panos(labs, config):
    return labs("panos", "--config", config, "--port", 0, "--username", PAN_USER, password=PAN_PASSWORD)


def failing_probe(report, **match):
    for row in report["failures"]:
        if all(row[k] == v for k, v in match.items()):
            return row
    pytest.fail("no failing probe with %s in %s" % (match, json.dumps(report["failures"][:5], indent=1)))


# ---------------------------------------------------------------------------------- ASA
ASA_FAILURES = [
    ("asa-any-rule-left.cfg", "no_broader_permit",
     ["outside_access_in line 4 'extended permit tcp any host 192.0.2.25 eq smtp' admits TCP/25 from every "
      "source outside the ranges"],
     dict(destination=MX, port=25, kind="leak-witness", expect="deny", actual="allow"),
     "permit tcp any host 192.0.2.25 eq smtp"),
    ("asa-broader-ace.cfg", "no_broader_permit",
     ["'extended permit ip any host 192.0.2.25' admits TCP/25 from every source outside the ranges"],
     dict(destination=MX, port=587, expect="deny", actual="allow"),
     "permit ip any host 192.0.2.25"),
    ("asa-port-range.cfg", "no_broader_permit",
     ["'extended permit tcp any object MAILGW range 1 1024' admits TCP/25"],
     dict(destination=MAILGW, port=25, kind="leak-witness", expect="deny", actual="allow"),
     "range 1 1024"),
    ("asa-group-missing-range.cfg", "group_members", ["missing 150.70.149.0/27"],
     dict(destination=MX, port=25, source="150.70.149.0", expect="allow", actual="deny"),
     "deny tcp any any eq smtp log"),
    ("asa-rule-inactive.cfg", "smtp_rule",
     ["'extended deny tcp any any eq smtp log' blocks TCP/25 from every address of the ranges",
      "'extended permit tcp object-group TM_HES_IP_RANGE host 192.0.2.25 eq smtp inactive' is inactive"],
     dict(destination=MX, port=25, source="18.208.22.64", expect="allow", actual="deny"),
     "deny tcp any any eq smtp log"),
    ("asa-wrong-interface.cfg", "smtp_rule",
     ["the default deny blocks TCP/25 from every address of the ranges",
      "'extended permit tcp object-group TM_HES_IP_RANGE host 192.0.2.25 eq smtp' is bound in dmz, not inbound on outside"],
     dict(destination=MX, port=25, source="18.208.22.64", expect="allow", actual="deny"),
     "Implicit Rule"),
]


@pytest.mark.parametrize("config, check, words, probe, decided_by", ASA_FAILURES,
                         ids=[c[0][:-4] for c in ASA_FAILURES])
def test_asa_verification_fails_and_says_why(tmp_path, labs, config, check, words, probe, decided_by):
    asa = boot_asa(labs, os.path.join(CONFIGS, config))
    run = Run(tmp_path, {"asa": {"asa1": asa_host(asa.port, hes_verify_mail_servers=[MX, MAILGW], **QUICK)}})
    assert run.rc != 0
    report = run.report("asa1")
    assert report["status"] == "fail"
    found = run.check("asa1", check)
    assert found["status"] == "fail"
    for word in words:
        assert word in found["detail"], found["detail"]
    row = failing_probe(report, **probe)
    assert decided_by in row["rule"], row
    message = run.failed_msg("asa1")
    assert "asa1 FAILED" in message and check in message
    with open(os.path.join(str(run.report_dir), "asa1.verify.md")) as handle:
        markdown = handle.read()
    assert "| %s | FAIL |" % check in markdown and row["source"] in markdown
    with open(os.path.join(str(run.report_dir), "asa1.verify.junit.xml")) as handle:
        assert '<failure message="expected %s, got %s' % (row["expect"], row["actual"]) in handle.read()


def test_asa_group_with_an_extra_range_fails_on_the_configuration_check(tmp_path, labs):
    asa = boot_asa(labs, os.path.join(CONFIGS, "asa-group-extra-range.cfg"))
    run = Run(tmp_path, {"asa": {"asa1": asa_host(asa.port, **QUICK)}})
    assert run.rc != 0
    assert "holds addresses outside the ranges: 198.51.100.0/24" in run.check("asa1", "group_members")["detail"]
    # The engine sees it too: the group's rule admits TCP/25 from a network outside the ranges,
    # and packet-tracer confirms the witness.
    leak = run.check("asa1", "no_broader_permit")
    assert leak["status"] == "fail" and "from outside the ranges: 198.51.100.0/24" in leak["detail"]
    row = failing_probe(run.report("asa1"), kind="leak-witness", expect="deny", actual="allow")
    assert row["source"].startswith("198.51.100.")


def test_asa_audit_of_an_untouched_firewall_discovers_the_mail_servers(tmp_path, labs):
    asa = boot_asa(labs, LAB_ASA)
    run = Run(tmp_path, {"asa": {"asa1": asa_host(asa.port, hes_verify_report_only=True, **QUICK)}})
    assert run.rc == 0, run.stdout[-3000:]
    report = run.report("asa1")
    assert report["status"] == "fail" and report["mail_servers"] == [MAILGW, MX]
    assert "object-group network TM_HES_IP_RANGE does not exist" in run.check("asa1", "group_members")["detail"]
    broader = run.check("asa1", "no_broader_permit")
    assert broader["rules"] == [
        "outside_access_in line 2 'extended permit tcp any host 192.0.2.25 eq smtp'",
        "outside_access_in line 3 'extended permit tcp any object MAILGW eq smtp'"]
    stats = run.json["global_custom_stats"]["hes_verify"]["asa1"]
    assert stats["status"] == "fail" and "no_broader_permit" in stats["failed_checks"]


def test_asa_passes_after_the_asa_role_and_in_check_mode(tmp_path, labs):
    asa = boot_asa(labs, LAB_ASA)
    host = asa_host(asa.port)
    harden = Run(tmp_path, {"asa": {"asa1": dict(host)}},
                 playbook=os.path.join(REPO_ROOT, "tests", "integration", "asa_role", "harden.yml"))
    assert harden.rc == 0, harden.stdout[-3000:]
    run = Run(tmp_path, {"asa": {"asa1": dict(host)}}, args=["--check"])
    assert run.rc == 0, run.stdout[-3000:]
    report = run.report("asa1")
    assert report["status"] == "pass", report["checks"]
    # Per mail server: the first and last address of each range and the one just outside each
    # edge, and one flow per other port; no witness (the engine found nothing wrong).
    assert report["summary"]["probes"] == 2 * (4 * len(RANGES) + 6)
    assert {p["kind"] for p in report["probes"]} == {
        "range-first", "range-last", "below-range", "above-range", "other-port"}
    assert {c["id"]: c["status"] for c in report["checks"]} == dict.fromkeys(
        ["group_members", "smtp_rule", "no_broader_permit", "probes_smtp", "probes_other_ports"], "pass")
    assert run.json["stats"]["asa1"]["changed"] == 0
    with open(os.path.join(str(run.report_dir), "fleet-summary.md")) as handle:
        assert "| asa1 | asa | PASS | PASS | PASS | PASS | PASS | PASS |" in handle.read()


def test_asa_passes_on_a_hardened_config_with_xml_packet_tracer(tmp_path, labs):
    asa = boot_asa(labs, os.path.join(CONFIGS, "asa-hardened.cfg"))
    run = Run(tmp_path, {"asa": {"asa1": asa_host(asa.port, hes_verify_packet_tracer_xml=True, **QUICK)}})
    assert run.rc == 0, run.stdout[-3000:]
    report = run.report("asa1")
    assert report["status"] == "pass"
    allowed = [p for p in report["probes"] if p["expect"] == "allow"]
    assert allowed and all("object-group TM_HES_IP_RANGE" in p["rule"] for p in allowed)


# ------------------------------------------------------------------------------- PAN-OS
ZONES = {"hes_verify_zones": {"from": "untrust", "to": "dmz"}}
PANOS_FAILURES = [
    ("panos-any-rule-left.xml", "no_broader_permit",
     ["rule Inbound-SMTP-any (index 2) admits TCP/25 from every source outside the ranges"],
     dict(port=25, kind="leak-witness", expect="deny", actual="allow"), "Inbound-SMTP-any"),
    ("panos-allow-all-above.xml", "no_broader_permit",
     ["rule Allow-All-Inbound (index 1) admits TCP/25 from every source outside the ranges"],
     dict(port=587, expect="deny", actual="allow"), "Allow-All-Inbound"),
    ("panos-group-missing-range.xml", "group_members", ["missing 150.70.149.0/27"],
     dict(port=25, source="150.70.149.0", expect="allow", actual="deny"), "Deny-Untrust-Inbound"),
    ("panos-rule-disabled.xml", "smtp_rule",
     ["rule Deny-Untrust-Inbound", "blocks TCP/25 from every address of the ranges"],
     dict(port=25, source="18.208.22.64", expect="allow", actual="deny"), "Deny-Untrust-Inbound"),
    ("panos-wrong-zone.xml", "smtp_rule",
     ["rule Deny-Untrust-Inbound", "blocks TCP/25 from every address of the ranges"],
     dict(port=25, source="18.208.22.64", expect="allow", actual="deny"), "Deny-Untrust-Inbound"),
]


@pytest.mark.parametrize("config, check, words, probe, decided_by", PANOS_FAILURES,
                         ids=[c[0][:-4] for c in PANOS_FAILURES])
def test_panos_verification_fails_and_says_why(tmp_path, labs, config, check, words, probe, decided_by):
    fw = boot_panos(labs, os.path.join(CONFIGS, config))
    run = Run(tmp_path, {"panos": {"fw1": panos_host(fw.port, **dict(QUICK, **ZONES))}})
    assert run.rc != 0
    report = run.report("fw1")
    assert report["status"] == "fail" and report["mail_servers"] == [PAN_MX]
    found = run.check("fw1", check)
    assert found["status"] == "fail"
    for word in words:
        assert word in found["detail"], found["detail"]
    row = failing_probe(report, **probe)
    assert decided_by in row["rule"], row
    assert "fw1 FAILED" in run.failed_msg("fw1")


def test_panos_group_with_an_extra_range_fails(tmp_path, labs):
    fw = boot_panos(labs, os.path.join(CONFIGS, "panos-group-extra-range.xml"))
    run = Run(tmp_path, {"panos": {"fw1": panos_host(fw.port, **QUICK)}})
    assert run.rc != 0
    assert "holds addresses outside the ranges: 198.51.100.0/24" in run.check("fw1", "group_members")["detail"]


def test_panos_passes_after_the_panos_role(tmp_path, labs):
    fw = boot_panos(labs, LAB_PANOS)
    host = panos_host(fw.port)
    harden = Run(tmp_path, {"panos": {"fw1": dict(host)}},
                 playbook=os.path.join(REPO_ROOT, "playbooks", "harden_panos.yml"))
    assert harden.rc == 0, harden.stdout[-3000:]
    run = Run(tmp_path, {"panos": {"fw1": dict(host)}}, args=["--check"])
    assert run.rc == 0, run.stdout[-3000:]
    report = run.report("fw1")
    assert report["status"] == "pass", report["checks"]
    assert {p["ingress"] for p in report["probes"]} == {"untrust->dmz"}
    assert all(p["rule"].startswith("Inbound-SMTP ") for p in report["probes"] if p["expect"] == "allow")


def test_site_yml_in_check_mode_judges_the_planned_configuration(tmp_path, labs):
    """The README's site.yml with --check on a firewall not yet hardened: verify judges the plan
    (and passes), the device is not asked and not changed; and a plan that would leave SMTP open
    fails in check mode too."""
    site = os.path.join(REPO_ROOT, "tests", "integration", "verify_role", "site.yml")
    fw = boot_panos(labs, LAB_PANOS)
    run = Run(tmp_path, {"panos": {"fw1": panos_host(fw.port)}}, playbook=site, args=["--check"])
    assert run.rc == 0, run.stdout[-3000:]
    report = run.report("fw1")
    assert report["status"] == "pass" and report["planned"] is True and report["probes"] == []
    assert "check mode: the planned configuration is judged" in run.check("fw1", "smtp_rule")["detail"]
    assert report["differential"].startswith("verdict changes: TCP/25 from outside the ranges to ")
    broad = boot_panos(labs, os.path.join(CONFIGS, "panos-allow-all-above.xml"))
    run = Run(tmp_path, {"panos": {"fw2": panos_host(broad.port, hes_panos_deny_after_rule=False)}}, playbook=site,
              args=["--check"])
    assert run.rc != 0


def test_fleet_summary_of_two_vendors(tmp_path, labs):
    asa = boot_asa(labs, os.path.join(CONFIGS, "asa-hardened.cfg"))
    fw = boot_panos(labs, os.path.join(CONFIGS, "panos-allow-all-above.xml"))
    run = Run(tmp_path, {"asa": {"asa1": asa_host(asa.port, **QUICK)},
                         "panos": {"fw1": panos_host(fw.port, **QUICK)}})
    assert run.rc != 0
    with open(os.path.join(str(run.report_dir), "fleet-summary.md")) as handle:
        fleet = handle.read()
    assert "| asa1 | asa | PASS |" in fleet
    assert "| fw1 | panos | FAIL | PASS | PASS | FAIL |" in fleet
    assert "**fw1** no_broader_permit: on untrust->dmz, rule Allow-All-Inbound (index 1) admits TCP/25" in fleet
    stats = run.json["global_custom_stats"]["hes_verify"]
    assert stats["asa1"]["status"] == "pass" and stats["fw1"]["status"] == "fail"


# ----------------------------------------------------------------------------- nftables
@pytest.mark.netns
@pytest.mark.slow
def test_nftables_fails_before_and_passes_after_hardening(tmp_path):
    sys.path.insert(0, os.path.join(REPO_ROOT, "lab"))
    from hes_lab.netns import NetnsLab

    lab = NetnsLab()
    try:
        lab.up()
        extra = {"hes_verify_report_dir": str(tmp_path / "reports"),
                 "hes_verify_mail_servers": "{{ [hes_lab_target] }}",
                 "hes_verify_other_ports": {"587": "allow", "22": "allow"}}

        def verify():
            command = [ANSIBLE_PLAYBOOK, "-i", lab.inventory_path, VERIFY, "-e", json.dumps(extra)]
            return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
                                  env=dict(os.environ, ANSIBLE_NOCOLOR="1"), check=False)

        def report(host):
            with open(str(tmp_path / "reports" / (host + ".verify.json"))) as handle:
                return json.load(handle)

        before = verify()
        assert before.returncode != 0
        for host in ("mailhost", "router"):
            data = report(host)
            assert data["status"] == "fail"
            assert "table inet emailsec_hes does not exist" in data["checks"][0]["detail"]
            row = failing_probe(data, port=25, expect="deny", actual="allow")
            assert row["rule"] == "no base chain at hook %s" % data["hook"] or "policy accept" in row["rule"]
        harden = subprocess.run([ANSIBLE_PLAYBOOK, "-i", lab.inventory_path,
                                 os.path.join(REPO_ROOT, "tests", "integration", "nftables", "harden.yml")],
                                cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False)
        assert harden.returncode == 0, harden.stdout[-3000:]
        after = verify()
        assert after.returncode == 0, after.stdout[-3000:]
        for host, hook in (("mailhost", "input"), ("router", "forward")):
            data = report(host)
            assert data["status"] == "pass" and data["hook"] == hook
            denied = [p for p in data["probes"] if p["expect"] == "deny"]
            assert denied and all("emailsec_hes" in p["rule"] for p in denied)
        # The evaluator's verdicts agree with the kernel's for real connections.
        outcome = lab.connect("out_c", 25, timeout=1.0)
        assert outcome == "timeout"
        assert lab.connect("in_a", 25) == "greeting"
    finally:
        lab.down()
