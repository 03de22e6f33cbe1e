# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""nftables side of verify: the mail servers of an audit (our table's destination sets), the
engine's answer to each probe (in the field there is no device evaluator to ask; the namespace
lab's tests put real packets to the kernel instead), and whether our sets hold exactly the
ranges. The judging is vendor-neutral (``policy.verify``), on the model the gate uses."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.emailsec.hes.plugins.module_utils.nftables.model import flow_verdict
from ansible_collections.emailsec.hes.plugins.module_utils.nftables.parse import (
    TABLE_FAMILY,
    TABLE_NAME,
    table_model_from_json,
)
from ansible_collections.emailsec.hes.plugins.module_utils.nftables.render import (
    SET_DST_V4,
    SET_DST_V6,
    SET_V4,
    SET_V6,
)
from ansible_collections.emailsec.hes.plugins.module_utils.policy.space import (
    address_sets,
)
from ansible_collections.emailsec.hes.plugins.module_utils.policy.verify import membership_problems

VERDICTS = {"accept": "allow", "drop": "deny", "reject": "deny"}


def mail_servers(ruleset_json):
    """Audit discovery: the addresses our table's destination sets restrict (a network gives its
    first host); [] when it restricts every destination."""
    model = table_model_from_json(ruleset_json) or {"sets": {}}
    servers = []
    for name in (SET_DST_V4, SET_DST_V6):
        for element in model["sets"].get(name, {}).get("elements", []):
            net = ipaddress.ip_network(element, strict=False)
            host = str(net.network_address if net.num_addresses == 1 else net.network_address + 1)
            if host not in servers:
                servers.append(host)
    return servers


def engine_answers(policy, probes, hook):
    """The engine's verdict for every probe, shaped as a device's answers."""
    answers = []
    for probe in probes:
        decided = flow_verdict(policy, hook, probe["source"], probe["destination"], probe["port"],
                               sport=probe.get("source_port", 40000))
        answers.append({"verdict": VERDICTS.get(decided["verdict"], "uncertain"), "rule": decided["rule"],
                        "detail": "; ".join(decided["uncertain"]) or None})
    return answers


def group_check(ruleset_json, range_sets):
    """(ok, detail): our table exists and its source sets hold exactly the ranges."""
    model = table_model_from_json(ruleset_json)
    if model is None:
        return False, "table %s %s does not exist" % (TABLE_FAMILY, TABLE_NAME)
    held = address_sets(ipaddress.ip_network(e, strict=False) for name in (SET_V4, SET_V6)
                        for e in model["sets"].get(name, {}).get("elements", []))
    problems = membership_problems(held, range_sets)
    label = "sets %s/%s of table %s %s" % (SET_V4, SET_V6, TABLE_FAMILY, TABLE_NAME)
    if problems:
        return False, "%s: %s" % (label, "; ".join(problems))
    return True, "%s hold exactly the ranges" % label
