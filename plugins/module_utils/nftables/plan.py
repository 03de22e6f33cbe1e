# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""nftables: plan our table on one host and put the plan through the gate.

``plan_table(live_ruleset_json, ranges, ...)`` renders the desired table, compares it with the
live one, and asks ``policy.gate.check_plan`` about the change: *before* is the live ruleset,
*after* is the same ruleset with our table replaced by the desired one (``render.table_items``),
both read by ``nftables.model.build_policy``. The inbound path is the hook's; the mail servers
are the destinations (every address when none are given, input hook); the allowed sources are
the ranges and the internal sources. Loopback is always allowed and never part of the question
(an inbound flow does not arrive on ``lo``).

With several restricted ports the gate runs once per port ``p``, on both policies restricted to
the flows whose destination port is ``p`` or not restricted at all: together the runs cover
every flow, and each may only see TCP/``p`` change.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import RangeError, guard_ranges
from ansible_collections.emailsec.hes.plugins.module_utils.nftables.model import build_policy
from ansible_collections.emailsec.hes.plugins.module_utils.nftables.parse import (
    NftablesError,
    Ruleset,
    comparable,
    replace_table,
    table_model_from_json,
)
from ansible_collections.emailsec.hes.plugins.module_utils.nftables.render import (
    CIDR_TEXT_RE,
    check_ports,
    desired_table,
    parse_priority,
    render_ruleset_file,
    table_items,
)
from ansible_collections.emailsec.hes.plugins.module_utils.policy.engine import CannotProve
from ansible_collections.emailsec.hes.plugins.module_utils.policy.gate import check_plan
from ansible_collections.emailsec.hes.plugins.module_utils.policy.model import Chain, Path, Policy, Rule, Stage
from ansible_collections.emailsec.hes.plugins.module_utils.policy.space import (
    PORT_MAX,
    address_sets,
    any_addresses,
    interval,
    iv_subtract,
    iv_from_pairs,
    match_cubes,
    region_intersect,
)

# Interface names the kernel accepts (dev_valid_name(): IFNAMSIZ 16 with the NUL; no '/', ':' or
# whitespace; not '.' or '..'), from a conservative alphabet.
INTERFACE_RE = re.compile(r"(?!\.{1,2}$)[A-Za-z0-9_.@+-]{1,15}")
# An absolute path that is safe inside `include "..."` and on a command line, and one line for
# every reader (Python's splitlines() too): no control characters (C0, DEL, C1), surrogates or
# Unicode line separators, no quote or backslash, no glob characters (nft expands them in include).
FILE_PATH_RE = re.compile(r'/[^\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029"\\*?\[\]]*')
# Internal relays may sit in private space. guard_ranges refuses what no SMTP connection can come
# from (multicast, "this network", unspecified, IPv4-mapped) even with allow_reserved; loopback is
# always allowed anyway, and 240.0.0.0/4 is no relay's address either.
INTERNAL_MAX_PREFIX = 8
INTERNAL_MAX_PREFIX_V6 = 16
_NEVER_INTERNAL = [(ipaddress.ip_network(n), why) for n, why in (
    ("127.0.0.0/8", "loopback (always allowed)"), ("::1/128", "loopback (always allowed)"),
    ("240.0.0.0/4", "reserved"))]


def check_interface(name, option):
    """``name`` when it is an interface name the kernel could have; NftablesError otherwise."""
    if name is None or name == "":
        return None
    if not isinstance(name, str) or not INTERFACE_RE.fullmatch(name):
        raise NftablesError("%s: %r is not an interface name (1-15 of A-Z a-z 0-9 _ . @ + -, not . or ..)"
                            % (option, name))
    return name


def check_file_path(value, option):
    """``value`` when it is an absolute path safe to write into nftables.conf; NftablesError
    naming the option otherwise (issue 13: a quote and a newline in a path injected a command)."""
    if not isinstance(value, str) or not FILE_PATH_RE.fullmatch(value):
        raise NftablesError("%s: %r is not an absolute path without quotes, backslashes, glob characters "
                            "(* ? [ ]) or control characters" % (option, value))
    return value


def guard_internal_sources(entries, origin="internal_sources"):
    """The internal relays' CIDRs, aggregated: private space allowed (unlike the ranges), but no
    network broader than /8 (IPv4) or /16 (IPv6), and nothing that is never a unicast source."""
    if not entries:
        return []
    for index, entry in enumerate(entries):
        if not isinstance(entry, str) or not CIDR_TEXT_RE.fullmatch(entry):
            raise RangeError("%s[%d]: %r is not an IPv4/IPv6 address or CIDR" % (origin, index, entry))
    cidrs = guard_ranges(entries, origin, max_prefix=INTERNAL_MAX_PREFIX, allow_reserved=True,
                         max_prefix_v6=INTERNAL_MAX_PREFIX_V6)
    for cidr in cidrs:
        net = ipaddress.ip_network(cidr)
        for never, why in _NEVER_INTERNAL:
            if net.version == never.version and net.overlaps(never):
                raise RangeError("%s: %s is %s address space, never the source of a mail relay" % (origin, cidr, why))
    return cidrs


def _sets(cidrs):
    return address_sets(ipaddress.ip_network(str(c).strip(), strict=False) for c in cidrs)


def _restricted(policy, dports):
    """``policy`` with every rule's match cut to the flows whose destination port is in ``dports``."""
    scope = match_cubes(any_addresses(), any_addresses(), dport=dports)

    def cut(rule):
        return Rule(rule.key, rule.label, rule.action, region_intersect(rule.match, scope),
                    region_intersect(rule.match_min, scope), rule.uncertain, rule.target, rule.origin)

    paths = []
    for path in policy.paths.values():
        stages = [Stage(stage.name, stage.entry,
                        [Chain(chain.name, [cut(r) for r in chain.rules]) for chain in stage.chains.values()],
                        stage.policy) for stage in path.stages]
        paths.append(Path(path.name, stages, path.description))
    return Policy(policy.vendor, paths, policy.apps, policy.notes)


def gate(before, after, hook, allowed, servers, ports):
    """``check_plan`` for each restricted port; one result: ``{"ok", "refusals", "differential",
    "changes", "leaks", "blocked"}``."""
    results = []
    for port in ports:
        others = iv_from_pairs((p, p) for p in ports if p != port)
        dports = iv_subtract(interval(0, PORT_MAX), others)
        old, new = (before, after) if not others else (_restricted(before, dports), _restricted(after, dports))
        try:
            results.append(check_plan(old, new, [hook], allowed, servers, port=port))
        except CannotProve as exc:
            results.append({"ok": False, "refusals": ["TCP/%d: %s" % (port, exc)],
                            "differential": "TCP/%d: cannot be proven" % port, "changes": [],
                            "after": {"leaks": [], "blocked": []}})
    refusals = []
    for result in results:
        refusals.extend(r for r in result["refusals"] if r not in refusals)
    return {"ok": all(r["ok"] for r in results), "refusals": refusals,
            "differential": " | ".join(r["differential"] for r in results),
            "changes": [c for r in results for c in r["changes"]],
            "leaks": [f for r in results for f in r["after"]["leaks"]],
            "blocked": [f for r in results for f in r["after"]["blocked"]]}


def _placeholder(model):
    chains = dict((name, dict(chain, rules=[], exprs=[])) for name, chain in model["chains"].items())
    return {"sets": {}, "chains": chains}


def plan_table(live_ruleset_json, ranges, hook="input", destinations=None, ports=(25,), priority=-10,
               action="drop", internal_sources=None, iifname=None, oifname=None):
    """The plan for our table on a host whose ruleset is ``live_ruleset_json`` (``nft -j list
    ruleset``). ``ranges`` and ``internal_sources`` must already have passed their guards.

    Returns ``{"model", "text", "live", "table_changed", "gate"}``: the desired model and file
    text, the live table's model (None when absent), whether the two differ, and the gate's
    answer (``gate["ok"]`` false: do not load; ``gate["refusals"]`` say why, naming the rule
    and a witness flow)."""
    iifname = check_interface(iifname, "inbound_interface")
    oifname = check_interface(oifname, "outbound_interface")
    model = desired_table(ranges, hook=hook, destinations=destinations, ports=ports, priority=priority,
                          action=action, internal_sources=internal_sources)
    text = render_ruleset_file(model, parse_priority(priority)[0])
    ruleset = Ruleset(live_ruleset_json)
    live = table_model_from_json(ruleset)
    if live is None:
        # Our chain, empty and accepting, where the new one will be: the same verdicts as the live
        # ruleset, and the same stages as the after side, so that the differential compares rule
        # by rule instead of walking the whole header space through every chain.
        before = build_policy(replace_table(live_ruleset_json, table_items(_placeholder(model))), iifname, oifname)
    else:
        before = build_policy(ruleset, iifname, oifname)
    after = build_policy(replace_table(live_ruleset_json, table_items(model)), iifname, oifname)
    allowed = _sets(list(ranges or []) + list(internal_sources or []))
    servers = _sets(destinations) if destinations else any_addresses()
    verdict = gate(before, after, hook, allowed, servers, check_ports(ports))
    verdict["notes"] = after.notes
    return {"model": model, "text": text, "live": live, "table_changed": comparable(live) != comparable(model),
            "gate": verdict}
