# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cisco ASA side of verify: what to ask ``packet-tracer``, how to read its answer (text and xml
forms, 9.x and 9.14+), which mail servers an audit finds, and whether our group holds exactly
the ranges. The judging itself is vendor-neutral (``policy.verify``) and uses the same model as
the planner (``asa.model``), and discovery uses the planner's own rule finder."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import xml.etree.ElementTree as ET

from ansible_collections.emailsec.hes.plugins.module_utils.asa.model import Doubt, group_addresses
from ansible_collections.emailsec.hes.plugins.module_utils.asa.parse import acl_bindings, parse_ace
from ansible_collections.emailsec.hes.plugins.module_utils.asa.plan import find_smtp_rules
from ansible_collections.emailsec.hes.plugins.module_utils.policy.space import (
    no_addresses,
)
from ansible_collections.emailsec.hes.plugins.module_utils.policy.verify import VerifyError, membership_problems, merge_sets


def packet_tracer_commands(probes, xml=False):
    """One ``packet-tracer`` command per probe, in order (all sent in one ``asa_command`` task)."""
    suffix = " xml" if xml else ""
    return ["packet-tracer input %s tcp %s %d %s %d%s" % (
        p["ingress"], p["source"], p["source_port"], p["destination"], p["port"], suffix) for p in probes]


_PHASE_KEYS = {"Phase": "id", "Type": "type", "Subtype": "subtype", "Result": "result",
               "Elapsed time": "elapsed"}


def _parse_text(text):
    phases, result = [], {}
    current, section = None, None
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.rstrip()
        if not line.strip():
            section = None if section != "final" else section
            continue
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if section == "config" and sep and key == "Additional Information":
            section = "extra"
            continue
        if key == "Phase" and sep:
            current = {"id": value, "type": "", "subtype": "", "result": "", "config": [], "extra": []}
            phases.append(current)
            section = "phase"
            continue
        if key == "Result" and sep and not value:
            section, current = "final", None
            continue
        if section == "phase" and sep and key in _PHASE_KEYS:
            current[_PHASE_KEYS[key]] = value
            continue
        if section == "phase" and key == "Config" and sep:
            section = "config"
            continue
        if section == "phase" and key == "Additional Information" and sep:
            section = "extra"
            continue
        if section == "config":
            current["config"].append(line.strip())
        elif section == "extra":
            current["extra"].append(line)
        elif section == "final" and sep:
            result[key.lower()] = line.partition(":")[2].strip()
    return phases, result


def _parse_xml(text):
    try:
        root = ET.fromstring("<root>%s</root>" % text)
    except ET.ParseError as exc:
        raise VerifyError("packet-tracer xml output is not well-formed (%s): %s" % (exc, text[:200]))
    phases = []
    for phase in root.findall("Phase"):
        phases.append({
            "id": (phase.findtext("id") or "").strip(),
            "type": (phase.findtext("type") or "").strip(),
            "subtype": (phase.findtext("subtype") or "").strip(),
            "result": (phase.findtext("result") or "").strip(),
            "config": [c.strip() for c in (phase.findtext("config") or "").split("\n") if c.strip()],
            "extra": [c for c in (phase.findtext("extra") or "").split("\n") if c.strip()],
        })
    result = {}
    node = root.find("result")
    if node is not None:
        for child in node:
            result[child.tag.lower()] = (child.text or "").strip()
    return phases, result


def parse_packet_tracer(output):
    """``packet-tracer`` output (text or xml form) -> ``{action, drop_reason, phase, access_group,
    ace, acl, input_interface, output_interface, phases}``.

    ``action`` is ``allow`` or ``drop``; ``phase`` the phase that decided (the first DROP, else
    the ACCESS-LIST phase that names an ACE); ``access_group`` and ``ace`` are that phase's
    ``access-group ...`` and ``access-list ...`` lines (``ace`` is ``Implicit Rule`` for the
    implicit deny); ``drop_reason`` drops the 9.14+ ``Drop-location`` suffix.
    """
    text = (output or "").strip()
    if not text:
        raise VerifyError("packet-tracer gave no output")
    phases, result = _parse_xml(text) if text.startswith("<") else _parse_text(text)
    action = (result.get("action") or "").lower()
    if action not in ("allow", "drop"):
        raise VerifyError("packet-tracer output has no 'Action: allow|drop' line (last line: %r)"
                          % text.strip().split("\n")[-1])
    reason = result.get("drop-reason")
    if reason:
        reason = reason.split(", Drop-location:")[0].strip()
    deciding = next((p for p in phases if p["result"].upper() == "DROP"), None)
    if deciding is None:
        deciding = next((p for p in phases if p["type"] == "ACCESS-LIST"
                         and any(c.startswith("access-list ") for c in p["config"])), None)
    if deciding is None:
        deciding = next((p for p in reversed(phases) if p["type"] == "ACCESS-LIST"), None)
    access_group = ace = acl = None
    if deciding is not None:
        access_group = next((c for c in deciding["config"] if c.startswith("access-group ")), None)
        ace = next((c for c in deciding["config"] if c.startswith("access-list ")), None)
        if ace is None and "Implicit Rule" in deciding["config"]:
            ace = "Implicit Rule"
        if ace and ace.startswith("access-list "):
            acl = ace.split()[1]
    return {"action": action, "drop_reason": reason or None,
            "phase": None if deciding is None else "%s %s" % (deciding["id"], deciding["type"]),
            "access_group": access_group, "ace": ace, "acl": acl,
            "input_interface": result.get("input-interface"),
            "output_interface": result.get("output-interface"), "phases": phases}


def device_answers(outputs):
    """``asa_command`` stdout list -> one ``{verdict, rule, detail}`` per probe."""
    answers = []
    for output in outputs:
        parsed = parse_packet_tracer(output)
        rule = parsed["ace"] or parsed["phase"]
        if parsed["access_group"] and parsed["ace"] != "Implicit Rule":
            rule = "%s (%s)" % (parsed["ace"], parsed["access_group"])
        detail = parsed["drop_reason"] or ("phase %s" % parsed["phase"] if parsed["phase"] else None)
        answers.append({"verdict": "allow" if parsed["action"] == "allow" else "deny", "rule": rule,
                        "detail": detail})
    return answers


def scope(config, interfaces):
    """Every ACL on the inbound paths: ``[(acl, [binding texts])]``."""
    bound = {}
    for interface in interfaces:
        inbound, global_acl = acl_bindings(config, interface)
        if inbound:
            bound.setdefault(inbound, []).append("access-group %s in interface %s" % (inbound, interface))
        if global_acl:
            bound.setdefault(global_acl, [])
            if "access-group %s global" % global_acl not in bound[global_acl]:
                bound[global_acl].append("access-group %s global" % global_acl)
    return sorted(bound.items())


def discover_mail_servers(config, interfaces, group_name):
    """Audit discovery: the destinations of the SMTP rules (TCP/25 and nothing else, from any or
    from our group) on the inbound paths, and which path serves which."""
    rules = find_smtp_rules(config, scope(config, interfaces), group_name, None)
    servers = no_addresses()
    served = {}
    for interface in interfaces:
        acls = [a for a in acl_bindings(config, interface) if a]
        mine = [r["destinations"] for r in rules if r["acl"] in acls]
        served[interface] = merge_sets(no_addresses(), *mine)
        servers = merge_sets(servers, served[interface])
    if not any(servers.values()):
        # A broken rule still says where mail should go: an inactive SMTP rule, or one in an ACL
        # bound elsewhere. The engine then proves that these servers do not get mail.
        dormant = dict(config, acls=dict((name, [dict(e, text=e["text"].replace(" inactive", ""))
                                                 for e in entries]) for name, entries in config["acls"].items()))
        rules = find_smtp_rules(dormant, [(name, []) for name in sorted(config["acls"])], group_name, None)
        servers = merge_sets(no_addresses(), *[r["destinations"] for r in rules])
        served = dict((interface, servers) for interface in interfaces)
    return servers, served


def dormant_rules(config, interfaces, group_name):
    """Why SMTP from the group may not be admitted although a rule for it exists: SMTP rules from
    our group that are inactive, or in an ACL not bound inbound to ``interfaces``."""
    hints = []
    inbound = set(a for i in interfaces for a in acl_bindings(config, i) if a)
    for name in sorted(config["acls"]):
        for entry in config["acls"][name]:
            ace = parse_ace(entry["text"], config)
            if ace["action"] != "permit" or ace["source"] is None or \
                    (ace["source"]["kind"], ace["source"]["value"]) != ("object-group", group_name):
                continue
            label = "%s line %d '%s'" % (name, entry["line"], entry["text"])
            if ace["inactive"]:
                hints.append("%s is inactive" % label)
            elif name not in inbound:
                where = ["%s %s" % (b["direction"], b["interface"] or "") for b in config["access_groups"]
                         if b["acl"] == name]
                hints.append("%s is bound %s, not inbound on %s" % (
                    label, ", ".join(w.strip() for w in where) or "nowhere", ", ".join(interfaces)))
    return hints


def group_check(config, group_name, range_sets):
    """(ok, detail): the network object-group holds exactly the ranges (every member resolved)."""
    group = config["groups"].get(group_name)
    if group is None:
        return False, "object-group network %s does not exist" % group_name
    if group["type"] != "network":
        return False, "object-group %s is a %s group, not a network group" % (group_name, group["type"])
    doubt = Doubt()
    held = group_addresses(group_name, config, doubt, frozenset())
    if doubt.reasons:
        return False, "object-group network %s: %s" % (group_name, "; ".join(doubt.reasons))
    problems = membership_problems(held["max"], range_sets)
    if problems:
        return False, "object-group network %s: %s" % (group_name, "; ".join(problems))
    return True, "object-group network %s holds exactly the ranges (%d members)" % (group_name, len(group["members"]))
