# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pfSense: plan the HES hardening as edits of the configuration array, apply them as pfSense's
PHP will, and gate the result with the engine; plan the restoration of a saved revision.

``plan_hardening(config, ranges, ...)`` finds the SMTP rules on the interface's inbound path
semantically (a pass whose match is TCP/25 and nothing else, from any source, in the first-match
order of ``pfsense.model``), and plans:

* the alias ``TM_HES_IP_RANGE``, type ``network``, the ranges normalized and sorted, one
  ``detail`` per address naming its source (an existing alias of another type, or one used
  other than as the source of a pass, is refused);
* each SMTP rule's source set to the alias; for a filter rule linked to a NAT port forward
  (``associated-rule-id``) the port forward's source too, as the GUI keeps them equal; for a
  ``rdr pass`` port forward, its own source;
* with ``deny_after_permit``, when a broader pass below admits SMTP from elsewhere, a
  ``block tcp any -> <mail server> port 25`` right after our rule (interface rules only).

The edits are ``{"op": "set"|"insert", "path", "value", "expect"}`` on pfSense's configuration
paths (``filter/rule/4/source``); ``parse.apply_edits`` applies them here and the PHP on the
firewall applies the same list with ``config_set_path``. The after-configuration goes through the
model and ``policy.gate.check_plan``; ``errors`` lists why the plan must not be written.

``plan_restore`` checks a controller backup (the revision we saved) against the firewall's
configuration before ``config_restore()`` brings it back.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import RangeError, parse_network, parse_networks
from ansible_collections.emailsec.hes.plugins.module_utils.pfsense.model import build_policy, resolve_tables
from ansible_collections.emailsec.hes.plugins.module_utils.pfsense.parse import (
    ConfigError,
    apply_edits,
    as_list,
    config_sha256,
    dump_element,
    get_path,
    parse_config,
    revision,
    revision_text,
    without_revision,
)
from ansible_collections.emailsec.hes.plugins.module_utils.policy.engine import (
    is_smtp_only,
    leaks,
    projection,
    sources_are_any,
)
from ansible_collections.emailsec.hes.plugins.module_utils.policy.gate import check_plan, finding_dict
from ansible_collections.emailsec.hes.plugins.module_utils.policy.space import (
    DST,
    address_intervals_text,
    address_sets,
    addresses_union,
    any_addresses,
    iv_intersect,
    iv_overlaps,
    no_addresses,
)

SMTP_PORT = 25
DEFAULT_ALIAS = "TM_HES_IP_RANGE"
ALIAS_DESCR = "Trend Micro Email Security (HES) delivery ranges - managed by emailsec.hes"
INTERFACE_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")
USER_RE = re.compile(r"[A-Za-z0-9_.@()\-][A-Za-z0-9_.@()\- ]{0,63}")
# What a detail or a write_config description may contain: printable text config.xml can carry, no
# '|' (pfSense's detail separator is '||'), no control characters (C0, DEL, C1), surrogates, line
# separators or XML non-characters.
TEXT_RE = re.compile(r"[^\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\ufffe\uffff|]{1,200}")
# A configuration path as the planner writes it (``filter/rule/4/source``), in an edit or an expect.
PATH_RE = re.compile(r"[a-z0-9_-]+(?:/[a-z0-9_-]+)*")


class PfsensePlanError(ValueError):
    """Input the planner cannot act on safely; the message names the value and what to do."""


def check_alias_name(name):
    """util.inc is_validaliasname(): under 32 characters of [A-Za-z0-9_], not only digits or
    underscores, not 'port' or 'pass'."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_]{1,31}", name) or \
            re.fullmatch(r"[0-9_]*", name) or name in ("port", "pass"):
        raise PfsensePlanError("hes_group_name: %r is not a valid pfSense alias name (under 32 letters, digits "
                               "or '_', not only digits or underscores)" % (name,))
    return name


def check_interface(config, interface):
    if not isinstance(interface, str) or not INTERFACE_RE.fullmatch(interface):
        raise PfsensePlanError("hes_pfsense_interface: %r is not a pfSense interface name (wan, lan, opt1, ...)"
                               % (interface,))
    interfaces = get_path(config, "interfaces", {}) or {}
    if not isinstance(interfaces, dict) or interface not in interfaces:
        raise PfsensePlanError("hes_pfsense_interface: %s is not an interface of this firewall (interfaces: %s)"
                               % (interface, ", ".join(sorted(interfaces)) if isinstance(interfaces, dict) else "none"))
    if "enable" not in (interfaces[interface] or {}):
        raise PfsensePlanError("hes_pfsense_interface: %s is not enabled, so pf has no rules for it" % interface)
    return interface


# ---------------------------------------------------------------- the ranges and the alias

def _detail_of(entry):
    """The source of one range, for the alias's ``detail``."""
    if not isinstance(entry, dict) or not entry.get("entries"):
        return "emailsec.hes: explicit list (hes_ranges)"
    sites = []
    for item in entry["entries"]:
        text = "site %s" % item.get("site")
        if text not in sites:
            sites.append(text)
    dates = sorted(set(str(item.get("date")) for item in entry["entries"] if item.get("date")))
    return "emailsec.hes: HES %s, bundled dataset %s%s" % (
        ", ".join(sites), entry.get("dataset_version") or "?", " (%s)" % ", ".join(dates) if dates else "")


def range_entries(ranges):
    """The ranges (CIDR strings, or the lookup's ``format=detail`` dicts) -> [(network, detail)],
    normalized, sorted IPv4 first, duplicates dropped."""
    if not ranges:
        raise PfsensePlanError("ranges: empty list; refusing to build an empty allow-list alias")
    found = {}
    for index, item in enumerate(ranges):
        if isinstance(item, dict) and not (isinstance(item.get("entries", []), list)
                                           and all(isinstance(e, dict) for e in item.get("entries", []))):
            raise PfsensePlanError("ranges[%d]: %r is neither a CIDR nor the lookup's format=detail entry" % (index, item))
        text = item.get("cidr") if isinstance(item, dict) else item
        try:
            net = parse_network(text, "ranges[%d]" % index)
        except RangeError as exc:
            raise PfsensePlanError(str(exc))
        detail = _detail_of(item)
        if not TEXT_RE.fullmatch(detail):
            raise PfsensePlanError("ranges[%d]: the source text %r cannot go into an alias detail" % (index, detail))
        found.setdefault(net, detail)
    return sorted(found.items(), key=lambda pair: (pair[0].version, pair[0].network_address, pair[0].prefixlen))


def find_alias(config, name):
    for index, alias in enumerate(as_list(get_path(config, "aliases/alias"))):
        if isinstance(alias, dict) and alias.get("name") == name:
            return index, alias
    return None, None


def alias_usages(config, name):
    """Every place the alias is named, as (where, role) with role ``source`` (the source address
    of a filter rule or port forward, not negated) or another role."""
    found = []
    for section in ("filter", "nat"):
        for index, rule in enumerate(as_list(get_path(config, "%s/rule" % section))):
            if not isinstance(rule, dict):
                continue
            label = '%s rule "%s"' % (section, rule.get("descr") or "#%d" % (index + 1))
            for side in ("source", "destination"):
                data = rule.get(side) if isinstance(rule.get(side), dict) else {}
                if data.get("address") == name:
                    found.append((label, side if side == "source" and "not" not in data else "negated source"
                                  if side == "source" else "destination"))
                if data.get("port") == name:
                    found.append((label, "%s port" % side))
            for key in ("target", "local-port"):
                if rule.get(key) == name:
                    found.append((label, key))
    for alias in as_list(get_path(config, "aliases/alias")):
        if isinstance(alias, dict) and alias.get("name") != name and name in (alias.get("address") or "").split():
            found.append(("alias %s" % alias.get("name"), "nested"))
    for section in ("nat/outbound/rule", "nat/onetoone", "nat/npt"):
        for index, rule in enumerate(as_list(get_path(config, section))):
            if isinstance(rule, dict) and name in _strings(rule):
                found.append(("%s #%d" % (section, index + 1), "outbound/1:1 NAT"))
    return found


def _strings(value):
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value]


def plan_alias(config, name, entries):
    """Edits that make the alias hold exactly the ranges; (edits, change, errors)."""
    index, alias = find_alias(config, name)
    address = " ".join(str(net) for net, detail in entries)
    detail = "||".join(detail for net, detail in entries)
    change = {"name": name, "created": alias is None, "before": (alias or {}).get("address", "").split() if alias else [],
              "after": [str(net) for net, detail in entries]}
    errors = []
    if alias is not None and alias.get("type") != "network":
        errors.append("alias %s already exists as a %s alias; the ranges need a network alias: rename or remove "
                      "that alias, or set hes_group_name" % (name, alias.get("type") or "typeless"))
        return [], change, errors
    for where, role in alias_usages(config, name):
        if role != "source":
            errors.append("alias %s is used as the %s of %s: it means something else there, and changing its "
                          "addresses would change that too; set hes_group_name to another name" % (name, role, where))
    if errors:
        return [], change, errors
    if alias is None:
        position = len(as_list(get_path(config, "aliases/alias")))
        value = {"name": name, "type": "network", "address": address, "descr": ALIAS_DESCR, "detail": detail}
        return [{"op": "set", "path": "aliases/alias/%d" % position, "value": value}], change, []
    edits = []
    expect = {"aliases/alias/%d/name" % index: name}
    if alias.get("address") != address:
        edits.append({"op": "set", "path": "aliases/alias/%d/address" % index, "value": address, "expect": expect})
    if alias.get("detail") != detail:
        edits.append({"op": "set", "path": "aliases/alias/%d/detail" % index, "value": detail, "expect": expect})
    if not alias.get("descr"):
        edits.append({"op": "set", "path": "aliases/alias/%d/descr" % index, "value": ALIAS_DESCR, "expect": expect})
    return edits, change, []


# ---------------------------------------------------------------- discovery

def _is_our_source(element, alias_name):
    source = element.get("source") if isinstance(element.get("source"), dict) else {}
    return source.get("address") == alias_name and "not" not in source


def _linked_nat(config, associated):
    if not associated or associated == "pass":
        return None
    for index, rule in enumerate(as_list(get_path(config, "nat/rule"))):
        if isinstance(rule, dict) and rule.get("associated-rule-id") == associated:
            return index
    return None


def find_smtp_rules(config, policy, interface, alias_name, servers_given=None):
    """The SMTP rules on the inbound path of ``interface``: ``[{rule, element, section, index,
    status: replace|hardened, nat_index, destinations}]`` in evaluation order."""
    path = policy.paths.get(interface)
    found = []
    if path is None:
        return found
    for stage, chain, rule in path.all_rules():
        origin = rule.origin
        if rule.action != "permit" or origin.get("section") not in ("filter", "nat") or not is_smtp_only(rule, SMTP_PORT):
            continue
        destinations = projection(rule.match, DST)
        if servers_given and not any(iv_overlaps(destinations[f], servers_given[f]) for f in (4, 6)):
            continue
        element = get_path(config, "%s/rule/%d" % (origin["section"], origin["index"]))
        if _is_our_source(element, alias_name):
            status = "hardened"
        elif sources_are_any(rule):
            status = "replace"
        else:
            continue
        nat_index = origin["index"] if origin["section"] == "nat" else _linked_nat(config, origin.get("associated"))
        found.append({"rule": rule, "element": element, "section": origin["section"], "index": origin["index"],
                      "status": status, "nat_index": nat_index, "destinations": destinations,
                      "category": "floating" if origin.get("floating") else (
                          "interface" if origin.get("interface") == interface else "group")
                      if origin["section"] == "filter" else "rdr-pass"})
    return found


# ---------------------------------------------------------------- edits of rules

def _new_source(source, alias_name):
    """The source with the alias for its address, the rest (a source port) kept."""
    source = source if isinstance(source, dict) else {}
    out = {"address": alias_name}
    for key, value in source.items():
        if key not in ("any", "address", "network", "not"):
            out[key] = value
    return out


def _identity(config, section, index):
    element = get_path(config, "%s/rule/%d" % (section, index))
    keys = ("tracker", "descr") if section == "filter" else ("associated-rule-id", "descr")
    return dict(("%s/rule/%d/%s" % (section, index, key), element.get(key)) for key in keys if key in element)


def rule_edits(config, rules, alias_name, now, user):
    """Set the source of every rule to replace (and of its linked port forward)."""
    edits = []
    changes = []
    for item in rules:
        targets = []
        if item["status"] == "replace":
            targets.append((item["section"], item["index"]))
        if item["nat_index"] is not None and item["section"] == "filter":
            nat = get_path(config, "nat/rule/%d" % item["nat_index"])
            if not _is_our_source(nat, alias_name):
                targets.append(("nat", item["nat_index"]))
        for section, index in targets:
            element = get_path(config, "%s/rule/%d" % (section, index))
            expect = _identity(config, section, index)
            edits.append({"op": "set", "path": "%s/rule/%d/source" % (section, index),
                          "value": _new_source(element.get("source"), alias_name), "expect": expect})
            edits.append({"op": "set", "path": "%s/rule/%d/updated" % (section, index),
                          "value": {"time": str(now), "username": user}, "expect": expect})
            changes.append({"section": section, "index": index, "descr": element.get("descr") or "",
                            "tracker": element.get("tracker"), "associated": element.get("associated-rule-id"),
                            "action": "source_replaced", "before": element.get("source"),
                            "after": _new_source(element.get("source"), alias_name)})
    return edits, changes


def _next_tracker(config):
    numbers = [int(r["tracker"]) for r in as_list(get_path(config, "filter/rule"))
               if isinstance(r, dict) and str(r.get("tracker") or "").isdigit()]
    return max(numbers + [0]) + 1


def _interface_position(config, index, interface):
    """Position of filter rule ``index`` among the rules of ``interface`` (separators count so)."""
    rules = as_list(get_path(config, "filter/rule"))
    return len([r for r in rules[:index] if isinstance(r, dict) and r.get("interface") == interface
                and "floating" not in r])


def _separator_edits(config, interface, positions):
    """Separators below an inserted rule move down one row per rule inserted above them, as the
    GUI does (``positions``: the interface positions of the rules the inserts follow)."""
    separators = get_path(config, "filter/separator/%s" % interface)
    if not isinstance(separators, dict) or not positions:
        return []
    moved = {}
    for key, sep in separators.items():
        row = sep.get("row") if isinstance(sep, dict) else None
        if row and re.fullmatch(r"fr[0-9]+", row):
            shift = len([q for q in positions if q < int(row[2:])])
            moved[key] = dict(sep, row="fr%d" % (int(row[2:]) + shift)) if shift else sep
        else:
            moved[key] = sep
    if moved == separators:
        return []
    return [{"op": "set", "path": "filter/separator/%s" % interface, "value": moved}]


def carve_out_edits(config, rules, leak_findings, interface, alias_name, now, user):
    """A quick block of TCP/25 to the mail server right after each SMTP rule a leak passes by;
    (edits, changes, errors)."""
    inserts = []
    errors = []
    tracker = _next_tracker(config)
    filter_rules = as_list(get_path(config, "filter/rule"))
    for finding in leak_findings:
        culprit = finding.rule
        hit = projection(finding.cubes, DST)
        placed = False
        for item in rules:
            if not any(iv_overlaps(item["destinations"][f], hit[f]) for f in (4, 6)):
                continue
            if item["category"] not in ("interface", "rdr-pass"):
                continue
            if culprit is not None and culprit.origin.get("section") == "filter" and \
                    (culprit.origin.get("floating") or culprit.origin.get("interface") != interface):
                continue
            if item["section"] == "filter":
                if culprit is not None and culprit.origin.get("section") == "filter" and \
                        culprit.origin["index"] < item["index"]:
                    continue
                position = item["index"] + 1
                destination = dict(item["element"].get("destination") or {})
                ipprotocol = item["element"].get("ipprotocol") or "inet"
            else:
                if culprit is not None and culprit.origin.get("section") == "nat":
                    continue
                firsts = [i for i, r in enumerate(filter_rules) if isinstance(r, dict)
                          and r.get("interface") == interface and "floating" not in r]
                position = firsts[0] if firsts else len(filter_rules)
                nat = item["element"]
                port = nat.get("local-port") or (nat.get("destination") or {}).get("port") or str(SMTP_PORT)
                destination = {"address": nat.get("target"), "port": port}
                ipprotocol = nat.get("ipprotocol") or "inet"
            if any(p == position and i["value"]["destination"] == destination for p, i in inserts):
                placed = True
                continue
            value = {"tracker": str(tracker), "type": "block", "interface": interface, "ipprotocol": ipprotocol,
                     "protocol": "tcp", "source": {"any": ""}, "destination": destination,
                     "descr": "emailsec.hes: SMTP only from %s" % alias_name,
                     "created": {"time": str(now), "username": user}}
            tracker += 1
            inserts.append((position, {"op": "insert", "path": "filter/rule", "index": position, "value": value}))
            placed = True
        if not placed:
            data = finding_dict(finding)
            errors.append("%s admits TCP/25 from outside the ranges (e.g. %s) and is evaluated before (or without) "
                          "an SMTP rule on %s's own rules, so a block after that rule would not stop it; move or "
                          "narrow it by hand" % (data["rule"], data["witness_text"], interface))
    edits, changes = [], []
    for position, edit in sorted(inserts, key=lambda pair: -pair[0]):
        edits.append(edit)
        changes.append({"section": "filter", "index": position, "descr": edit["value"]["descr"],
                        "tracker": edit["value"]["tracker"], "associated": None, "action": "block_added",
                        "before": None, "after": edit["value"]["destination"]})
    edits.extend(_separator_edits(config, interface, [_interface_position(config, p, interface) - 1
                                                      for p, e in inserts]))
    return edits, changes, errors


# ---------------------------------------------------------------- the plan

def _sets_text(sets):
    return ", ".join(address_intervals_text(f, sets[f], limit=8) for f in (4, 6) if sets[f])


def _element_path(edit):
    """The rule or alias an edit belongs to (``filter/rule/4``), for the diff."""
    keys = edit["path"].split("/")
    if edit["op"] == "insert":
        return "%s/%d" % (edit["path"], edit["index"])
    return "/".join(keys[:3]) if keys[0] in ("filter", "nat", "aliases") and len(keys) >= 3 else edit["path"]


def preview(config, after, edits):
    """The XML of every element the edits change, before and after (check mode's --diff)."""
    out = []
    seen = []
    inserted = 0
    for edit in edits:
        if edit["op"] == "insert":
            inserted += 1
    for edit in edits:
        element = _element_path(edit)
        if element in seen:
            continue
        seen.append(element)
        tag = element.split("/")[1] if "/" in element else element
        if edit["op"] == "insert":
            before_xml = ""
            after_xml = dump_element(tag, edit["value"], 2)
            header = "config.xml %s (new)" % element
        else:
            old = get_path(config, element)
            new = get_path(after, element)
            if inserted and element.startswith("filter/rule/"):
                new = _same_element(after, old)
            before_xml = dump_element(tag, old, 2) if old is not None else ""
            after_xml = dump_element(tag, new, 2) if new is not None else ""
            header = "config.xml %s%s" % (element, _element_name(old or new))
        out.append({"before_header": header, "after_header": header, "before": before_xml, "after": after_xml})
    return out


def _same_element(after, old):
    for rule in as_list(get_path(after, "filter/rule")):
        if isinstance(rule, dict) and old and rule.get("tracker") == old.get("tracker") and \
                rule.get("descr") == old.get("descr"):
            return rule
    return None


def _element_name(element):
    if not isinstance(element, dict):
        return ""
    for key in ("name", "descr"):
        if element.get(key):
            return ' "%s"' % element[key]
    return ""


def describe_change(alias_edits, alias_change, rule_changes, alias_name):
    parts = []
    if not alias_edits:
        pass
    elif alias_change["created"]:
        parts.append("alias %s created (%d ranges)" % (alias_name, len(alias_change["after"])))
    elif alias_change["before"] != alias_change["after"]:
        parts.append("alias %s set to %d ranges" % (alias_name, len(alias_change["after"])))
    replaced = [c for c in rule_changes if c["action"] == "source_replaced"]
    if replaced:
        parts.append("source %s on %s" % (alias_name, ", ".join(
            '%s "%s"' % ("port forward" if c["section"] == "nat" else "rule", c["descr"] or "#%d" % (c["index"] + 1))
            for c in replaced)))
    added = [c for c in rule_changes if c["action"] == "block_added"]
    if added:
        parts.append("%d SMTP block rule(s) added after them" % len(added))
    if alias_edits and not parts:
        parts.append("alias %s details updated" % alias_name)
    text = "emailsec.hes: %s" % ("; ".join(parts) or "nothing to change")
    text = re.sub(r"[\x00-\x1f\x7f]", " ", text)
    return text if len(text) <= 240 else text[:237] + "..."


def plan_hardening(config, ranges, interface="wan", alias_name=DEFAULT_ALIAS, mail_servers=None,
                   deny_after_permit=False, tables=None, now=0, user="emailsec.hes"):
    """Plan the hardening of a parsed configuration (``parse.parse_config``).

    Returns ``{edits, changed, description, changes, findings, errors, preview, gate, after}``;
    ``errors`` lists the reasons not to write (the edits are then still the plan that would
    apply). ``now`` and ``user`` go into the ``updated``/``created`` stamps pfSense's GUI puts on
    the rules it edits."""
    check_alias_name(alias_name)
    check_interface(config, interface)
    if not isinstance(user, str) or not USER_RE.fullmatch(user):
        raise PfsensePlanError("user: %r is not a plain user name" % (user,))
    entries = range_entries(ranges)
    range_sets = address_sets([net for net, detail in entries])
    tables = resolve_tables(tables)
    given = parse_networks(mail_servers, "hes_pfsense_mail_servers", PfsensePlanError)
    given_sets = address_sets(given) if given else None

    errors = []
    alias_edits, alias_change, alias_errors = plan_alias(config, alias_name, entries)
    errors.extend(alias_errors)
    before = build_policy(config, tables)
    rules = find_smtp_rules(config, before, interface, alias_name, given_sets)
    servers = given_sets
    if servers is None:
        servers = no_addresses()
        for item in rules:
            servers = addresses_union(servers, item["destinations"])
    if not rules:
        errors.append(_nothing_found(interface, alias_name, given))
        if interface in before.paths:
            for finding in leaks(before.paths[interface], range_sets, servers if given else any_addresses(), SMTP_PORT):
                data = finding_dict(finding, None, "leak", range_sets)
                errors.append("%s admits TCP/25 from %s (e.g. %s) but more than TCP/25 too, so it is not rewritten; "
                              "split the SMTP part into a rule of its own, or narrow it by hand"
                              % (data["rule"], data["sources"], data["witness_text"]))
    else:
        missing = [net for net in given if not any(
            iv_intersect(item["destinations"][net.version], address_sets([net])[net.version]) for item in rules)]
        if missing:
            errors.append("no inbound SMTP pass (TCP/25 only, from any or from alias %s) to %s on %s"
                          % (alias_name, ", ".join(str(n) for n in missing), interface))

    edits, rule_changes = rule_edits(config, rules, alias_name, now, user)
    edits = alias_edits + edits
    after_config = apply_edits(config, edits)
    after = build_policy(after_config, tables)
    if deny_after_permit and not errors and interface in after.paths:
        found = leaks(after.paths[interface], range_sets, servers, SMTP_PORT)
        if found:
            after_rules = find_smtp_rules(after_config, after, interface, alias_name, given_sets)
            carve, carve_changes, carve_errors = carve_out_edits(after_config, after_rules, found, interface,
                                                                 alias_name, now, user)
            errors.extend(carve_errors)
            if carve:
                edits = edits + carve
                rule_changes = rule_changes + carve_changes
                after_config = apply_edits(config, edits)
                after = build_policy(after_config, tables)
    gate = check_plan(before, after, [interface], range_sets, servers, {interface: servers}, port=SMTP_PORT)
    if not errors:
        errors.extend(gate["refusals"])
        if gate["after"]["leaks"] and not deny_after_permit:
            errors.append("a rule broader than TCP/25 admits SMTP from outside the ranges: it cannot be rewritten "
                          "without cutting other services. Narrow it by hand, or set hes_pfsense_deny_after_permit "
                          "to add 'block tcp any -> <mail server> port 25' right after the SMTP rule")
    alias_index, alias = find_alias(config, alias_name)
    findings = {
        "interface": interface,
        "rules": [{"section": r["section"], "index": r["index"], "label": r["rule"].label, "status": r["status"],
                   "category": r["category"], "tracker": r["element"].get("tracker"),
                   "associated": r["element"].get("associated-rule-id"),
                   "linked_nat": r["nat_index"] if r["section"] == "filter" else None,
                   "destination": _sets_text(r["destinations"]).split(", ")} for r in rules],
        "mail_servers": _sets_text(servers).split(", ") if any(servers.values()) else [],
        "alias": {"name": alias_name, "exists": alias is not None, "type": (alias or {}).get("type"),
                  "addresses": (alias or {}).get("address", "").split() if alias else []},
        "leaks": gate["after"]["leaks"],
        "blocked": gate["after"]["blocked"],
        "notes": after.notes,
    }
    return {"edits": edits, "changed": bool(edits),
            "description": describe_change(alias_edits, alias_change, rule_changes, alias_name),
            "changes": {"alias": alias_change, "rules": rule_changes}, "findings": findings, "errors": errors,
            "preview": preview(config, after_config, edits),
            "gate": {"ok": gate["ok"], "differential": gate["differential"], "refusals": gate["refusals"],
                     "changes": gate["changes"]},
            "after": after_config}


def _nothing_found(interface, alias_name, given):
    limit = " to %s" % ", ".join(str(s) for s in given) if given else ""
    return ("no inbound SMTP pass found%s on %s: looked for enabled pass rules and rdr-pass port forwards whose "
            "match is TCP/25 and nothing else (port 25, a 25-25 range or a port alias holding only 25) from any "
            "source or from alias %s, in the order pf evaluates them (floating, interface groups, %s); set "
            "hes_pfsense_interface or hes_pfsense_mail_servers" % (limit, interface, alias_name, interface))


# ---------------------------------------------------------------- restoring the saved revision

def _hostname(config):
    system = config.get("system") if isinstance(config.get("system"), dict) else {}
    return ".".join(p for p in (system.get("hostname"), system.get("domain")) if p)


def device_identity(config):
    """What a backup records of the firewall it was taken on."""
    return {"hostname": _hostname(config)}


def backup_restore_data(text, sha, edits):
    """The vendor part of the backup envelope (module_utils/hes_backup.py): config.xml as the plan
    read it, its SHA-256, and the edits the write applied to it."""
    return {"config_sha256": sha, "config_xml": text, "edits": edits}


def _check_edit(index, edit):
    """One recorded edit, shaped as plan_hardening writes them (apply_edits trusts the shape)."""
    if not isinstance(edit, dict) or edit.get("op") not in ("set", "insert") or \
            not isinstance(edit.get("path"), str) or not PATH_RE.fullmatch(edit["path"]) or \
            not isinstance(edit.get("expect", {}), dict) or \
            not all(isinstance(p, str) and PATH_RE.fullmatch(p) for p in edit.get("expect", {})) or \
            (edit["op"] == "insert" and (not isinstance(edit.get("index"), int) or edit["index"] < 0)):
        raise PfsensePlanError("backup: edit %d is not an edit the hardening writes: %r" % (index, edit))


def check_restore_data(data):
    if not isinstance(data, dict) or not isinstance(data.get("config_xml"), str) or \
            not isinstance(data.get("edits"), list):
        raise PfsensePlanError("backup: restore data is missing config_xml or edits")
    for index, edit in enumerate(data["edits"]):
        _check_edit(index, edit)
    try:
        data["config_xml"].encode("utf-8")
    except UnicodeEncodeError as exc:
        raise PfsensePlanError("backup: the saved config.xml is not UTF-8 text (%s)" % exc)
    if not isinstance(data.get("config_sha256"), str) or not re.fullmatch(r"[0-9a-f]{64}", data["config_sha256"]):
        raise PfsensePlanError("backup: config_sha256 is missing or not a SHA-256")
    if config_sha256(data["config_xml"]) != data["config_sha256"]:
        raise PfsensePlanError("backup: the saved config.xml does not match the SHA-256 recorded when it was saved "
                               "(%s); refusing to restore it" % data["config_sha256"][:12])
    return data


def plan_restore(current_text, data, force=False):
    """Whether and how to bring back the saved revision: ``{changed, errors, warnings, preview,
    saved_revision, current_revision}``. Refuses a backup whose content is not the one recorded or
    that was taken on another firewall, and (unless ``force``) a firewall whose configuration is
    no longer what the hardening wrote (the saved revision plus the recorded edits), because
    restoring would undo that later change as well."""
    check_restore_data(data)
    try:
        saved = parse_config(data["config_xml"])
    except ConfigError as exc:
        raise PfsensePlanError("backup: %s" % exc)
    current = parse_config(current_text)
    if _hostname(saved) != _hostname(current):
        raise PfsensePlanError("backup: taken on %s, but this firewall is %s; refusing to restore another "
                               "firewall's configuration" % (_hostname(saved) or "?", _hostname(current) or "?"))
    out = {"changed": False, "errors": [], "warnings": [], "preview": [],
           "saved_revision": revision(saved), "current_revision": revision(current)}
    if without_revision(current) == without_revision(saved):
        return out
    out["changed"] = True
    try:
        written = apply_edits(saved, data["edits"])
    except (ConfigError, KeyError, TypeError, ValueError):
        written = None
    if written is None or without_revision(written) != without_revision(current):
        message = ("config.xml changed after the hardening wrote it (now revision %s); restoring the saved revision "
                   "(%s) would undo that change as well"
                   % (revision_text(revision(current)), revision_text(revision(saved))))
        if force:
            out["warnings"].append(message)
        else:
            out["errors"].append(message + "; set hes_pfsense_rollback_force to restore anyway")
    for section in ("aliases", "filter", "nat"):
        old, new = current.get(section), saved.get(section)
        if old != new:
            header = "config.xml %s" % section
            out["preview"].append({"before_header": header, "after_header": header + " (saved revision)",
                                   "before": dump_element(section, old if old is not None else "", 1),
                                   "after": dump_element(section, new if new is not None else "", 1)})
    return out
