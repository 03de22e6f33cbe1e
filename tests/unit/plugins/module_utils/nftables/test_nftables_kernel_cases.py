"""Cases where the model and the kernel once disagreed (found by
tests/integration/test_nftables_kernel_property.py), kept with what the kernel did.

Each folder of golden/kernel_cases/ (beside this file) holds ``ruleset.nft``, the kernel's listing
``ruleset.json`` and ``flows.json``: each flow (source, source port, destination, port) with the
kernel's outcome (accepted, refused, timeout). tests/integration/test_nftables_corpus_kernel.py
checks that the kernel still does that.
"""
import json
import os

import pytest

from ansible_collections.emailsec.hes.plugins.module_utils.nftables.model import build_policy, flow_verdict

CASES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "kernel_cases")
KERNEL = {"accept": "accepted", "reject": "refused", "drop": "timeout"}


def load(name, filename):
    with open(os.path.join(CASES_DIR, name, filename)) as handle:
        return json.load(handle)


@pytest.mark.parametrize("name", sorted(os.listdir(CASES_DIR)))
def test_the_engine_answers_what_the_kernel_did(name):
    policy = build_policy(load(name, "ruleset.json"), iifname="eth0")
    # The generator writes only expressions the model understands: nothing may stay uncertain.
    assert [r.label for r in policy.uncertain_rules()] == []
    rows = load(name, "flows.json")
    assert rows
    for row in rows:
        source, sport, destination, port = row["flow"]
        answer = flow_verdict(policy, "input", source, destination, port, sport=sport)
        assert KERNEL.get(answer["verdict"]) == row["kernel"], (row, answer)
