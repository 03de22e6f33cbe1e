"""Golden-file tests for plugins/module_utils/pfsense/ (parse, model, plan, gate).

Each directory under golden/ is one firewall: its config.xml (written from pfSense's default
configuration and the documented schema), params.json (the role's parameters; "expect" says what
must happen: "hardened" or "refused", "why" says why) and the shared tables.json (the bogons
tables pfSense keeps in /etc/bogons and /etc/bogonsv6, the IANA special-purpose blocks here).
The planned edits must equal expected.edits.ref, the findings, changes, gate verdict and errors
expected.plan.ref, and the XML check mode shows expected.diff.ref. A mismatch writes `*.actual`
beside the ref and fails with a diff; approve a change by renaming `.actual` to `.ref` after
reading it.
"""
import ipaddress
import json
import os

import pytest
from ansible_collections.emailsec.hes.tests.unit.golden_files import assert_goldens, assert_stated_outcome

from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import (
    bundled_entries,
    collect_ranges,
    provenance,
    resolve_sites,
)
from ansible_collections.emailsec.hes.plugins.module_utils.pfsense import model, parse, plan
from ansible_collections.emailsec.hes.plugins.module_utils.policy import engine, space

GOLDEN = os.path.join(os.path.dirname(__file__), "golden")
CASES = sorted(d for d in os.listdir(GOLDEN) if os.path.isdir(os.path.join(GOLDEN, d)))
NOW = 1732950000
with open(os.path.join(GOLDEN, "tables.json"), encoding="utf-8") as handle:
    TABLES = json.load(handle)


def site_ranges(site):
    """What the role hands the module: the lookup's format=detail answer."""
    sites = resolve_sites(site)
    return provenance(collect_ranges(bundled_entries(sites)), sites)


def load_case(case):
    folder = os.path.join(GOLDEN, case)
    with open(os.path.join(folder, "config.xml"), encoding="utf-8") as handle:
        text = handle.read()
    with open(os.path.join(folder, "params.json"), encoding="utf-8") as handle:
        params = json.load(handle)
    return folder, text, params


def plan_case(case):
    folder, text, params = load_case(case)
    expect = params.pop("expect")
    params.pop("why", None)
    ranges = params.pop("ranges", None) or site_ranges(params.pop("site"))
    config = parse.parse_config(text)
    try:
        result = plan.plan_hardening(config, ranges, tables=TABLES, now=NOW, **params)
    except plan.PfsensePlanError as exc:
        result = {"edits": [], "errors": ["raised: %s" % exc], "changes": None, "findings": None, "gate": None,
                  "preview": [], "after": config, "description": None}
    return folder, config, ranges, params, expect, result


PLANS = dict((case, plan_case(case)) for case in CASES)


def diff_text(preview):
    out = []
    for item in preview:
        out.append("--- %s\n%s+++ %s\n%s" % (item["before_header"], item["before"], item["after_header"], item["after"]))
    return "".join(out)


@pytest.mark.parametrize("case", CASES)
def test_golden(case):
    folder, config, ranges, params, expect, result = PLANS[case]
    report = {"errors": result["errors"], "changes": result["changes"], "findings": result["findings"],
              "gate": result["gate"], "description": result["description"]}
    assert_goldens(folder, [
        ("expected.edits", json.dumps(result["edits"], indent=2) + "\n"),
        ("expected.plan", json.dumps(report, indent=2, sort_keys=True) + "\n"),
        ("expected.diff", diff_text(result["preview"])),
    ])


@pytest.mark.parametrize("case", CASES)
def test_outcome_is_the_one_the_case_states(case):
    expect, result = PLANS[case][4], PLANS[case][5]
    assert_stated_outcome(case, expect, result)


@pytest.mark.parametrize("case", [c for c in CASES if not PLANS[c][5]["errors"]])
def test_after_the_plan_only_the_ranges_reach_the_mail_servers_and_a_second_run_is_empty(case):
    folder, config, ranges, params, expect, result = PLANS[case]
    range_sets = space.address_sets([ipaddress.ip_network(r["cidr"]) for r in ranges])
    servers = space.address_sets([ipaddress.ip_network(s) for s in result["findings"]["mail_servers"]])
    after = model.build_policy(result["after"], TABLES).paths[params.get("interface", "wan")]
    assert not engine.leaks(after, range_sets, servers)
    assert not engine.blocked(after, range_sets, servers)
    replan = plan.plan_hardening(result["after"], ranges, tables=TABLES, now=NOW + 60, **params)
    assert replan["edits"] == [] and replan["errors"] == []


@pytest.mark.parametrize("case", [c for c in CASES if PLANS[c][5]["edits"] and not PLANS[c][5]["errors"]])
def test_the_written_file_parses_back_to_the_planned_configuration(case):
    """What pfSense's dump_xml_config writes (our dump mirrors it) reads back as the same array."""
    result = PLANS[case][5]
    assert parse.parse_config(parse.dump_config(result["after"])) == result["after"]


def test_refusals_name_the_rule():
    errors = " | ".join(PLANS["broader_rule_above"][5]["errors"])
    assert 'rule "DMZ services" on wan (tracker 1700000110)' in errors
    assert "port alias" not in errors
    errors = " | ".join(PLANS["port_alias_broader"][5]["errors"])
    assert 'rule "Mail ports via alias" on wan' in errors
    errors = " | ".join(PLANS["alias_name_clash"][5]["errors"])
    assert "already exists as a host alias" in errors
    errors = " | ".join(PLANS["alias_used_elsewhere"][5]["errors"])
    assert 'destination of filter rule "To partner network"' in errors


def test_alias_is_normalized_sorted_and_detailed():
    edits = PLANS["plain_wan_rule"][5]["edits"]
    alias = edits[0]["value"]
    assert alias["type"] == "network"
    assert alias["address"].split() == ["18.188.9.192/26", "18.188.239.128/26", "18.208.22.64/26", "18.208.22.128/25"]
    assert alias["detail"].split("||") == ["emailsec.hes: HES site us, bundled dataset 2025.03.1 (2025-03)"] * 4
    explicit = plan.plan_hardening(PLANS["plain_wan_rule"][1], ["203.0.113.0/25", "18.208.22.64/26"], tables=TABLES)
    assert explicit["edits"][0]["value"]["address"] == "18.208.22.64/26 203.0.113.0/25"
    assert explicit["edits"][0]["value"]["detail"].split("||") == ["emailsec.hes: explicit list (hes_ranges)"] * 2


def test_linked_port_forward_changes_with_its_rule():
    paths = [e["path"] for e in PLANS["port_forward_linked_rule"][5]["edits"]]
    assert "filter/rule/3/source" in paths and "nat/rule/0/source" in paths


# ------------------------------------------------------------------ the model, rule by rule

def _path(xml_rules, **system):
    folder, text, params = load_case("plain_wan_rule")
    config = parse.parse_config(text)
    config["filter"]["rule"] = config["filter"]["rule"][:2] + xml_rules
    config["system"].update(system)
    return model.build_policy(config, TABLES).paths["wan"]


def _verdict(path, source, destination="198.51.100.25", port=25, proto=space.TCP):
    return engine.evaluate_flow(path, space.make_flow(source, destination, proto=proto, dport=port))["verdict"]


def _rule(**fields):
    rule = {"type": "pass", "interface": "wan", "ipprotocol": "inet", "protocol": "tcp", "source": {"any": ""},
            "destination": {"address": "198.51.100.25", "port": "25"}, "descr": "r"}
    rule.update(fields)
    return rule


def test_floating_non_quick_is_last_match_and_quick_is_first_match():
    block_last = _rule(type="block", floating="yes", interface="wan", direction="in", descr="late block")
    path = _path([block_last, _rule(descr="pass")])
    # the interface rule is quick: it wins over the earlier non-quick floating block
    assert _verdict(path, "5.6.7.8") == "permit"
    path = _path([dict(block_last, quick="yes"), _rule(descr="pass")])
    assert _verdict(path, "5.6.7.8") == "deny"
    # two non-quick floating rules: the last one that matches decides
    path = _path([dict(block_last, type="pass", descr="early pass"), dict(block_last, descr="late block")])
    assert _verdict(path, "5.6.7.8") == "deny"


def test_port_ranges_negation_and_protocols():
    path = _path([_rule(destination={"address": "198.51.100.25", "port": "20-30"})])
    assert _verdict(path, "5.6.7.8", port=30) == "permit" and _verdict(path, "5.6.7.8", port=31) == "deny"
    path = _path([_rule(source={"address": "5.6.7.0/24", "not": ""})])
    assert _verdict(path, "5.6.7.8") == "deny" and _verdict(path, "18.208.22.70") == "permit"
    path = _path([_rule(protocol="tcp/udp")])
    assert _verdict(path, "5.6.7.8", proto=space.UDP) == "permit"
    path = _path([_rule(protocol="", destination={"address": "198.51.100.25"})])
    assert _verdict(path, "5.6.7.8", proto=space.UDP, port=53) == "permit"


def test_ipprotocol_default_is_ipv4_and_inet46_is_both():
    v6 = "2001:db8:25::25"
    path = _path([_rule(ipprotocol="", destination={"address": v6, "port": "25"})])
    assert _verdict(path, "2a00:1450::1", destination=v6) == "deny"
    path = _path([_rule(ipprotocol="inet46", destination={"any": "", "port": "25"})])
    assert _verdict(path, "2a00:1450::1", destination=v6) == "permit"
    assert _verdict(path, "5.6.7.8") == "permit"


def test_unresolvable_alias_leaves_the_rule_out_as_pfsense_does():
    policy = model.build_policy(dict(parse.parse_config(load_case("plain_wan_rule")[1]),
                                     filter={"rule": [_rule(source={"address": "NO_SUCH_ALIAS"})]}), TABLES)
    assert not policy.paths["wan"].stages[0].chains["wan"].rules[-1].origin.get("section") == "filter"
    assert any("NO_SUCH_ALIAS" in note for note in policy.notes)


def test_schedule_and_dynamic_wan_address_are_uncertain():
    path = _path([_rule(sched="business_hours")])
    assert _verdict(path, "5.6.7.8") == "uncertain"
    folder, text, params = load_case("plain_wan_rule")
    config = parse.parse_config(text)
    config["interfaces"]["wan"]["ipaddr"] = "dhcp"
    config["filter"]["rule"] = [_rule(destination={"network": "wanip", "port": "25"})]
    path = model.build_policy(config, TABLES).paths["wan"]
    assert _verdict(path, "5.6.7.8", destination="203.0.113.2") == "uncertain"


def test_system_blocks_private_and_bogons_before_user_rules():
    path = _path([_rule(destination={"any": "", "port": "25"})])
    assert _verdict(path, "10.1.2.3") == "deny"
    assert _verdict(path, "198.51.100.77") == "deny"  # a bogon (RFC 5737) source
    assert _verdict(path, "18.208.22.70") == "permit"
    unknown = model.build_policy(parse.parse_config(load_case("plain_wan_rule")[1]), None).paths["wan"]
    assert [r.label for r in unknown.stages[0].chains["wan"].rules if r.uncertain][0].startswith("pfSense: block bogon")


def test_disabled_filter_passes_everything():
    path = _path([], disablefilter="")
    assert _verdict(path, "5.6.7.8", port=22) == "permit"


def test_restore_refuses_a_later_change_another_firewall_and_a_tampered_backup():
    folder, text, params = load_case("plain_wan_rule")
    result = PLANS["plain_wan_rule"][5]
    written = parse.dump_config(dict(result["after"], revision={"time": "1732950001", "description": "x"}))
    data = plan.backup_restore_data(text, parse.config_sha256(text), result["edits"])
    assert plan.plan_restore(written, data)["changed"]
    assert not plan.plan_restore(written, data)["errors"]
    later = written.replace("Web server", "Web servers")
    assert "changed after the hardening" in plan.plan_restore(later, data)["errors"][0]
    assert plan.plan_restore(later, data, force=True)["warnings"]
    assert not plan.plan_restore(text, data)["changed"]
    with pytest.raises(plan.PfsensePlanError, match="taken on fw1.example.net, but this firewall is fw2"):
        plan.plan_restore(written.replace("<hostname>fw1<", "<hostname>fw2<"), data)
    with pytest.raises(plan.PfsensePlanError, match="does not match the SHA-256"):
        plan.plan_restore(written, dict(data, config_xml=text.replace("Web server", "Web")))


# Found by test_pfsense_inputs_fuzz.py: each crashed with a Python traceback, or reached config.xml.
@pytest.mark.parametrize("edits, message", [
    ([{"op": "set", "path": 5, "value": "x"}], "edit 0 is not an edit the hardening writes"),
    ([{"op": "set", "path": "aliases/alias/0", "value": "x", "expect": ["x"]}], "edit 0 is not"),
    ([{"op": "insert", "path": "filter/rule", "index": "0", "value": {}}], "edit 0 is not"),
    (["x"], "edit 0 is not"),
])
def test_restore_refuses_malformed_recorded_edits(edits, message):
    folder, text, params = load_case("plain_wan_rule")
    data = plan.backup_restore_data(text, parse.config_sha256(text), edits)
    with pytest.raises(plan.PfsensePlanError, match=message):
        plan.plan_restore(text, data)


def test_restore_refuses_a_saved_file_that_is_not_utf8_text():
    text = "<pfsense>\udc80</pfsense>"
    data = {"config_xml": text, "config_sha256": "0" * 64, "edits": []}
    with pytest.raises(plan.PfsensePlanError, match="not UTF-8 text"):
        plan.plan_restore(text, data)


@pytest.mark.parametrize("ranges, message", [
    ([{"cidr": "18.208.22.64/26", "entries": ["us"]}], r"ranges\[0\]: .* is neither a CIDR nor"),
    ([{"cidr": "18.208.22.64/26", "entries": 5}], r"ranges\[0\]: .* is neither a CIDR nor"),
    ([{"cidr": "18.208.22.64/26", "entries": [{"site": "us\ufffe"}]}], "cannot go into an alias detail"),
    ([{"cidr": "18.208.22.64/26", "entries": [{"site": "us\x85"}]}], "cannot go into an alias detail"),
])
def test_detail_ranges_that_config_xml_cannot_carry_are_refused(ranges, message):
    with pytest.raises(plan.PfsensePlanError, match=message):
        plan.plan_hardening(PLANS["plain_wan_rule"][1], ranges, tables=TABLES)


def test_a_user_stamp_of_spaces_only_is_refused():
    """pfSense reads a whitespace-only element back as empty: the stamp would be lost."""
    with pytest.raises(plan.PfsensePlanError, match="user: ' ' is not a plain user name"):
        plan.plan_hardening(PLANS["plain_wan_rule"][1], ["18.208.22.64/26"], tables=TABLES, user=" ")
