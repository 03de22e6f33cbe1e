"""`make demo` end to end (`python -m hes_lab.demo`) on a small fleet with a pfSense box, and its
failure paths.

The demo drives the real playbooks against the emulators; these tests assert on what it prints,
its exit status, and that no lab process outlives it."""
import json
import os
import subprocess
import sys

import pytest

from hes_lab import fleet
from hes_lab.demo import PlaybookOutput

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lab_fixtures import REPO_ROOT  # noqa: E402


# This run's lab passwords: the demo hands them to the emulators and to Ansible through the
# environment, and no file it writes may hold them.
SECRETS = {"HES_LAB_ASA_PASSWORD": "Tst-Asa-7d41c0e9", "HES_LAB_ASA_ENABLE": "Tst-Enable-0b2e55a1",
           "HES_LAB_PANOS_PASSWORD": "Tst-Panos-93f6d2c4"}


def run_demo(state_dir, *args, timeout=1500, env=None):
    done = subprocess.run([sys.executable, "-m", "hes_lab.demo", "--state", state_dir, "--quiet-tasks", *args],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, check=False,
                          env=dict(os.environ, **SECRETS, **(env or {})))
    return done


def box_events(state_dir, host="pfsense-01"):
    """The events of the pfSense box's command log, which the demo keeps in logs/ when it removes the box."""
    with open(os.path.join(state_dir, "logs", host + ".commands.log"), encoding="utf-8") as handle:
        return [json.loads(line)["event"] for line in handle if line.strip()]


def files_holding_secrets(root):
    """Every file under ROOT (logs, reports, backups, inventories, state) that holds a secret."""
    found = []
    for folder, dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as handle:
                data = handle.read()
            found.extend((path, key) for key, value in SECRETS.items() if value.encode() in data)
    return found


def lab_pids(state_dir):
    with open(os.path.join(state_dir, "state.stopped.json"), encoding="utf-8") as handle:
        return [d["pid"] for d in json.load(handle)["devices"]]


@pytest.mark.slow
def test_demo_fails_verify_hardens_and_passes_on_a_small_fleet(tmp_path):
    state_dir = str(tmp_path / "lab-run")
    try:
        done = run_demo(state_dir, "--asa", "1", "--panos", "1", "--pfsense", "yes")
    finally:
        fleet.down(state_dir)
    out = done.stdout
    assert done.returncode == 0, out[-6000:] + done.stderr[-2000:]
    boot = out[out.index("[1/9]"):out.index("[2/9]")]
    assert "pfsense-01 pfsense box  %s" % fleet.PFSENSE_PROFILE["summary"] in boot
    # verify first fails, naming the rule that is open to any source
    before = out[out.index("[2/9] Verify before hardening"):out.index("[3/9]")]
    assert "asa-01     FAIL" in before and "panos-01   FAIL" in before and "pfsense-01 FAIL" in before
    assert "open to any source: outside_access_in line 1 'extended permit tcp any host 203.0.113.5 eq smtp'" in before
    assert "open to any source: " in before.split("panos-01   FAIL")[1]
    pfsense_before = before.split("pfsense-01 FAIL")[1]
    assert 'open to any source: rule "NAT mail in" on wan (tracker 1701954217)' in pfsense_before
    assert 'e.g. SMTP from 1.0.0.7 (outside every range) to 10.0.20.25 is allowed by rule "NAT mail in" on wan' \
        in pfsense_before
    # check mode shows the commands and sends nothing
    check = out[out.index("[3/9]"):out.index("[4/9]")]
    assert "no access-list outside_access_in extended permit tcp any host 203.0.113.5 eq smtp" in check
    assert "edit vsys1 rulebase security rules Inbound-SMTP source [ TM_HES_IP_RANGE ]" in check
    # pfSense: the alias, and the linked rule and port forward from it, as pfSense will write them
    pfsense_check = check.split("pfsense-01 would change")[1]
    assert '+++ after: config.xml aliases/alias/0 "TM_HES_IP_RANGE"' in pfsense_check
    for element in ('filter/rule/1 "NAT mail in"', 'nat/rule/0 "mail in"'):
        diff = pfsense_check.split("+++ after: config.xml " + element)[1].split("--- before:")[0]
        assert "-\t\t\t\t<any></any>\n" in diff and "+\t\t\t\t<address>TM_HES_IP_RANGE</address>\n" in diff
    assert "NAT web" not in pfsense_check
    assert "0 configuration commands reached the emulators; pfSense's config.xml unchanged, no write_config" in check
    # the change, then a second run that changes nothing
    harden = out[out.index("[4/9]"):out.index("[5/9]")]
    assert "asa-01: changed" in harden and "panos-01: changed" in harden
    assert "pfsense-01: changed; emailsec.hes: alias TM_HES_IP_RANGE created" in harden
    assert "pfsense-01   1 configuration writes (write_config)" in harden
    again = out[out.index("[5/9]"):out.index("[6/9]")]
    assert "asa-01       0 configuration commands received" in again
    assert "panos-01     0 configuration API requests received" in again
    assert "pfsense-01   0 configuration writes (write_config)" in again
    # verify passes and the fleet table says so
    assert "pfsense-01 PASS" in out[out.index("[6/9]"):out.index("[7/9]")]
    assert "OK   verify passed on all" in out
    # a broader rule is refused with its witness and nothing sent; the carve-out passes the gate
    refusal = out[out.index("[7/9]"):out.index("[8/9]")]
    assert "refused: after the plan: outside_access_in line 4 'extended permit ip any host 203.0.113.5' admits " \
        "TCP/25 from every source outside the ranges, e.g. tcp 1.0.0.7:40000 -> 203.0.113.5:25" in refusal
    assert "asa-broad    0 configuration commands received" in refusal
    assert "sent: access-list outside_access_in line 3 extended deny tcp any host 203.0.113.5 eq smtp" in refusal
    assert "verdict changes: TCP/25 from outside the ranges to 203.0.113.5: allow -> deny; other flows: none" \
        in refusal
    assert "| asa-broad | asa | PASS |" in out
    assert "| asa-01 | asa | PASS |" in out and "| panos-01 | panos | PASS |" in out
    assert "| pfsense-01 | pfsense | PASS |" in out
    assert "fleet summary: %s" % os.path.join(state_dir, "reports", "fleet-summary.md") in out
    assert "DEMO PASSED" in out
    assert os.path.exists(os.path.join(state_dir, "reports", "asa-01.verify.json"))
    # the secrets it used are in no file it wrote and not in its output
    assert files_holding_secrets(state_dir) == []
    assert not [key for key, value in SECRETS.items() if value in out or value in done.stderr]
    assert all(not fleet.pid_alive(pid) for pid in lab_pids(state_dir))
    # the pfSense box is removed; its log, kept, holds the one write of the whole run
    assert "pfSense box removed" in out and not os.path.exists(os.path.join(state_dir, "pfsense", "pfsense-01"))
    assert box_events(state_dir).count("write_config") == 1


@pytest.mark.slow
def test_demo_exits_non_zero_and_stops_the_lab_when_a_step_goes_wrong(tmp_path):
    state_dir = str(tmp_path / "lab-run")
    # an unknown site: verify cannot even resolve the ranges, so it does not fail for "any"
    try:
        done = run_demo(state_dir, "--asa", "1", "--panos", "0", "--pfsense", "yes", "--netns", "no",
                        "--site", "atlantis")
    finally:
        fleet.down(state_dir)
    assert done.returncode == 1, done.stdout[-4000:]
    assert "DEMO FAILED" in done.stdout
    assert "[3/9]" not in done.stdout
    assert "stopped by pid" in done.stdout
    assert all(not fleet.pid_alive(pid) for pid in lab_pids(state_dir))
    assert "pfSense box removed" in done.stdout
    assert not os.path.exists(os.path.join(state_dir, "pfsense", "pfsense-01"))
    assert "write_config" not in box_events(state_dir)


@pytest.mark.slow
def test_demo_asked_for_a_pfsense_box_without_php_fails_and_stops_the_lab(tmp_path):
    state_dir = str(tmp_path / "lab-run")
    # only the virtualenv's programs: no php on the PATH
    try:
        done = run_demo(state_dir, "--asa", "1", "--panos", "0", "--pfsense", "yes", "--netns", "no",
                        env={"PATH": os.path.dirname(sys.executable)})
    finally:
        fleet.down(state_dir)
    assert done.returncode == 1, done.stdout[-4000:] + done.stderr[-2000:]
    assert "FAIL the pfSense box was asked for but php-cli is not installed" in done.stdout
    assert "[2/9]" not in done.stdout and "1 emulated firewall stopped by pid" in done.stdout
    assert all(not fleet.pid_alive(pid) for pid in lab_pids(state_dir))


OUTPUT = """
PLAY [Harden] ******************************************************************

TASK [emailsec.hes.asa : Plan the change and prove it with the policy engine (make-before-break, exact commands)] ***
--- before: access-list outside_access_in
+++ after: access-list outside_access_in
-access-list outside_access_in extended permit tcp any host 203.0.113.5 eq smtp
changed: [asa-01]

TASK [Per-host summary] ********************************************************
ok: [asa-01] => {
    "msg": [
        "asa-01: would change"
    ]
}

TASK [emailsec.hes.verify : Fail the host when verification failed] ************
fatal: [asa-02]: FAILED! => {"changed": false, "msg": "asa-02 FAILED: no_broader_permit"}

PLAY RECAP *********************************************************************
asa-01                     : ok=7    changed=1    unreachable=0    failed=0    skipped=4    rescued=0    ignored=0
asa-02                     : ok=3    changed=0    unreachable=0    failed=1    skipped=0    rescued=0    ignored=0
"""


def test_playbook_output_parser_reads_diffs_results_failures_and_recap():
    output = PlaybookOutput()
    events = [e for e in (output.feed(line) for line in OUTPUT.splitlines(True)) if e]
    assert [(e["status"], e["host"]) for e in events] == [("changed", "asa-01"), ("ok", "asa-01"),
                                                          ("failed", "asa-02")]
    assert events[0]["text"].startswith("--- before: access-list outside_access_in")
    assert events[1]["result"] == {"msg": ["asa-01: would change"]}
    assert events[2]["result"]["msg"] == "asa-02 FAILED: no_broader_permit"
    assert output.recap["asa-02"]["failed"] == 1 and output.recap["asa-01"]["changed"] == 1
