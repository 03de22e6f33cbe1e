"""The corpus of adversarial PAN-OS rule bases (tests/unit/plugins/module_utils/panos/golden/<case>/).

Each case folder holds the candidate configuration (config.xml) and params.json: the planner's
parameters, a note on what makes the rule base awkward, and the expected outcome - ``hardened``
(edits, gate passed), ``unchanged`` (nothing to send) or ``refused`` naming the rule (or path).
The planned commands must equal expected.commands.ref, and the requests, errors, gate and
findings expected.plan.ref; a mismatch writes ``*.actual`` beside the ref and fails with a diff.
tests/integration/test_panos_role.py runs every case against the emulator as well, where the
request log proves that a refused plan sent nothing.
"""
import json
import os
import xml.etree.ElementTree as ET

import pytest
from ansible_collections.emailsec.hes.tests.unit.golden_files import assert_goldens

from ansible_collections.emailsec.hes.plugins.module_utils.panos import plan as pp
from ansible_collections.emailsec.hes.plugins.module_utils.panos.model import build_policy
from ansible_collections.emailsec.hes.plugins.module_utils.panos.parse import parse_config
from ansible_collections.emailsec.hes.plugins.module_utils.policy.space import region_equal

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
CASES = sorted(d for d in os.listdir(GOLDEN) if os.path.isdir(os.path.join(GOLDEN, d)))


def load_case(case):
    folder = os.path.join(GOLDEN, case)
    config = ET.parse(os.path.join(folder, "config.xml")).getroot()
    with open(os.path.join(folder, "params.json"), encoding="utf-8") as handle:
        spec = json.load(handle)
    return folder, config, spec


def plan_case(case):
    folder, config, spec = load_case(case)
    return folder, config, spec, pp.plan_hardening(config, **spec["params"])


def test_the_corpus_covers_every_class():
    assert len(CASES) >= 14
    outcomes = [load_case(case)[2]["expect"]["outcome"] for case in CASES]
    assert {"hardened", "unchanged", "refused"} <= set(outcomes)


@pytest.mark.parametrize("case", CASES)
def test_golden(case):
    folder, config, spec, plan = plan_case(case)
    report = {"requests": plan["requests"], "errors": plan["errors"], "gate": plan["gate"],
              "findings": plan["findings"], "warnings": plan["warnings"]}
    assert_goldens(folder, [
        ("expected.commands", "".join(c + "\n" for c in plan["commands"])),
        ("expected.plan", json.dumps(report, indent=2, sort_keys=True) + "\n"),
    ])


@pytest.mark.parametrize("case", CASES)
def test_stated_outcome(case):
    folder, config, spec, plan = plan_case(case)
    expect = spec["expect"]
    if expect["outcome"] == "refused":
        assert plan["errors"], "expected a refusal"
        text = " ".join(plan["errors"])
        for name in expect["naming"]:
            assert name in text
    else:
        assert plan["errors"] == [] and plan["gate"]["ok"]
        assert bool(plan["edits"]) == (expect["outcome"] == "hardened")


def hardened_cases():
    return [case for case in CASES if load_case(case)[2]["expect"]["outcome"] == "hardened"]


@pytest.mark.parametrize("case", hardened_cases())
def test_hardened_plan_is_idempotent_and_make_before_break(case):
    """Applied the way PAN-OS applies it, the plan converges (a second plan is empty and clean),
    and no edit leaves a rule naming something that does not exist yet or any more."""
    folder, config, spec, plan = plan_case(case)
    for count in range(len(plan["edits"]) + 1):
        partial = parse_config(pp.apply_edits(config, plan["edits"][:count]), "vsys1")
        policy = build_policy(partial)
        dangling = [(rule.label, reason) for path in policy.paths.values() for stage, chain, rule in path.all_rules()
                    for reason in rule.uncertain if "is not defined" in reason]
        assert dangling == [], "after %d edit(s): %s" % (count, dangling)
    after = pp.apply_edits(config, plan["edits"])
    again = pp.plan_hardening(after, **spec["params"])
    assert again["edits"] == [] and again["errors"] == []
    assert again["gate"]["differential"] == "verdict changes: none; other flows: none"


@pytest.mark.parametrize("case", hardened_cases())
def test_rollback_restores_the_original(case):
    folder, config, spec, plan = plan_case(case)
    after = pp.apply_edits(config, plan["edits"])
    rollback = pp.plan_rollback(after, plan["backup"])
    assert rollback["errors"] == [] and rollback["edits"]
    restored = pp.apply_edits(after, rollback["edits"])
    names = list(plan["backup"]["rules"])
    assert pp.view(parse_config(restored, "vsys1"), "TM_HES_IP_RANGE", "TM_HES_", names) == \
        pp.view(parse_config(config, "vsys1"), "TM_HES_IP_RANGE", "TM_HES_", names)
    assert pp.plan_rollback(restored, plan["backup"])["edits"] == []


@pytest.mark.parametrize("case", CASES)
def test_the_after_model_reusing_unchanged_rules_equals_a_fresh_one(case):
    folder, config, spec, plan = plan_case(case)
    before_config = parse_config(config, "vsys1")
    before = build_policy(before_config)
    after_config = parse_config(pp.apply_edits(config, plan["edits"]), "vsys1")
    reused = build_policy(after_config, apps=before.apps, previous=(before_config, before))
    fresh = build_policy(after_config, apps=before.apps)
    assert sorted(reused.paths) == sorted(fresh.paths)
    for name in fresh.paths:
        ours = [rule for stage, chain, rule in reused.paths[name].all_rules()]
        theirs = [rule for stage, chain, rule in fresh.paths[name].all_rules()]
        assert [(r.key, r.label, r.action, r.uncertain) for r in ours] == \
            [(r.key, r.label, r.action, r.uncertain) for r in theirs]
        assert all(region_equal(a.match, b.match) and region_equal(a.match_min, b.match_min)
                   for a, b in zip(ours, theirs))
