"""The emailsec.hes.asa role through ansible-playbook (cisco.asa over network_cli) against the
ASA emulator: check mode, converge, idempotence, several ASAs in parallel, rollback, faults in
the middle of the push, bad input, and make-before-break proven with packet-tracer.

Every test boots its own emulators (stopped by pid) and reads their command logs to assert what
was, and was not, sent.
"""
import json
import os

import pytest
# lab is a pytest fixture, imported to be requested by name.
from asa_helpers import (  # noqa: F401 pylint: disable=unused-import
    ELSEWHERE,
    HARDEN,
    IN_RANGE,
    MX,
    PLAN_TASK,
    ROLLBACK,
    failure_messages,
    host_results,
    golden_config,
    inventory,
    lab,
    playbook,
    pushed,
    task_results,
)


def test_check_converge_idempotence_parallel_and_rollback(lab, tmp_path):
    seed = lab("asa-seed", golden_config("seed_single_rule"))
    two = lab("asa-two", golden_config("two_mail_servers"))
    legacy = lab("asa-legacy", golden_config("legacy_group_migration"))
    broad = lab("asa-broad", golden_config("broader_permit_deny"))
    broad.hostvars = {"hes_asa_deny_after_permit": True}
    devices = [seed, two, legacy, broad]
    inv = inventory(tmp_path, devices)

    rc, report, err = playbook(inv, HARDEN, "--check", "--diff")
    assert rc == 0, (report, err)
    planned = {h: r["commands"] for h, r in task_results(report, PLAN_TASK).items()}
    assert sorted(planned) == sorted(d.name for d in devices) and all(planned.values())
    for device in devices:
        assert device.config_sent() == [], "check mode sent configuration to %s" % device.name
    diff = task_results(report, PLAN_TASK)["asa-seed"]["diff"]
    assert diff[-1]["prepared"].splitlines()[1:-1] == ["  " + c for c in planned["asa-seed"]]
    assert diff[-1]["prepared"].splitlines()[-1] == (
        "verdict changes: TCP/25 from outside the ranges to 203.0.113.25: allow -> deny; other flows: none")

    marks = {d.name: len(d.records()) for d in devices}
    rc, report, err = playbook(inv, HARDEN)
    assert rc == 0, (report, err)
    for device in devices:
        assert pushed(device, marks[device.name]) == planned[device.name]
        sent = device.config_sent(marks[device.name])
        assert sent[0] == "configure terminal" and sent[-1] == "write mem"
        assert sent.count("configure terminal") == 1 and sent.count("write mem") == 1
    assert planned["asa-legacy"][0] == "object-group network TM_HES_IP_RANGE"
    assert not any(c.startswith("access-list") or c.startswith("no access-list")
                   for c in planned["asa-legacy"]), "an already grouped rule was rewritten"
    summary = next(iter(task_results(report, "Per-host summary").values()))["msg"]
    assert "asa-seed: changed; rules replaced 1, added 0, denies 0; TM_HES_IP_RANGE members +2 -0; saved" in summary
    assert "asa-broad: changed; rules replaced 1, added 0, denies 1" in " ".join(summary)
    assert "asa-legacy: changed; rules replaced 0, added 0, denies 0; TM_HES_IP_RANGE members +1 -3; saved" in summary
    assert len(os.listdir(tmp_path / "backups")) == 4

    for device in devices:
        cli = device.cli()
        try:
            assert cli.smtp_allowed(IN_RANGE, MX)
            assert not cli.smtp_allowed(ELSEWHERE, MX)
        finally:
            cli.close()

    marks = {d.name: len(d.records()) for d in devices}
    rc, report, err = playbook(inv, HARDEN)
    assert rc == 0, (report, err)
    assert all(not r["changed"] for r in task_results(report, PLAN_TASK).values())
    for device in devices:
        assert device.config_sent(marks[device.name]) == [], "idempotent run configured %s" % device.name

    marks = {d.name: len(d.records()) for d in devices}
    rc, report, err = playbook(inv, ROLLBACK)
    assert rc == 0, (report, err)
    for device, case in ((seed, "seed_single_rule"), (two, "two_mail_servers"),
                         (legacy, "legacy_group_migration"), (broad, "broader_permit_deny")):
        cli = device.cli()
        try:
            acl_now = cli.run("show running-config access-list")
            groups_now = cli.run("show running-config object-group")
        finally:
            cli.close()
        with open(golden_config(case), encoding="utf-8") as handle:
            original = handle.read()
        assert [l for l in acl_now.splitlines() if l.startswith("access-list")] == \
            [l for l in original.splitlines() if l.startswith("access-list")]
        want_group = [l.strip() for l in original.splitlines() if l.startswith(" network-object")
                      and "TM_HES_IP_RANGE" in original]
        have_group = [l.strip() for l in groups_now.splitlines() if l.startswith(" network-object")]
        assert sorted(have_group) == sorted(want_group)
    marks = {d.name: len(d.records()) for d in devices}
    rc, report, err = playbook(inv, ROLLBACK)
    assert rc == 0, (report, err)
    for device in devices:
        assert device.config_sent(marks[device.name]) == [], "second rollback configured %s" % device.name


def test_make_before_break_with_packet_tracer_between_commands(lab, tmp_path):
    """Replay the role's own plan (from a check-mode run) one command at a time, probing after each."""
    cases = ("seed_single_rule", "acl_only_smtp_rule", "objects_and_remarks", "legacy_group_migration")
    devices = [lab("asa-" + case.replace("_", "-"), golden_config(case)) for case in cases]
    rc, report, err = playbook(inventory(tmp_path, devices, hes_site="us", hes_ranges=None), HARDEN, "--check")
    assert rc == 0, (report, err)
    plans = task_results(report, PLAN_TASK)
    for device in devices:
        commands = plans[device.name]["commands"]
        assert commands
        cli = device.cli()
        try:
            assert cli.smtp_allowed(IN_RANGE, MX)
            cli.run("configure terminal")
            for command in commands:
                out = cli.run(command)
                assert "ERROR" not in out, (command, out)
                assert cli.smtp_allowed(IN_RANGE, MX), "%s: SMTP from the ranges dropped after %r" % (
                    device.name, command)
            cli.run("end")
            assert not cli.smtp_allowed(ELSEWHERE, MX)
            assert "access-group" in cli.run("show running-config access-group")
        finally:
            cli.close()


@pytest.mark.parametrize("transport", ["network_cli", "ssh"])
def test_faults_mid_push_leave_smtp_open_and_next_run_converges(lab, tmp_path, transport):
    dropped = lab("asa-drop", golden_config("seed_single_rule"))
    refused = lab("asa-refuse", golden_config("acl_only_smtp_rule"))
    devices = [dropped, refused]
    inv = inventory(tmp_path, devices, hes_asa_transport=transport)
    # configure terminal, object-group, 2 members, the new ACE: the session closes before the
    # old ACE is removed; the other device refuses the removal itself.
    dropped.faults(drop_after=5)
    refused.faults(fail="^no access-list")

    rc, report, err = playbook(inv, HARDEN)
    assert rc != 0
    messages = failure_messages(report)
    for device in devices:
        assert device.name in messages, host_results(report, device.name)
        assert "the push to %s failed" % device.name in messages[device.name]
        assert "Re-run the role to converge" in messages[device.name]
        assert "write mem" not in device.config_sent()
    assert "ERROR" in messages["asa-refuse"]

    for device in devices:
        device.faults()
        cli = device.cli()
        try:
            assert cli.smtp_allowed(IN_RANGE, MX), "%s: SMTP from the ranges lost after the fault" % device.name
            assert "access-group" in cli.run("show running-config access-group")
        finally:
            cli.close()

    rc, report, err = playbook(inv, HARDEN)
    assert rc == 0, (report, err)
    marks = {d.name: len(d.records()) for d in devices}
    rc, report, err = playbook(inv, HARDEN)
    assert rc == 0
    for device in devices:
        assert device.config_sent(marks[device.name]) == []
        cli = device.cli()
        try:
            assert cli.smtp_allowed(IN_RANGE, MX)
            assert not cli.smtp_allowed(ELSEWHERE, MX)
        finally:
            cli.close()


def test_bad_input_fails_clearly_and_sends_nothing(lab, tmp_path):
    bad_range = lab("asa-bad-range", golden_config("seed_single_rule"))
    bad_range.hostvars = {"hes_ranges": ["18.208.22.65/26"]}
    bad_site = lab("asa-bad-site", golden_config("seed_single_rule"))
    bad_site.hostvars = {"hes_ranges": None, "hes_site": ["atlantis"]}
    no_group = lab("asa-no-group", golden_config("seed_single_rule"))
    no_group.hostvars = {"hes_group_name": ""}
    broad = lab("asa-broader", golden_config("broader_permit_fails"))
    devices = [bad_range, bad_site, no_group, broad]
    rc, report, err = playbook(inventory(tmp_path, devices), HARDEN)
    assert rc != 0
    messages = failure_messages(report)
    assert "'18.208.22.65/26' has host bits set" in messages["asa-bad-range"]
    assert "unknown site 'atlantis'" in messages["asa-bad-site"]
    assert "hes_group_name: '' is not a valid ASA object name" in messages["asa-no-group"]
    assert "after the plan: outside_in line 3 'extended permit ip any host 203.0.113.25' admits TCP/25 " \
        "from every source outside the ranges" in messages["asa-broader"]
    for device in devices:
        assert device.config_sent() == [], device.name
    assert bad_range.records() == [] and bad_site.records() == [], "the device was contacted"
    assert not os.path.exists(tmp_path / "backups")


def test_rollback_refuses_a_backup_of_another_device_and_sends_nothing(lab, tmp_path):
    asa = lab("asa-seed", golden_config("seed_single_rule"))
    inv = inventory(tmp_path, [asa], hes_asa_transport="ssh")
    rc, report, err = playbook(inv, HARDEN)
    assert rc == 0, (report, err)
    (name,) = os.listdir(tmp_path / "backups")
    path = tmp_path / "backups" / name
    data = json.loads(path.read_text())
    assert data["device"] == {"hostname": "seed-single-rule", "serial": "9AJDFJGV165"}
    data["device"]["serial"] = "JMX0000OTHER"
    path.write_text(json.dumps(data))
    marks = len(asa.records())
    rc, report, err = playbook(inv, ROLLBACK)
    assert rc != 0
    message = failure_messages(report)["asa-seed"]
    assert "written on a device whose serial was 'JMX0000OTHER'; this one's is '9AJDFJGV165': refusing" in message
    assert asa.config_sent(marks) == []
