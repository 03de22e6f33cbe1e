"""Unit tests of plugins/module_utils/hes_verify.py for PAN-OS and nftables (probes, verdicts,
configuration checks). The ASA side and the reports are in tests/unit/plugins/module_utils/asa/test_verify.py."""
import copy
import json
import os
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.emailsec.hes.plugins.module_utils.panos import parse as panos_parse
from ansible_collections.emailsec.hes.plugins.module_utils import hes_verify as hv

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
RANGES = ["18.208.22.64/26", "150.70.149.0/27"]
MX = "203.0.113.25"
GENERATED = "2026-01-01T00:00:00Z"


# ------------------------------------------------------------------------------- probes
def test_expand_probes_pairs_sources_ports_and_expectations():
    probes = hv.expand_probes(RANGES, [MX], complement_samples=3)
    sources = [p for p in probes if p["port"] == 25]
    inside = [p for p in sources if p["expect"] == "allow"]
    assert len(inside) == 6 and {p["kind"] for p in inside} == {"inside-first", "inside-middle", "inside-last"}
    assert [p["source"] for p in inside[:3]] == ["18.208.22.64", "18.208.22.95", "18.208.22.127"]
    outside = [p for p in sources if p["expect"] == "deny"]
    assert {"18.208.22.63", "18.208.22.128", "150.70.148.255", "150.70.149.32"} <= {p["source"] for p in outside}
    assert len([p for p in outside if p["kind"] == "complement"]) == 3
    others = [p for p in probes if p["port"] != 25]
    assert sorted({p["port"] for p in others}) == [22, 80, 443, 465, 587, 2525]
    assert all(p["expect"] == "deny" and p["kind"].startswith("inside") for p in others)
    assert len(others) == 6 * 6
    assert [p["id"] for p in probes[:2]] == ["p0001", "p0002"]
    assert all(p["destination"] == MX and p["protocol"] == "tcp" for p in probes)
    assert probes == hv.expand_probes(RANGES, [MX], complement_samples=3)


def test_expand_probes_per_ingress_family_and_configured_verdicts():
    probes = hv.expand_probes(["18.208.22.64/26", "2001:db8:25::/48"], ["203.0.113.25", "2001:db8:1::25"],
                              other_ports={"587": "allow"}, complement_samples=1, ingress=["outside", "dmz"])
    assert {p["ingress"] for p in probes} == {"outside", "dmz"}
    for probe in probes:
        assert (":" in probe["source"]) == (":" in probe["destination"])
    submission = [p for p in probes if p["port"] == 587]
    assert submission and all(p["expect"] == "allow" for p in submission)
    assert {p["port"] for p in probes} == {25, 587}


@pytest.mark.parametrize("other_ports, message", [
    ({"smtps": "deny"}, "port 'smtps' is not 1-65535"),
    ({70000: "deny"}, "port 70000 is not 1-65535"),
    ({587: "maybe"}, "verdict 'maybe' for port 587"),
    ({25: "allow"}, "port 25 is always probed"),
    (["587"], "is not a dict"),
])
def test_other_ports_are_validated(other_ports, message):
    with pytest.raises(hv.VerifyError, match=message):
        hv.expand_probes(RANGES, [MX], other_ports=other_ports)


@pytest.mark.parametrize("servers, message", [
    (["mail.example"], r"hes_verify_mail_servers\[0\]: 'mail.example' is not an IP address"),
    (["203.0.113.0/24"], "is a network"),
    ([], "no mail server given and none found"),
])
def test_mail_servers_are_validated(servers, message):
    with pytest.raises(hv.VerifyError, match=message):
        hv.expand_probes(RANGES, servers)


def test_compare_marks_mismatches():
    probes = hv.expand_probes(["18.208.22.64/26"], [MX], other_ports={}, complement_samples=0)
    actuals = [{"verdict": "allow", "rule": "r"}] * len(probes)
    results = hv.compare(probes, actuals)
    assert [r["ok"] for r in results] == [p["expect"] == "allow" for p in probes]
    with pytest.raises(hv.VerifyError, match="got 1 verdicts for"):
        hv.compare(probes, actuals[:1])


# ----------------------------------------------------------------------- packet-tracer


# ---------------------------------------------------------------------- PAN-OS config checks
def panos_state(edit=None):
    tree = ET.parse(os.path.join(REPO, "tests", "lab", "panos_configs", "fw-appdefault-smtp.xml")).getroot()
    config = tree if tree.tag == "config" else tree.find(".//config")
    vsys = panos_parse.find_vsys(config, "vsys1")
    addresses = vsys.find("address")
    for cidr in RANGES:
        entry = ET.SubElement(addresses, "entry", name="TM_HES_" + cidr.replace("/", "_"))
        ET.SubElement(entry, "ip-netmask").text = cidr
    group = ET.SubElement(vsys.find("address-group"), "entry", name="TM_HES_IP_RANGE")
    static = ET.SubElement(group, "static")
    for cidr in RANGES:
        ET.SubElement(static, "member").text = "TM_HES_" + cidr.replace("/", "_")
    rule = vsys.find("rulebase/security/rules/entry[@name='Inbound-SMTP']")
    rule.find("source").find("member").text = "TM_HES_IP_RANGE"
    if edit:
        edit(vsys)
    return panos_parse.parse_config(config, "vsys1")


ZONES = {"from": "untrust", "to": "dmz"}


def panos_checks(state):
    return dict((c["id"], c) for c in hv.panos_config_checks(state, RANGES, "TM_HES_IP_RANGE", ZONES, [MX]))


def _rule(vsys, name):
    return vsys.find("rulebase/security/rules/entry[@name='%s']" % name)


def _set(vsys, name, tag, text):
    node = _rule(vsys, name).find(tag)
    if node is None:
        node = ET.SubElement(_rule(vsys, name), tag)
    node.text = text


def _allow_all_above(vsys):
    rules = vsys.find("rulebase/security/rules")
    allow = copy.deepcopy(_rule(vsys, "Inbound-SMTP"))
    allow.set("name", "Allow-All-Inbound")
    for tag in ("source", "destination", "application", "service"):
        allow.find(tag).find("member").text = "any"
    allow.find("to").find("member").text = "any"
    rules.insert(0, allow)


def _any_rule_below(vsys):
    rules = vsys.find("rulebase/security/rules")
    old = copy.deepcopy(_rule(vsys, "Inbound-SMTP"))
    old.set("name", "Inbound-SMTP-old")
    old.find("source").find("member").text = "any"
    rules.insert(1, old)


def _extra_member(vsys):
    entry = ET.SubElement(vsys.find("address"), "entry", name="stray")
    ET.SubElement(entry, "ip-netmask").text = "198.51.100.0/24"
    ET.SubElement(vsys.find("address-group/entry[@name='TM_HES_IP_RANGE']/static"), "member").text = "stray"


def _missing_member(vsys):
    static = vsys.find("address-group/entry[@name='TM_HES_IP_RANGE']/static")
    static.remove(static.findall("member")[1])


def test_panos_hardened_passes_and_discovers():
    state = panos_state()
    assert {k: c["status"] for k, c in panos_checks(state).items()} == {
        "group_members": "pass", "smtp_rule": "pass", "no_broader_permit": "pass"}
    assert hv.panos_mail_servers(state, {"from": "untrust"}, "TM_HES_IP_RANGE") == [MX]
    assert hv.panos_to_zone(state, {"from": "untrust"}, "TM_HES_IP_RANGE") == "dmz"


@pytest.mark.parametrize("edit, check, words", [
    (_allow_all_above, "no_broader_permit", ["rule Allow-All-Inbound (index 1) (allow-all)",
                                             "above our rule (index 2), shadowing it"]),
    (_any_rule_below, "no_broader_permit", ["rule Inbound-SMTP-old (index 2) (source any)"]),
    (_extra_member, "group_members", ["outside the ranges: stray"]),
    (_missing_member, "group_members", ["missing range(s) 150.70.149.0/27"]),
    (lambda v: _set(v, "Inbound-SMTP", "disabled", "yes"), "smtp_rule",
     ["rule Inbound-SMTP (index 1) is disabled"]),
    (lambda v: _rule(v, "Inbound-SMTP").find("from").find("member").__setattr__("text", "trust"), "smtp_rule",
     ["rule Inbound-SMTP (index 1) is from zone trust, not untrust"]),
])
def test_panos_failures_name_the_cause(edit, check, words):
    checks = panos_checks(panos_state(edit))
    assert checks[check]["status"] == "fail", checks
    for word in words:
        assert word in checks[check]["detail"], checks[check]["detail"]


def test_panos_probe_shape_and_verdicts():
    probes = hv.expand_probes(["18.208.22.64/26"], [MX], other_ports={22: "deny"}, complement_samples=0,
                              ingress=[ZONES])
    shaped = hv.panos_policy_match_probes(probes)
    assert shaped[0] == {"name": "p0001", "source": "18.208.22.64", "destination": MX, "port": 25,
                         "protocol": "tcp", "application": "smtp", "from_zone": "untrust", "to_zone": "dmz"}
    assert {s["application"] for s in shaped if s["port"] == 22} == {"ssh"}
    actuals = hv.panos_actuals([{"rule": "Inbound-SMTP", "index": 1, "action": "allow", "allowed": True},
                                {"rule": None, "index": None, "action": None, "allowed": False}])
    assert actuals[0] == {"verdict": "allow", "rule": "Inbound-SMTP (index 1, allow)", "detail": None}
    assert actuals[1]["verdict"] == "deny" and actuals[1]["rule"] == "no rule matched (default deny)"


# -------------------------------------------------------------------------------- nftables
def nft_ruleset(elements, extra_rules=()):
    items = [{"metainfo": {"json_schema_version": 1}},
             {"table": {"family": "inet", "name": "emailsec_hes", "handle": 1}},
             {"set": {"family": "inet", "table": "emailsec_hes", "name": "hes_v4", "type": "ipv4_addr",
                      "flags": ["interval"], "elem": [{"prefix": {"addr": a, "len": int(n)}}
                                                      for a, n in (e.split("/") for e in elements)]}},
             {"chain": {"family": "inet", "table": "emailsec_hes", "name": "hes_smtp", "type": "filter",
                        "hook": "input", "prio": -10, "policy": "accept"}},
             {"rule": {"family": "inet", "table": "emailsec_hes", "chain": "hes_smtp", "handle": 3, "expr": [
                 {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 25}},
                 {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                            "right": "@hes_v4"}},
                 {"accept": None}]}},
             {"rule": {"family": "inet", "table": "emailsec_hes", "chain": "hes_smtp", "handle": 4, "expr": [
                 {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 25}},
                 {"drop": None}]}}]
    items.extend(extra_rules)
    return json.dumps({"nftables": items})


def test_nftables_checks_and_verdicts():
    ruleset = nft_ruleset(RANGES)
    checks = dict((c["id"], c) for c in hv.nftables_config_checks(ruleset, RANGES, "input"))
    assert checks["group_members"]["status"] == "pass"
    assert checks["smtp_rule"]["status"] == "pass" and "hes_smtp" in checks["smtp_rule"]["detail"]
    assert checks["no_broader_permit"]["status"] == "n/a"
    probes = hv.expand_probes(RANGES, [MX], other_ports={587: "allow"}, complement_samples=2)
    results = hv.compare(probes, hv.nftables_actuals(ruleset, probes, "input"))
    assert all(r["ok"] for r in results), [r for r in results if not r["ok"]]
    denied = next(r for r in results if r["expect"] == "deny")
    assert denied["rule"] == "inet emailsec_hes hes_smtp: tcp dport 25 drop (handle 4)"

    short = dict((c["id"], c) for c in hv.nftables_config_checks(nft_ruleset(RANGES[:1]), RANGES, "input"))
    assert "missing range(s) 150.70.149.0/27" in short["group_members"]["detail"]
    wrong_hook = dict((c["id"], c) for c in hv.nftables_config_checks(ruleset, RANGES, "forward"))
    assert "no chain at hook forward (chains: hes_smtp at input)" in wrong_hook["smtp_rule"]["detail"]
    absent = dict((c["id"], c) for c in hv.nftables_config_checks('{"nftables": []}', RANGES, "input"))
    assert absent["group_members"]["status"] == "fail"


def test_nftables_destination_set_is_the_mail_server_not_a_range():
    dst = {"set": {"family": "inet", "table": "emailsec_hes", "name": "hes_dst_v4", "type": "ipv4_addr",
                   "flags": ["interval"], "elem": ["192.0.2.80"]}}
    ruleset = nft_ruleset(RANGES, [dst])
    assert hv.nftables_mail_servers(ruleset) == ["192.0.2.80"]
    checks = dict((c["id"], c) for c in hv.nftables_config_checks(ruleset, RANGES, "input"))
    assert checks["group_members"]["status"] == "pass", checks["group_members"]
    assert hv.nftables_mail_servers(nft_ruleset(RANGES)) == []
