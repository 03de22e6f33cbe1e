# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Verification on the engine, for every vendor: the exact answers first, then a few probes for
the device's own evaluator, then the comparison.

1. ``plan_verification`` asks the engine Q1 (who outside the ranges reaches a mail server on
   TCP/25) and Q2 (who in the ranges does not) over the whole header space, and builds the
   probes to put to the device: the engine's witnesses, plus the boundary of every range (its
   first and last address, and the addresses just outside each edge) to each mail server a path
   serves, plus one flow per "other port". Each probe carries what the intent expects
   (``expect``) and what the engine says (``engine``, with the deciding rule).
2. The vendor asks its device (packet-tracer, test security-policy-match, the kernel) and gives
   back one ``{verdict, rule, detail}`` per probe.
3. ``compare`` marks a probe failed when the device disagrees with the engine (both answers are
   shown) or with the intent; ``checks`` turns the exact answers into the report's checks.

Nothing here knows a vendor: vendors supply the policy, the inbound paths and the mail servers.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.emailsec.hes.plugins.module_utils.policy.engine import CLIENT_PORTS, evaluate, evaluate_flow
from ansible_collections.emailsec.hes.plugins.module_utils.policy.gate import describe_flow, judge
from ansible_collections.emailsec.hes.plugins.module_utils.policy.model import SMTP_APP
from ansible_collections.emailsec.hes.plugins.module_utils.policy.space import (
    ADDRESS_MAX,
    TCP,
    Flow,
    address_intervals_text,
    address_sets,
    interval,
    iv_intersect,
    iv_subtract,
    iv_union,
    match_cubes,
)

SMTP_PORT = 25
CLIENT_PORT = 40000
VERDICT_WORDS = {"permit": "allow", "deny": "deny", "uncertain": "uncertain"}


class VerifyError(ValueError):
    """Input verification cannot work with; the message names the value."""


def representatives(sets, limit=8):
    """Concrete addresses standing for address sets (a host stands for itself; a network for its
    first host), at most ``limit`` per family."""
    out = []
    for family in (4, 6):
        cls = ipaddress.IPv4Address if family == 4 else ipaddress.IPv6Address
        for low, high in sets[family][:limit]:
            out.append(cls(low if low == high else low + 1))
    return out


def _rule_label(piece):
    for rule in reversed(piece.trail or ()):
        if rule is not None:
            return rule.label
    return "the default %s" % piece.verdict


def _engine_answer(path, flow):
    answer = evaluate_flow(path, flow)
    return VERDICT_WORDS[answer["verdict"]], _rule_label(answer["may"])


def _edges(range_nets):
    """(address, kind, range) for the first and last address of every range and the addresses
    just outside each edge that are in no range."""
    inside = set()
    for net in range_nets:
        inside.add((net.version, int(net.network_address), int(net.broadcast_address)))

    def covered(version, value):
        return any(v == version and low <= value <= high for v, low, high in inside)

    edges = []
    for net in range_nets:
        version, first, last = net.version, int(net.network_address), int(net.broadcast_address)
        cls = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
        edges.append((cls(first), "range-first", str(net)))
        if last != first:
            edges.append((cls(last), "range-last", str(net)))
        if first > 0 and not covered(version, first - 1):
            edges.append((cls(first - 1), "below-range", str(net)))
        if last < ADDRESS_MAX[version] and not covered(version, last + 1):
            edges.append((cls(last + 1), "above-range", str(net)))
    return edges


def plan_verification(policy, inbound, range_nets, mail_servers, served=None, other_ports=None, also_allowed=None,
                      smtp_apps=None, app_name=None):
    """The exact answers and the probes for one device.

    ``inbound``: path names where mail enters; ``range_nets``: the ranges as ipaddress networks;
    ``mail_servers``: address sets (``space.address_sets``); ``served``: ``{path: address sets}``
    (default: every mail server on every path); ``other_ports``: ``{port: "allow"|"deny"}``,
    the verdict TCP to that port from the ranges should get; ``also_allowed``: address sets of
    sources that may reach the mail servers besides the ranges (internal relays); ``smtp_apps``:
    as for ``gate.judge``; ``app_name``: ``f(number) -> name`` of an application for the device
    (PAN-OS), stored in each probe as ``application``.
    Returns ``{"answers": judge(...), "probes": [...], "other_ports": [...]}``.
    """
    if not range_nets:
        raise VerifyError("ranges: empty list; nothing to verify against")
    ranges = address_sets(range_nets)
    if not any(mail_servers.values()):
        raise VerifyError("hes_verify_mail_servers: no mail server given and none found in the "
                          "device's configuration; name the mail servers to verify")
    missing = [name for name in inbound if name not in policy.paths]
    if missing:
        raise VerifyError("%s: no such path on the device (paths: %s)"
                          % (", ".join(missing), ", ".join(sorted(policy.paths)) or "none"))
    answers = judge(policy, inbound, ranges, mail_servers, served, also_allowed=also_allowed, smtp_apps=smtp_apps)
    probes = []

    def add(path_name, flow, kind, expect, range_text):
        engine_verdict, engine_rule = _engine_answer(policy.paths[path_name], flow)
        probes.append({
            "id": "p%04d" % (len(probes) + 1), "ingress": path_name, "source": flow.source,
            "destination": flow.destination, "protocol": "tcp", "source_port": flow[4],
            "port": flow[5], "expect": expect, "engine": engine_verdict, "engine_rule": engine_rule,
            "kind": kind, "range": range_text, "flow": describe_flow(flow, policy.apps),
            "application": app_name(flow[6]) if app_name else None})

    for item in answers["leaks"]:
        witness = _flow_of(item["witness"], policy)
        add(item["path"], witness, "leak-witness", "deny", None)
    for item in answers["blocked"]:
        witness = _flow_of(item["witness"], policy)
        add(item["path"], witness, "blocked-witness", "allow", None)
    edges = _edges(range_nets)
    for name in inbound:
        servers = representatives((served or {}).get(name, mail_servers))
        for server in servers:
            for address, kind, range_text in edges:
                if address.version != server.version:
                    continue
                expect = "allow" if kind.startswith("range-") else "deny"
                add(name, _flow(address, server, SMTP_PORT, policy), kind, expect, range_text)
    others = []
    for port, expect in sorted((other_ports or {}).items()):
        for name in inbound:
            for server in representatives((served or {}).get(name, mail_servers)):
                family_ranges = [n for n in range_nets if n.version == server.version]
                if not family_ranges:
                    continue
                # An expected allow is about the ranges' real clients (ephemeral source ports, as
                # Q2); an expected deny holds for every source port, which an attacker chooses (Q1).
                sport = CLIENT_PORTS if expect == "allow" else None
                region = match_cubes(ranges, address_sets([server]), interval(TCP, TCP), sport,
                                     interval(port, port))
                verdicts = set(piece.verdict for piece in evaluate(policy.paths[name], region, "may"))
                verdicts |= set(piece.verdict for piece in evaluate(policy.paths[name], region, "must"))
                wanted = "permit" if expect == "allow" else "deny"
                others.append({"path": name, "destination": str(server), "port": port, "expect": expect,
                               "ok": verdicts == set([wanted]),
                               "engine": sorted(VERDICT_WORDS[v] for v in verdicts)})
                add(name, _flow(family_ranges[0].network_address, server, port, policy), "other-port",
                    expect, str(family_ranges[0]))
    return {"answers": answers, "probes": probes, "other_ports": others}


def _flow(source, destination, port, policy):
    app = SMTP_APP if policy.apps is not None and port == SMTP_PORT else 0
    return Flow((source.version, int(source), int(destination), TCP, CLIENT_PORT, port, app))


def _flow_of(data, policy):
    source = ipaddress.ip_address(data["source"])
    destination = ipaddress.ip_address(data["destination"])
    app = policy.apps.ids.get(data["application"], 0) if policy.apps is not None and data.get("application") else 0
    return Flow((source.version, int(source), int(destination), data["protocol"], data["source_port"],
                 data["port"], app))


def compare(probes, actuals):
    """Pair each probe with the device's ``{verdict, rule, detail}``: ``ok`` when the device agrees
    with the engine (an uncertain engine answer agrees with anything) and with the intent."""
    if len(probes) != len(actuals):
        raise VerifyError("got %d verdicts for %d probes" % (len(actuals), len(probes)))
    rows = []
    for probe, actual in zip(probes, actuals):
        row = dict(probe)
        agree = probe["engine"] == "uncertain" or actual["verdict"] == probe["engine"]
        row.update(actual=actual["verdict"], rule=actual.get("rule"), detail=actual.get("detail"),
                   agree=agree, ok=agree and actual["verdict"] == probe["expect"])
        rows.append(row)
    return rows


def engine_checks(plan, check):
    """The report's exact checks from ``plan_verification``: ``smtp_rule`` (Q2: the ranges reach
    every mail server where mail enters), ``no_broader_permit`` (Q1: nothing else does),
    ``probes_other_ports`` from the engine's regions. ``check(id, ok, detail, rules)`` builds one."""
    answers = plan["answers"]
    checks = []
    blocked = answers["blocked"]
    if blocked:
        checks.append(check("smtp_rule", False, "; ".join(
            "on %s, %s blocks TCP/25 from %s, e.g. %s" % (b["path"], b["rule"], b["sources"], b["witness_text"])
            for b in blocked), sorted(set(b["rule"] for b in blocked))))
    else:
        checks.append(check("smtp_rule", True, "the engine proves every address of the ranges reaches every "
                            "mail server on TCP/25 where mail enters", []))
    leaks = answers["leaks"]
    if leaks:
        checks.append(check("no_broader_permit", False, "; ".join(
            "on %s, %s admits TCP/25 from %s, e.g. %s%s" % (
                b["path"], b["rule"], b["sources"], b["witness_text"],
                " [uncertain: %s]" % "; ".join(b["uncertain"]) if b["uncertain"] else "")
            for b in leaks), sorted(set(b["rule"] for b in leaks))))
    else:
        checks.append(check("no_broader_permit", True, "the engine proves no flow from outside the ranges "
                            "reaches a mail server on TCP/25", []))
    return checks


def probe_checks(rows, check):
    """``probes_smtp`` / ``probes_other_ports``: every probe as the intent wants, the device agreeing
    with the engine."""
    checks = []
    for check_id, selected in (("probes_smtp", [r for r in rows if r["port"] == SMTP_PORT]),
                               ("probes_other_ports", [r for r in rows if r["port"] != SMTP_PORT])):
        if not selected:
            checks.append(check(check_id, True, "no probe", [], "n/a"))
            continue
        failed = [r for r in selected if not r["ok"]]
        disagree = [r for r in selected if not r["agree"]]
        detail = "%d of %d probes as expected" % (len(selected) - len(failed), len(selected))
        if disagree:
            first = disagree[0]
            detail += "; the device and the engine disagree on %d: %s: device %s (%s), engine %s (%s)" % (
                len(disagree), first["flow"], first["actual"], first.get("rule") or "?", first["engine"],
                first["engine_rule"])
        elif failed:
            detail += "; first failure: %s expected %s, got %s (by %s)" % (
                failed[0]["flow"], failed[0]["expect"], failed[0]["actual"], failed[0].get("rule") or "?")
        checks.append(check(check_id, not failed, detail, sorted(set(r["rule"] for r in failed if r.get("rule")))))
    return checks


def membership_problems(held, wanted):
    """What a group (address sets per family) lacks of the ranges and holds beyond them, as
    sentences for a ``group_members`` check; empty when it holds exactly the ranges."""
    problems = []
    for family in (4, 6):
        missing = iv_subtract(wanted[family], held[family])
        extra = iv_subtract(held[family], wanted[family])
        if missing:
            problems.append("missing %s" % address_intervals_text(family, missing))
        if extra:
            problems.append("holds addresses outside the ranges: %s" % address_intervals_text(family, extra))
    return problems


def intersect_sets(a, b):
    a = a or {4: (), 6: ()}
    return dict((family, iv_intersect(a[family], b[family])) for family in (4, 6))


def merge_sets(*items):
    out = {4: (), 6: ()}
    for sets in items:
        for family in (4, 6):
            out[family] = iv_union(out[family], sets[family])
    return out
