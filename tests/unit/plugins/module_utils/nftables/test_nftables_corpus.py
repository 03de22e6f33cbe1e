"""The adversarial nftables corpus: one folder per rule base in golden/corpus/ beside this file.

A case folder holds:

* ``ruleset.nft``: the host's ruleset (foreign tables, sometimes our own table already);
* ``ruleset.json``: what the kernel lists for it (``hes-lab netns capture ruleset.nft``;
  tests/integration/test_nftables_corpus_kernel.py checks that it still is);
* ``params.json``: the module's input (ranges, destinations, hook, ports, internal sources,
  interfaces), the flows to ask about, and the expected outcome written by hand
  (``expect``: the gate passes, with the exact differential when given, or it refuses naming
  the rule);
* ``expected.ref``: the gate's answer, the notes and the verdict of each flow before and after
  the plan (golden file: a mismatch writes ``expected.actual``).
"""
import json
import os

import pytest
from ansible_collections.emailsec.hes.tests.unit.golden_files import assert_golden

from ansible_collections.emailsec.hes.plugins.module_utils.nftables.model import build_policy, flow_verdict
from ansible_collections.emailsec.hes.plugins.module_utils.nftables.parse import replace_table
from ansible_collections.emailsec.hes.plugins.module_utils.nftables.plan import plan_table
from ansible_collections.emailsec.hes.plugins.module_utils.nftables.render import table_items

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "corpus")
CASES = sorted(os.listdir(CORPUS))


def load_case(name):
    with open(os.path.join(CORPUS, name, "params.json")) as handle:
        params = json.load(handle)
    with open(os.path.join(CORPUS, name, "ruleset.json")) as handle:
        ruleset = json.load(handle)
    return params, ruleset


def plan_case(params, ruleset):
    return plan_table(ruleset, params["ranges"], hook=params["hook"], destinations=params["destinations"],
                      ports=params["ports"], internal_sources=params["internal_sources"],
                      iifname=params["inbound_interface"], oifname=params["outbound_interface"])


def verdict_text(answer):
    if answer["verdict"] == "uncertain":
        return "uncertain: %s" % "; ".join(answer["uncertain"])
    return "%s by %s" % (answer["verdict"], answer["rule"])


def flow_text(source, destination, port):
    if ":" in source:
        source, destination = "[%s]" % source, "[%s]" % destination
    return "tcp %s:40000 -> %s:%d" % (source, destination, port)


def flow_answers(params, ruleset, plan):
    """Each flow's verdict before and after the plan (the same interfaces as the gate)."""
    before = build_policy(ruleset, params["inbound_interface"], params["outbound_interface"])
    after = build_policy(replace_table(ruleset, table_items(plan["model"])), params["inbound_interface"],
                         params["outbound_interface"])
    rows = []
    for source, destination, port in params["flows"]:
        rows.append({"flow": flow_text(source, destination, port),
                     "before": verdict_text(flow_verdict(before, params["hook"], source, destination, port)),
                     "after": verdict_text(flow_verdict(after, params["hook"], source, destination, port))})
    return rows


def test_the_corpus_has_every_class_the_issue_names():
    assert len(CASES) >= 12
    outcomes = [load_case(name)[0]["expect"]["ok"] for name in CASES]
    assert outcomes.count(True) >= 6 and outcomes.count(False) >= 6


@pytest.mark.parametrize("name", CASES)
def test_corpus_case(name):
    params, ruleset = load_case(name)
    plan = plan_case(params, ruleset)
    gate = plan["gate"]
    expect = params["expect"]
    assert gate["ok"] is expect["ok"], gate["refusals"]
    if "rule" in expect:
        assert [r for r in gate["refusals"] if expect["rule"] in r], gate["refusals"]
    if "differential" in expect:
        assert gate["differential"] == expect["differential"]
    if "table_changed" in expect:
        assert plan["table_changed"] is expect["table_changed"]
    result = {"gate": {"ok": gate["ok"], "differential": gate["differential"], "refusals": gate["refusals"]},
              "table_changed": plan["table_changed"], "notes": gate["notes"],
              "flows": flow_answers(params, ruleset, plan)}
    assert_golden(os.path.join(CORPUS, name), "expected", json.dumps(result, indent=1, sort_keys=True) + "\n")
