# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan gate and the words for what the engine found. Every vendor's planner calls
``check_plan`` on the policy before and after its plan; the verify role calls ``judge`` on the
device's policy. Both return plain data (JSON-friendly) with readable sentences.

A plan passes the gate only when:

* on the inbound paths, every flow whose verdict changes is TCP/25 to a mail server from outside
  the ranges, and it changes from permit to deny, or TCP/25 to a mail server from inside the
  ranges, from deny to permit (a range new in the group; an SMTP permit added on request);
* on every other path, no verdict changes at all;
* afterwards nothing outside the ranges reaches a mail server on TCP/25 (Q1), and everything
  inside the ranges does (Q2).
Anything else is refused, naming the rule and a witness flow.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.emailsec.hes.plugins.module_utils.policy.engine import (
    CannotProve,
    Finding,
    blocked,
    differential,
    leaks,
    projection,
    smtp_region,
)
from ansible_collections.emailsec.hes.plugins.module_utils.policy.space import (
    APP,
    DPORT,
    DST,
    FAMILY,
    PROTO,
    SPORT,
    SRC,
    address_intervals_text,
    addresses_subtract,
    addresses_union,
    any_addresses,
    ip_text,
    iv_union,
    region_subtract,
)

PROTOCOL_NAMES = {1: "icmp", 6: "tcp", 17: "udp", 47: "gre", 50: "esp", 51: "ah", 58: "icmpv6", 132: "sctp"}
MAX_FINDINGS = 10


def describe_flow(flow, apps=None):
    """``tcp 192.0.2.7:40000 -> 203.0.113.25:25`` (``app smtp`` when applications matter)."""
    if flow is None:
        return "(none)"
    proto = PROTOCOL_NAMES.get(flow[PROTO], "proto %d" % flow[PROTO])
    src, dst = ip_text(flow[FAMILY], flow[SRC]), ip_text(flow[FAMILY], flow[DST])
    if flow[FAMILY] == 6:
        src, dst = "[%s]" % src, "[%s]" % dst
    if flow[PROTO] in (1, 58):
        text = "%s %s -> %s type %d code %d" % (proto, src, dst, flow[DPORT], flow[SPORT])
    elif flow[PROTO] in (6, 17, 132):
        text = "%s %s:%d -> %s:%d" % (proto, src, flow[SPORT], dst, flow[DPORT])
    else:
        text = "%s %s -> %s" % (proto, src, dst)
    if apps is not None:
        text += " app %s" % apps.name(flow[APP])
    return text


def flow_dict(flow, apps=None):
    if flow is None:
        return None
    return {"family": flow[FAMILY], "source": ip_text(flow[FAMILY], flow[SRC]),
            "destination": ip_text(flow[FAMILY], flow[DST]), "protocol": flow[PROTO],
            "source_port": flow[SPORT], "port": flow[DPORT],
            "application": apps.name(flow[APP]) if apps is not None else None}


def _rule_text(rule, default):
    return rule.label if rule is not None else default


def _decider(trail, verdict, default_deny="the default deny"):
    for rule in reversed(trail or ()):
        if rule is not None:
            return rule.label
    return default_deny if verdict == "deny" else "the default policy"


def _sources_text(cubes, ranges, kind=None):
    sources = projection(cubes, SRC)
    listed = "; ".join(address_intervals_text(f, sources[f]) for f in (4, 6) if sources[f])
    if ranges is not None:
        outside = addresses_subtract(any_addresses(), ranges)
        present = [f for f in (4, 6) if sources[f]]
        if present and all(sources[f] == outside[f] for f in present):
            return "every source outside the ranges"
        if present and all(sources[f] == ranges[f] for f in present):
            return "every address of the ranges"
        if kind == "leak":
            return "outside the ranges: %s" % listed
        if kind == "blocked":
            return "part of the ranges: %s" % listed
    return listed


def finding_dict(finding, apps=None, kind=None, ranges=None):
    data = {"kind": kind, "path": finding.path, "witness": flow_dict(finding.witness, apps),
            "witness_text": describe_flow(finding.witness, apps)}
    if finding.before is not None:
        data.update(before=finding.before[0], before_rule=_decider(finding.before[1], finding.before[0]),
                    after=finding.after[0], after_rule=_decider(finding.after[1], finding.after[0]))
    else:
        doubts = []
        for rule in [r for r in finding.trail or () if r is not None] + list(finding.doubts):
            for reason in rule.uncertain:
                text = reason if rule in (finding.trail or ()) else "%s: %s" % (rule.label, reason)
                if text not in doubts:
                    doubts.append(text)
        data.update(verdict=finding.verdict, rule=_decider(finding.trail, finding.verdict), uncertain=doubts)
    data["sources"] = _sources_text(finding.cubes, ranges, kind)
    return data


def judge(policy, inbound, ranges, mail_servers, served=None, port=25, also_allowed=None, smtp_apps=None):
    """Q1 and Q2 on the inbound paths of one policy: ``{"leaks": [...], "blocked": [...],
    "clean": bool, "messages": [...]}``. Q1 asks about every mail server on every inbound path;
    Q2 asks each path about the mail servers it serves (``served``: {path: address sets};
    default: all of them), for the applications ``smtp_apps`` (None: all; PAN-OS asks about
    smtp, since a rule for application smtp rightly blocks other applications on TCP/25).
    ``also_allowed``: sources that may reach the mail servers without being in the ranges
    (internal relays); Q2 does not ask about them."""
    out = {"leaks": [], "blocked": [], "messages": []}
    allowed = addresses_union(ranges, also_allowed) if also_allowed else ranges
    for name in inbound:
        path = policy.paths.get(name)
        if path is None:
            out["messages"].append("path %s does not exist on the device" % name)
            continue
        for finding in leaks(path, allowed, mail_servers, port):
            data = finding_dict(finding, policy.apps, "leak", allowed)
            out["leaks"].append(data)
            out["messages"].append(
                "%s admits TCP/%d from %s, e.g. %s%s"
                % (data["rule"], port, data["sources"], data["witness_text"],
                   (" [uncertain: %s]" % "; ".join(data["uncertain"])) if data["uncertain"] else ""))
        for finding in blocked(path, ranges, (served or {}).get(name, mail_servers), port, smtp_apps):
            data = finding_dict(finding, policy.apps, "blocked", ranges)
            out["blocked"].append(data)
            out["messages"].append(
                "%s blocks TCP/%d from %s, e.g. %s%s"
                % (data["rule"], port, data["sources"], data["witness_text"],
                   (" [uncertain: %s]" % "; ".join(data["uncertain"])) if data["uncertain"] else ""))
    out["clean"] = not out["messages"]
    return out


def check_plan(before, after, inbound, ranges, mail_servers, served=None, port=25, smtp_apps=None):
    """The gate. ``inbound``: the path names whose TCP/``port`` to ``mail_servers`` we harden;
    ``served``, ``smtp_apps``: as for ``judge``. TCP/``port`` from the ranges to the mail servers may go from
    deny to permit (a range added to the group, an SMTP permit added on request). Returns ``{"ok", "refusals", "differential", "changes",
    "after": judge(...)}``; ``differential`` is the one-paragraph summary check mode prints."""
    refusals = []
    changes = []
    outside = addresses_subtract(any_addresses(), ranges)
    expected_close = smtp_region(outside, mail_servers, port)
    expected_open = smtp_region(ranges, mail_servers, port)
    closed_dst = {4: (), 6: ()}
    opened_dst = {4: (), 6: ()}
    apps = after.apps
    for name in sorted(set(before.paths) | set(after.paths)):
        if name not in before.paths or name not in after.paths:
            refusals.append("path %s exists only %s the plan" % (name, "after" if name in after.paths else "before"))
            continue
        try:
            findings, note = differential(before.paths[name], after.paths[name])
        except CannotProve as exc:
            refusals.append("path %s: %s" % (name, exc))
            continue
        for finding in findings:
            data = finding_dict(finding, apps, "change")
            unexpected = finding.cubes
            if name in inbound:
                if (finding.before[0], finding.after[0]) == ("permit", "deny"):
                    unexpected = region_subtract(finding.cubes, expected_close)
                    closed = region_subtract(finding.cubes, unexpected)
                    closed_dst = _merge_dst(closed_dst, closed)
                elif (finding.before[0], finding.after[0]) == ("deny", "permit"):
                    unexpected = region_subtract(finding.cubes, expected_open)
                    opened_dst = _merge_dst(opened_dst, region_subtract(finding.cubes, unexpected))
            if unexpected:
                odd = Finding(name, unexpected, before=finding.before, after=finding.after)
                data = finding_dict(odd, apps, "unexpected")
                changes.append(data)
                refusals.append(
                    "path %s: the plan would change %s from %s (%s) to %s (%s); only TCP/%d to the mail "
                    "servers from outside the ranges may change, from permit to deny"
                    % (name, data["witness_text"], data["before"], data["before_rule"], data["after"],
                       data["after_rule"], port))
            else:
                changes.append(data)
    verdict = judge(after, inbound, ranges, mail_servers, served, port, smtp_apps=smtp_apps)
    refusals.extend("after the plan: %s" % message for message in verdict["messages"])
    parts = []
    if any(closed_dst.values()):
        parts.append("TCP/%d from outside the ranges to %s: allow -> deny" % (port, _dst_text(closed_dst)))
    if any(opened_dst.values()):
        parts.append("TCP/%d from the ranges to %s: deny -> allow" % (port, _dst_text(opened_dst)))
    unexpected = [c for c in changes if c["kind"] == "unexpected"]
    summary = "verdict changes: %s; other flows: %s" % (
        "; ".join(parts) or "none",
        "none" if not unexpected else "; ".join("on %s %s %s -> %s" % (c["path"], c["witness_text"], c["before"], c["after"])
                                                for c in unexpected[:MAX_FINDINGS]))
    return {"ok": not refusals, "refusals": refusals, "differential": summary,
            "changes": changes[:MAX_FINDINGS * 5], "after": verdict}


def _merge_dst(acc, cubes):
    part = projection(cubes, DST)
    return dict((f, iv_union(acc[f], part[f])) for f in (4, 6))


def _dst_text(sets):
    return ", ".join(address_intervals_text(f, sets[f]) for f in (4, 6) if sets[f])
