"""The plan of our table and its gate (plugins/module_utils/nftables/plan.py), and the guards of the
module's other inputs: internal sources, interface names, file paths."""
import json
import os

import pytest

from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import RangeError
from ansible_collections.emailsec.hes.plugins.module_utils.nftables.parse import NftablesError
from ansible_collections.emailsec.hes.plugins.module_utils.nftables.plan import (
    check_file_path,
    check_interface,
    guard_internal_sources,
    plan_table,
)
from ansible_collections.emailsec.hes.plugins.module_utils.nftables.render import desired_table, table_items

RANGES = ["198.51.100.0/25", "203.0.113.64/26"]
CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "corpus")


def corpus_ruleset(name):
    with open(os.path.join(CORPUS, name, "ruleset.json")) as handle:
        return json.load(handle)


def live_with_our_table(**kwargs):
    """A ruleset holding only our table as the desired model of ``kwargs`` would load it."""
    return {"nftables": table_items(desired_table(**kwargs))}


def test_an_empty_ruleset_gets_the_table_and_the_exact_differential():
    plan = plan_table({"nftables": []}, RANGES, destinations=["192.0.2.25"])
    assert plan["live"] is None and plan["table_changed"]
    assert plan["gate"]["ok"], plan["gate"]["refusals"]
    assert plan["gate"]["differential"] == (
        "verdict changes: TCP/25 from outside the ranges to 192.0.2.25: allow -> deny; other flows: none")
    assert plan["text"].startswith("# Managed by emailsec.hes")


def test_the_same_table_again_changes_nothing():
    live = live_with_our_table(ranges=RANGES, destinations=["192.0.2.25"])
    plan = plan_table(live, RANGES, destinations=["192.0.2.25"])
    assert not plan["table_changed"]
    assert plan["gate"]["ok"] and plan["gate"]["differential"] == "verdict changes: none; other flows: none"


def test_several_ports_are_gated_one_port_at_a_time():
    plan = plan_table({"nftables": []}, RANGES, destinations=["192.0.2.25"], ports=[587, 25])
    assert plan["gate"]["ok"], plan["gate"]["refusals"]
    assert plan["gate"]["differential"] == (
        "verdict changes: TCP/25 from outside the ranges to 192.0.2.25: allow -> deny; other flows: none | "
        "verdict changes: TCP/587 from outside the ranges to 192.0.2.25: allow -> deny; other flows: none")


def test_restricting_fewer_ports_reopens_one_and_is_refused():
    live = live_with_our_table(ranges=RANGES, destinations=["192.0.2.25"], ports=[25, 587])
    plan = plan_table(live, RANGES, destinations=["192.0.2.25"], ports=[25])
    assert not plan["gate"]["ok"]
    assert any("-> 192.0.2.25:587 from deny (inet emailsec_hes hes_smtp: tcp dport { 25, 587 }" in r
               for r in plan["gate"]["refusals"]), \
        plan["gate"]["refusals"]


def test_moving_the_table_to_another_hook_is_refused():
    live = live_with_our_table(ranges=RANGES, destinations=["192.0.2.25"])
    plan = plan_table(live, RANGES, hook="forward", destinations=["192.0.2.25"])
    assert not plan["gate"]["ok"]
    assert any(r.startswith("path input: the plan would change tcp") for r in plan["gate"]["refusals"])


def test_internal_sources_are_allowed_sources_for_the_gate():
    ruleset = corpus_ruleset("drop_ranges_elsewhere")
    plan = plan_table(ruleset, ["198.51.100.0/25"], destinations=["192.0.2.200"], internal_sources=["192.0.2.0/26"])
    assert plan["gate"]["ok"], plan["gate"]["refusals"]
    assert plan["model"]["sets"]["hes_internal_v4"]["elements"] == ["192.0.2.0/26"]


def test_an_uncertain_rule_is_named_in_the_refusal_and_naming_the_interface_settles_it():
    ruleset = corpus_ruleset("iifname_unknown")
    unknown = plan_table(ruleset, RANGES, destinations=["192.0.2.200"])
    assert not unknown["gate"]["ok"]
    assert any('iifname "eth0" tcp dport 25 accept' in r and "name the inbound interface" in r
               for r in unknown["gate"]["refusals"])
    assert plan_table(ruleset, RANGES, destinations=["192.0.2.200"], iifname="eth0")["gate"]["ok"]
    wrong = plan_table(ruleset, RANGES, destinations=["192.0.2.200"], iifname="eth1")
    assert not wrong["gate"]["ok"] and "inet filter input: policy drop blocks" in wrong["gate"]["refusals"][0]


def test_too_many_unresolved_rules_in_the_change_cannot_be_proven():
    rules = [{"rule": {"family": "inet", "table": "t", "chain": "c", "handle": n, "expr": [
        {"match": {"op": "==", "left": {"meta": {"key": "mark"}}, "right": n}},
        {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 25}},
        {"drop": None}]}} for n in range(1, 9)]
    ruleset = {"nftables": [{"table": {"family": "inet", "name": "t"}},
                            {"chain": {"family": "inet", "table": "t", "name": "c", "type": "filter",
                                       "hook": "input", "prio": 0, "policy": "accept"}}] + rules}
    plan = plan_table(ruleset, RANGES, destinations=["192.0.2.200"])
    assert not plan["gate"]["ok"]
    assert any("8 rules that cannot be resolved touch the flows this change affects" in r
               for r in plan["gate"]["refusals"]), plan["gate"]["refusals"]


@pytest.mark.parametrize("entries, expected", [
    ([], []), (["10.0.0.0/8", "fd00:20::/64"], ["10.0.0.0/8", "fd00:20::/64"]),
    (["192.168.1.25", "192.168.1.24/32"], ["192.168.1.24/31"]),
])
def test_internal_sources_allow_private_space(entries, expected):
    assert guard_internal_sources(entries) == expected


@pytest.mark.parametrize("entries, message", [
    (["0.0.0.0/0"], r"0.0.0.0/0 is broader than /8"),
    (["::/0"], r"::/0 is broader than /16"),
    (["127.0.0.1"], "loopback"),
    (["224.0.0.5"], "Multicast 224.0.0.0/4"),
    (["240.0.0.1"], "reserved"),
    (["::1"], "loopback"),
    (["10.0.0.0/8\n"], r"internal_sources\[0\]: '10.0.0.0/8\\n' is not an IPv4/IPv6 address or CIDR"),
    (["10.0.0.0/8; flush ruleset"], r"internal_sources\[0\]"),
    ([25], r"internal_sources\[0\]: 25"),
])
def test_internal_sources_refused_name_the_value(entries, message):
    with pytest.raises(RangeError, match=message):
        guard_internal_sources(entries)


@pytest.mark.parametrize("value", ["/etc/nftables.d/emailsec_hes.nft", "/srv/fire wall/x.nft"])
def test_file_paths_that_are_safe(value):
    assert check_file_path(value, "path") == value


@pytest.mark.parametrize("value", ['/tmp/x"\ninclude "/tmp/evil', "/tmp/x\n", "relative.nft", "/tmp/*.nft",
                                   "/tmp/x\\y", "/tmp/a\x00b", "/tmp/[ab].nft", None,
                                   # Found by test_nftables_inputs_fuzz.py: one line for nft, two for
                                   # Python's splitlines(), so the include line was added on every run.
                                   "/tmp/x\u2028y", "/tmp/x\x85y", "/tmp/x\u2029y", "/tmp/\udc80"])
def test_file_paths_with_quotes_control_or_glob_characters_are_refused(value):
    with pytest.raises(NftablesError, match=r"^path: .* is not an absolute path without quotes"):
        check_file_path(value, "path")


@pytest.mark.parametrize("value", ["eth0", "enp0s31f6", "br-lan.10", "wg@1"])
def test_interface_names(value):
    assert check_interface(value, "inbound_interface") == value


@pytest.mark.parametrize("value", ["eth0\n", 'eth0"', "a" * 16, "eth 0", "eth/0",
                                   # Found by test_nftables_inputs_fuzz.py: the kernel refuses these names.
                                   "eth0:1", ".", ".."])
def test_bad_interface_names_are_refused(value):
    with pytest.raises(NftablesError, match="inbound_interface: .* is not an interface name"):
        check_interface(value, "inbound_interface")
