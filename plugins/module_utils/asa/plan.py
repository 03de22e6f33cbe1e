# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cisco ASA: plan the HES hardening and its rollback, apply a plan to a configuration, gate it.

``plan_hardening(config, ranges, ...)`` returns the exact commands, ordered make-before-break
(the group is complete before a rule references it; the new ACE is inserted at the old one's
line before the old one is removed; an ACL is never emptied), with the findings, a structured
change list, a backup, and the gate's verdict: the plan is applied to the configuration with
``apply_commands`` (what the device does with these commands) and both policies go through the
engine (``policy.gate.check_plan``). ``errors`` lists why the plan must not be sent.

What the planner touches: our object-group, and the SMTP rules it found (active permits whose
match is TCP/25 and nothing else, from any source) or was pointed at; with
``deny_after_permit``, a ``deny tcp any <mail server> eq smtp`` right after our permit; with
``add_ace_when_missing``, a permit from our group to a mail server that had none. A rule that
admits more than TCP/25 is never rewritten.

Why our own planner rather than asa_ogs/asa_acls ``replaced``: those remove before they add (an
ACL whose only ACE is the SMTP rule is emptied and loses its access-group; a referenced group
whose members are all replaced is refused), and their ``line`` handling is not idempotent.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import re

from ansible_collections.emailsec.hes.plugins.module_utils.asa.model import (
    ace_destinations,
    acl_rules,
    build_policy,
    memo_without,
)
from ansible_collections.emailsec.hes.plugins.module_utils.asa.parse import (
    acl_bindings,
    ace_with_source,
    destination_words,
    parse_ace,
)
from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import (
    RangeError,
    asa_network_object,
    guard_restored,
    parse_network,
    parse_networks,
)
from ansible_collections.emailsec.hes.plugins.module_utils.policy.engine import (
    is_smtp_only,
    leaks,
    projection,
    smtp_region,
    sources_are_any,
)
from ansible_collections.emailsec.hes.plugins.module_utils.policy.gate import check_plan, finding_dict
from ansible_collections.emailsec.hes.plugins.module_utils.policy.space import (
    DST,
    address_intervals_text,
    address_sets,
    addresses_union,
    any_addresses,
    iv_covers,
    iv_intersect,
    iv_overlaps,
    no_addresses,
    region_intersect,
)

BACKUP_FORMAT = 1
SMTP_PORT = 25
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
# What an ACE or member line restored from a backup may contain: words of printable ASCII, one
# space apart, as the device prints them; no control characters (a newline would be a second command).
LINE_RE = re.compile(r"[\x21-\x7e]+(?: [\x21-\x7e]+)*")
LINE_MAX = 512


class AsaPlanError(ValueError):
    """Input the planner cannot act on safely; the message names the value and what to do."""


def check_name(value, option):
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        raise AsaPlanError("%s: %r is not a valid ASA object name (1-64 letters, digits, '_', '-', "
                           "'.', starting with a letter or digit)" % (option, value))
    return value


def _check_line(value, what):
    if not isinstance(value, str) or len(value) > LINE_MAX or not LINE_RE.fullmatch(value):
        raise AsaPlanError("%s: %r is not a single printable configuration line" % (what, value))
    return value


# ---------------------------------------------------------------- applying commands

def apply_commands(config, commands):
    """The configuration after the device ran ``commands`` (the subset our planners send):
    ``object-group network N`` + ``[no] network-object ...`` / ``description``,
    ``no object-group network N``, ``access-list N [line K] TEXT``, ``no access-list N TEXT``.
    Refuses what the device would refuse (AsaPlanError): removing an absent ACE or member,
    emptying a referenced group."""
    after = copy.deepcopy(config)
    group = None
    for command in commands:
        words = command.split()
        if words[:2] == ["object-group", "network"]:
            group = after["groups"].setdefault(words[2], {"type": "network", "protocol": None,
                                                          "description": None, "members": []})
        elif words[0] == "network-object" and group is not None:
            if command not in group["members"]:
                group["members"].append(command)
        elif words[:2] == ["no", "network-object"] and group is not None:
            member = command[3:]
            if member not in group["members"]:
                raise AsaPlanError("'%s': the group has no such member" % command)
            group["members"].remove(member)
            if not group["members"]:
                raise AsaPlanError("'%s' would empty the object-group" % command)
        elif words[:3] == ["no", "object-group", "network"]:
            after["groups"].pop(words[3], None)
            group = None
        elif words[0] == "access-list":
            group = None
            aces = after["acls"].setdefault(words[1], [])
            if len(words) > 3 and words[2] == "line":
                aces.insert(int(words[3]) - 1, {"line": 0, "text": " ".join(words[4:])})
            else:
                aces.append({"line": 0, "text": " ".join(words[2:])})
            _renumber(aces)
        elif words[:2] == ["no", "access-list"]:
            group = None
            aces = after["acls"].get(words[2], [])
            text = " ".join(words[3:])
            match = [a for a in aces if a["text"] == text]
            if not match:
                raise AsaPlanError("'%s': ACL %s has no such entry" % (command, words[2]))
            aces.remove(match[0])
            if not aces:
                raise AsaPlanError("'%s' would remove the last entry of ACL %s (and its access-group)"
                                   % (command, words[2]))
            _renumber(aces)
        else:
            raise AsaPlanError("'%s' is not a command the planner sends" % command)
    return after


def _renumber(aces):
    for index, ace in enumerate(aces, start=1):
        ace["line"] = index


# ---------------------------------------------------------------- the group

def desired_members(ranges):
    """The ranges as ``network-object`` lines, in the order given, duplicates dropped."""
    if not ranges:
        raise AsaPlanError("ranges: empty list; refusing to build an empty allow-list group")
    members, seen = [], set()
    for index, cidr in enumerate(ranges):
        try:
            net = parse_network(cidr, "ranges[%d]" % index)
        except RangeError as exc:
            raise AsaPlanError(str(exc))
        if net not in seen:
            seen.add(net)
            members.append((net, "network-object %s" % asa_network_object(net)))
    return members


def member_key(member):
    words = member.split()
    if words[0] == "network-object" and len(words) > 1 and words[1] != "object":
        try:
            return parse_network(" ".join(words[1:]), "network-object")
        except RangeError:
            return member
    return member


def plan_group(name, ranges, groups):
    """Commands that make group NAME hold exactly the ranges: additions first, then removals,
    so a referenced group is never emptied. Returns (commands, change dict)."""
    want = desired_members(ranges)
    group = groups.get(name)
    if group is not None and group["type"] != "network":
        raise AsaPlanError("hes_group_name: %s already exists as a %s object group; choose another "
                           "name or remove that group" % (name, group["type"]))
    current = group["members"] if group else []
    current_keys = set(member_key(m) for m in current)
    want_keys = set(net for net, line in want)
    added = [line for net, line in want if net not in current_keys]
    removed = [member for member in current if member_key(member) not in want_keys]
    change = {"name": name, "created": group is None, "added": added, "removed": removed,
              "before": list(current)}
    if not added and not removed:
        return [], change
    return ["object-group network %s" % name] + added + ["no %s" % m for m in removed], change


# ---------------------------------------------------------------- ACL edits

class AclEdits(object):
    """The ACE texts of one ACL kept in device order while commands are planned, so that each
    ``line N`` is where the device will be when that command arrives."""

    def __init__(self, name, aces):
        self.name = name
        self.texts = [a["text"] for a in aces]
        self.commands = []

    def position(self, text):
        return self.texts.index(text) + 1

    def insert(self, line, text):
        self.texts.insert(line - 1, text)
        self.commands.append("access-list %s line %d %s" % (self.name, line, text))

    def append(self, text):
        self.texts.append(text)
        self.commands.append("access-list %s %s" % (self.name, text))

    def remove(self, text):
        if len(self.texts) == 1:
            raise AsaPlanError("refusing to remove the last ACE of ACL %s ('%s'): the device would "
                               "delete the ACL and its access-group binding" % (self.name, text))
        self.texts.remove(text)
        self.commands.append("no access-list %s %s" % (self.name, text))


def address_operand(net):
    if net.prefixlen == net.max_prefixlen:
        return "host %s" % net.network_address
    return asa_network_object(net)


def _deny_text(destination):
    return "extended deny tcp any %s eq smtp" % " ".join(destination)


def _plan_acl_edits(config, rules, additions, denies, group_name):
    """Commands for the rule rewrites, additions and carve-out denies; returns
    (commands, change list, {acl: AclEdits})."""
    edits = {}
    changes = []
    for rule in rules:
        name, ace = rule["acl"], rule["ace"]
        model = edits.setdefault(name, AclEdits(name, config["acls"][name]))
        deny = _deny_text(destination_words(ace)) if (name, ace["text"]) in denies else None
        if rule["status"] == "hardened":
            if deny and deny not in model.texts:
                model.insert(model.position(ace["text"]) + 1, deny)
                changes.append({"acl": name, "line": rule["line"], "action": "deny_added",
                                "before": None, "after": ace["text"], "deny": deny})
            continue
        new_text = ace_with_source(ace, ["object-group", group_name])
        if new_text in model.texts:
            if model.position(new_text) > model.position(ace["text"]):
                raise AsaPlanError("ACL %s: '%s' (line %d) already exists below '%s' (line %d); "
                                   "removing the 'any' rule would move SMTP from the ranges behind "
                                   "the ACEs between them: merge the two by hand"
                                   % (name, new_text, model.position(new_text), ace["text"], rule["line"]))
            model.remove(ace["text"])
            changes.append({"acl": name, "line": rule["line"], "action": "removed_duplicate",
                            "before": ace["text"], "after": new_text, "deny": None})
            continue
        line = model.position(ace["text"])
        model.insert(line, new_text)
        if deny and deny not in model.texts:
            model.insert(line + 1, deny)
        else:
            deny = None
        model.remove(ace["text"])
        changes.append({"acl": name, "line": rule["line"], "action": "replaced",
                        "before": ace["text"], "after": new_text, "deny": deny})
    for name, server, before_text in additions:
        model = edits.setdefault(name, AclEdits(name, config["acls"].get(name, [])))
        destination = address_operand(server).split()
        new_text = "extended permit tcp object-group %s %s eq smtp" % (group_name, " ".join(destination))
        deny = _deny_text(destination) if (name, new_text) in denies else None
        if before_text is not None:
            line = model.position(before_text)
            model.insert(line, new_text)
            if deny:
                model.insert(line + 1, deny)
        else:
            line = len(model.texts) + 1
            model.append(new_text)
            if deny:
                model.append(deny)
        changes.append({"acl": name, "line": line, "action": "added", "before": None,
                        "after": new_text, "deny": deny})
    commands = []
    for name in sorted(edits):
        commands.extend(edits[name].commands)
    return commands, changes, edits


# ---------------------------------------------------------------- discovery

def _scope(config, interfaces, use_global, acl_name):
    """The ACLs whose SMTP rules may be rewritten: [(acl, [binding texts])]."""
    bound = {}
    missing = []
    for interface in interfaces:
        inbound, global_acl = acl_bindings(config, interface)
        if inbound:
            bound.setdefault(inbound, []).append("access-group %s in interface %s" % (inbound, interface))
        else:
            missing.append(interface)
    if use_global:
        global_acl = acl_bindings(config, None)[1]
        if global_acl:
            bound.setdefault(global_acl, []).append("access-group %s global" % global_acl)
        else:
            missing.append("global")
    if missing and not bound:
        raise AsaPlanError("no access-group binds an ACL inbound to %s; bindings on the device: %s"
                           % (", ".join(missing), describe_bindings(config)))
    if acl_name:
        if acl_name not in bound:
            raise AsaPlanError("hes_asa_acl_name: ACL %s is not bound inbound to %s (bound there: %s)"
                               % (acl_name, ", ".join(interfaces + (["global"] if use_global else [])),
                                  ", ".join(sorted(bound)) or "none"))
        bound = {acl_name: bound[acl_name]}
    return [(name, bound[name]) for name in sorted(bound)], missing


def describe_bindings(config):
    texts = []
    for b in config["access_groups"]:
        texts.append("%s global" % b["acl"] if b["direction"] == "global"
                     else "%s %s %s" % (b["acl"], b["direction"], b["interface"]))
    return ", ".join(texts) or "none"


def find_smtp_rules(config, scope, group_name, servers_given, memo=None):
    """SMTP rules in the ACLs of ``scope``: status ``replace`` (from any) or ``hardened`` (from
    our group), limited to those reaching ``servers_given`` when given."""
    found = []
    for name, bindings in scope:
        aces = dict((a["text"], a) for a in config["acls"].get(name, []))
        for rule in acl_rules(config, name, memo):
            if rule.action != "permit" or not is_smtp_only(rule, SMTP_PORT):
                continue
            ace = parse_ace(rule.origin["text"], config)
            destinations = projection(rule.match, DST)
            if servers_given and not any(iv_overlaps(destinations[f], servers_given[f]) for f in (4, 6)):
                continue
            if ace["source"] == {"kind": "object-group", "value": group_name,
                                 "span": ace["source"]["span"]}:
                status = "hardened"
            elif sources_are_any(rule):
                status = "replace"
            else:
                continue
            found.append({"acl": name, "bindings": bindings, "ace": ace, "status": status,
                          "line": aces[ace["text"]]["line"], "destinations": destinations})
    return found


def _sets_text(sets):
    return ", ".join(address_intervals_text(f, sets[f], limit=8) for f in (4, 6) if sets[f])


def _covers_sets(outer, inner):
    return all(iv_covers(outer[f], inner[f]) for f in (4, 6))


def _first_touching(config, acl, server_sets, memo=None):
    """The first ACE text of ``acl`` whose match touches TCP/25 to the server, or None."""
    target = smtp_region(any_addresses(), server_sets, SMTP_PORT)
    for rule in acl_rules(config, acl, memo):
        if region_intersect(rule.match, target):
            return rule.origin["text"]
    return None


# ---------------------------------------------------------------- the plan

def plan_hardening(config, ranges, group_name="TM_HES_IP_RANGE", interfaces=("outside",),
                   use_global_acl=False, acl_name=None, mail_servers=None,
                   add_ace_when_missing=False, deny_after_permit=False):
    """Plan the hardening of a parsed configuration (``asa.parse.parse_running_config``).

    Returns ``{commands, changed, changes, findings, backup, errors, preview, gate}``;
    ``errors`` lists the reasons not to send the commands (which are then still the plan that
    would apply)."""
    check_name(group_name, "hes_group_name")
    if acl_name:
        check_name(acl_name, "hes_asa_acl_name")
    interfaces = list(interfaces or [])
    for interface in interfaces:
        check_name(interface, "hes_asa_interfaces")
    if not interfaces and not use_global_acl:
        raise AsaPlanError("hes_asa_interfaces is empty and hes_asa_use_global_acl is false: no ACL to harden")
    unknown = [i for i in interfaces if i not in config["interfaces"]]
    if unknown and config["interfaces"]:
        raise AsaPlanError("hes_asa_interfaces: %s not found on the device (interfaces: %s)"
                           % (", ".join(unknown), ", ".join(sorted(config["interfaces"]))))
    given = parse_networks(mail_servers, "hes_asa_mail_servers", AsaPlanError)
    if add_ace_when_missing and not given:
        raise AsaPlanError("hes_asa_add_ace_when_missing needs hes_asa_mail_servers: the destination "
                           "of the ACE to add")
    range_nets = [net for net, line in desired_members(ranges)]
    range_sets = address_sets(range_nets)
    given_sets = address_sets(given) if given else None

    group_commands, group_change = plan_group(group_name, ranges, config["groups"])
    scope, unbound = _scope(config, interfaces, use_global_acl, acl_name)
    memo = {}
    rules = find_smtp_rules(config, scope, group_name, given_sets, memo)

    servers = given_sets
    if servers is None:
        servers = no_addresses()
        for rule in rules:
            servers = addresses_union(servers, rule["destinations"])
    errors = []
    missing = [net for net in given if not any(_covers_sets(r["destinations"], address_sets([net])) for r in rules)]
    additions = []
    if not rules and not add_ace_when_missing:
        errors.append(_nothing_found(scope, group_name, given))
    elif missing and not add_ace_when_missing:
        errors.append("no inbound SMTP permit (TCP/25 only, from any or from object-group %s) to %s in %s; "
                      "set hes_asa_add_ace_when_missing to add one"
                      % (group_name, ", ".join(str(s) for s in missing), ", ".join(a for a, b in scope)))
    elif missing:
        if len(scope) != 1:
            errors.append("hes_asa_add_ace_when_missing: %d ACLs are in scope (%s); set "
                          "hes_asa_acl_name to choose where the new ACE goes"
                          % (len(scope), ", ".join(a for a, b in scope)))
        else:
            acl = scope[0][0]
            additions = [(acl, net, _first_touching(config, acl, address_sets([net]), memo)) for net in missing]

    # An empty interface list with the global ACL means: the global ACL is the inbound policy of
    # every interface.
    inbound = [i for i in interfaces if i in config["interfaces"]] or \
        (sorted(config["interfaces"]) if use_global_acl else interfaces)
    before = build_policy(config, memo=memo)
    denies = set()
    acl_commands, rule_changes, edits = _plan_acl_edits(config, rules, additions, denies, group_name)
    commands = group_commands + acl_commands
    after_config = apply_commands(config, commands)
    after = build_policy(after_config, memo=memo_without(memo, after_config, [group_name]))
    leak_findings = [f for name in inbound if name in after.paths
                     for f in leaks(after.paths[name], range_sets, servers, SMTP_PORT)]
    if leak_findings and deny_after_permit and not errors:
        denies, carve_errors = _carve_outs(after_config, leak_findings, rules, rule_changes, scope, group_name)
        errors.extend(carve_errors)
        if denies:
            acl_commands, rule_changes, edits = _plan_acl_edits(config, rules, additions, denies, group_name)
            commands = group_commands + acl_commands
            after_config = apply_commands(config, commands)
            after = build_policy(after_config, memo=memo_without(memo, after_config, [group_name]))
    served = _served(config, inbound, rules, additions, servers)
    gate = check_plan(before, after, inbound, range_sets, servers, served, port=SMTP_PORT)
    if not errors:
        errors.extend(gate["refusals"])
        if gate["after"]["leaks"] and not deny_after_permit:
            errors.append("a rule broader than TCP/25 admits SMTP from outside the ranges: it cannot be "
                          "rewritten without cutting other services. Narrow it by hand, or set "
                          "hes_asa_deny_after_permit to insert 'deny tcp any <mail server> eq smtp' right "
                          "after the group's SMTP permit")

    findings = {
        "acls": [{"acl": name, "bindings": bindings} for name, bindings in scope],
        "unbound": unbound,
        "rules": [{"acl": r["acl"], "line": r["line"], "text": r["ace"]["text"], "status": r["status"],
                   "bindings": r["bindings"], "destination": _sets_text(r["destinations"]).split(", ")}
                  for r in rules],
        "mail_servers": _sets_text(servers).split(", ") if any(servers.values()) else [],
        "group": {"name": group_name, "exists": group_name in config["groups"],
                  "members": list(config["groups"][group_name]["members"]) if group_name in config["groups"] else []},
        "leaks": gate["after"]["leaks"],
        "blocked": gate["after"]["blocked"],
        "notes": after.notes,
    }
    preview = {
        "group": {"before": group_change["before"],
                  "after": [m for m in group_change["before"] if m not in group_change["removed"]]
                  + group_change["added"]},
        "acls": dict((name, {"before": [a["text"] for a in config["acls"].get(name, [])],
                             "after": list(model.texts)})
                     for name, model in sorted(edits.items()) if model.commands),
    }
    backup = {
        "format": BACKUP_FORMAT,
        "group": {"name": group_name, "existed": group_name in config["groups"],
                  "members": list(config["groups"][group_name]["members"]) if group_name in config["groups"] else []},
        "rules": rule_changes,
    }
    return {"commands": commands, "changed": bool(commands),
            "changes": {"group": group_change, "rules": rule_changes}, "findings": findings,
            "backup": backup, "errors": errors, "preview": preview,
            "gate": {"ok": gate["ok"], "differential": gate["differential"], "refusals": gate["refusals"],
                     "changes": gate["changes"]}}


def _served(config, inbound, rules, additions, servers):
    """{path: the mail servers its SMTP rules serve}: Q2 asks each path only about those."""
    served = {}
    for name in inbound:
        acls = [a for a in acl_bindings(config, name) if a]
        sets = no_addresses()
        for rule in rules:
            if rule["acl"] in acls:
                sets = addresses_union(sets, rule["destinations"])
        for acl, net, before_text in additions:
            if acl in acls:
                sets = addresses_union(sets, address_sets([net]))
        served[name] = dict((f, iv_intersect(sets[f], servers[f])) for f in (4, 6))
    return served


def _nothing_found(scope, group_name, given):
    where = ", ".join("%s (%s)" % (n, "; ".join(b)) for n, b in scope)
    limit = " to %s" % ", ".join(str(s) for s in given) if given else ""
    return ("no inbound SMTP permit found%s in %s: looked for active 'permit' ACEs whose match is "
            "TCP/25 and nothing else (eq smtp, eq 25, or a service group holding only tcp/25) from any "
            "source or from object-group %s; set hes_asa_acl_name / hes_asa_interfaces to point at the "
            "right ACL, or hes_asa_add_ace_when_missing with hes_asa_mail_servers to add one"
            % (limit, where or "no ACL", group_name))


def _carve_outs(after_config, leak_findings, rules, rule_changes, scope, group_name):
    """Where a deny right after our permit stops each leak: {(acl, our ACE text before the plan)}."""
    denies = set()
    errors = []
    scope_order = [name for name, bindings in scope]
    ours = []
    for rule in rules:
        after_text = rule["ace"]["text"] if rule["status"] == "hardened" else \
            ace_with_source(rule["ace"], ["object-group", group_name])
        ours.append((rule["acl"], rule["ace"]["text"], after_text, rule["destinations"]))
    for addition in [c for c in rule_changes if c["action"] == "added"]:
        ours.append((addition["acl"], addition["after"], addition["after"],
                     ace_destinations(parse_ace(addition["after"], after_config), after_config)))
    for finding in leak_findings:
        culprit = finding.rule
        hit = projection(finding.cubes, DST)
        fixed = False
        for acl, key_text, after_text, destinations in ours:
            if not any(iv_overlaps(destinations[f], hit[f]) for f in (4, 6)):
                continue
            if culprit is not None and culprit.origin.get("acl") == acl:
                position = [a["text"] for a in after_config["acls"][acl]]
                if after_text not in position or position.index(after_text) > culprit.origin["line"] - 1:
                    continue
            elif culprit is not None and culprit.origin.get("acl") in scope_order and \
                    scope_order.index(culprit.origin["acl"]) < scope_order.index(acl):
                continue
            denies.add((acl, key_text))
            fixed = True
        if not fixed:
            data = finding_dict(finding)
            errors.append("%s admits TCP/25 from outside the ranges (e.g. %s) and comes before (or "
                          "without) the SMTP rule for that mail server, so a deny after that rule would "
                          "not stop it; move or narrow it by hand" % (data["rule"], data["witness_text"]))
    return denies, errors


# ---------------------------------------------------------------- rollback

# The ACE texts each kind of rule change records (plan_hardening's change list).
REQUIRED_TEXTS = {"replaced": ("before", "after"), "removed_duplicate": ("before", "after"), "added": ("after",),
                  "deny_added": ("after", "deny")}


def check_backup(backup):
    """Validate a backup written by ``plan_hardening`` before anything in it reaches a command."""
    if not isinstance(backup, dict) or backup.get("format") != BACKUP_FORMAT:
        raise AsaPlanError("backup: not an emailsec.hes ASA backup (format %r, expected %d)"
                           % (backup.get("format") if isinstance(backup, dict) else backup, BACKUP_FORMAT))
    group = backup.get("group")
    if not isinstance(group, dict) or not isinstance(group.get("members"), list) or \
            not isinstance(group.get("existed"), bool):
        raise AsaPlanError("backup: 'group' is missing or malformed (it needs name, existed and members)")
    check_name(group.get("name"), "backup group name")
    if not isinstance(backup.get("rules"), list):
        raise AsaPlanError("backup: 'rules' is %r, not a list" % (backup.get("rules"),))
    for index, member in enumerate(group["members"]):
        _check_line(member, "backup group member %d" % index)
        words = member.split()
        if len(words) < 2 or words[0] not in ("network-object", "group-object"):
            raise AsaPlanError("backup group member %d: %r is not a network-object or group-object line"
                               % (index, member))
        names = words[1:] if words[0] == "group-object" else words[2:] if words[1] == "object" else None
        if names is not None:
            if len(names) != 1:
                raise AsaPlanError("backup group member %d: %r names no single object" % (index, member))
            check_name(names[0], "backup group member %d" % index)
        else:
            try:
                net = guard_restored(" ".join(words[1:]), "address")
            except RangeError as exc:
                raise AsaPlanError("backup group member %d: %r is not a valid address (%s)" % (index, member, exc))
            if net.version == 4 and words[1] != "host" and "/" in words[1]:
                raise AsaPlanError("backup group member %d: %r is not a valid address (ASA writes an IPv4 "
                                   "network as 'address mask')" % (index, member))
    for index, change in enumerate(backup["rules"]):
        if not isinstance(change, dict):
            raise AsaPlanError("backup rule change %d is malformed: %r" % (index, change))
        check_name(change.get("acl"), "backup rule change %d acl" % index)
        if not isinstance(change.get("action"), str) or change["action"] not in REQUIRED_TEXTS:
            raise AsaPlanError("backup rule change %d: action %r is unknown" % (index, change.get("action")))
        if not isinstance(change.get("line"), int) or isinstance(change["line"], bool) or change["line"] < 1:
            raise AsaPlanError("backup rule change %d: line %r is not a positive integer" % (index, change.get("line")))
        for key in REQUIRED_TEXTS[change["action"]]:
            if change.get(key) is None:
                raise AsaPlanError("backup rule change %d: %s %r: the %s needs the %s ACE"
                                   % (index, key, change.get(key), change["action"], key))
        for key in ("before", "after", "deny"):
            if change.get(key) is not None:
                text = _check_line(change[key], "backup rule change %d %s" % (index, key))
                ace = parse_ace(text, {"names": {}, "groups": {}})
                if ace["action"] is None or not ace["protocol"] or \
                        any(ace[side] is None or ace[side]["kind"] == "unknown" for side in ("source", "destination")):
                    raise AsaPlanError("backup rule change %d %s: %r is not an access-list entry (action, protocol, "
                                       "source, destination)" % (index, key, text))
    return backup


def plan_rollback(config, backup):
    """Commands that restore a backup written by ``plan_hardening``: original ACEs back at their
    place (each inserted before the ACE that replaced it is removed), added ACEs and denies
    removed, then the group's original membership (or the group removed if it did not exist and
    nothing references it any more). Returns ``{commands, changed, warnings}``."""
    check_backup(backup)
    group = backup["group"]
    edits = {}
    warnings = []
    for change in sorted(backup["rules"], key=lambda c: (c["acl"], c["line"])):
        name = change["acl"]
        if name not in config["acls"]:
            warnings.append("ACL %s no longer exists; its change at line %d is not restored" % (name, change["line"]))
            continue
        model = edits.setdefault(name, AclEdits(name, config["acls"][name]))
        before, after, deny = change.get("before"), change.get("after"), change.get("deny")
        if change["action"] in ("replaced", "removed_duplicate") and before not in model.texts:
            if change["action"] == "replaced" and after in model.texts:
                line = model.position(after)
            else:
                line = min(change["line"], len(model.texts) + 1)
            model.insert(line, before)
        if deny and deny in model.texts:
            model.remove(deny)
        if change["action"] in ("replaced", "added") and after in model.texts:
            model.remove(after)
    commands = []
    for name in sorted(edits):
        commands.extend(edits[name].commands)

    current = config["groups"].get(group["name"])
    if group["existed"]:
        current_members = current["members"] if current else []
        current_keys = set(member_key(m) for m in current_members)
        original_keys = set(member_key(m) for m in group["members"])
        add = [m for m in group["members"] if member_key(m) not in current_keys]
        remove = [m for m in current_members if member_key(m) not in original_keys]
        if add or remove:
            commands.extend(["object-group network %s" % group["name"]] + add + ["no %s" % m for m in remove])
    elif current is not None:
        still_used = [(n, t) for n, texts in _all_texts(config, edits) for t in texts
                      if _references(t, group["name"])]
        still_used += [("object-group", g) for g, spec in config["groups"].items()
                       if "group-object %s" % group["name"] in spec["members"]]
        if still_used:
            warnings.append("object group %s was created by the hardening but is still used by %s; left in place"
                            % (group["name"], "; ".join("%s '%s'" % u for u in still_used)))
        else:
            commands.append("no object-group network %s" % group["name"])
    return {"commands": commands, "changed": bool(commands), "warnings": warnings}


def _all_texts(config, edits):
    for name, aces in config["acls"].items():
        yield name, edits[name].texts if name in edits else [a["text"] for a in aces]


def _references(text, group_name):
    words = text.split()
    return any(words[i] == "object-group" and words[i + 1] == group_name for i in range(len(words) - 1))
