"""What reaches each ASA, pinned command by command, on both transports of the roles: a first
harden, the idempotent re-run, verify and a rollback. A later change cannot add a round trip, a
session or a login without failing here (round trips are most of a fleet run's time on real
devices; docs/performance.md). The same runs prove that network_cli and the in-task SSH
transport (hes_asa_transport=ssh) send the same commands and get the same answers.

Each run is one playbook over two ASAs booted from the same configuration, one per transport.
"""
import json
import os
import re

# lab is a pytest fixture, imported to be requested by name.
from asa_helpers import (  # noqa: F401 pylint: disable=unused-import
    HARDEN,
    PLAN_TASK,
    PLAYBOOKS,
    ROLLBACK,
    golden_config,
    inventory,
    lab,
    playbook,
    task_results,
)

VERIFY = os.path.join(PLAYBOOKS, "verify.yml")
TRACE_TASK = "Read the configuration, plan the probes with the engine and trace them with packet-tracer"
# cisco.asa's terminal plugin disables the pager twice (after enable, and when the shell opens).
LOGIN = {"network_cli": ["enable", "<password>", "no terminal pager", "no terminal pager"],
         "ssh": ["enable", "<password>", "no terminal pager"]}
READ = ["show running-config"]
# seed_single_rule with the two ranges of asa_helpers.RANGES: the group, two members, the new ACE
# at line 2, the old ACE removed.
PLAN = 5
# Verify after hardening: each range's first and last address and the addresses just outside it
# (2 x 4) to the mail server on TCP/25 (no witness: nothing leaks), and one flow per other port
# (587, 465, 2525, 22, 80, 443).
PROBES = 14


def sessions(records):
    return len({r["session"] for r in records})


def commands(records):
    return [r["command"] for r in records]


def test_round_trips_per_device_and_the_same_results_on_both_transports(lab, tmp_path):
    devices = {transport: lab("asa-" + transport.replace("_", ""), golden_config("seed_single_rule"))
               for transport in ("network_cli", "ssh")}
    devices["ssh"].hostvars = {"hes_asa_transport": "ssh"}
    inv = inventory(tmp_path, list(devices.values()), hes_verify_report_dir=str(tmp_path / "reports"))

    def run(name, *args):
        marks = {t: len(d.records()) for t, d in devices.items()}
        rc, report, err = playbook(inv, name, *args)
        assert rc == 0, (report, err)
        return report, {t: d.records()[marks[t]:] for t, d in devices.items()}

    report, sent = run(HARDEN, "--check")
    for transport, records in sent.items():
        assert commands(records) == LOGIN[transport] + READ, transport
    planned = {t: task_results(report, PLAN_TASK)[d.name]["commands"] for t, d in devices.items()}
    assert len(planned["network_cli"]) == PLAN and planned["ssh"] == planned["network_cli"]

    report, sent = run(HARDEN)
    for transport, records in sent.items():
        assert commands(records) == (LOGIN[transport] + READ + ["configure terminal"] + planned[transport]
                                     + ["end", "write mem"]), transport
        assert sessions(records) == 1
    backups = sorted(os.listdir(tmp_path / "backups"))
    assert [b.split(".")[:2] for b in backups] == [["asa-networkcli", "asa"], ["asa-ssh", "asa"]]
    with open(tmp_path / "backups" / backups[1], encoding="utf-8") as handle:
        backup = json.load(handle)
    assert backup["device"] == {"hostname": "seed-single-rule", "serial": "9AJDFJGV165"}
    assert backup["plan"]["commands"] == planned["ssh"]

    report, sent = run(HARDEN)
    for transport, records in sent.items():
        assert commands(records) == LOGIN[transport] + READ, transport

    report, sent = run(VERIFY)
    traced = task_results(report, TRACE_TASK)
    answers = {}
    for transport, device in devices.items():
        records = sent[transport]
        result = traced[device.name]
        assert len(result["probes"]) == PROBES
        assert commands(records) == LOGIN[transport] + READ + result["commands"], transport
        assert all(c.startswith("packet-tracer input outside tcp ") for c in result["commands"])
        assert sessions(records) == 1
        answers[transport] = result["ansible_facts"]["hes_verify_answers"]
        with open(tmp_path / "reports" / ("%s.verify.json" % device.name), encoding="utf-8") as handle:
            assert json.load(handle)["status"] == "pass"
    assert answers["ssh"] == answers["network_cli"]
    assert all(re.search(r"^Action: (allow|drop)$", a, re.M) for a in answers["ssh"])

    report, sent = run(ROLLBACK)
    for transport, records in sent.items():
        restored = [c for c in commands(records) if c not in LOGIN[transport] + READ
                    + ["configure terminal", "end", "write mem"]]
        assert commands(records) == (LOGIN[transport] + READ + ["configure terminal"] + restored
                                     + ["end", "write mem"]), transport
        assert len(restored) == 3, restored  # the old ACE back, the new one and the group removed
