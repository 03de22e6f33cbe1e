"""nft -j list ruleset -> the policy model (plugins/module_utils/nftables/model.py), asked one flow at
a time through engine.evaluate_flow (model.flow_verdict).

Both fixtures are the kernel's own listings (nft 1.0.6) of golden/evaluator_ruleset.nft
and model_constructs.nft; tests/integration/test_nftables_kernel_property.py compares the model
with real packets on random rulesets.
"""
import copy
import json
import os

import pytest

from ansible_collections.emailsec.hes.plugins.module_utils.nftables.model import build_policy, flow_verdict
from ansible_collections.emailsec.hes.plugins.module_utils.policy.space import ICMP, UDP

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
HOST = "192.0.2.25"


def fixture(name):
    with open(os.path.join(GOLDEN, name + ".json")) as handle:
        return json.load(handle)


def ask(source, port, destination=HOST, hook="input", ruleset=None, name="evaluator_ruleset", **kwargs):
    interfaces = dict((k, kwargs.pop(k)) for k in ("iifname", "oifname") if k in kwargs)
    policy = build_policy(ruleset if ruleset is not None else fixture(name), **interfaces)
    return flow_verdict(policy, hook, source, destination, port, **kwargs)


def decided(answer):
    return answer["verdict"], answer["rule"].split(" (handle")[0]


def constructs(source, port, **kwargs):
    return ask(source, port, name="model_constructs", **kwargs)


# ---------------------------------------------------------------- evaluator_ruleset (a host's shapes)

def test_smtp_from_the_set_passes_every_base_chain_in_priority_order():
    answer = ask("198.51.100.10", 25)
    assert decided(answer) == ("accept", "ip late late_input: policy accept")
    assert [t.split(" (handle")[0] for t in answer["trail"]] == [
        "inet emailsec_hes hes_smtp: tcp dport 25 ip saddr @hes_v4 accept",
        "ip6 filter6 INPUT: IPv4 flows do not pass an ip6 table",
        "ip filter INPUT: tcp dport 25 counter accept",
        "ip late late_input: policy accept",
    ]


@pytest.mark.parametrize("source", ["198.51.100.128", "203.0.113.63", "203.0.113.128", "192.0.2.200"])
def test_smtp_from_outside_is_dropped_by_our_table_even_with_an_any_accept_elsewhere(source):
    answer = ask(source, 25)
    assert decided(answer) == ("drop", "inet emailsec_hes hes_smtp: tcp dport 25 counter drop")
    assert "(handle " in answer["rule"] and len(answer["trail"]) == 1


def test_ipv6_flows_pass_ip_tables_and_meet_ip6_and_inet_ones():
    inside = ask("2001:db8:25::9", 25, destination="2001:db8::25")
    assert inside["verdict"] == "accept"
    assert inside["trail"][2] == "ip filter INPUT: IPv6 flows do not pass an ip table"
    assert decided(ask("2001:db8:25::9", 587, destination="2001:db8::25")) == ("drop", "ip6 filter6 INPUT: policy drop")


def test_jump_returns_into_the_calling_chain():
    assert decided(ask("198.51.100.10", 22)) == ("drop", "ip filter INPUT: tcp dport 22 drop")
    answer = ask("192.0.2.9", 22)
    assert answer["verdict"] == "accept" and answer["trail"][2].startswith("ip filter ssh: accept")


def test_goto_does_not_return_into_the_calling_chain():
    assert decided(ask("203.0.113.9", 8080)) == ("drop", "ip filter web: ip saddr 203.0.113.0/24 drop")
    answer = ask("198.51.100.10", 8080)
    assert answer["verdict"] == "accept"
    assert answer["trail"][2] == "ip filter INPUT: policy accept (after a return or goto)"


def test_prefix_range_reject_and_comparison():
    assert ask("192.0.2.9", 80)["verdict"] == "drop"
    assert ask("198.51.100.10", 80)["verdict"] == "accept"
    assert decided(ask("198.51.100.10", 8500)) == ("reject", "ip filter INPUT: tcp dport 8000-8999 reject with tcp reset")
    assert decided(ask("198.51.100.10", 19))[1] == "ip filter INPUT: tcp dport < 20 drop"


def test_a_new_flow_is_ct_state_new_and_a_syn():
    assert decided(ask("198.51.100.10", 21))[1] == "ip filter INPUT: ct state new tcp dport 21 drop"
    assert decided(ask("198.51.100.10", 4444))[1] == "ip filter INPUT: tcp flags & syn,ack == syn tcp dport 4444 drop"
    assert ask("198.51.100.10", 4445)["verdict"] == "accept"


def test_named_interval_set_in_a_later_chain():
    assert decided(ask("198.51.100.15", 587)) == ("drop", "ip late late_input: tcp dport 587 ip saddr @blocked drop")
    assert ask("198.51.100.21", 587)["verdict"] == "accept"


def test_an_expression_the_model_does_not_know_makes_the_rule_uncertain_and_named():
    policy = build_policy(fixture("evaluator_ruleset"))
    uncertain = [(r.label.split(" (handle")[0], r.uncertain) for r in policy.uncertain_rules()]
    assert ("ip filter INPUT: tcp dport 9999 fib daddr type local accept",
            ("fib daddr type local: not understood by the model",)) in uncertain
    # Every chain after it accepts anyway: the flow's verdict does not depend on it.
    assert ask("198.51.100.10", 9999)["verdict"] == "accept"


def test_interfaces_loopback_never_matches_others_are_uncertain_unless_named():
    answer = ask("198.51.100.10", 993)
    assert answer["verdict"] == "uncertain"
    assert answer["uncertain"] == ['ip filter INPUT: iifname "eth0" tcp dport 993 accept (handle 13) '
                                   '[iifname "eth0": the interface is not known (name the inbound interface)]',
                                   'ip filter INPUT: iifname "eth0" tcp dport 993 drop (handle 14) '
                                   '[iifname "eth0": the interface is not known (name the inbound interface)]']
    assert ask("198.51.100.10", 993, iifname="eth1")["verdict"] == "accept"
    assert ask("198.51.100.10", 993, iifname="eth0")["trail"][2].startswith('ip filter INPUT: iifname "eth0" tcp dport 993 accept')
    assert ask("198.51.100.10", 993, iifname="lo")["trail"][2].startswith('ip filter INPUT: iifname "lo" accept')
    assert decided(ask("198.51.100.10", 995, iifname="eth1")) == (
        "drop", 'ip filter INPUT: tcp dport 995 iifname != "eth0" drop')
    assert ask("198.51.100.10", 995, iifname="eth0")["verdict"] == "accept"


def test_forward_hook_with_the_output_interface():
    assert ask("198.51.100.10", 25, hook="forward", oifname="eth1")["verdict"] == "accept"
    assert decided(ask("198.51.100.10", 25, hook="forward", oifname="eth2")) == (
        "drop", "inet router forward_filter: policy drop")
    assert ask("198.51.100.10", 25, hook="forward")["verdict"] == "uncertain"


def test_a_missing_named_set_is_uncertain_and_named():
    ruleset = fixture("evaluator_ruleset")
    rule = next(i["rule"] for i in ruleset["nftables"] if i.get("rule", {}).get("chain") == "late_input")
    rule["expr"][1]["match"]["right"] = "@missing"
    answer = ask("198.51.100.15", 587, ruleset=ruleset)
    assert answer["verdict"] == "uncertain"
    assert "set @missing does not exist in table ip late" in answer["uncertain"][0]


def test_an_iptables_nft_xt_match_is_uncertain_and_an_xt_target_may_end_either_way():
    ruleset = fixture("evaluator_ruleset")
    rule = next(i["rule"] for i in ruleset["nftables"] if i.get("rule", {}).get("chain") == "late_input")
    rule["expr"].insert(0, {"xt": {"type": "match", "name": "multiport"}})
    answer = ask("198.51.100.15", 587, ruleset=ruleset)
    assert answer["verdict"] == "uncertain" and "xt" in answer["uncertain"][0]
    rule["expr"] = [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 587}},
                    {"xt": {"type": "target", "name": "REJECT"}}]
    answer = ask("198.51.100.21", 587, ruleset=ruleset)
    assert answer["verdict"] == "uncertain"
    assert answer["uncertain"][0].endswith('[statement xt {"name": "REJECT", "type": "target"}: its verdict is not '
                                           'known to the model]')


def test_no_base_chain_means_accept():
    answer = ask("198.51.100.10", 25, ruleset={"nftables": []})
    assert answer == {"verdict": "accept", "rule": "no base chain at hook input", "trail": [], "uncertain": []}


def test_distinct_priorities_keep_their_order_whatever_the_listing_order():
    ruleset = fixture("evaluator_ruleset")
    blocks = {}
    for item in ruleset["nftables"]:
        body = next(iter(item.values()))
        blocks.setdefault((body.get("family"), body.get("table", body.get("name"))), []).append(item)
    ruleset["nftables"] = [item for key in reversed(list(blocks)) for item in blocks[key]]
    trail = ask("198.51.100.10", 25, ruleset=ruleset)["trail"]
    assert [t.split(":")[0] for t in trail] == [
        "inet emailsec_hes hes_smtp", "ip filter INPUT", "ip6 filter6 INPUT", "ip late late_input"]


def test_the_model_does_not_modify_its_input():
    ruleset = fixture("evaluator_ruleset")
    before = copy.deepcopy(ruleset)
    ask("198.51.100.10", 22, ruleset=ruleset)
    assert ruleset == before


def test_a_flow_that_mixes_families_is_refused():
    with pytest.raises(ValueError, match="mixes IPv4 and IPv6"):
        ask("2001:db8::1", 25)


def test_rule_keys_are_the_rule_text_so_that_unchanged_rules_match_across_policies():
    ruleset = fixture("evaluator_ruleset")
    policy = build_policy(ruleset)
    for stage in policy.paths["input"].stages:
        for chain in stage.chains.values():
            keys = [rule.key for rule in chain.rules]
            assert len(keys) == len(set(keys)), chain.name
    for item in ruleset["nftables"]:
        item.get("rule", {}).pop("handle", None)
    again = build_policy(ruleset)
    assert [r.key for s, c, r in again.paths["input"].all_rules()] == [
        r.key for s, c, r in policy.paths["input"].all_rules()]
    assert "ip filter INPUT|tcp dport 25 counter accept|1" in [r.key for s, c, r in policy.paths["input"].all_rules()]


# ---------------------------------------------------------------- model_constructs

@pytest.mark.parametrize("port, verdict", [(7001, "drop"), (7002, "accept"), (7003, "accept")])
def test_before_conntrack_a_new_flow_is_ct_state_invalid_and_has_no_direction(port, verdict):
    assert constructs("198.51.100.10", port, iifname="eth0")["verdict"] == verdict


@pytest.mark.parametrize("port, verdict", [(7004, "drop"), (7005, "accept"), (7006, "drop")])
def test_after_conntrack_in_prerouting_ct_state_is_new_and_there_is_no_output_interface(port, verdict):
    assert constructs("198.51.100.10", port, iifname="eth0")["verdict"] == verdict


def test_a_wildcard_interface_is_uncertain_without_a_name_and_exact_with_one():
    assert constructs("198.51.100.10", 7006)["verdict"] == "uncertain"
    assert constructs("198.51.100.10", 7006, iifname="wlan0")["verdict"] == "accept"


@pytest.mark.parametrize("source, port, verdict", [
    ("192.0.2.5", 2525, "drop"), ("192.0.2.16", 2525, "accept"), ("198.51.100.9", 25, "drop"),
    ("198.51.100.9", 31, "accept"), ("198.51.100.10", 25, "accept"),
])
def test_a_named_set_of_concatenations(source, port, verdict):
    assert constructs(source, port, iifname="eth0")["verdict"] == verdict


def test_a_named_interval_verdict_map_with_a_jump():
    assert constructs("192.0.2.7", 8050, iifname="eth0")["verdict"] == "accept"
    assert decided(constructs("198.51.100.10", 8050, iifname="eth0")) == ("drop", "inet early web: drop")
    assert decided(constructs("198.51.100.10", 9000, iifname="eth0")) == (
        "drop", "inet early input: tcp dport vmap @by_port")
    assert constructs("198.51.100.10", 9000, iifname="eth0")["rule"].endswith("element 9000 : drop")


def test_a_set_that_changes_at_run_time_is_uncertain():
    answer = constructs("198.51.100.10", 7007, iifname="eth0")
    assert answer["verdict"] == "uncertain"
    assert "set @recent changes at run time (flags timeout)" in answer["uncertain"][0]


@pytest.mark.parametrize("source, port, verdict", [
    ("203.0.113.7", 7008, "drop"), ("198.51.100.7", 7008, "accept"),
    ("203.0.113.128", 7009, "drop"), ("203.0.113.127", 7009, "accept"),
])
def test_a_contiguous_mask_and_an_address_comparison(source, port, verdict):
    assert constructs(source, port, iifname="eth0")["verdict"] == verdict


def test_th_ports_are_exact_for_port_protocols_and_uncertain_for_others():
    assert constructs("198.51.100.10", 7010, iifname="eth0")["verdict"] == "drop"
    assert constructs("198.51.100.10", 7010, iifname="eth0", protocol=UDP)["verdict"] == "drop"
    assert constructs("198.51.100.10", 7010, iifname="eth0", protocol=ICMP)["verdict"] == "uncertain"
    policy = build_policy(fixture("model_constructs"), iifname="eth0")
    certain = [r for r in policy.uncertain_rules() if "7011" in r.label]
    assert certain == [], "meta l4proto { tcp, udp } settles th dport"


def test_icmp_types_udp_ports_and_families():
    assert constructs("198.51.100.10", 8, iifname="eth0", protocol=ICMP, sport=0)["verdict"] == "drop"
    assert constructs("198.51.100.10", 7020, iifname="eth0")["verdict"] == "accept"
    assert constructs("198.51.100.10", 7020, iifname="eth0", protocol=UDP)["verdict"] == "drop"
    assert constructs("198.51.100.10", 7012, iifname="eth0")["verdict"] == "accept"
    assert constructs("2001:db8::7", 7012, destination="2001:db8::25", iifname="eth0")["verdict"] == "drop"
    assert constructs("198.51.100.10", 7013, iifname="eth0")["verdict"] == "drop"
    assert constructs("2001:db8::7", 7013, destination="2001:db8::25", iifname="eth0")["verdict"] == "accept"


@pytest.mark.parametrize("port, verdict", [(7014, "accept"), (7021, "drop"), (7022, "accept"), (7023, "accept"),
                                           (7024, "accept"), (7017, "accept"), (7018, "accept")])
def test_matches_that_a_new_inbound_flow_never_or_always_meets(port, verdict):
    assert constructs("198.51.100.10", port, iifname="eth0")["verdict"] == verdict


def test_an_uncertain_jump_is_refused_by_the_engine_with_its_name():
    answer = constructs("198.51.100.10", 7015, iifname="eth0")
    assert answer["verdict"] == "uncertain"
    assert answer["uncertain"][0].startswith("inet early input: meta mark 1 tcp dport 7015 jump web (handle")
    assert "jump cannot be resolved (meta mark 1: not understood by the model)" in answer["uncertain"][0]


def test_an_unknown_statement_before_the_verdict_makes_the_rule_uncertain():
    policy = build_policy(fixture("model_constructs"), iifname="eth0")
    rule = next(r for r in policy.uncertain_rules() if "7016" in r.label)
    assert rule.action == "permit" and rule.match_min == []
    assert rule.uncertain == ('statement mangle {"key": {"meta": {"key": "mark"}}, "value": 2} is not understood '
                              'by the model',)


def test_equal_priorities_run_the_chain_listed_last_first():
    answer = constructs("198.51.100.10", 7030, iifname="eth0")
    assert decided(answer) == ("drop", "ip same_b b: tcp dport 7030 drop")


def test_nat_chains_are_noted_not_modelled_and_the_flows_they_may_rewrite_are_not_answered():
    policy = build_policy(fixture("model_constructs"))
    assert policy.notes == ["ip nat prerouting (type nat, hook prerouting) is not modelled: address translation "
                            "is out of scope"]
    answer = constructs("198.51.100.10", 7040, iifname="eth0")
    assert answer["verdict"] == "uncertain"
    assert answer["uncertain"][0].startswith("ip nat prerouting: tcp dport 7040 redirect to :25 (handle")
    assert answer["uncertain"][0].endswith("may translate this flow; address translation is not modelled")
    assert constructs("198.51.100.10", 7041, iifname="eth0")["verdict"] == "accept"


def test_a_queue_verdict_may_end_either_way():
    ruleset = fixture("model_constructs")
    for item in ruleset["nftables"]:
        if item.get("rule", {}).get("chain") in ("a", "b"):
            item["rule"]["expr"][-1] = {"queue": {"num": 1}}
    answer = ask("198.51.100.10", 7030, ruleset=ruleset, iifname="eth0")
    assert answer["verdict"] == "uncertain"
    assert answer["uncertain"][0].endswith("[statement queue: its verdict is not known to the model]")
    policy = build_policy(ruleset, iifname="eth0")
    split = [(r.key.rsplit("#", 1)[-1], r.action) for r in policy.uncertain_rules() if "same_b" in r.key]
    assert split == [("accept", "permit"), ("drop", "deny")]
