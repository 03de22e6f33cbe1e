# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The exact evaluator: first-match over regions of the header space.

``evaluate(path, region, mode)`` splits ``region`` into pieces, each with the verdict every flow
in it gets and the rules that decided it, by walking the rules in order and carving each rule's
match out of what is still undecided. Nothing is sampled: a piece is a set of flows.

Rules that cannot be resolved (``Rule.uncertain``) are read in the direction that counts against
us for the question asked:

* ``may``: can a flow get in? Uncertain permits match as widely as they could, uncertain denies
  match as little as they could. Q1 (who reaches the mail servers from outside the ranges).
* ``must``: does a flow surely get in? The reverse. Q2 (who in the ranges is blocked).
* an ``assignment`` ``{rule key: True|False}`` fixes each uncertain rule at its widest or
  narrowest (the differential enumerates them).

For one flow the answer of ``may`` and ``must`` may differ; then the engine says so instead of
guessing (``evaluate_flow`` returns both).

The three questions of the gate and of verify:

* ``leaks``   Q1: flows to the mail servers on TCP/25 from outside the ranges that get in;
* ``blocked`` Q2: flows to the mail servers on TCP/25 from inside the ranges that do not;
* ``differential`` Q3: every flow whose verdict differs between two policies.

Each answer comes as ``Finding``s: a region, a concrete witness flow inside it, and the rules
that decided it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from itertools import product

from ansible_collections.emailsec.hes.plugins.module_utils.policy.model import PolicyError
from ansible_collections.emailsec.hes.plugins.module_utils.policy.space import (
    ADDRESS_MAX,
    FAMILY,
    SRC,
    TCP,
    Cube,
    addresses_subtract,
    any_addresses,
    interval,
    iv_covers,
    iv_union,
    match_cubes,
    region_covers,
    region_equal,
    region_intersect,
    region_overlaps,
    region_subtract,
    region_union,
    universe,
    witness,
)

MAX_JUMP_DEPTH = 16
# 2**6 evaluations of the changed region at most; past that, refuse rather than guess.
MAX_UNCERTAIN_IN_CHANGE = 6


class CannotProve(PolicyError):
    """The engine cannot decide the question exactly; the message names the rules and why."""


class Piece(object):
    """Flows with one verdict: ``cubes`` (a region), ``verdict`` (permit/deny) and ``trail``: the
    rules that decided it, one per stage passed (the last one decided a deny), None for a
    stage's default policy."""

    __slots__ = ("cubes", "verdict", "trail")

    def __init__(self, cubes, verdict, trail):
        self.cubes = cubes
        self.verdict = verdict
        self.trail = trail


class Finding(object):
    """An answer of the engine: a region of flows, a witness flow inside it, the path, and the
    deciding rules (for a differential: before and after)."""

    __slots__ = ("path", "cubes", "witness", "trail", "verdict", "before", "after", "doubts")

    def __init__(self, path, cubes, trail=None, verdict=None, before=None, after=None):
        self.path = path
        self.cubes = cubes
        self.witness = witness(cubes)
        self.trail = trail
        self.verdict = verdict
        self.before = before
        self.after = after
        # Unresolved rules whose doubt touches these flows: the answer may be theirs to give.
        self.doubts = []

    @property
    def rule(self):
        """The rule a reader should look at: the last one of the trail that is a rule."""
        trail = self.trail or (self.after[1] if self.after else ())
        for rule in reversed(trail or ()):
            if rule is not None:
                return rule
        return None


# ---------------------------------------------------------------- evaluation

def _rule_match(rule, mode, assignment, region):
    if not rule.uncertain:
        return rule.match
    if assignment is not None and rule.key in assignment:
        return rule.match if assignment[rule.key] else rule.match_min
    if rule.action in ("jump", "goto", "return"):
        # Only the flows in doubt make the jump unprovable; the others meet a certain rule.
        if not region_overlaps(region, region_subtract(rule.match, rule.match_min)):
            return rule.match
        raise CannotProve("%s: %s cannot be resolved (%s), and it decides where evaluation goes"
                          % (rule.label, rule.action, "; ".join(rule.uncertain)))
    widest = (rule.action == "permit") == (mode == "may")
    return rule.match if widest else rule.match_min


def _walk_chain(stage, chain_name, region, mode, assignment, depth):
    """[(cubes, outcome, rule)] with outcome permit, deny or end (fell through or returned)."""
    if depth > MAX_JUMP_DEPTH:
        raise CannotProve("stage %s: jumps nest deeper than %d at chain %s" % (stage.name, MAX_JUMP_DEPTH, chain_name))
    chain = stage.chains.get(chain_name)
    if chain is None:
        raise CannotProve("stage %s: jump to chain %s, which does not exist" % (stage.name, chain_name))
    out = []
    remaining = list(region)
    for rule in chain.rules:
        if not remaining:
            break
        if rule.action == "next" or not region_overlaps(remaining, rule.match):
            continue
        match = _rule_match(rule, mode, assignment, remaining)
        if not match or not region_overlaps(remaining, match):
            continue
        hit = region_intersect(remaining, match)
        if not hit:
            continue
        remaining = region_subtract(remaining, match)
        if rule.action in ("permit", "deny"):
            out.append((hit, rule.action, rule))
        elif rule.action == "return":
            out.append((hit, "end", rule))
        elif rule.action == "jump":
            for cubes, outcome, decider in _walk_chain(stage, rule.target, hit, mode, assignment, depth + 1):
                if outcome == "end":
                    remaining = remaining + cubes
                else:
                    out.append((cubes, outcome, decider))
        else:  # goto: the target's end is the end of this chain
            out.extend(_walk_chain(stage, rule.target, hit, mode, assignment, depth + 1))
    if remaining:
        out.append((remaining, "end", None))
    return out


def evaluate(path, region, mode="may", assignment=None):
    """Split ``region`` into ``Piece``s by the verdict ``path`` gives them."""
    pieces = [Piece(list(region), "permit", ())]
    finished = []
    for stage in path.stages:
        passing = []
        for piece in pieces:
            for cubes, outcome, rule in _walk_chain(stage, stage.entry, piece.cubes, mode, assignment, 0):
                if outcome == "end":
                    outcome = stage.policy
                    rule = None
                trail = piece.trail + (rule,)
                if outcome == "permit":
                    passing.append(Piece(cubes, "permit", trail))
                else:
                    finished.append(Piece(cubes, "deny", trail))
        pieces = passing
    return finished + pieces


def evaluate_flow(path, flow):
    """The verdict for one concrete flow: ``{"verdict": permit|deny|uncertain, "may": Piece,
    "must": Piece}``; ``uncertain`` when unresolved rules decide it."""
    cube = Cube([interval(v, v) for v in flow])
    may = evaluate(path, [cube], "may")[0]
    must = evaluate(path, [cube], "must")[0]
    verdict = may.verdict if may.verdict == must.verdict else "uncertain"
    return {"verdict": verdict, "may": may, "must": must}


# ---------------------------------------------------------------- the questions

def smtp_region(sources, destinations, port=25):
    """TCP/``port`` flows from ``sources`` to ``destinations`` (``{4: IntervalSet, 6: ...}``)."""
    return match_cubes(sources, destinations, protocols=interval(TCP, TCP), dport=interval(port, port))


def _group(path_name, pieces, verdict, path=None):
    """Findings by deciding trail, in the order the rules come; with ``path``, each names the
    unresolved rules whose doubt touches its flows (the worst case may have skipped them)."""
    groups = {}
    order = []
    for piece in pieces:
        if piece.verdict != verdict:
            continue
        key = tuple(id(rule) for rule in piece.trail)
        if key not in groups:
            groups[key] = Finding(path_name, [], trail=piece.trail, verdict=verdict)
            order.append(key)
        groups[key].cubes = groups[key].cubes + piece.cubes
    findings = [groups[key] for key in order]
    doubtful = []
    if path is not None and findings:
        doubtful = [rule for stage, chain, rule in path.all_rules() if rule.uncertain]
    for finding in findings:
        finding.witness = witness(finding.cubes)
        finding.doubts = [rule for rule in doubtful
                          if region_overlaps(region_subtract(rule.match, rule.match_min), finding.cubes)]
    return findings


def leaks(path, ranges, mail_servers, port=25):
    """Q1: flows on TCP/``port`` to ``mail_servers`` from outside ``ranges`` that may get in."""
    outside = addresses_subtract(any_addresses(), ranges)
    return _group(path.name, evaluate(path, smtp_region(outside, mail_servers, port), "may"), "permit", path)


# An SMTP client's source port is an ephemeral one (RFC 6056); Q2 asks about those only, so that a
# rule admitting only source ports 1024-65535 is not taken for one that blocks the ranges. Q1 asks
# about every source port: an attacker chooses.
CLIENT_PORTS = interval(1024, 65535)


def blocked(path, ranges, mail_servers, port=25, smtp_apps=None):
    """Q2: flows on TCP/``port`` to ``mail_servers`` from inside ``ranges`` (from a client source
    port) that may not get in; ``smtp_apps``: only sessions of these applications (an IntervalSet
    of AppSpace ids; PAN-OS: mail from the ranges is smtp)."""
    region = match_cubes(ranges, mail_servers, protocols=interval(TCP, TCP), sport=CLIENT_PORTS,
                         dport=interval(port, port), apps=smtp_apps)
    return _group(path.name, evaluate(path, region, "must"), "deny", path)


def is_smtp_only(rule, port=25):
    """The rule is certain and its match is TCP/``port`` and nothing else (any sources,
    destinations, source ports, applications): the only kind of rule a planner may rewrite."""
    return bool(rule.match) and not rule.uncertain and region_covers(
        smtp_region(any_addresses(), any_addresses(), port), rule.match)


def sources_are_any(rule):
    """The rule's sources are every address of each family it matches ("from any")."""
    sources = projection(rule.match, SRC)
    families = [f for f in (4, 6) if sources[f]]
    return bool(families) and all(iv_covers(sources[f], interval(0, ADDRESS_MAX[f])) for f in families)


def admitted(path, region, mode="may"):
    """The flows of ``region`` that ``path`` permits, as findings by deciding rule."""
    return _group(path.name, evaluate(path, region, mode), "permit")


# ---------------------------------------------------------------- the differential

def _chain_signature(chain):
    return [(rule.key, rule.action, rule.target) for rule in chain.rules]


def changed_region(before, after):
    """Flows whose verdict can differ between two paths: the union of the matches of every rule
    that is not in both, unchanged. Exact when the rules both have keep their relative order (the
    first rule a flow meets is then the same on both sides unless it meets a changed rule);
    otherwise, and when stages or default policies differ, the whole header space."""
    if len(before.stages) != len(after.stages):
        return universe(), "the number of stages differs"
    region = []
    for old, new in zip(before.stages, after.stages):
        if (old.entry, old.policy) != (new.entry, new.policy):
            return universe(), "stage %s: entry chain or default policy differs" % old.name
        for name in set(old.chains) | set(new.chains):
            old_rules = old.chains[name].rules if name in old.chains else []
            new_rules = new.chains[name].rules if name in new.chains else []
            old_by_key = dict((r.key, r) for r in old_rules)
            new_by_key = dict((r.key, r) for r in new_rules)
            if len(old_by_key) != len(old_rules) or len(new_by_key) != len(new_rules):
                return universe(), "chain %s has two rules with one key" % name
            kept = []
            for rule in old_rules:
                twin = new_by_key.get(rule.key)
                if twin is not None and (twin.action, twin.target) == (rule.action, rule.target) \
                        and _same_region(twin.match, rule.match) and _same_region(twin.match_min, rule.match_min):
                    kept.append(rule.key)
                else:
                    region = region_union(region, rule.match)
            kept_set = set(kept)
            for rule in new_rules:
                if rule.key not in kept_set:
                    region = region_union(region, rule.match)
            if [r.key for r in new_rules if r.key in kept_set] != kept:
                return universe(), "chain %s: unchanged rules changed their order" % name
    return region_intersect(region, universe()), None


def _same_region(a, b):
    # A vendor model that reuses an unchanged rule's match gives the same list object.
    return a is b or region_equal(a, b)


def _uncertain_in(paths, region):
    found = {}
    for path in paths:
        for stage, chain, rule in path.all_rules():
            if rule.uncertain and rule.key not in found:
                gap = region_subtract(rule.match, rule.match_min)
                if region_overlaps(gap, region):
                    found[rule.key] = rule
    return list(found.values())


def differential(before, after, region=None):
    """Q3: every flow of ``region`` (default: ``changed_region``) whose verdict differs.

    Returns ``(findings, scope_note)``; each finding has ``before`` and ``after`` as
    ``(verdict, trail)``. Unresolved rules whose doubt touches the changed flows are enumerated
    at their widest and narrowest (the same on both sides); more than ``MAX_UNCERTAIN_IN_CHANGE``
    of them raise ``CannotProve``.
    """
    note = None
    if region is None:
        region, note = changed_region(before, after)
    if not region:
        return [], note
    doubtful = _uncertain_in((before, after), region)
    if len(doubtful) > MAX_UNCERTAIN_IN_CHANGE:
        raise CannotProve("%d rules that cannot be resolved touch the flows this change affects (%s); "
                          "the change cannot be proven" % (len(doubtful), "; ".join(
                              "%s: %s" % (r.label, ", ".join(r.uncertain)) for r in doubtful)))
    findings = []
    seen = []
    for values in product((True, False), repeat=len(doubtful)):
        assignment = dict((rule.key, value) for rule, value in zip(doubtful, values))
        old_pieces = evaluate(before, region, "may", assignment)
        new_pieces = evaluate(after, region, "may", assignment)
        for old in old_pieces:
            for new in new_pieces:
                if old.verdict == new.verdict:
                    continue
                cubes = region_intersect(old.cubes, new.cubes)
                cubes = region_subtract(cubes, seen)
                if not cubes:
                    continue
                seen = seen + cubes
                finding = Finding(before.name, cubes, verdict=new.verdict,
                                  before=(old.verdict, old.trail), after=(new.verdict, new.trail))
                findings.append(finding)
    return findings, note


def within_expected(finding, ranges, mail_servers, port=25):
    """The part of a differential finding that is NOT the expected change (TCP/``port`` to the
    mail servers from outside the ranges, permit -> deny): [] when it is all expected."""
    if finding.before[0] != "permit" or finding.after[0] != "deny":
        return finding.cubes
    expected = smtp_region(addresses_subtract(any_addresses(), ranges), mail_servers, port)
    return region_subtract(finding.cubes, expected)


def projection(cubes, dimension):
    """The values a region takes in one dimension, per family: ``{4: IntervalSet, 6: ...}``."""
    out = {4: (), 6: ()}
    for cube in cubes:
        for family_low, family_high in cube[FAMILY]:
            for family in (4, 6):
                if family_low <= family <= family_high:
                    out[family] = iv_union(out[family], cube[dimension])
    return out
