"""Verify on the engine for PAN-OS and nftables (plugins/module_utils/hes_verify.py with the
panos and nftables adapters), and the input checks every vendor shares. The ASA side and the
report renderings are in asa/test_asa_verify.py."""
import copy
import json
import os
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.emailsec.hes.plugins.module_utils import hes_verify as hv
from ansible_collections.emailsec.hes.plugins.module_utils.panos import parse as panos_parse
from ansible_collections.emailsec.hes.plugins.module_utils.panos import verify as panos_verify

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
RANGES = ["18.208.22.64/26", "150.70.149.0/27"]
MX = "203.0.113.25"
GENERATED = "2026-01-01T00:00:00Z"
ZONES = {"from": "untrust", "to": "dmz"}


# ------------------------------------------------------------------------------- input
@pytest.mark.parametrize("other_ports, message", [
    ({"smtps": "deny"}, "port 'smtps' is not 1-65535"),
    ({70000: "deny"}, "port 70000 is not 1-65535"),
    ({587: "maybe"}, "verdict 'maybe' for port 587"),
    ({25: "deny"}, "port 25 is always probed"),
    ([587], "is not a dict"),
])
def test_other_ports_are_validated(other_ports, message):
    with pytest.raises(hv.VerifyError, match=message):
        hv.normalize_other_ports(other_ports)


@pytest.mark.parametrize("servers, message", [
    (["mail.example"], r"hes_verify_mail_servers\[0\]: 'mail.example' is not an IP address"),
    (["203.0.113.0/24"], "is a network"),
])
def test_mail_servers_are_validated(servers, message):
    with pytest.raises(hv.VerifyError, match=message):
        hv.parse_mail_servers(servers)


def test_unknown_vendor_is_named():
    with pytest.raises(hv.VerifyError, match="vendor 'fortigate' is not one of asa, panos, nftables"):
        hv.plan("fortigate", "", RANGES, "TM_HES_IP_RANGE")


# ------------------------------------------------------------------------------- PAN-OS
def panos_state(edit=None):
    tree = ET.parse(os.path.join(REPO, "tests", "unit", "fixtures", "panos-appdefault-smtp.xml")).getroot()
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


def panos_report(state, device=None, servers=(MX,)):
    planned = hv.plan("panos", state, RANGES, "TM_HES_IP_RANGE", mail_servers=list(servers), other_ports={},
                      zones=ZONES)
    answers = device(planned["policy_match_probes"]) if device else [
        {"rule": "x", "index": 1, "action": "allow" if p["engine"] == "allow" else "deny",
         "allowed": p["engine"] == "allow"} for p in planned["probes"]]
    return planned, hv.evaluate("panos", state, answers, planned["probes"], RANGES, "TM_HES_IP_RANGE",
                                planned["mail_servers"], "pa1", GENERATED, other_ports={}, zones=ZONES)


def checks_of(report):
    return dict((c["id"], c) for c in report["checks"])


def test_panos_hardened_passes_and_the_probes_ask_for_smtp_between_the_zones():
    planned, report = panos_report(panos_state())
    assert report["status"] == "pass", report["checks"]
    first = planned["policy_match_probes"][0]
    assert first == {"name": "p0001", "source": "18.208.22.64", "destination": MX, "port": 25, "protocol": "tcp",
                     "application": "smtp", "from_zone": "untrust", "to_zone": "dmz"}
    assert checks_of(report)["group_members"]["detail"] == \
        "address group TM_HES_IP_RANGE holds exactly the ranges (2 members)"


def test_panos_audit_discovers_the_mail_server_and_its_zone():
    state = panos_state()
    planned = hv.plan("panos", state, RANGES, "TM_HES_IP_RANGE", other_ports={}, zones={"from": "untrust"})
    assert planned["mail_servers"] == [MX] and planned["mail_servers_discovered"]
    assert {p["ingress"] for p in planned["probes"]} == {"untrust->dmz"}


@pytest.mark.parametrize("edit, check, words", [
    (_allow_all_above, "no_broader_permit", ["Allow-All-Inbound", "admits TCP/25 from every source outside the ranges"]),
    (_any_rule_below, "no_broader_permit", ["Inbound-SMTP-old", "admits TCP/25 from every source outside the ranges"]),
    (_extra_member, "group_members", ["holds addresses outside the ranges: 198.51.100.0/24"]),
    (_missing_member, "group_members", ["missing 150.70.149.0/27"]),
    (lambda v: _set(v, "Inbound-SMTP", "disabled", "yes"), "smtp_rule", ["blocks TCP/25 from every address of the ranges"]),
    (lambda v: _rule(v, "Inbound-SMTP").find("from").find("member").__setattr__("text", "trust"), "smtp_rule",
     ["blocks TCP/25 from every address of the ranges"]),
])
def test_panos_failures_name_the_cause(edit, check, words):
    planned, report = panos_report(panos_state(edit))
    found = checks_of(report)[check]
    assert found["status"] == "fail", report["checks"]
    for word in words:
        assert word in found["detail"], found["detail"]


def test_panos_device_answers_and_a_disagreement():
    answers = panos_verify.device_answers([{"rule": "Inbound-SMTP", "index": 1, "action": "allow", "allowed": True},
                                           {"rule": None, "index": None, "action": None, "allowed": False}])
    assert answers[0] == {"verdict": "allow", "rule": "Inbound-SMTP (index 1, allow)", "detail": None}
    assert answers[1]["verdict"] == "deny" and answers[1]["rule"] == "no rule matched (default deny)"

    def everything_allowed(probes):
        return [{"rule": "Any", "index": 1, "action": "allow", "allowed": True} for probe in probes]
    planned, report = panos_report(panos_state(), device=everything_allowed)
    assert "the device and the engine disagree" in checks_of(report)["probes_smtp"]["detail"]


# ------------------------------------------------------------------------------- nftables
def nft_ruleset(elements, extra=()):
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
    items.extend(extra)
    return json.dumps({"nftables": items})


def nft_report(ruleset, servers=(MX,), **options):
    planned = hv.plan("nftables", ruleset, RANGES, "TM_HES_IP_RANGE", mail_servers=list(servers),
                      other_ports={587: "allow"}, hook="input", **options)
    return planned, hv.evaluate("nftables", ruleset, [], planned["probes"], RANGES, "TM_HES_IP_RANGE",
                                planned["mail_servers"], "mx", GENERATED, other_ports={587: "allow"}, hook="input",
                                **options)


def test_nftables_passes_and_the_engine_answers_the_probes():
    planned, report = nft_report(nft_ruleset(RANGES))
    assert report["status"] == "pass", report["checks"]
    denied = next(r for r in report["probes"] if r["expect"] == "deny")
    assert denied["rule"] == "inet emailsec_hes hes_smtp: tcp dport 25 drop (handle 4)"


def test_nftables_missing_range_and_an_internal_relay():
    planned, report = nft_report(nft_ruleset(RANGES[:1]))
    assert "missing 150.70.149.0/27" in checks_of(report)["group_members"]["detail"]
    assert checks_of(report)["smtp_rule"]["status"] == "fail"
    relay = {"rule": {"family": "inet", "table": "emailsec_hes", "chain": "hes_smtp", "handle": 2, "expr": [
        {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                   "right": {"prefix": {"addr": "10.1.0.0", "len": 16}}}}, {"accept": None}]}}
    items = json.loads(nft_ruleset(RANGES))["nftables"]
    items.insert(4, relay)
    ruleset = json.dumps({"nftables": items})
    planned, report = nft_report(ruleset)
    assert checks_of(report)["no_broader_permit"]["status"] == "fail"
    planned, report = nft_report(ruleset, internal_sources=["10.1.0.0/16"])
    assert checks_of(report)["no_broader_permit"]["status"] == "pass", report["checks"]


def test_nftables_destination_set_is_the_mail_server_not_a_range():
    dst = {"set": {"family": "inet", "table": "emailsec_hes", "name": "hes_dst_v4", "type": "ipv4_addr",
                   "flags": ["interval"], "elem": ["192.0.2.80"]}}
    planned = hv.plan("nftables", nft_ruleset(RANGES, [dst]), RANGES, "TM_HES_IP_RANGE", other_ports={})
    assert planned["mail_servers"] == ["192.0.2.80"]
    with pytest.raises(hv.VerifyError, match="our table restricts no destination"):
        hv.plan("nftables", nft_ruleset(RANGES), RANGES, "TM_HES_IP_RANGE", other_ports={})
