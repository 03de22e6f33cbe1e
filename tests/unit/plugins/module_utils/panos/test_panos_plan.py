"""PAN-OS planning (plugins/module_utils/panos/plan.py): naming, discovery on the engine,
make-before-break plans, the edits applied as PAN-OS applies them, undo, backup and rollback.

Plans are compared with golden files in tests/unit/plugins/module_utils/panos/golden/ (`*.ref`); a mismatch writes
`*.actual` beside it and fails. The adversarial corpus is in test_panos_golden.py.
"""
import json
import os
import xml.etree.ElementTree as ET

import pytest
from ansible_collections.emailsec.hes.tests.unit.golden_files import assert_golden

from ansible_collections.emailsec.hes.plugins.module_utils.panos import plan as pp
from ansible_collections.emailsec.hes.plugins.module_utils.panos.model import probe_arguments, probe_result
from ansible_collections.emailsec.hes.plugins.module_utils.panos.parse import PanosError, parse_config, pending_admins

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))))
GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
LAB_CONFIG = os.path.join(REPO, "tests", "unit", "fixtures", "panos-appdefault-smtp.xml")
RANGES = ["18.208.22.64/26", "150.70.149.0/27", "2403:6200:8000::/40"]
VSYS = "/config/devices/entry[@name='localhost.localdomain']/vsys/entry[@name='vsys1']"


def golden(name, data):
    assert_golden(GOLDEN, name, json.dumps(data, indent=2, sort_keys=True) + "\n")


def lab_config():
    return ET.parse(LAB_CONFIG).getroot()


def config_with(address="", group="", rules="", services="", shared=""):
    return ET.fromstring(
        "<config><shared>%s</shared><devices><entry name='localhost.localdomain'><vsys><entry name='vsys1'>"
        "<address>%s</address><address-group>%s</address-group><service>%s</service>"
        "<rulebase><security><rules>%s</rules></security></rulebase>"
        "</entry></vsys></entry></devices></config>" % (shared, address, group, services, rules))


def rule_xml(name, source="any", from_zone="untrust", app="smtp", service="application-default",
             destination="any", action="allow", extra=""):
    return ("<entry name='%s'><from><member>%s</member></from><to><member>dmz</member></to>"
            "<source><member>%s</member></source><destination><member>%s</member></destination>"
            "<application><member>%s</member></application><service><member>%s</member></service>"
            "<action>%s</action>%s</entry>" % (name, from_zone, source, destination, app, service, action, extra))


def managed(name, value):
    return "<entry name='%s'><ip-netmask>%s</ip-netmask><description>%s</description></entry>" % (
        name, value, pp.MARKER)


def harden(config, **kwargs):
    kwargs.setdefault("ranges", RANGES)
    return pp.plan_hardening(config, **kwargs)


# ---------------------------------------------------------------- naming

def test_object_names_are_readable_stable_and_valid():
    assert pp.object_name("18.208.22.64/26") == "TM_HES_18.208.22.64_26"
    assert pp.object_name("2403:6200:8000::/40") == "TM_HES_2403-6200-8000--_40"
    longest = pp.object_name("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/128")
    assert len(longest) <= pp.NAME_MAX and pp.NAME_RE.fullmatch(longest)
    assert len(pp.deny_name("A" * 20, "R" * 63)) == pp.NAME_MAX


@pytest.mark.parametrize("prefix", ["", "bad prefix", "-x", "A" * 21, "TM:HES", None])
def test_bad_prefix_is_named(prefix):
    with pytest.raises(PanosError, match="object_prefix"):
        pp.check_prefix(prefix)


@pytest.mark.parametrize("kwargs,message", [
    ({"group_name": "TM/HES"}, "'TM/HES'"),
    ({"untrust_zones": ["outside"]}, r"zone\(s\) outside not found in vsys vsys1 \(zones: dmz, trust, untrust\)"),
    ({"untrust_zones": []}, "untrust_zones is empty"),
    ({"mail_zones": ["mail]"]}, r"mail_zones\[0\] 'mail\]'"),
    ({"mail_zones": ["nowhere"]}, r"hes_panos_mail_zones: zone\(s\) nowhere not found"),
    ({"ranges": []}, "ranges is empty"),
    ({"ranges": ["10.0.0.0/8x"]}, r"ranges\[0\]"),
    ({"mail_servers": ["no-such-object"]}, "'no-such-object' is neither an address nor an address object"),
    ({"vsys": "vsys9"}, "vsys 'vsys9'"),
])
def test_bad_input_is_named(kwargs, message):
    with pytest.raises(PanosError, match=message):
        harden(lab_config(), **kwargs)


# ---------------------------------------------------------------- discovery

def test_discovers_inbound_smtp_on_the_lab_config_only():
    plan = harden(lab_config())
    # Inbound-Web (ssl), Legacy-FTP-Inbound (disabled), Deny (deny) and trust-side rules are left alone.
    assert [r["name"] for r in plan["findings"]["rules"]] == ["Inbound-SMTP"]
    assert plan["findings"]["mail_servers"] == ["203.0.113.25"]
    assert plan["findings"]["inbound_paths"] == ["untrust->dmz"]
    assert plan["errors"] == [] and plan["gate"]["ok"]


@pytest.mark.parametrize("servers", [["203.0.113.25"], ["mail-server-public"], ["203.0.113.0/24"]])
def test_mail_server_matches_by_address_object_or_network(servers):
    plan = harden(lab_config(), mail_servers=servers)
    assert [r["name"] for r in plan["findings"]["rules"]] == ["Inbound-SMTP"]


def test_other_mail_server_finds_nothing_and_says_where_it_looked():
    plan = harden(lab_config(), mail_servers=["198.51.100.7"])
    assert plan["errors"] and "zone(s) untrust" in plan["errors"][0] and "to 198.51.100.7" in plan["errors"][0]


def test_a_given_mail_server_without_a_rule_is_an_error():
    plan = harden(lab_config(), mail_servers=["203.0.113.25", "203.0.113.0/24"])
    assert any("reaches mail server(s) 203.0.113.0/28, 203.0.113.16/29, 203.0.113.24" in e for e in plan["errors"])


def test_an_fqdn_mail_server_is_refused():
    config = config_with(address="<entry name='mx'><fqdn>mx.example.net</fqdn></entry>", rules=rule_xml("R"))
    with pytest.raises(PanosError, match="mx is fqdn mx.example.net"):
        harden(config, mail_servers=["mx"])


@pytest.mark.parametrize("service,services,smtp_only", [
    ("application-default", "", True),
    ("tcp-25", "<entry name='tcp-25'><protocol><tcp><port>25</port></tcp></protocol></entry>", True),
    ("any", "", False),
    ("mail", "<entry name='mail'><protocol><tcp><port>25,587</port></tcp></protocol></entry>", False),
    ("low", "<entry name='low'><protocol><tcp><port>1-1024</port></tcp></protocol></entry>", False),
    ("from-high", "<entry name='from-high'><protocol><tcp><port>25</port><source-port>1024-65535</source-port>"
                  "</tcp></protocol></entry>", True),
])
def test_only_smtp_only_rules_are_rewritten(service, services, smtp_only):
    plan = harden(config_with(rules=rule_xml("R", service=service), services=services))
    found = [r["name"] for r in plan["findings"]["rules"]]
    broader = [r["name"] for r in plan["findings"]["broader"]]
    assert (found, broader) == ((["R"], []) if smtp_only else ([], ["R"]))


def test_rules_already_on_the_group_are_rediscovered():
    config = config_with(rules=rule_xml("R", source=pp.DEFAULT_GROUP) + rule_xml("S", source="192.0.2.0/24"),
                         group="<entry name='TM_HES_IP_RANGE'><static><member>x</member></static></entry>",
                         address="<entry name='x'><ip-netmask>192.0.2.9</ip-netmask></entry>")
    plan = harden(config)
    assert [(r["name"], r["status"]) for r in plan["findings"]["rules"]] == [("R", "hardened")]


def test_named_rules_must_exist():
    with pytest.raises(PanosError, match="'Nope' not found in vsys vsys1"):
        harden(lab_config(), rules=["Inbound-SMTP", "Nope"])


@pytest.mark.parametrize("name,message", [
    ("Inbound-Web", "not an SMTP-only rule: it admits more than TCP/25, e.g. tcp 1.0.0.7:40000 -> 203.0.113.80:80 "
                    "app web-browsing"),
    ("Legacy-FTP-Inbound", "is disabled"),
    ("Deny-Untrust-Inbound", "is not an allow rule (action deny)"),
    ("Admin-SSH", "not an SMTP-only rule"),
])
def test_named_rules_must_be_smtp_rules(name, message):
    plan = harden(lab_config(), rules=[name])
    assert any(message in e for e in plan["errors"]), plan["errors"]


# ---------------------------------------------------------------- planning

def test_first_run_plan_on_lab_config():
    plan = harden(lab_config())
    golden("first_run", {"edits": plan["edits"], "commands": plan["commands"], "warnings": plan["warnings"],
                         "differential": plan["gate"]["differential"]})
    assert [e["kind"] for e in plan["edits"]] == ["address", "group", "rule"]
    assert plan["requests"] == [dict((k, e[k]) for k in ("action", "xpath", "element")) for e in plan["edits"]]


def test_converged_config_plans_nothing():
    group = ("<entry name='TM_HES_IP_RANGE'><static>%s</static><description>%s</description></entry>"
             % ("".join("<member>%s</member>" % pp.object_name(r) for r in reversed(RANGES)), pp.MARKER))
    config = config_with(address="".join(managed(pp.object_name(r), r) for r in RANGES), group=group,
                         rules=rule_xml("Inbound-SMTP", source=pp.DEFAULT_GROUP))
    plan = harden(config)
    assert plan["edits"] == [] and plan["before"] == plan["after"] and plan["errors"] == []


def test_range_change_plan_make_before_break():
    """One range left, one drifted, one user object with our prefix but without the marker."""
    address = (managed("TM_HES_18.208.22.64_26", "18.208.22.64/26")
               + managed("TM_HES_150.70.149.0_27", "150.70.149.0/28")
               + managed("TM_HES_35.170.0.0_16", "35.170.0.0/16")
               + "<entry name='TM_HES_mine'><ip-netmask>192.0.2.1/32</ip-netmask></entry>")
    group = ("<entry name='TM_HES_IP_RANGE'><static><member>TM_HES_18.208.22.64_26</member>"
             "<member>TM_HES_150.70.149.0_27</member><member>TM_HES_35.170.0.0_16</member></static></entry>")
    config = config_with(address=address, group=group,
                         rules=rule_xml("Inbound-SMTP", source=pp.DEFAULT_GROUP) + rule_xml("Second"))
    plan = harden(config, mail_zones=["dmz"])
    golden("range_change", {"edits": plan["edits"], "commands": plan["commands"],
                            "before": pp.render_view(plan["before"], pp.DEFAULT_GROUP),
                            "after": pp.render_view(plan["after"], pp.DEFAULT_GROUP),
                            "differential": plan["gate"]["differential"]})
    kinds = [e["kind"] + ":" + e["action"] for e in plan["edits"]]
    assert kinds == ["address:set", "address:edit", "group:edit", "rule:edit", "address:delete"]
    assert "TM_HES_mine" not in json.dumps(plan["edits"])
    assert plan["errors"] == []


def test_stale_object_still_referenced_elsewhere_is_kept_with_a_warning():
    address = managed("TM_HES_35.170.0.0_16", "35.170.0.0/16")
    rules = rule_xml("Inbound-SMTP") + rule_xml("Other", source="TM_HES_35.170.0.0_16", from_zone="trust")
    plan = harden(config_with(address=address, rules=rules), rules=["Inbound-SMTP"])
    assert not [e for e in plan["edits"] if e["action"] == "delete"]
    assert plan["warnings"] == ["keeping stale object TM_HES_35.170.0.0_16: still referenced by "
                                "rulebase security rules entry Other source"]


def test_foreign_object_with_our_name_is_refused():
    config = config_with(address="<entry name='TM_HES_18.208.22.64_26'><ip-netmask>18.208.22.64/26</ip-netmask>"
                                 "</entry>", rules=rule_xml("Inbound-SMTP"))
    with pytest.raises(PanosError, match="'TM_HES_18.208.22.64_26' already exists .* not managed"):
        harden(config)


def test_names_shared_by_addresses_and_groups_are_refused():
    taken = config_with(address="<entry name='TM_HES_IP_RANGE'><ip-netmask>192.0.2.99</ip-netmask></entry>",
                        rules=rule_xml("Inbound-SMTP"))
    with pytest.raises(PanosError, match="group name 'TM_HES_IP_RANGE' is taken by address object"):
        harden(taken)
    group = config_with(group="<entry name='TM_HES_18.208.22.64_26'><static><member>x</member></static></entry>",
                        address="<entry name='x'><ip-netmask>192.0.2.9</ip-netmask></entry>",
                        rules=rule_xml("Inbound-SMTP"))
    with pytest.raises(PanosError, match="address object name 'TM_HES_18.208.22.64_26' is taken by an address group"):
        harden(group)


def test_foreign_rule_with_our_carve_out_name_is_refused():
    rules = rule_xml("Inbound-SMTP") + rule_xml("TM_HES_deny-Inbound-SMTP", action="deny") + \
        rule_xml("Allow-All", app="any", service="any")
    with pytest.raises(PanosError, match="'TM_HES_deny-Inbound-SMTP' already exists and is not managed"):
        harden(config_with(rules=rules), deny_after_rule=True)


def test_dynamic_group_is_replaced_whole():
    group = "<entry name='TM_HES_IP_RANGE'><dynamic><filter>'hes'</filter></dynamic></entry>"
    plan = harden(config_with(group=group, rules=rule_xml("Inbound-SMTP")))
    edit = [e for e in plan["edits"] if e["kind"] == "group"][0]
    assert edit["action"] == "edit" and edit["xpath"].endswith("entry[@name='TM_HES_IP_RANGE']")
    assert "<static>" in edit["element"] and "dynamic" not in edit["element"]
    assert plan["errors"] == []


def test_many_stale_objects_are_deleted_in_chunks():
    address = "".join(managed("TM_HES_35.%d.0.0_16" % i, "35.%d.0.0/16" % i) for i in range(pp.DELETE_CHUNK + 5))
    plan = harden(config_with(address=address, rules=rule_xml("Inbound-SMTP")))
    deletes = [e for e in plan["edits"] if e["action"] == "delete"]
    assert [len(e["commands"]) for e in deletes] == [pp.DELETE_CHUNK, 5]


def test_carve_out_moves_back_after_its_rule_when_moved_away():
    config = ET.parse(os.path.join(GOLDEN, "carve_out_in_place", "config.xml")).getroot()
    rules = config.find("devices/entry/vsys/entry/rulebase/security/rules")
    carve = rules.find("entry[@name='TM_HES_deny-Inbound-SMTP']")
    rules.remove(carve)
    rules.append(carve)
    plan = harden(config, ranges=["18.208.22.64/26", "150.70.149.0/27"], deny_after_rule=True)
    assert [pp.request(e) for e in plan["edits"]] == [{
        "action": "move", "xpath": VSYS + "/rulebase/security/rules/entry[@name='TM_HES_deny-Inbound-SMTP']",
        "element": None, "where": "after", "dst": "Inbound-SMTP"}]
    assert plan["errors"] == []


# ---------------------------------------------------------------- edits applied as PAN-OS does (reference §4.1)

def test_set_merges_members_and_edit_replaces():
    config = config_with(group="<entry name='G'><static><member>a</member></static></entry>",
                         address="<entry name='a'><ip-netmask>192.0.2.1</ip-netmask></entry>"
                                 "<entry name='b'><ip-netmask>192.0.2.2</ip-netmask></entry>")
    group = VSYS + "/address-group/entry[@name='G']"
    merged = pp.apply_edits(config, [{"action": "set", "xpath": group, "element": "<static><member>b</member></static>"}])
    assert parse_config(merged, "vsys1")["groups"]["G"]["static"] == ["a", "b"]
    replaced = pp.apply_edits(config, [{"action": "edit", "xpath": group + "/static",
                                        "element": "<static><member>b</member></static>"}])
    assert parse_config(replaced, "vsys1")["groups"]["G"]["static"] == ["b"]
    assert parse_config(config, "vsys1")["groups"]["G"]["static"] == ["a"]


def test_set_appends_new_rules_at_the_bottom_and_move_places_them():
    config = config_with(rules=rule_xml("A") + rule_xml("B"))
    rules = VSYS + "/rulebase/security/rules"
    added = pp.apply_edits(config, [{"action": "set", "xpath": rules, "element": rule_xml("C")}])
    assert [r["name"] for r in parse_config(added, "vsys1")["rules"]] == ["A", "B", "C"]
    moved = pp.apply_edits(added, [{"action": "move", "xpath": rules + "/entry[@name='C']", "where": "after", "dst": "A"}])
    assert [r["name"] for r in parse_config(moved, "vsys1")["rules"]] == ["A", "C", "B"]
    top = pp.apply_edits(added, [{"action": "move", "xpath": rules + "/entry[@name='C']", "where": "top"}])
    assert [r["name"] for r in parse_config(top, "vsys1")["rules"]] == ["C", "A", "B"]


@pytest.mark.parametrize("edit,message", [
    ({"action": "delete", "xpath": VSYS + "/address/entry[@name='a']"}, "Reference count not zero"),
    ({"action": "edit", "xpath": VSYS + "/address/entry[@name='a']", "element": "<entry name='b'/>"}, "must be one"),
    ({"action": "edit", "xpath": VSYS + "/nothing/entry[@name='a']", "element": "<entry name='a'/>"}, "parent"),
    ({"action": "move", "xpath": VSYS + "/rulebase/security/rules/entry[@name='R']", "where": "after", "dst": "Z"},
     "Z does not exist"),
    ({"action": "rename", "xpath": VSYS}, "not an action"),
    ({"action": "set", "xpath": VSYS + "/address[last()]", "element": ""}, "not one this planner writes"),
])
def test_edits_pan_os_would_refuse(edit, message):
    config = config_with(address="<entry name='a'><ip-netmask>192.0.2.1</ip-netmask></entry>",
                         rules=rule_xml("R", source="a"))
    with pytest.raises(PanosError, match=message):
        pp.apply_edits(config, [edit])


def test_delete_of_an_absent_node_changes_nothing():
    config = config_with(rules=rule_xml("R"))
    after = pp.apply_edits(config, [{"action": "delete", "xpath": VSYS + "/address/entry[@name='gone']"}])
    assert ET.tostring(after) == ET.tostring(config)


# ---------------------------------------------------------------- undo, backup, rollback

def test_inverse_edits_restore_every_touched_node():
    address = (managed("TM_HES_150.70.149.0_27", "150.70.149.0/28")
               + managed("TM_HES_35.170.0.0_16", "35.170.0.0/16"))
    group = ("<entry name='TM_HES_IP_RANGE'><static><member>TM_HES_35.170.0.0_16</member></static>"
             "<tag><member>mail</member></tag></entry>")
    config = config_with(address=address, group=group, rules=rule_xml("Inbound-SMTP"))
    plan = harden(config)
    undo = pp.inverse_edits(parse_config(config, "vsys1"), plan["edits"], pp.DEFAULT_GROUP, config)
    golden("undo", undo)
    restored = pp.apply_edits(pp.apply_edits(config, plan["edits"]), undo)
    assert parse_config(restored, "vsys1")["addresses"] == parse_config(config, "vsys1")["addresses"]
    assert parse_config(restored, "vsys1")["groups"] == parse_config(config, "vsys1")["groups"]
    assert parse_config(restored, "vsys1")["rules"] == parse_config(config, "vsys1")["rules"]


def test_inverse_edits_take_back_a_carve_out():
    config = ET.parse(os.path.join(GOLDEN, "allow_all_below_carve_out", "config.xml")).getroot()
    plan = harden(config, ranges=["18.208.22.64/26"], deny_after_rule=True)
    undo = pp.inverse_edits(parse_config(config, "vsys1"), plan["edits"], pp.DEFAULT_GROUP, config)
    restored = parse_config(pp.apply_edits(pp.apply_edits(config, plan["edits"]), undo), "vsys1")
    assert restored["rules"] == parse_config(config, "vsys1")["rules"] and restored["services"] == {}


def test_backup_and_restore_plan_round_trip():
    plan = harden(lab_config(), device="fw1")
    golden("backup", plan["backup"])
    hardened = pp.apply_edits(lab_config(), plan["edits"])
    restore = pp.plan_rollback(hardened, plan["backup"])
    golden("restore", {"commands": restore["commands"], "edits": restore["edits"]})
    assert [e["kind"] + ":" + e["action"] for e in restore["edits"]] == ["rule:edit", "group:delete", "address:delete"]
    assert restore["errors"] == []
    assert pp.plan_rollback(pp.apply_edits(hardened, restore["edits"]), plan["backup"])["edits"] == []


def test_rollback_names_what_it_cannot_restore():
    plan = harden(lab_config())
    hardened = pp.apply_edits(lab_config(), plan["edits"])
    rules = hardened.find("devices/entry/vsys/entry/rulebase/security/rules")
    rules.remove(rules.find("entry[@name='Inbound-SMTP']"))
    with pytest.raises(PanosError, match="security rule 'Inbound-SMTP' not found"):
        pp.plan_rollback(hardened, plan["backup"])


@pytest.mark.parametrize("change,message", [
    ({"format": 9}, "format 9"),
    ({"rules": None}, "backup rules: not a mapping"),
    ({"rules": {"Inbound-SMTP": ["any']/../x"]}}, "backup rule Inbound-SMTP source"),
    ({"addresses": {"TM_HES_x": {"type": "fqdn", "value": "x"}}}, "type 'fqdn' is not ip-netmask"),
    ({"addresses": {"other": {"type": "ip-netmask", "value": "192.0.2.0/24"}}}, "lacks the prefix"),
    ({"addresses": {"TM_HES_x": {"type": "ip-netmask", "value": "192.0.2.0/33"}}}, "192.0.2.0/33"),
    ({"group": {"static": ["a", "b<c"]}}, "backup group member 'b<c'"),
    ({"vsys": "vsys1']"}, "backup vsys"),
    ({"denies": {"TM_HES_deny-x": "R'"}}, "position"),
    # Found by test_panos_inputs_fuzz.py: a restored object wider than any guard allows, and
    # malformed parts that crashed with a Python traceback.
    ({"addresses": {"TM_HES_x": {"type": "ip-netmask", "value": "0.0.0.0/0"}}}, "0.0.0.0/0 is broader than /8"),
    ({"addresses": {"TM_HES_x": {"type": "ip-netmask", "value": "224.0.0.0/8"}}}, "224.0.0.0/8"),
    ({"addresses": {"TM_HES_x": " "}}, "type ' ' is not ip-netmask"),
    ({"denies": " "}, "backup denies: ' ' is not a mapping"),
    ({"rules": {"Inbound-SMTP": [1]}}, "backup rule Inbound-SMTP source 1"),
    ({"rules": {"Inbound-SMTP": [["any"]]}}, "backup rule Inbound-SMTP source"),
    ({"rules": {"Inbound-SMTP": ["192.0.2.1\n"]}}, "backup rule Inbound-SMTP source"),
])
def test_backup_is_validated_before_use(change, message):
    backup = harden(lab_config())["backup"]
    backup.update(change)
    with pytest.raises(PanosError, match=message):
        pp.plan_rollback(lab_config(), backup)


def test_backup_missing_key_is_refused():
    with pytest.raises(PanosError, match="lacks 'rules'"):
        pp.check_backup({"format": 2, "vsys": "vsys1", "group_name": "G", "prefix": "P", "addresses": {}, "group": None})


def test_pending_admins_from_dirty_markers():
    config = config_with(address="<entry name='x' admin='bob' dirtyId='3'><ip-netmask>192.0.2.1</ip-netmask></entry>")
    assert pending_admins(config) == ["bob"]


def test_diff_text_is_stable():
    plan = harden(lab_config())
    golden("diff", {"before": pp.render_view(plan["before"], pp.DEFAULT_GROUP),
                    "after": pp.render_view(plan["after"], pp.DEFAULT_GROUP)})


# ---------------------------------------------------------------- probes

def test_probe_arguments():
    args = probe_arguments({"source": "18.208.22.65", "destination": "203.0.113.25", "port": 25,
                            "protocol": "tcp", "application": "smtp", "from_zone": "untrust",
                            "to_zone": "dmz", "name": "inside"}, 0)
    assert args == {"source": "18.208.22.65", "destination": "203.0.113.25", "protocol": 6, "port": 25,
                    "application": "smtp", "from_zone": "untrust", "to_zone": "dmz"}
    assert probe_arguments({"source": "::1", "destination": "::2", "protocol": "17"}, 0)["protocol"] == 17


@pytest.mark.parametrize("probe,message", [
    ({"source": "x", "destination": "192.0.2.1"}, "probes\\[3\\]: source 'x'"),
    ({"source": "192.0.2.1", "destination": "192.0.2.2", "protocol": "gre2"}, "protocol 'gre2'"),
    ({"source": "192.0.2.1", "destination": "192.0.2.2", "port": 70000}, "port 70000"),
    ({"source": "192.0.2.1", "destination": "192.0.2.2", "zone": "x"}, "unknown key\\(s\\) zone"),
])
def test_bad_probes_are_named(probe, message):
    with pytest.raises(PanosError, match=message):
        probe_arguments(probe, 3)


def test_probe_result_rows():
    probe = {"source": "192.0.2.1", "destination": "192.0.2.2"}
    assert probe_result(probe, [])["allowed"] is False
    row = probe_result(probe, [{"name": "Inbound-SMTP", "index": 1, "action": "allow"}])
    assert (row["rule"], row["index"], row["allowed"]) == ("Inbound-SMTP", 1, True)


@pytest.mark.parametrize("admin", ["admin", "a<b>&'\"", "</member></admin><admin><member>x"])
def test_revert_command_carries_the_admin_name_as_text(admin):
    cmd = ET.fromstring(pp.revert_command(admin))
    assert [node.tag for node in cmd.iter()] == ["revert", "config", "partial", "admin", "member"]
    assert cmd.find("config/partial/admin/member").text == admin


@pytest.mark.parametrize("admin", ["", "ad\nmin", "a\x00", "a\u2028b", None])
def test_revert_command_refuses_an_admin_name_xml_cannot_carry(admin):
    with pytest.raises(PanosError, match=r"provider\.username"):
        pp.revert_command(admin)


def test_device_names_with_quotes_brackets_and_or_are_read_back_as_written():
    """Found by test_panos_inputs_fuzz.py: the planner's reader of its own XPaths split a quoted
    name at ' or ' and refused a newline in it."""
    for name in ("x' or @name='y", "a]/b", "x\n", "R'1"):
        xpath = pp.entry_xpath(pp.vsys_xpath("vsys1") + "/rulebase/security/rules", name)
        assert pp._split_xpath(xpath)[-1] == ("entry", [name])
        assert pp._names_in(xpath + "/source") == [name]
