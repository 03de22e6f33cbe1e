"""Golden-file and error-path tests for plugins/module_utils/hes_asa.py.

Each directory under golden/asa/ holds a device's `show running-config` (running-config.cfg) and
the role's parameters (params.json); the planned commands must equal expected.commands.ref and
the findings/changes/errors expected.plan.ref. A mismatch writes `*.actual` beside the ref and
fails with a diff; approve a change by renaming `.actual` to `.ref` (Aerleon's capture style).
"""
import ipaddress
import json
import os

import pytest
from golden import golden_mismatch

from ansible_collections.emailsec.hes.plugins.module_utils import hes_asa
from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import (
    bundled_entries,
    collect_ranges,
    resolve_sites,
)

GOLDEN = os.path.join(os.path.dirname(__file__), "golden", "asa")
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


def state_from(config):
    # Each parser keeps only its own section, so the whole running-config stands in for the
    # four `show running-config <section>` outputs the role reads.
    return hes_asa.parse_device(config, config, config, config)


def plan_case(case):
    folder, config, params = load_case(case)
    ranges = params.pop("ranges", None) or site_ranges(params.pop("site"))
    plan = hes_asa.plan_hardening(state_from(config), ranges, **params)
    return folder, config, ranges, params, plan


@pytest.mark.parametrize("case", CASES)
def test_golden(case):
    folder, plan = plan_case(case)[0], plan_case(case)[4]
    report = {"errors": plan["errors"], "changes": plan["changes"], "findings": plan["findings"]}
    mismatches = [
        golden_mismatch(folder, "expected.commands", "".join(c + "\n" for c in plan["commands"])),
        golden_mismatch(folder, "expected.plan", json.dumps(report, indent=2, sort_keys=True) + "\n"),
    ]
    mismatches = [m for m in mismatches if m]
    if mismatches:
        pytest.fail("\n".join(mismatches))


# A minimal model of how the device applies our commands (insert at line N, append, remove by
# text, group members), to prove make-before-break and idempotence on every golden case.
def apply(state_text, commands):
    state = state_from(state_text)
    acls = {n: [a["text"] for a in aces] for n, aces in state["acls"].items()}
    groups = {n: list(g["members"]) for n, g in state["groups"].items() if g["type"] == "network"}
    current = None
    snapshots = []
    for command in commands:
        words = command.split()
        if words[0] == "object-group":
            current = groups.setdefault(words[2], [])
        elif words[0] == "network-object":
            current.append(command)
        elif words[:2] == ["no", "network-object"]:
            current.remove(command[3:])
            assert current, "group emptied by %r" % command
        elif words[0] == "access-list" and words[2] == "line":
            acls[words[1]].insert(int(words[3]) - 1, " ".join(words[4:]))
        elif words[0] == "access-list":
            acls.setdefault(words[1], []).append(" ".join(words[2:]))
        elif words[:2] == ["no", "access-list"]:
            acls[words[2]].remove(" ".join(words[3:]))
            assert acls[words[2]], "ACL %s emptied by %r" % (words[2], command)
        elif words[:2] == ["no", "object-group"]:
            del groups[words[3]]
        else:
            raise AssertionError("unexpected command %r" % command)
        snapshots.append(render(acls, groups, state_text))
    return render(acls, groups, state_text), snapshots


def render(acls, groups, original):
    """The running-config after the changes: other object blocks, our groups, ACLs, bindings."""
    keep, lines = False, []
    for line in original.splitlines():
        if not line.startswith(" "):
            keep = line.startswith("object ") or (
                line.startswith("object-group ") and line.split()[1] != "network")
        if keep:
            lines.append(line)
    text = "".join(line + "\n" for line in lines)
    for name, members in groups.items():
        text += "object-group network %s\n" % name + "".join(" %s\n" % m for m in members)
    for name, texts in acls.items():
        text += "".join("access-list %s %s\n" % (name, t) for t in texts)
    text += "".join(line + "\n" for line in original.splitlines() if line.startswith("access-group"))
    return text


def smtp_from(state_text, source, server):
    """First-match evaluation of TCP/25 from SOURCE to SERVER in the ACLs bound inbound."""
    state = state_from(state_text)
    src = [ipaddress.ip_network(source)]
    dst = [ipaddress.ip_network(server)]
    for binding in state["access_groups"]:
        for ace in state["acls"].get(binding["acl"], []):
            if ace["kind"] != "extended" or ace["inactive"] or ace["source"] is None:
                continue
            s = hes_asa.resolve_address(ace["source"], state["groups"], state["objects"])
            d = hes_asa.resolve_address(ace["destination"], state["groups"], state["objects"])
            if s and d and hes_asa._covers(s, src) and hes_asa._covers(d, dst) and \
                    hes_asa.ace_matches_tcp_port(ace, 25, state["groups"], state["objects"]):
                return ace["action"] == "permit"
    return False


@pytest.mark.parametrize("case", [c for c in CASES if not plan_case(c)[4]["errors"]])
def test_plan_is_make_before_break_and_idempotent(case):
    config, ranges, params, plan = plan_case(case)[1:]
    after, snapshots = apply(config, plan["commands"])
    servers = [r["destination"][0] for r in plan["findings"]["rules"] if r["destination"]]
    servers += [c["after"].split()[-3] for c in plan["changes"]["rules"] if c["action"] == "added"]
    probes = [str(ipaddress.ip_network(r)[-1]) for r in ranges]
    for snapshot in snapshots:
        for server in servers:
            for probe in probes:
                if ipaddress.ip_address(probe).version == ipaddress.ip_network(server).version and \
                        smtp_from(config, probe, server):
                    assert smtp_from(snapshot, probe, server), \
                        "SMTP from %s to %s dropped mid-change:\n%s" % (probe, server, snapshot)
    replan = hes_asa.plan_hardening(state_from(after), ranges, **params)
    assert replan["commands"] == [] and replan["errors"] == []


@pytest.mark.parametrize("case", [c for c in CASES if plan_case(c)[4]["commands"] and not plan_case(c)[4]["errors"]])
def test_rollback_restores_original(case):
    config, plan = plan_case(case)[1], plan_case(case)[4]
    after = apply(config, plan["commands"])[0]
    rollback = hes_asa.plan_rollback(state_from(after), plan["backup"])
    restored = apply(after, rollback["commands"])[0]
    original = state_from(config)
    back = state_from(restored)
    assert {n: [a["text"] for a in aces] for n, aces in back["acls"].items()} == \
        {n: [a["text"] for a in aces] for n, aces in original["acls"].items()}
    name = plan["backup"]["group"]["name"]
    if plan["backup"]["group"]["existed"]:
        assert sorted(back["groups"][name]["members"]) == sorted(original["groups"][name]["members"])
    else:
        assert name not in back["groups"]
    assert hes_asa.plan_rollback(state_from(restored), plan["backup"])["commands"] == []


# ------------------------------------------------------------------------- parse API
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
    acl = hes_asa.parse_access_lists(SHOW_ACCESS_LIST)["outside_in"]
    assert [a["line"] for a in acl] == [1, 2, 3, 4]
    assert acl[1]["text"] == "extended permit tcp object-group TM_HES_IP_RANGE host 203.0.113.25 eq smtp"
    assert acl[1]["source"] == {"kind": "object-group", "value": "TM_HES_IP_RANGE"}
    assert acl[2]["inactive"] is True
    assert acl[3]["options"] == ["log", "informational", "interval", "300"]
    assert acl[0]["kind"] == "remark"


def test_parse_running_config_line_numbers_count_remarks():
    acl = hes_asa.parse_access_lists(
        "access-list A remark x\naccess-list A extended permit ip any any\naccess-list B extended deny ip any any\n")
    assert [a["line"] for a in acl["A"]] == [1, 2]
    assert acl["B"][0]["line"] == 1


def test_parse_access_groups_forms():
    bindings = hes_asa.parse_access_groups(
        "access-group outside_in in interface outside\naccess-group dmz_out out interface dmz\n"
        "access-group GLOBAL global\n")
    assert bindings == [
        {"acl": "outside_in", "direction": "in", "interface": "outside"},
        {"acl": "dmz_out", "direction": "out", "interface": "dmz"},
        {"acl": "GLOBAL", "direction": "global", "interface": None},
    ]


def test_parse_ace_source_port_group_versus_destination_group():
    ace = hes_asa.parse_ace("extended permit tcp any object-group SRC_PORTS host 192.0.2.1 eq smtp".split())
    assert ace["source_port"] == {"op": "object-group", "ports": ["SRC_PORTS"]}
    assert ace["destination"] == {"kind": "host", "value": "192.0.2.1"}
    ace = hes_asa.parse_ace("extended permit tcp any object-group MAILS eq smtp".split())
    assert ace["destination"] == {"kind": "object-group", "value": "MAILS"}


@pytest.mark.parametrize("text, groups, expected", [
    ("extended permit tcp any host 192.0.2.1 eq smtp", "", True),
    ("extended permit tcp any host 192.0.2.1 eq 25", "", True),
    ("extended permit tcp any host 192.0.2.1 range 20 30", "", False),
    ("extended permit tcp any host 192.0.2.1 neq www", "", False),
    ("extended permit tcp any host 192.0.2.1 object-group P", "object-group service P tcp\n port-object eq smtp\n", True),
    ("extended permit object-group S any host 192.0.2.1", "object-group service S\n service-object tcp destination eq smtp\n", True),
    ("extended permit object-group S any host 192.0.2.1", "object-group service S\n service-object tcp-udp destination eq 25\n", True),
    ("extended permit object-group S any host 192.0.2.1", "object-group service S\n service-object ip\n", False),
    ("extended permit udp any host 192.0.2.1 eq 25", "", False),
])
def test_smtp_only(text, groups, expected):
    ace = hes_asa.parse_ace(text.split())
    assert hes_asa.ace_is_smtp_only(ace, hes_asa.parse_object_groups(groups)) is expected


@pytest.mark.parametrize("text, expected", [
    ("extended permit ip any host 192.0.2.1", True),
    ("extended permit tcp any any", True),
    ("extended permit tcp any any gt 24", True),
    ("extended permit tcp any any lt 25", False),
    ("extended permit object-group PROTO any any", True),
    ("extended permit icmp any any", False),
    ("extended deny tcp any any eq smtp", False),
    ("extended permit tcp any any eq smtp inactive", False),
    ("extended permit object SVC any any", True),
])
def test_ace_admits_tcp_port(text, expected):
    groups = hes_asa.parse_object_groups("object-group protocol PROTO\n protocol-object tcp\n")
    objects = hes_asa.parse_network_objects("object service SVC\n service tcp destination range 20 30\n")
    assert hes_asa.ace_admits_tcp_port(hes_asa.parse_ace(text.split()), 25, groups, objects) is expected


def test_resolve_address_follows_objects_and_nested_groups():
    groups = hes_asa.parse_object_groups(
        "object-group network A\n network-object host 192.0.2.1\n group-object B\n"
        "object-group network B\n network-object object R\n network-object 2001:db8::/32\n")
    objects = hes_asa.parse_network_objects("object network R\n range 198.51.100.0 198.51.100.3\n")
    nets = hes_asa.resolve_address({"kind": "object-group", "value": "A"}, groups, objects)
    assert [str(n) for n in nets] == ["192.0.2.1/32", "198.51.100.0/30", "2001:db8::/32"]
    assert hes_asa.resolve_address({"kind": "interface", "value": "outside"}, groups, objects) is None


# ------------------------------------------------------------------------- error paths
SEED = load_case("seed_single_rule")[1]
RANGES = ["18.208.22.64/26"]


def plan(config=SEED, ranges=None, **kwargs):
    return hes_asa.plan_hardening(state_from(config), RANGES if ranges is None else ranges, **kwargs)


@pytest.mark.parametrize("kwargs, message", [
    ({"ranges": []}, "ranges: empty list"),
    ({"ranges": ["18.208.22.65/26"]}, "has host bits set"),
    ({"ranges": ["not-a-range"]}, "malformed entry 'not-a-range'"),
    ({"group_name": ""}, "hes_group_name: '' is not a valid ASA object name"),
    ({"group_name": "BAD NAME"}, "hes_group_name: 'BAD NAME'"),
    ({"group_name": None}, "hes_group_name: None"),
    ({"acl_name": "no such"}, "hes_asa_acl_name: 'no such'"),
    ({"acl_name": "other_acl"}, "hes_asa_acl_name: ACL other_acl is not bound inbound to outside"),
    ({"interfaces": ["dmz"]}, "no access-group binds an ACL inbound to dmz"),
    ({"interfaces": [], "use_global_acl": False}, "hes_asa_interfaces is empty"),
    ({"interfaces": [], "use_global_acl": True}, "no access-group binds an ACL inbound to global"),
    ({"mail_servers": ["mx.example.com"]}, "hes_asa_mail_servers[0]: malformed entry 'mx.example.com'"),
    ({"add_ace_when_missing": True}, "hes_asa_add_ace_when_missing needs hes_asa_mail_servers"),
])
def test_invalid_input_raises_naming_the_value(kwargs, message):
    with pytest.raises(hes_asa.AsaPlanError) as err:
        plan(**kwargs)
    assert message in str(err.value)


def test_group_name_taken_by_a_service_group():
    config = SEED.replace("access-list", "object-group service TM_HES_IP_RANGE tcp\n port-object eq smtp\naccess-list", 1)
    with pytest.raises(hes_asa.AsaPlanError, match="already exists as a service object group"):
        plan(config)


def test_nothing_found_is_an_error_not_an_exception():
    result = plan(SEED.replace("eq smtp", "eq pop3"))
    assert result["commands"] == ["object-group network TM_HES_IP_RANGE",
                                  "network-object 18.208.22.64 255.255.255.192"]
    assert result["errors"] and "no inbound SMTP permit found in outside_in" in result["errors"][0]


def test_mail_server_without_rule_is_an_error_unless_adding():
    result = plan(mail_servers=["203.0.113.25", "203.0.113.99"])
    assert "to 203.0.113.99/32 in outside_in; set hes_asa_add_ace_when_missing" in result["errors"][0]
    result = plan(mail_servers=["203.0.113.25", "203.0.113.99"], add_ace_when_missing=True)
    assert result["errors"] == []
    assert result["commands"][-1] == \
        "access-list outside_in extended permit tcp object-group TM_HES_IP_RANGE host 203.0.113.99 eq smtp"


def test_add_ace_needs_one_acl():
    config = load_case("second_interface_untouched")[1].replace("eq smtp", "eq pop3")
    result = plan(config, interfaces=["outside", "dmz"], add_ace_when_missing=True, mail_servers=["203.0.113.25"])
    assert "2 ACLs are in scope (dmz_in, outside_in); set hes_asa_acl_name" in result["errors"][0]


def test_duplicate_below_is_refused():
    config = SEED.replace(
        "access-list outside_in extended permit tcp any host 203.0.113.80 eq www",
        "access-list outside_in extended permit tcp any host 203.0.113.80 eq www\n"
        "access-list outside_in extended permit tcp object-group TM_HES_IP_RANGE host 203.0.113.25 eq smtp")
    config = config.replace("access-list", "object-group network TM_HES_IP_RANGE\n network-object 18.208.22.64 "
                            "255.255.255.192\naccess-list", 1)
    with pytest.raises(hes_asa.AsaPlanError, match="already exists below"):
        plan(config)


def test_model_refuses_to_empty_an_acl():
    model = hes_asa._AclModel("A", [{"text": "extended permit ip any any"}])
    with pytest.raises(hes_asa.AsaPlanError, match="last ACE of ACL A"):
        model.remove("extended permit ip any any")


@pytest.mark.parametrize("backup, message", [
    ({}, "format None"),
    ("nonsense", "format 'nonsense'"),
    ({"format": 99}, "format 99"),
    ({"format": 1, "group": {"name": "bad name", "existed": True, "members": []}, "rules": []}, "backup group name"),
])
def test_rollback_refuses_foreign_backups(backup, message):
    with pytest.raises(hes_asa.AsaPlanError, match=message):
        hes_asa.plan_rollback(state_from(SEED), backup)


def test_rollback_keeps_a_group_still_referenced():
    config, result = plan_case("seed_single_rule")[1], plan_case("seed_single_rule")[4]
    after = apply(config, result["commands"])[0]
    after = after.replace("access-list outside_in extended permit tcp any host 203.0.113.80 eq www",
                          "access-list outside_in extended permit tcp object-group TM_HES_IP_RANGE any eq ssh")
    rollback = hes_asa.plan_rollback(state_from(after), result["backup"])
    assert "no object-group network TM_HES_IP_RANGE" not in rollback["commands"]
    assert "still used by outside_in 'extended permit tcp object-group TM_HES_IP_RANGE any eq ssh'" \
        in rollback["warnings"][0]
