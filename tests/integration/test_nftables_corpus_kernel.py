"""The nftables corpus and fixtures against the kernel (needs root; RFC 5737 addresses only).

* Every stored ``nft -j`` listing (corpus ``ruleset.json``, the model fixtures) is still what the
  kernel lists for its ``.nft`` text.
* Our table as ``render.table_items`` builds it (the *after* side of the plan gate) is what the
  kernel lists after loading the rendered file.
* The kept disagreements (kernel_cases) still get the kernel outcome they record.
* For each input-hook corpus case, the IPv4 flows of the case are sent for real before and after
  our table is loaded (hes_lab.netns.KernelFirewall) and decided by the engine on the kernel's
  listing: they must agree (flows the engine calls uncertain are only counted).
"""
import copy
import json
import os
import sys

import pytest

from ansible_collections.emailsec.hes.plugins.module_utils.nftables.model import build_policy, flow_verdict
from ansible_collections.emailsec.hes.plugins.module_utils.nftables.parse import element_networks, item_table, load_json
from ansible_collections.emailsec.hes.plugins.module_utils.nftables.plan import plan_table
from ansible_collections.emailsec.hes.plugins.module_utils.nftables.render import (
    desired_table,
    render_ruleset_file,
    table_items,
)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "lab"))
from hes_lab.netns import PROBE_INTERFACE, PROBE_TARGETS, KernelFirewall, capture_ruleset  # noqa: E402

pytestmark = [pytest.mark.netns, pytest.mark.slow]

GOLDEN = os.path.join(REPO, "tests", "unit", "plugins", "module_utils", "nftables", "golden")
CORPUS = os.path.join(GOLDEN, "corpus")
CASES = sorted(os.listdir(CORPUS))
KERNEL_CASES_DIR = os.path.join(GOLDEN, "kernel_cases")
KERNEL_CASES = sorted(os.listdir(KERNEL_CASES_DIR))
PORTS = [22, 25, 80, 587, 2525]
KERNEL = {"accept": "accepted", "reject": "refused", "drop": "timeout"}
LAB_RANGES = ["198.51.100.0/25", "203.0.113.64/26"]


def read(path):
    with open(path) as handle:
        return handle.read()


def listings():
    pairs = [(os.path.join(CORPUS, name, "ruleset.nft"), os.path.join(CORPUS, name, "ruleset.json")) for name in CASES]
    for name in KERNEL_CASES:
        pairs.append((os.path.join(KERNEL_CASES_DIR, name, "ruleset.nft"), os.path.join(KERNEL_CASES_DIR, name, "ruleset.json")))
    for name in ("evaluator_ruleset", "model_constructs"):
        pairs.append((os.path.join(GOLDEN, name + ".nft"), os.path.join(GOLDEN, name + ".json")))
    return pairs


@pytest.mark.parametrize("text_path, json_path", listings(), ids=lambda p: os.path.relpath(p, GOLDEN))
def test_the_stored_listing_is_the_kernels(text_path, json_path):
    assert json.loads(capture_ruleset(read(text_path))) == json.loads(read(json_path))


def normalized(items):
    """Items of our table without what only the kernel knows (handles, counter values) and with set
    elements as aggregated CIDRs (the kernel merges adjacent intervals into ranges)."""
    out = []
    for item in copy.deepcopy(items):
        (kind, body), = item.items()
        body.pop("handle", None)
        if kind == "set":
            body["elem"] = element_networks(body.get("elem"))
        if kind == "rule":
            body["expr"] = [{"counter": None} if "counter" in e else e for e in body["expr"]]
        out.append(item)
    return out


def our_items(listing):
    return [i for i in load_json(listing) if item_table(i) == ("inet", "emailsec_hes")]


@pytest.mark.parametrize("case", [
    dict(ranges=LAB_RANGES),
    dict(ranges=LAB_RANGES + ["2001:db8:25::/48"], ports=[587, 25], action="reject"),
    dict(ranges=["18.208.22.64/26", "18.208.22.128/25"], hook="forward", destinations=["203.0.113.25", "2001:db8:1::25"],
         priority="filter - 10"),
    dict(ranges=LAB_RANGES, destinations=["192.0.2.200", "192.0.2.202/31"], internal_sources=["10.20.0.0/24", "fd00::/64"]),
], ids=["input", "ports-reject-v6", "forward", "destinations-internal"])
def test_table_items_are_what_the_kernel_lists_after_loading_the_rendered_file(case):
    model = desired_table(**case)
    listing = capture_ruleset(render_ruleset_file(model))
    assert normalized(our_items(listing)) == normalized(table_items(model))


def input_cases():
    out = []
    for name in CASES:
        params = json.loads(read(os.path.join(CORPUS, name, "params.json")))
        if params["hook"] == "input":
            out.append(name)
    return out


def kernel_flows(params):
    return [(source, 40000, destination, port) for source, destination, port in params["flows"]
            if ":" not in source and destination in PROBE_TARGETS]


def disagreements(firewall, flows, counted):
    policy = build_policy(firewall.ruleset_json(), iifname=PROBE_INTERFACE)
    answers = [flow_verdict(policy, "input", s, d, dport, sport=sport) for s, sport, d, dport in flows]
    outcomes = firewall.probe_many(flows)
    slow = [i for i, (a, o) in enumerate(zip(answers, outcomes)) if o == "timeout" and a["verdict"] != "drop"]
    for index, outcome in zip(slow, firewall.probe_many([flows[i] for i in slow], timeout=3.0)):
        outcomes[index] = outcome
    wrong = []
    for flow, answer, outcome in zip(flows, answers, outcomes):
        if answer["verdict"] == "uncertain":
            counted.append(flow)
        elif KERNEL[answer["verdict"]] != outcome:
            wrong.append((flow, outcome, answer["verdict"], answer["rule"]))
    return wrong


@pytest.mark.parametrize("name", input_cases())
def test_corpus_flows_agree_with_the_kernel_before_and_after_our_table(name):
    params = json.loads(read(os.path.join(CORPUS, name, "params.json")))
    flows = kernel_flows(params)
    assert flows, "the case has no IPv4 flow to a probe target"
    uncertain = []
    with KernelFirewall(PORTS) as firewall:
        assert firewall.load(read(os.path.join(CORPUS, name, "ruleset.nft"))) == (0, "")
        assert disagreements(firewall, flows, uncertain) == []
        plan = plan_table(json.loads(firewall.ruleset_json()), params["ranges"], destinations=params["destinations"],
                          ports=params["ports"], internal_sources=params["internal_sources"], iifname=PROBE_INTERFACE)
        assert firewall.load(plan["text"]) == (0, "")
        assert normalized(our_items(firewall.ruleset_json())) == normalized(table_items(plan["model"]))
        assert disagreements(firewall, flows, uncertain) == []
    assert len(uncertain) <= len(flows) * 2


@pytest.mark.parametrize("name", KERNEL_CASES)
def test_kept_disagreements_still_get_the_recorded_kernel_outcome(name):
    rows = json.loads(read(os.path.join(KERNEL_CASES_DIR, name, "flows.json")))
    with KernelFirewall(PORTS) as firewall:
        assert firewall.load(read(os.path.join(KERNEL_CASES_DIR, name, "ruleset.nft"))) == (0, "")
        outcomes = firewall.probe_many([tuple(row["flow"]) for row in rows], timeout=2.0)
    assert outcomes == [row["kernel"] for row in rows]
