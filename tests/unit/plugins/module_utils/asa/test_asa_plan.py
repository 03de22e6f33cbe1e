"""Golden-file and error-path tests for plugins/module_utils/asa/ (parse, model, plan, gate).

Each directory under golden/ is one rule base: the device's `show running-config`
(running-config.cfg) and the role's parameters (params.json, whose "expect" says what must
happen: "hardened" or "refused"). The planned commands must equal expected.commands.ref and the
findings, changes, gate verdict and errors expected.plan.ref. A mismatch writes `*.actual`
beside the ref and fails with a diff; approve a change by renaming `.actual` to `.ref` after
reading it (Aerleon's capture style).
"""
import ipaddress
import json
import os

import pytest
from ansible_collections.emailsec.hes.tests.unit.golden_files import assert_goldens, assert_stated_outcome

from ansible_collections.emailsec.hes.plugins.module_utils.asa import model, parse, plan
from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import (
    bundled_entries,
    collect_ranges,
    resolve_sites,
)
from ansible_collections.emailsec.hes.plugins.module_utils.policy import engine, space

GOLDEN = os.path.join(os.path.dirname(__file__), "golden")
CASES = sorted(d for d in os.listdir(GOLDEN) if os.path.isdir(os.path.join(GOLDEN, d)))


def site_ranges(site):
    return [str(n) for n in collect_ranges(bundled_entries(resolve_sites(site)))]


def load_case(case):
    folder = os.path.join(GOLDEN, case)
    with open(os.path.join(folder, "running-config.cfg"), encoding="utf-8") as handle:
        config = handle.read()
    with open(os.path.join(folder, "params.json"), encoding="utf-8") as handle:
        params = json.load(handle)
    return folder, config, params


def plan_case(case):
    folder, text, params = load_case(case)
    expect = params.pop("expect")
    params.pop("why", None)
    ranges = params.pop("ranges", None) or site_ranges(params.pop("site"))
    config = parse.parse_running_config(text)
    try:
        result = plan.plan_hardening(config, ranges, **params)
    except plan.AsaPlanError as exc:
        # What the action plugin reports as a failed task with this message.
        result = {"commands": [], "errors": ["raised: %s" % exc], "changes": None, "findings": None,
                  "gate": None, "backup": None}
    return folder, config, ranges, params, expect, result


PLANS = dict((case, plan_case(case)) for case in CASES)


@pytest.mark.parametrize("case", CASES)
def test_golden(case):
    folder, config, ranges, params, expect, result = PLANS[case]
    report = {"errors": result["errors"], "changes": result["changes"], "findings": result["findings"],
              "gate": result["gate"]}
    assert_goldens(folder, [
        ("expected.commands", "".join(c + "\n" for c in result["commands"])),
        ("expected.plan", json.dumps(report, indent=2, sort_keys=True) + "\n"),
    ])


@pytest.mark.parametrize("case", CASES)
def test_outcome_is_the_one_the_case_states(case):
    expect, result = PLANS[case][4], PLANS[case][5]
    assert_stated_outcome(case, expect, result)


@pytest.mark.parametrize("case", [c for c in CASES if not PLANS[c][5]["errors"]])
def test_every_step_keeps_smtp_from_the_ranges_and_a_second_run_is_empty(case):
    """Make-before-break on every prefix of the commands, judged exactly by the engine: after each
    command the device runs, the flows from the ranges to the mail servers that are blocked are a
    subset of those blocked before the change."""
    folder, config, ranges, params, expect, result = PLANS[case]
    range_sets = space.address_sets([ipaddress.ip_network(r) for r in ranges])
    servers = space.address_sets([ipaddress.ip_network(s) for s in result["findings"]["mail_servers"]])
    before = model.build_policy(config)
    blocked_before = dict((name, [c for f in engine.blocked(path, range_sets, servers) for c in f.cubes])
                          for name, path in before.paths.items())
    commands = result["commands"]
    for count in range(1, len(commands) + 1):
        snapshot = model.build_policy(plan.apply_commands(config, commands[:count]))
        for name, path in snapshot.paths.items():
            blocked_now = [c for f in engine.blocked(path, range_sets, servers) for c in f.cubes]
            lost = space.region_subtract(blocked_now, blocked_before[name])
            assert not lost, "%s: after %r, SMTP from the ranges to a mail server is lost on %s, e.g. %s" % (
                case, commands[count - 1], name, space.witness(lost))
    after = plan.apply_commands(config, commands)
    replan = plan.plan_hardening(after, ranges, **params)
    assert replan["commands"] == [] and replan["errors"] == []


@pytest.mark.parametrize("case", [c for c in CASES if PLANS[c][5]["commands"] and not PLANS[c][5]["errors"]])
def test_rollback_restores_the_original(case):
    folder, config, ranges, params, expect, result = PLANS[case]
    after = plan.apply_commands(config, result["commands"])
    rollback = plan.plan_rollback(after, result["backup"])
    restored = plan.apply_commands(after, rollback["commands"])
    assert dict((n, [a["text"] for a in aces]) for n, aces in restored["acls"].items()) == \
        dict((n, [a["text"] for a in aces]) for n, aces in config["acls"].items())
    name = result["backup"]["group"]["name"]
    if result["backup"]["group"]["existed"]:
        assert sorted(restored["groups"][name]["members"]) == sorted(config["groups"][name]["members"])
    else:
        assert name not in restored["groups"]
    assert plan.plan_rollback(restored, result["backup"])["commands"] == []


# ------------------------------------------------------------------------- parse
SHOW_ACCESS_LIST = """access-list cached ACL log flows: total 0, denied 0 (deny-flow-max 4096)
            alert-interval 300
access-list outside_in; 3 elements; name hash: 0x4a1b2c3d
access-list outside_in line 1 remark Inbound SMTP
access-list outside_in line 2 extended permit tcp object-group TM_HES_IP_RANGE host 203.0.113.25 eq smtp (hitcnt=0) 0x5e2f1a0b
  access-list outside_in line 2 extended permit tcp 198.51.100.0 255.255.255.0 host 203.0.113.25 eq smtp (hitcnt=0) 0x1a2b3c4d
access-list outside_in line 3 extended permit tcp any4 object WEB eq www inactive (hitcnt=0) (inactive) 0xe99025c2
access-list outside_in line 4 extended deny ip any any log informational interval 300 (hitcnt=0) 0x0000abcd
"""


def test_parse_show_access_list_form():
    acl = parse.parse_running_config(SHOW_ACCESS_LIST)["acls"]["outside_in"]
    assert [(a["line"], a["text"]) for a in acl] == [
        (1, "remark Inbound SMTP"),
        (2, "extended permit tcp object-group TM_HES_IP_RANGE host 203.0.113.25 eq smtp"),
        (3, "extended permit tcp any4 object WEB eq www inactive"),
        (4, "extended deny ip any any log informational interval 300"),
    ]


def test_running_config_line_numbers_count_remarks():
    acl = parse.parse_running_config(
        "access-list A remark one\naccess-list A extended permit ip any any\n")["acls"]["A"]
    assert [a["line"] for a in acl] == [1, 2]


def test_access_group_forms():
    config = parse.parse_running_config(
        "access-group A in interface outside\naccess-group B global\naccess-group C out interface dmz\n")
    assert config["access_groups"] == [
        {"acl": "A", "direction": "in", "interface": "outside"},
        {"acl": "B", "direction": "global", "interface": None},
        {"acl": "C", "direction": "out", "interface": "dmz"},
    ]


GROUPS = """object-group service SRC_PORTS tcp
 port-object range 1024 65535
object-group network MAILS
 network-object host 203.0.113.25
object-group service SMTP_ONLY tcp
 port-object eq smtp
"""


@pytest.mark.parametrize("text, sport, destination, dport", [
    ("extended permit tcp any object-group SRC_PORTS host 192.0.2.1 eq smtp", "object-group", "host", "eq"),
    ("extended permit tcp any object-group MAILS eq smtp", None, "object-group", "eq"),
    ("extended permit tcp any object-group MAILS object-group SMTP_ONLY", None, "object-group", "object-group"),
])
def test_service_groups_are_told_from_network_groups_by_type(text, sport, destination, dport):
    ace = parse.parse_ace(text, parse.parse_running_config(GROUPS))
    assert (ace["source_port"] or {}).get("op") == sport
    assert ace["destination"]["kind"] == destination
    assert ace["destination_port"]["op"] == dport


def rule_of(text, extra=""):
    config = parse.parse_running_config(GROUPS + extra + "access-list T %s\n" % text)
    return model.acl_rules(config, "T")[0]


@pytest.mark.parametrize("text, expected", [
    ("extended permit tcp any host 203.0.113.25 eq smtp", True),
    ("extended permit tcp any host 203.0.113.25 eq 25", True),
    ("extended permit tcp any object-group MAILS object-group SMTP_ONLY", True),
    ("extended permit tcp any any eq smtp log", True),
    ("extended permit tcp any host 203.0.113.25 range 24 26", False),
    ("extended permit tcp any host 203.0.113.25 neq 80", False),
    ("extended permit ip any host 203.0.113.25", False),
    ("extended permit udp any host 203.0.113.25 eq 25", False),
    ("extended permit tcp any host 203.0.113.25 eq smtp time-range WORK", False),
])
def test_smtp_only_is_decided_by_the_engine(text, expected):
    assert engine.is_smtp_only(rule_of(text)) is expected


def test_names_resolve_and_fqdn_is_uncertain():
    named = rule_of("extended permit tcp any host mail-public eq smtp", "name 203.0.113.25 mail-public\n")
    assert not named.uncertain
    assert engine.projection(named.match, space.DST)[4] == ((int(ipaddress.ip_address("203.0.113.25")),) * 2,)
    fqdn = rule_of("extended permit tcp any object MX eq smtp", "object network MX\n fqdn v4 mx.example.com\n")
    assert fqdn.uncertain and "fqdn" in fqdn.uncertain[0]
    assert fqdn.match_min == []


# ------------------------------------------------------------------------- errors
BASE = parse.parse_running_config(
    "interface G0\n nameif outside\n security-level 0\n!\n"
    "access-list outside_in extended permit tcp any host 203.0.113.25 eq smtp\n"
    "access-group outside_in in interface outside\n")


@pytest.mark.parametrize("kwargs, message", [
    ({"group_name": "TM HES"}, "hes_group_name"),
    ({"group_name": "TM_HES_IP_RANGE\n"}, "hes_group_name"),
    ({"acl_name": "out;side"}, "hes_asa_acl_name"),
    ({"interfaces": ["inside"]}, "inside not found"),
    ({"interfaces": [], "use_global_acl": False}, "no ACL to harden"),
    ({"mail_servers": ["mail.example.com"]}, "hes_asa_mail_servers[0]"),
    ({"add_ace_when_missing": True}, "needs hes_asa_mail_servers"),
])
def test_invalid_input_raises_naming_the_value(kwargs, message):
    with pytest.raises(plan.AsaPlanError, match=message.replace("[", r"\[").replace("]", r"\]")):
        plan.plan_hardening(BASE, ["18.208.22.64/26"], **kwargs)


def test_ranges_are_validated():
    with pytest.raises(plan.AsaPlanError, match="empty"):
        plan.plan_hardening(BASE, [])
    with pytest.raises(plan.AsaPlanError, match="ranges.1."):
        plan.plan_hardening(BASE, ["18.208.22.64/26", "18.208.22.64/33"])


def test_group_name_taken_by_a_service_group():
    config = parse.parse_running_config(
        "object-group service TM_HES_IP_RANGE tcp\n port-object eq smtp\n"
        "interface G0\n nameif outside\n!\n"
        "access-list outside_in extended permit tcp any host 203.0.113.25 eq smtp\n"
        "access-group outside_in in interface outside\n")
    with pytest.raises(plan.AsaPlanError, match="already exists as a service object group"):
        plan.plan_hardening(config, ["18.208.22.64/26"])


def test_apply_commands_refuses_what_the_device_refuses():
    with pytest.raises(plan.AsaPlanError, match="no such entry"):
        plan.apply_commands(BASE, ["no access-list outside_in extended permit ip any any"])
    with pytest.raises(plan.AsaPlanError, match="last entry"):
        plan.apply_commands(BASE, ["no access-list outside_in extended permit tcp any host 203.0.113.25 eq smtp"])
    with pytest.raises(plan.AsaPlanError, match="not a command the planner sends"):
        plan.apply_commands(BASE, ["write erase"])


def test_duplicate_below_is_refused():
    config = parse.parse_running_config(
        "interface G0\n nameif outside\n!\n"
        "access-list outside_in extended permit tcp any host 203.0.113.25 eq smtp\n"
        "access-list outside_in extended permit tcp any host 203.0.113.80 eq www\n"
        "access-list outside_in extended permit tcp object-group TM_HES_IP_RANGE host 203.0.113.25 eq smtp\n"
        "object-group network TM_HES_IP_RANGE\n network-object 18.208.22.64 255.255.255.192\n"
        "access-group outside_in in interface outside\n")
    with pytest.raises(plan.AsaPlanError, match="already exists below"):
        plan.plan_hardening(config, ["18.208.22.64/26"])


# ------------------------------------------------------------------------- rollback input
GOOD_BACKUP = {"format": 1, "group": {"name": "TM_HES_IP_RANGE", "existed": False, "members": []},
               "rules": [{"acl": "outside_in", "line": 1, "action": "replaced",
                          "before": "extended permit tcp any host 203.0.113.25 eq smtp",
                          "after": "extended permit tcp object-group TM_HES_IP_RANGE host 203.0.113.25 eq smtp",
                          "deny": None}]}


def tampered(path, value):
    backup = json.loads(json.dumps(GOOD_BACKUP))
    target = backup
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return backup


@pytest.mark.parametrize("backup, message", [
    ({"format": 9}, "not an emailsec.hes ASA backup"),
    ("text", "not an emailsec.hes ASA backup"),
    (tampered(("group", "name"), "TM_HES\nwrite erase"), "backup group name"),
    (tampered(("group", "members"), ["network-object host 192.0.2.1\nwrite erase"]), "member 0"),
    (tampered(("group", "members"), ["network-object 300.1.1.1 255.255.255.0"]), "not a valid address"),
    (tampered(("rules", 0, "before"), "extended permit tcp any any\nno access-list outside_in"), "before"),
    (tampered(("rules", 0, "acl"), "outside_in line 1 extended deny ip any any"), "acl"),
    (tampered(("rules", 0, "deny"), "write memory"), "not an access-list entry"),
    (tampered(("rules", 0, "action"), "wipe"), "action"),
    # Found by tests/unit/plugins/module_utils/asa/test_asa_inputs_fuzz.py (each one crashed the
    # rollback with a traceback, or reached a command):
    (tampered(("group", "members"), ["network-object"]), "member 0"),
    (tampered(("group", "members"), ["network-object 18.208.22.64/26"]), "not a valid address"),
    (tampered(("group", "members"), ["group-object OTHER\x85write erase"]), "member 0"),
    (tampered(("group", "members"), ["network-object 0.0.0.0 0.0.0.0"]), "0.0.0.0/0 is broader than /8"),
    (tampered(("group", "existed"), None), "needs name, existed and members"),
    (tampered(("rules",), None), "'rules' is None, not a list"),
    (tampered(("rules",), 5), "'rules' is 5, not a list"),
    (tampered(("rules", 0, "before"), None), "before None: the replaced needs the before ACE"),
    (tampered(("rules", 0, "action"), []), "action"),
    (tampered(("rules", 0, "line"), True), "line True"),
    (tampered(("rules", 0, "before"), "extended permit"), "not an access-list entry"),
    (tampered(("rules", 0, "before"), "extended permit tcp any host 203.0.113.25 eq smtp "), "single printable"),
])
def test_rollback_refuses_tampered_backups(backup, message):
    with pytest.raises(plan.AsaPlanError, match=message):
        plan.plan_rollback(BASE, backup)


def test_rollback_keeps_a_group_still_referenced():
    config = parse.parse_running_config(
        "object-group network TM_HES_IP_RANGE\n network-object 18.208.22.64 255.255.255.192\n"
        "interface G0\n nameif outside\n!\n"
        "access-list outside_in extended permit tcp object-group TM_HES_IP_RANGE host 203.0.113.25 eq smtp\n"
        "access-list outside_in extended permit tcp object-group TM_HES_IP_RANGE host 203.0.113.25 eq 587\n"
        "access-group outside_in in interface outside\n")
    result = plan.plan_rollback(config, GOOD_BACKUP)
    assert "no object-group network TM_HES_IP_RANGE" not in result["commands"]
    assert "still used" in result["warnings"][0]
