"""Pure PAN-OS planning: naming, discovery, make-before-break plans, undo, backup, probes.

Plans are compared with golden files in tests/unit/golden/panos/ (`*.ref`); a mismatch writes
`*.actual` beside it and fails.
"""
import json
import os
import xml.etree.ElementTree as ET

import pytest
from golden import assert_golden

from ansible_collections.emailsec.hes.plugins.module_utils import hes_panos as hp

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "golden", "panos")
LAB_CONFIG = os.path.join(os.path.dirname(HERE), "lab", "panos_configs", "fw-appdefault-smtp.xml")
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
        name, value, hp.MARKER)


def harden_plan(config, rules=None, zones=("untrust",), servers=(), ranges=tuple(RANGES)):
    state = hp.read_state(config, "vsys1")
    selected = hp.select_rules(state, rules or [], list(zones), list(servers), hp.DEFAULT_GROUP)
    desired = hp.desired_from_ranges(ranges, hp.DEFAULT_GROUP, [r["name"] for r in selected])
    return state, hp.plan(state, desired)


# ---------------------------------------------------------------- naming

def test_object_names_are_readable_stable_and_valid():
    assert hp.object_name("18.208.22.64/26") == "TM_HES_18.208.22.64_26"
    assert hp.object_name("2403:6200:8000::/40") == "TM_HES_2403-6200-8000--_40"
    longest = hp.object_name("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/128")
    assert len(longest) <= hp.NAME_MAX and hp.NAME_RE.match(longest)


@pytest.mark.parametrize("prefix", ["", "bad prefix", "-x", "A" * 21, "TM:HES"])
def test_bad_prefix_is_named(prefix):
    with pytest.raises(hp.PanosPlanError, match="object_prefix"):
        hp.check_prefix(prefix)


def test_bad_group_name_is_named():
    with pytest.raises(hp.PanosPlanError, match="'TM/HES'"):
        hp.desired_from_ranges(RANGES, "TM/HES", [])


# ---------------------------------------------------------------- discovery

def test_discovers_inbound_smtp_on_the_lab_config_only():
    state = hp.read_state(lab_config(), "vsys1")
    found = hp.discover_rules(state, ["untrust"], [], hp.DEFAULT_GROUP)
    # Inbound-Web (ssl), Legacy-FTP-Inbound (disabled), Deny (deny) and trust-side rules are left alone.
    assert [r["name"] for r in found] == ["Inbound-SMTP"]


@pytest.mark.parametrize("servers", [["203.0.113.25"], ["mail-server-public"], ["203.0.113.0/24"]])
def test_mail_server_matches_by_address_object_or_network(servers):
    state = hp.read_state(lab_config(), "vsys1")
    assert [r["name"] for r in hp.discover_rules(state, ["untrust"], servers, hp.DEFAULT_GROUP)] == ["Inbound-SMTP"]


def test_other_mail_server_finds_nothing_and_says_where_it_looked():
    state = hp.read_state(lab_config(), "vsys1")
    with pytest.raises(hp.PanosPlanError, match=r"zone\(s\) untrust to 198.51.100.7"):
        hp.select_rules(state, [], ["untrust"], ["198.51.100.7"], hp.DEFAULT_GROUP)


@pytest.mark.parametrize("service,services,admits", [
    ("any", "", True),
    ("application-default", "", True),
    ("tcp-25", "<entry name='tcp-25'><protocol><tcp><port>25</port></tcp></protocol></entry>", True),
    ("mail", "<entry name='mail'><protocol><tcp><port>25,587</port></tcp></protocol></entry>", True),
    ("low", "<entry name='low'><protocol><tcp><port>1-1024</port></tcp></protocol></entry>", True),
    ("udp-25", "<entry name='udp-25'><protocol><udp><port>25</port></udp></protocol></entry>", False),
    ("tcp-26", "<entry name='tcp-26'><protocol><tcp><port>26</port></tcp></protocol></entry>", False),
    ("service-https", "", False),
])
def test_service_admits_tcp_25(service, services, admits):
    state = hp.read_state(config_with(rules=rule_xml("R", service=service), services=services), "vsys1")
    assert hp.rule_admits_smtp(state, state["rules"][0]) is admits


def test_service_group_nesting_and_cycles():
    services = "<entry name='tcp-25'><protocol><tcp><port>25</port></tcp></protocol></entry>"
    config = config_with(rules=rule_xml("R", service="outer"), services=services)
    vsys = config.find("devices/entry/vsys/entry")
    vsys.append(ET.fromstring("<service-group><entry name='outer'><members><member>inner</member>"
                              "<member>outer</member></members></entry><entry name='inner'><members>"
                              "<member>tcp-25</member></members></entry></service-group>"))
    state = hp.read_state(config, "vsys1")
    assert hp.rule_admits_smtp(state, state["rules"][0])


def test_application_must_admit_smtp():
    state = hp.read_state(config_with(rules=rule_xml("R", app="ssl", service="any")), "vsys1")
    assert not hp.rule_admits_smtp(state, state["rules"][0])


def test_rules_already_on_the_group_are_rediscovered():
    config = config_with(rules=rule_xml("R", source=hp.DEFAULT_GROUP) + rule_xml("S", source="someone"))
    state = hp.read_state(config, "vsys1")
    assert [r["name"] for r in hp.discover_rules(state, ["untrust"], [], hp.DEFAULT_GROUP)] == ["R"]


def test_named_rules_must_exist():
    state = hp.read_state(lab_config(), "vsys1")
    with pytest.raises(hp.PanosPlanError, match="'Nope' not found in vsys vsys1"):
        hp.select_rules(state, ["Inbound-SMTP", "Nope"], ["untrust"], [], hp.DEFAULT_GROUP)


def test_missing_vsys_is_named():
    with pytest.raises(hp.PanosPlanError, match="vsys 'vsys9'"):
        hp.read_state(lab_config(), "vsys9")


# ---------------------------------------------------------------- planning

def test_first_run_plan_on_lab_config():
    state, result = harden_plan(lab_config())
    golden("first_run", {"edits": result["edits"], "commands": hp.commands(result["edits"]),
                         "warnings": result["warnings"]})
    assert [e["kind"] for e in result["edits"]] == ["address", "group", "rule"]


def test_converged_config_plans_nothing():
    group = ("<entry name='TM_HES_IP_RANGE'><static>%s</static><description>%s</description></entry>"
             % ("".join("<member>%s</member>" % hp.object_name(r) for r in reversed(RANGES)), hp.MARKER))
    config = config_with(address="".join(managed(hp.object_name(r), r) for r in RANGES), group=group,
                         rules=rule_xml("Inbound-SMTP", source=hp.DEFAULT_GROUP))
    unused_state, result = harden_plan(config)
    assert result["edits"] == [] and result["before"] == result["after"]


def test_range_change_plan_make_before_break():
    """One range left, one drifted, one user object with our prefix but without the marker."""
    address = (managed("TM_HES_18.208.22.64_26", "18.208.22.64/26")
               + managed("TM_HES_150.70.149.0_27", "150.70.149.0/28")
               + managed("TM_HES_35.170.0.0_16", "35.170.0.0/16")
               + "<entry name='TM_HES_mine'><ip-netmask>192.0.2.1/32</ip-netmask></entry>")
    group = ("<entry name='TM_HES_IP_RANGE'><static><member>TM_HES_18.208.22.64_26</member>"
             "<member>TM_HES_150.70.149.0_27</member><member>TM_HES_35.170.0.0_16</member></static></entry>")
    config = config_with(address=address, group=group,
                         rules=rule_xml("Inbound-SMTP", source=hp.DEFAULT_GROUP) + rule_xml("Second"))
    unused_state, result = harden_plan(config)
    golden("range_change", {"edits": result["edits"], "commands": hp.commands(result["edits"]),
                            "before": hp.render_view(result["before"], hp.DEFAULT_GROUP),
                            "after": hp.render_view(result["after"], hp.DEFAULT_GROUP)})
    kinds = [e["kind"] + ":" + e["action"] for e in result["edits"]]
    assert kinds == ["address:set", "address:edit", "group:edit", "rule:edit", "address:delete"]
    assert "TM_HES_mine" not in json.dumps(result["edits"])


def test_stale_object_still_referenced_elsewhere_is_kept_with_a_warning():
    address = managed("TM_HES_35.170.0.0_16", "35.170.0.0/16")
    rules = rule_xml("Inbound-SMTP") + rule_xml("Other", source="TM_HES_35.170.0.0_16", from_zone="trust")
    unused_state, result = harden_plan(config_with(address=address, rules=rules), rules=["Inbound-SMTP"])
    assert not [e for e in result["edits"] if e["action"] == "delete"]
    assert result["warnings"] == ["keeping stale object TM_HES_35.170.0.0_16: still referenced by "
                                  "rulebase security rules entry Other source"]


def test_foreign_object_with_our_name_is_refused():
    config = config_with(address="<entry name='TM_HES_18.208.22.64_26'><ip-netmask>18.208.22.64/26</ip-netmask>"
                                 "</entry>", rules=rule_xml("Inbound-SMTP"))
    with pytest.raises(hp.PanosPlanError, match="'TM_HES_18.208.22.64_26' already exists .* not managed"):
        harden_plan(config)


def test_dynamic_group_is_replaced_whole():
    group = "<entry name='TM_HES_IP_RANGE'><dynamic><filter>'hes'</filter></dynamic></entry>"
    unused_state, result = harden_plan(config_with(group=group, rules=rule_xml("Inbound-SMTP")))
    edit = [e for e in result["edits"] if e["kind"] == "group"][0]
    assert edit["action"] == "edit" and edit["xpath"].endswith("entry[@name='TM_HES_IP_RANGE']")
    assert "<static>" in edit["element"] and "dynamic" not in edit["element"]


def test_empty_ranges_refused():
    with pytest.raises(hp.PanosPlanError, match="ranges is empty"):
        hp.desired_from_ranges([], hp.DEFAULT_GROUP, [])


def test_many_stale_objects_are_deleted_in_chunks():
    address = "".join(managed("TM_HES_35.%d.0.0_16" % i, "35.%d.0.0/16" % i) for i in range(hp.DELETE_CHUNK + 5))
    unused_state, result = harden_plan(config_with(address=address, rules=rule_xml("Inbound-SMTP")))
    deletes = [e for e in result["edits"] if e["action"] == "delete"]
    assert [len(e["commands"]) for e in deletes] == [hp.DELETE_CHUNK, 5]


# ---------------------------------------------------------------- undo, backup, rollback

def test_inverse_edits_restore_every_touched_node():
    address = (managed("TM_HES_150.70.149.0_27", "150.70.149.0/28")
               + managed("TM_HES_35.170.0.0_16", "35.170.0.0/16"))
    group = ("<entry name='TM_HES_IP_RANGE'><static><member>TM_HES_35.170.0.0_16</member></static>"
             "<tag><member>mail</member></tag></entry>")
    config = config_with(address=address, group=group, rules=rule_xml("Inbound-SMTP"))
    state, result = harden_plan(config)
    golden("undo", hp.inverse_edits(state, result["edits"], hp.DEFAULT_GROUP))


def test_backup_and_restore_plan_round_trip():
    config = lab_config()
    state, result = harden_plan(config)
    backup = hp.backup_data(state, hp.DEFAULT_GROUP, hp.DEFAULT_PREFIX, ["Inbound-SMTP"], "fw1")
    golden("backup", backup)
    # After hardening the device holds our objects; restoring the backup removes them again.
    address = "".join(managed(hp.object_name(r), r) for r in RANGES)
    group = "<entry name='TM_HES_IP_RANGE'><static>%s</static></entry>" % "".join(
        "<member>%s</member>" % hp.object_name(r) for r in RANGES)
    hardened = config_with(address=address, group=group, rules=rule_xml("Inbound-SMTP", source=hp.DEFAULT_GROUP))
    restore = hp.plan(hp.read_state(hardened, "vsys1"), hp.desired_from_backup(backup))
    golden("restore", {"commands": hp.commands(restore["edits"]), "edits": restore["edits"]})
    assert [e["kind"] + ":" + e["action"] for e in restore["edits"]] == ["rule:edit", "group:delete", "address:delete"]


def test_backup_missing_key_is_refused():
    with pytest.raises(hp.PanosPlanError, match="lacks 'rules'"):
        hp.desired_from_backup({"vsys": "vsys1", "group_name": "G", "prefix": "P", "addresses": {}, "group": None})


def test_pending_admins_from_dirty_markers():
    config = config_with(address="<entry name='x' admin='bob' dirtyId='3'><ip-netmask>192.0.2.1</ip-netmask></entry>")
    assert hp.pending_admins(config) == ["bob"]


def test_diff_text_is_stable():
    unused_state, result = harden_plan(lab_config())
    golden("diff", {"before": hp.render_view(result["before"], hp.DEFAULT_GROUP),
                    "after": hp.render_view(result["after"], hp.DEFAULT_GROUP)})


# ---------------------------------------------------------------- probes

def test_probe_arguments():
    args = hp.probe_arguments({"source": "18.208.22.65", "destination": "203.0.113.25", "port": 25,
                               "protocol": "tcp", "application": "smtp", "from_zone": "untrust",
                               "to_zone": "dmz", "name": "inside"}, 0)
    assert args == {"source": "18.208.22.65", "destination": "203.0.113.25", "protocol": 6, "port": 25,
                    "application": "smtp", "from_zone": "untrust", "to_zone": "dmz"}
    assert hp.probe_arguments({"source": "::1", "destination": "::2", "protocol": "17"}, 0)["protocol"] == 17


@pytest.mark.parametrize("probe,message", [
    ({"source": "x", "destination": "192.0.2.1"}, "probes\\[3\\]: source 'x'"),
    ({"source": "192.0.2.1", "destination": "192.0.2.2", "protocol": "gre2"}, "protocol 'gre2'"),
    ({"source": "192.0.2.1", "destination": "192.0.2.2", "port": 70000}, "port 70000"),
    ({"source": "192.0.2.1", "destination": "192.0.2.2", "zone": "x"}, "unknown key\\(s\\) zone"),
])
def test_bad_probes_are_named(probe, message):
    with pytest.raises(hp.PanosPlanError, match=message):
        hp.probe_arguments(probe, 3)


def test_probe_result_rows():
    probe = {"source": "192.0.2.1", "destination": "192.0.2.2"}
    assert hp.probe_result(probe, [])["allowed"] is False
    row = hp.probe_result(probe, [{"name": "Inbound-SMTP", "index": 1, "action": "allow"}])
    assert (row["rule"], row["index"], row["allowed"]) == ("Inbound-SMTP", 1, True)


def test_provider_credentials_treat_empty_as_absent():
    assert hp.provider_credentials({"password": "pw", "api_key": ""}) == ("pw", None)
    assert hp.provider_credentials({"password": None, "api_key": "KEY"}) == (None, "KEY")
    with pytest.raises(ValueError, match="set password or api_key"):
        hp.provider_credentials({"password": "", "api_key": ""})
