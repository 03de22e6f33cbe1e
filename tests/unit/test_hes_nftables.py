"""Pure nftables logic: rendering (golden files), reading `nft -j`, and the probe evaluator.

The evaluator fixture (golden/nftables/evaluator_ruleset.json) is what nft 1.0.6 printed for
evaluator_ruleset.nft loaded into a scratch namespace; the integration tests compare the
evaluator with the kernel itself.
"""
import copy
import json
import os
import re

import pytest
from golden import assert_golden as shared_assert_golden

from ansible_collections.emailsec.hes.plugins.module_utils import hes_nftables as nft

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "golden", "nftables")
LAB_RANGES = ["198.51.100.0/25", "203.0.113.64/26"]


def assert_golden(name, text):
    shared_assert_golden(GOLDEN, name, text)


RENDER_CASES = {
    "input_default": dict(ranges=LAB_RANGES),
    "input_ports_reject_v6": dict(ranges=LAB_RANGES + ["2001:db8:25::/48"], ports=[587, 25, 25], action="reject"),
    "forward_destinations": dict(
        ranges=["18.208.22.64/26", "18.208.22.128/25", "18.188.9.192/26", "18.188.239.128/26"],
        hook="forward",
        destinations=["203.0.113.25", "203.0.113.26", "2001:db8:1::25"],
        priority="filter - 10",
    ),
    "jp_aggregated": dict(
        ranges=["18.176.203.128/26", "18.176.203.192/26", "18.177.156.0/26", "18.177.156.64/26",
                "15.168.56.0/25", "15.168.49.64/26", "15.168.56.128/26"],
    ),
}


@pytest.mark.parametrize("name", sorted(RENDER_CASES))
def test_rendered_ruleset_matches_golden(name):
    case = dict(RENDER_CASES[name])
    priority_text = nft.parse_priority(case.get("priority", -10))[0]
    assert_golden(name, nft.render_ruleset_file(nft.desired_table(**case), priority_text))


def test_japan_four_26s_are_two_25s():
    model = nft.desired_table(RENDER_CASES["jp_aggregated"]["ranges"])
    assert model["sets"]["hes_v4"]["elements"] == [
        "15.168.49.64/26", "15.168.56.0/25", "15.168.56.128/26", "18.176.203.128/25", "18.177.156.0/25"]


def test_file_is_one_transaction_that_replaces_only_our_table():
    text = nft.render_ruleset_file(nft.desired_table(LAB_RANGES))
    statements = [line for line in text.splitlines() if line and not line.startswith(("#", "\t", "}"))]
    assert statements == [
        "table inet emailsec_hes", "delete table inet emailsec_hes", "table inet emailsec_hes {"]
    assert "flush ruleset" not in text


@pytest.mark.parametrize("value, text, number", [
    (-10, "-10", -10), ("5", "5", 5), ("filter", "filter", 0), ("filter - 10", "filter - 10", -10),
    ("raw+5", "raw + 5", -295), ("dstnat", "dstnat", -100), (" security ", "security", 50),
])
def test_priority_forms(value, text, number):
    assert nft.parse_priority(value) == (text, number)


@pytest.mark.parametrize("value", ["filtre", "filter * 2", True, "", "filter -"])
def test_priority_refused_names_the_value(value):
    with pytest.raises(nft.NftablesError, match=re.escape("priority %r" % (value,))):
        nft.parse_priority(value)


@pytest.mark.parametrize("kwargs, message", [
    (dict(hook="output"), "hook 'output'"),
    (dict(action="accept"), "action 'accept'"),
    (dict(hook="forward"), "destinations is empty"),
    (dict(destinations=["192.0.2.300"]), "destinations: '192.0.2.300'"),
    (dict(ports=[0]), "ports: 0"),
    (dict(ports=["smtp"]), "ports: 'smtp'"),
    (dict(ports=[]), "at least one"),
])
def test_bad_input_is_named(kwargs, message):
    with pytest.raises(nft.NftablesError, match=message):
        nft.desired_table(LAB_RANGES, **kwargs)


def load_fixture():
    with open(os.path.join(GOLDEN, "evaluator_ruleset.json")) as handle:
        return json.load(handle)


def test_live_table_from_kernel_json_equals_desired_model():
    desired = nft.desired_table(LAB_RANGES + ["2001:db8:25::/48"])
    assert nft.table_model_from_json(load_fixture()) == desired


def test_live_table_differs_when_an_element_or_rule_differs():
    desired = nft.desired_table(LAB_RANGES + ["2001:db8:25::/48"])
    ruleset = load_fixture()
    for item in ruleset["nftables"]:
        if item.get("set", {}).get("name") == "hes_v4":
            item["set"]["elem"].append("192.0.2.7")
    assert nft.table_model_from_json(ruleset) != desired
    ruleset = load_fixture()
    ruleset["nftables"] = [i for i in ruleset["nftables"] if i.get("rule", {}).get("handle") != 5 or
                           i["rule"]["table"] != "emailsec_hes"]
    assert nft.table_model_from_json(ruleset)["chains"]["hes_smtp"]["rules"] != desired["chains"]["hes_smtp"]["rules"]


def test_absent_table_is_none_and_empty_output_is_accepted():
    assert nft.table_model_from_json("") is None
    assert nft.table_model_from_json({"nftables": [{"metainfo": {}}]}) is None


def test_set_elements_as_prefix_range_and_address_normalise():
    elements = [{"prefix": {"addr": "198.51.100.0", "len": 26}}, {"range": ["198.51.100.64", "198.51.100.127"]},
                "203.0.113.7", {"elem": {"val": "2001:db8::1", "comment": "x"}}]
    assert nft._element_networks(elements) == ["198.51.100.0/25", "203.0.113.7/32", "2001:db8::1/128"]


def test_rule_text_has_no_counter_values():
    texts = [nft.format_rule(i["rule"]) for i in load_fixture()["nftables"] if "rule" in i]
    assert "ip saddr 192.0.2.0/24 tcp dport 80 counter drop" in texts
    assert 'ct state vmap { invalid : drop, established : accept, related : accept }' in texts
    assert not [t for t in texts if "packets" in t]


def probe(source, dport, destination="192.0.2.25", hook="input", ruleset=None, **kwargs):
    return nft.evaluate_tcp_probe(ruleset or load_fixture(), hook, source, destination, dport, **kwargs)


def decided(result):
    where = result["decided_by"]
    return result["verdict"], where["table"], where["chain"], where["rule"]


def test_smtp_from_the_set_passes_our_chain_and_the_any_rule():
    result = probe("198.51.100.10", 25)
    assert decided(result) == ("accept", "late", "late_input", "policy accept")
    assert [(step["table"], step["verdict"], step["rule"]) for step in result["path"]] == [
        ("emailsec_hes", "accept", "tcp dport 25 ip saddr @hes_v4 accept"),
        ("filter", "accept", "tcp dport 25 counter accept"),
        ("late", "accept", "policy accept"),
    ]


@pytest.mark.parametrize("source", ["198.51.100.128", "203.0.113.63", "203.0.113.128", "192.0.2.200"])
def test_smtp_from_outside_is_dropped_by_our_table_even_with_an_any_accept_elsewhere(source):
    result = probe(source, 25)
    assert decided(result) == ("drop", "emailsec_hes", "hes_smtp", "tcp dport 25 counter drop")
    assert result["decided_by"]["handle"] is not None
    assert len(result["path"]) == 1


def test_ipv6_probe_sees_inet_and_ip6_tables_only():
    inside = probe("2001:db8:25::9", 25, destination="2001:db8::25")
    assert [s["table"] for s in inside["path"]] == ["emailsec_hes", "filter6"]
    assert inside["verdict"] == "accept"
    other_port = probe("2001:db8:25::9", 587, destination="2001:db8::25")
    assert decided(other_port) == ("drop", "filter6", "INPUT", "policy drop")


def test_jump_returns_into_the_calling_chain():
    assert decided(probe("198.51.100.10", 22)) == ("drop", "filter", "INPUT", "tcp dport 22 drop")
    result = probe("192.0.2.9", 22)
    assert result["verdict"] == "accept"
    assert (result["path"][1]["chain"], result["path"][1]["rule"]) == ("ssh", "accept")


def test_goto_does_not_return_into_the_calling_chain():
    assert decided(probe("203.0.113.9", 8080)) == ("drop", "filter", "web", "ip saddr 203.0.113.0/24 drop")
    result = probe("198.51.100.10", 8080)
    assert result["verdict"] == "accept"
    assert (result["path"][1]["chain"], result["path"][1]["rule"]) == ("INPUT", "policy accept")


def test_prefix_range_reject_and_comparison():
    assert decided(probe("192.0.2.9", 80))[0] == "drop"
    assert probe("198.51.100.10", 80)["verdict"] == "accept"
    assert decided(probe("198.51.100.10", 8500)) == (
        "reject", "filter", "INPUT", "tcp dport 8000-8999 reject with tcp reset")
    assert decided(probe("198.51.100.10", 19))[3] == "tcp dport < 20 drop"


def test_ct_state_treats_the_probe_as_new():
    assert decided(probe("198.51.100.10", 21))[3] == "ct state new tcp dport 21 drop"


def test_tcp_flags_of_a_syn():
    assert decided(probe("198.51.100.10", 4444))[3] == "tcp flags & syn,ack == syn tcp dport 4444 drop"
    assert probe("198.51.100.10", 4445)["verdict"] == "accept"


def test_named_interval_set_in_a_later_chain():
    assert decided(probe("198.51.100.15", 587)) == ("drop", "late", "late_input", "tcp dport 587 ip saddr @blocked drop")
    assert probe("198.51.100.21", 587)["verdict"] == "accept"


def test_unknown_expression_is_undecided_and_names_the_rule():
    result = probe("198.51.100.10", 9999)
    assert result["verdict"] == "undecided"
    assert result["decided_by"]["rule"] == "tcp dport 9999 fib daddr type local accept"
    assert "fib" in result["reason"]


def test_unknown_expression_after_a_failed_match_is_not_reached():
    assert probe("198.51.100.10", 9998)["verdict"] == "accept"


def test_missing_named_set_is_undecided():
    ruleset = load_fixture()
    rule = next(i["rule"] for i in ruleset["nftables"] if i.get("rule", {}).get("chain") == "late_input")
    rule["expr"][1]["match"]["right"] = "@missing"
    result = probe("198.51.100.15", 587, ruleset=ruleset)
    assert result["verdict"] == "undecided" and "@missing" in result["reason"]


def test_iptables_nft_xt_match_is_undecided():
    ruleset = load_fixture()
    rule = next(i["rule"] for i in ruleset["nftables"] if i.get("rule", {}).get("chain") == "late_input")
    rule["expr"].insert(0, {"xt": {"type": "match", "name": "multiport"}})
    result = probe("198.51.100.10", 587, ruleset=ruleset)
    assert result["verdict"] == "undecided" and "xt" in result["reason"]


def test_interfaces_unknown_loopback_never_matches_others_are_assumed():
    result = probe("198.51.100.10", 993)
    assert result["path"][1]["rule"] == 'iifname "eth0" tcp dport 993 accept'
    assert result["assumptions"] == ['input interface "eth0" assumed to match: no input interface given']
    assert probe("198.51.100.10", 993, iifname="eth1")["path"][1]["rule"] == "policy accept"
    assert probe("198.51.100.10", 993, iifname="lo")["path"][1]["rule"] == 'iifname "lo" accept'
    given = probe("198.51.100.10", 995, iifname="eth1")
    assert decided(given)[3] == 'tcp dport 995 iifname != "eth0" drop' and given["assumptions"] == []
    assert probe("198.51.100.10", 995, iifname="eth0")["verdict"] == "accept"


def test_forward_hook_with_output_interface():
    assert probe("198.51.100.10", 25, hook="forward", oifname="eth1")["verdict"] == "accept"
    assert decided(probe("198.51.100.10", 25, hook="forward", oifname="eth2")) == (
        "drop", "router", "forward_filter", "policy drop")


def test_priority_order_is_kept_whatever_the_listing_order():
    ruleset = load_fixture()
    blocks = {}
    for item in ruleset["nftables"]:
        body = next(iter(item.values()))
        blocks.setdefault((body.get("family"), body.get("table", body.get("name"))), []).append(item)
    ruleset["nftables"] = [item for key in reversed(list(blocks)) for item in blocks[key]]
    assert [s["table"] for s in probe("198.51.100.10", 25, ruleset=ruleset)["path"]] == ["emailsec_hes", "filter", "late"]


def test_no_base_chain_means_accept():
    result = probe("198.51.100.10", 25, ruleset={"nftables": []})
    assert result["verdict"] == "accept" and result["path"] == []


@pytest.mark.parametrize("kwargs, message", [
    (dict(source="198.51.100.300"), "probe address"),
    (dict(source="2001:db8::1"), "same IP version"),
    (dict(dport=70000), "dport 70000"),
    (dict(hook="output"), "hook 'output'"),
])
def test_bad_probe_is_named(kwargs, message):
    args = dict(hook="input", source="198.51.100.10", destination="192.0.2.25", dport=25)
    args.update(kwargs)
    with pytest.raises(nft.NftablesError, match=message):
        nft.evaluate_tcp_probe(load_fixture(), **args)


def test_evaluator_does_not_modify_its_input():
    ruleset = load_fixture()
    before = copy.deepcopy(ruleset)
    probe("198.51.100.10", 22, ruleset=ruleset)
    assert ruleset == before
