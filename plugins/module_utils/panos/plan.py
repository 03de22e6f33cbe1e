# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PAN-OS: plan the HES hardening and its rollback as XML API edits, apply them to a
configuration the way PAN-OS does, and gate the plan on the engine.

``plan_hardening(config, ranges, ...)`` returns the exact edits, ordered make-before-break (our
address objects, then the group, then the rules' sources, then the carve-out rules, and last the
deletion of our stale objects), with the findings, a backup and the gate's verdict. The edits are
applied to the configuration with ``apply_edits`` (set merges, edit replaces, delete removes,
move reorders: reference §4.1), both configurations go through ``panos.model`` and
``policy.gate.check_plan``; ``errors`` lists why the edits must not be sent.

What the planner touches: our address objects (name prefix AND description marker), the group,
the source of the SMTP rules it found or was pointed at (enabled allow rules whose match is TCP/25
and nothing else, from an untrust zone, from any source or already from our group) and, with
``deny_after_rule``, one carve-out rule of ours right after each of them: deny TCP/25 (any
application, our service object ``<prefix>tcp-25``) to that rule's destination from every source
outside our group (``negate-source``), so that flows from the ranges keep their verdict. A rule
that admits more than TCP/25 (application any with service any, a service group with DNS beside
SMTP, ...) is never rewritten: it is a broader rule, and the gate refuses while it admits SMTP
from outside the ranges.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import ipaddress
import re
import xml.etree.ElementTree as ET

from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import RangeError, guard_restored, parse_network
from ansible_collections.emailsec.hes.plugins.module_utils.panos.model import (
    applies,
    build_policy,
    path_name,
    resolve_members,
    rule_label,
    zone_names,
)
from ansible_collections.emailsec.hes.plugins.module_utils.panos.parse import (
    PanosError,
    clean_xml,
    literal_networks,
    parse_config,
)
from ansible_collections.emailsec.hes.plugins.module_utils.policy.engine import (
    is_smtp_only,
    leaks,
    projection,
    smtp_region,
    sources_are_any,
)
from ansible_collections.emailsec.hes.plugins.module_utils.policy.gate import (
    check_plan,
    describe_flow,
    finding_dict,
)
from ansible_collections.emailsec.hes.plugins.module_utils.policy.model import SMTP_APP
from ansible_collections.emailsec.hes.plugins.module_utils.policy.space import (
    DST,
    address_intervals_text,
    address_sets,
    addresses_subtract,
    addresses_union,
    any_addresses,
    interval,
    iv_covers,
    iv_intersect,
    iv_overlaps,
    no_addresses,
    region_intersect,
    region_subtract,
    witness,
)

DEFAULT_GROUP = "TM_HES_IP_RANGE"
DEFAULT_PREFIX = "TM_HES_"
MARKER = "managed by emailsec.hes"
BACKUP_FORMAT = 2
SMTP_PORT = 25
NAME_MAX = 63
# PAN-OS object names: letters, digits, underscore, hyphen, period and space, starting with an
# alphanumeric character or an underscore.
NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\- ]*")
PREFIX_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
# An administrator name as XML text: no control characters (C0, DEL, C1), surrogates, line
# separators or XML non-characters.
ADMIN_RE = re.compile(r"[^\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\ufffe\uffff]+")
DEVICE_XPATH = "/config/devices/entry[@name='localhost.localdomain']"
# Longest name this module builds: prefix + a full IPv6 address with ':' as '-' + '_128'.
LONGEST_SUFFIX = len("ffff-ffff-ffff-ffff-ffff-ffff-ffff-ffff_128")
DELETE_CHUNK = 40
SERVICE_SUFFIX = "tcp-25"
DENY_INFIX = "deny-"
REFERABLE = ("address", "address-group", "service", "service-group")


class PanosPlanError(PanosError):
    """Input or device state the plan cannot safely handle; the message names the culprit."""


# ---------------------------------------------------------------- naming and xpaths

def check_prefix(prefix):
    if not isinstance(prefix, str) or not PREFIX_RE.fullmatch(prefix):
        raise PanosPlanError("object_prefix %r: use letters, digits, '_', '-' or '.', starting with a "
                             "letter, digit or '_'" % (prefix,))
    if len(prefix) + LONGEST_SUFFIX > NAME_MAX:
        raise PanosPlanError("object_prefix %r is too long: names would exceed PAN-OS's %d characters "
                             "(at most %d characters)" % (prefix, NAME_MAX, NAME_MAX - LONGEST_SUFFIX))
    return prefix


def check_name(name, what):
    if not isinstance(name, str) or not NAME_RE.fullmatch(name) or len(name) > NAME_MAX:
        raise PanosPlanError("%s %r is not a valid PAN-OS name (at most %d of letters, digits, '_', '-', "
                             "'.', space)" % (what, name, NAME_MAX))
    return name


def object_name(network, prefix=DEFAULT_PREFIX):
    """``TM_HES_18.208.22.64_26``: readable, stable for a range, valid in PAN-OS (``:`` -> ``-``)."""
    net = parse_network(network, "ranges") if isinstance(network, str) else network
    return "%s%s_%d" % (prefix, net.network_address.compressed.replace(":", "-"), net.prefixlen)


def service_name(prefix):
    return prefix + SERVICE_SUFFIX


def deny_name(prefix, rule):
    """Our carve-out rule after ``rule``: ``TM_HES_deny-Inbound-SMTP`` (cut to 63 characters)."""
    return ("%s%s%s" % (prefix, DENY_INFIX, rule))[:NAME_MAX].rstrip()


def xpath_literal(value):
    if "'" not in value:
        return "'%s'" % value
    if '"' not in value:
        return '"%s"' % value
    raise PanosPlanError("name %r contains both quote characters" % (value,))


def vsys_xpath(vsys):
    return "%s/vsys/entry[@name=%s]" % (DEVICE_XPATH, xpath_literal(vsys))


def entry_xpath(base, name):
    return "%s/entry[@name=%s]" % (base, xpath_literal(name))


def is_managed(item, prefix):
    """Ours: the prefix AND the marker, so that a user's ``TM_HES_x`` is never touched."""
    return item["name"].startswith(prefix) and MARKER in (item.get("description") or "")


# ---------------------------------------------------------------- applying edits (reference §4.1)

_STEP_RE = re.compile(r"([A-Za-z0-9_\-]+)(?:\[(.*)\])?", re.DOTALL)
_NAME_TEST = r"""\s*@name\s*=\s*(?:'([^']*)'|"([^"]*)")\s*"""
# ``@name=`` tests joined by ``or``; a quoted name may itself hold " or ", quotes of the other kind, ``]``.
_PREDICATE_RE = re.compile(r"%s(?:or%s)*" % (_NAME_TEST, _NAME_TEST))


def _split_xpath(xpath):
    """``/config/a/entry[@name='x/y']`` -> [(tag, names or None)], names from ``@name=`` tests
    joined by ``or`` (the only predicate form our edits use)."""
    if not isinstance(xpath, str) or not xpath.startswith("/"):
        raise PanosPlanError("xpath %r is not absolute" % (xpath,))
    steps, depth, quote, current = [], 0, None, ""
    for char in xpath[1:]:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "/" and depth == 0:
            steps.append(current)
            current = ""
            continue
        current += char
    steps.append(current)
    out = []
    for step in steps:
        match = _STEP_RE.fullmatch(step)
        if not match:
            raise PanosPlanError("xpath %r: step %r is not one this planner writes" % (xpath, step))
        names = None
        if match.group(2) is not None:
            if not _PREDICATE_RE.fullmatch(match.group(2)):
                raise PanosPlanError("xpath %r: predicate %r is not one this planner writes" % (xpath, match.group(2)))
            names = [test.group(1) if test.group(1) is not None else test.group(2)
                     for test in re.finditer(_NAME_TEST, match.group(2))]
        out.append((match.group(1), names))
    return out


def _select(root, steps, create=False):
    """Nodes at ``steps`` below ``root`` (whose own tag is the first step)."""
    tag, names = steps[0]
    if root.tag != tag or names is not None:
        return []
    nodes = [root]
    for tag, names in steps[1:]:
        found = []
        for node in nodes:
            hits = [c for c in node if c.tag == tag and (names is None or c.get("name") in names)]
            if not hits and create:
                if names is not None and len(names) != 1:
                    raise PanosPlanError("cannot create %s for several names" % tag)
                child = ET.SubElement(node, tag, {"name": names[0]} if names else {})
                hits = [child]
            found.extend(hits)
        nodes = found
    return nodes


def _fragment(text):
    try:
        return list(ET.fromstring("<fragment>%s</fragment>" % (text or "")))
    except ET.ParseError as exc:
        raise PanosPlanError("element %r is not XML: %s" % (text, exc))


def _merge(parent, child):
    """``set``: merge ``child`` into ``parent`` (same-named entries recurse, leaves are replaced,
    members are added)."""
    if child.tag == "member":
        if not any(m.tag == "member" and (m.text or "").strip() == (child.text or "").strip() for m in parent):
            parent.append(copy.deepcopy(child))
        return
    same = [c for c in parent if c.tag == child.tag and c.get("name") == child.get("name")]
    if not same:
        parent.append(copy.deepcopy(child))
        return
    node = same[0]
    node.attrib.update(child.attrib)
    if len(child):
        for grandchild in child:
            _merge(node, grandchild)
    else:
        node.text = child.text


def _referrers(root, doomed):
    """Readable places that still refer by ``member`` to entries about to be deleted."""
    names = set()
    for node in doomed:
        if node.tag == "entry":
            names.add(node.get("name"))
    if not names:
        return []
    gone = set()
    for node in doomed:
        gone.update(node.iter())
    places = []

    def walk(elem, labels):
        for child in elem:
            if child in gone:
                continue
            label = child.tag if child.get("name") is None else "%s %s" % (child.tag, child.get("name"))
            if child.tag == "member" and (child.text or "").strip() in names:
                places.append("%s -> %s" % (" -> ".join(labels), (child.text or "").strip()))
            walk(child, labels + [label])

    walk(root, [])
    return places


def apply_edits(config, edits):
    """The configuration after PAN-OS ran ``edits`` (each ``{"action", "xpath", "element"}`` and,
    for ``move``, ``where`` and ``dst``) on the candidate ``config`` (not changed). Raises
    PanosPlanError where PAN-OS would refuse: an edit whose element does not match its xpath or
    whose parent is missing, a delete of an object something still refers to, a move to a rule
    that does not exist."""
    root = copy.deepcopy(config)
    for edit in edits:
        action, xpath = edit["action"], edit["xpath"]
        steps = _split_xpath(xpath)
        if action == "set":
            for parent in _select(root, steps, create=True):
                for child in _fragment(edit["element"]):
                    _merge(parent, child)
        elif action == "edit":
            elements = _fragment(edit["element"])
            tag, names = steps[-1]
            if len(elements) != 1 or elements[0].tag != tag or (names and elements[0].get("name") not in names):
                raise PanosPlanError("edit %s: the element must be one <%s>" % (xpath, tag))
            parents = _select(root, steps[:-1])
            if len(parents) != 1:
                raise PanosPlanError("edit %s: the parent node does not exist" % xpath)
            parent, new = parents[0], elements[0]
            old = [c for c in parent if c.tag == tag and (names is None or c.get("name") in names)]
            if old:
                if old[0].get("uuid") and not new.get("uuid"):
                    new.set("uuid", old[0].get("uuid"))
                index = list(parent).index(old[0])
                for node in old:
                    parent.remove(node)
                parent.insert(index, new)
            else:
                parent.append(new)
        elif action == "delete":
            doomed = _select(root, steps)
            used = _referrers(root, [n for n in doomed if steps[-2][0] in REFERABLE]) if len(steps) > 1 else []
            if used:
                raise PanosPlanError("delete %s: Reference count not zero (%s)" % (xpath, "; ".join(used)))
            for node in doomed:
                for parent in root.iter():
                    if node in list(parent):
                        parent.remove(node)
                        break
        elif action == "move":
            nodes = _select(root, steps)
            parents = _select(root, steps[:-1])
            if len(nodes) != 1 or len(parents) != 1:
                raise PanosPlanError("move %s: no such rule" % xpath)
            parent, node = parents[0], nodes[0]
            parent.remove(node)
            where, dst = edit.get("where"), edit.get("dst")
            if where == "top":
                parent.insert(0, node)
            elif where == "bottom":
                parent.append(node)
            elif where in ("before", "after"):
                anchor = [c for c in parent if c.get("name") == dst]
                if not anchor:
                    raise PanosPlanError("move %s %s %s: %s does not exist" % (xpath, where, dst, dst))
                index = list(parent).index(anchor[0])
                parent.insert(index + (1 if where == "after" else 0), node)
            else:
                raise PanosPlanError("move %s: where %r is not top, bottom, before or after" % (xpath, where))
        else:
            raise PanosPlanError("%r is not an action this planner sends" % (action,))
    return root


# ---------------------------------------------------------------- desired state

def _sort_key(value):
    try:
        net = ipaddress.ip_network(value, strict=False)
        return (net.version, int(net.network_address), net.prefixlen, "")
    except ValueError:
        return (9, 0, 0, value or "")


def desired_from_ranges(ranges, group_name, rule_names, prefix=DEFAULT_PREFIX, denies=()):
    """Desired state for hardening: one object per range, the group of exactly those, rules ->
    group, and our carve-out rules after the rules named in ``denies``."""
    check_prefix(prefix)
    check_name(group_name, "group name")
    if not ranges:
        raise PanosPlanError("ranges is empty: refusing to build an empty %s" % group_name)
    addresses = {}
    for index, entry in enumerate(ranges):
        try:
            net = parse_network(entry, "ranges[%d]" % index) if isinstance(entry, str) else entry
        except RangeError as exc:
            raise PanosPlanError(str(exc))
        addresses[object_name(net, prefix)] = {"type": "ip-netmask", "value": str(net)}
    return {"addresses": addresses, "group": sorted(addresses, key=lambda n: _sort_key(addresses[n]["value"])),
            "rules": dict((name, [group_name]) for name in rule_names),
            "denies": dict((deny_name(prefix, rule), rule) for rule in denies)}


def address_element(name, obj):
    entry = ET.Element("entry", {"name": name})
    ET.SubElement(entry, obj["type"]).text = obj["value"]
    ET.SubElement(entry, "description").text = MARKER
    return entry


def members_element(tag, values):
    node = ET.Element(tag)
    for value in values:
        ET.SubElement(node, "member").text = value
    return node


def service_element(name):
    entry = ET.Element("entry", {"name": name})
    tcp = ET.SubElement(ET.SubElement(entry, "protocol"), "tcp")
    ET.SubElement(tcp, "port").text = str(SMTP_PORT)
    ET.SubElement(entry, "description").text = MARKER
    return entry


def deny_element(name, rule, group_name, prefix):
    """Our carve-out after ``rule``: its zones, rule type and destination; TCP/25 of any
    application; every source outside our group."""
    entry = ET.Element("entry", {"name": name})
    for tag, values in (("from", rule["from"]), ("to", rule["to"]), ("source", [group_name]),
                        ("destination", rule["destination"]), ("source-user", ["any"]), ("category", ["any"]),
                        ("application", ["any"]), ("service", [service_name(prefix)]),
                        ("source-hip", ["any"]), ("destination-hip", ["any"])):
        entry.append(members_element(tag, values))
    ET.SubElement(entry, "negate-source").text = "yes"
    if rule["negate_destination"]:
        ET.SubElement(entry, "negate-destination").text = "yes"
    if rule["rule_type"] != "universal":
        ET.SubElement(entry, "rule-type").text = rule["rule_type"]
    ET.SubElement(entry, "action").text = "deny"
    ET.SubElement(entry, "log-end").text = "yes"
    ET.SubElement(entry, "description").text = "%s: TCP/25 from outside %s after rule %s" % (
        MARKER, group_name, rule["name"])
    return entry


def _deny_fields(rule):
    return (rule["from"], rule["to"], rule["source"], rule["negate_source"], rule["destination"],
            rule["negate_destination"], rule["application"], rule["service"], rule["action"], rule["rule_type"],
            rule["disabled"], rule["source_user"], rule["category"], rule["schedule"])


def to_xml(*elements):
    return "".join(ET.tostring(e, encoding="unicode") for e in elements)


def _quote(name):
    return '"%s"' % name if " " in name else name


def _list(values):
    return "[ %s ]" % " ".join(_quote(v) for v in values)


def _edit(action, xpath, element, command, kind, **extra):
    if isinstance(element, list):
        element_text = to_xml(*element)
    elif element is not None:
        element_text = to_xml(element)
    else:
        element_text = None
    edit = {"action": action, "xpath": xpath, "element": element_text, "kind": kind,
            "commands": [command] if command else []}
    edit.update(extra)
    return edit


def request(edit):
    """The XML API request of an edit: what the module sends and check mode shows."""
    keys = ("action", "xpath", "element") + (("where", "dst") if edit["action"] == "move" else ())
    return dict((key, edit[key]) for key in keys)


def plan(config, desired, group_name=DEFAULT_GROUP, prefix=DEFAULT_PREFIX):
    """The ordered edits from ``config`` (``parse.parse_config``) to ``desired``, make-before-break.

    Order: new and drifted address objects, the group, the rule sources, our service object and
    carve-out rules (set, then moved right after their rule), then removals: the group (rollback),
    our carve-out rules and service no longer wanted, our stale objects. Rules never point at
    something that does not yet or no longer exists.
    Returns ``{"edits": [...], "warnings": [...], "before": view}``.
    """
    vsys = config["vsys"]
    base = vsys_xpath(vsys)
    rules_xpath = base + "/rulebase/security/rules"
    edits, warnings = [], []
    current = config["addresses"]

    taken = config["addresses"].get(group_name)
    if taken is not None:
        raise PanosPlanError("group name %r is taken by address object %s (%s %s, %s scope): PAN-OS keeps address "
                             "objects and address groups in one namespace; choose another hes_group_name"
                             % (group_name, group_name, taken["type"], taken["value"], taken["scope"]))
    creates = []
    for name, obj in sorted(desired["addresses"].items(), key=lambda item: _sort_key(item[1]["value"])):
        if name in config["groups"]:
            raise PanosPlanError("address object name %r is taken by an address group (%s scope): PAN-OS keeps address "
                                 "objects and address groups in one namespace; rename that group or choose another "
                                 "object_prefix" % (name, config["groups"][name]["scope"]))
        existing = current.get(name)
        if existing is None:
            creates.append(address_element(name, obj))
            continue
        if not is_managed(existing, prefix):
            raise PanosPlanError(
                "address object %r already exists (%s %s) and is not managed by emailsec.hes (its "
                "description lacks %r); rename it or choose another object_prefix"
                % (name, existing["type"], existing["value"], MARKER))
        if existing["scope"] != "vsys":
            raise PanosPlanError("address object %r exists in the shared scope; emailsec.hes manages "
                                 "its objects in vsys %s" % (name, vsys))
        if (existing["type"], existing["value"]) != (obj["type"], obj["value"]):
            edits.append(_edit("edit", entry_xpath(base + "/address", name), address_element(name, obj),
                               "edit %s address %s %s %s" % (vsys, name, obj["type"], obj["value"]),
                               "address"))
    if creates:
        edit = _edit("set", base + "/address", creates, None, "address")
        edit["commands"] = ["set %s address %s %s %s description \"%s\"" % (
            vsys, e.get("name"), e[0].tag, e[0].text, MARKER) for e in creates]
        edits.insert(0, edit)

    group = config["groups"].get(group_name)
    want_group = desired["group"]
    group_xpath = entry_xpath(base + "/address-group", group_name)
    if group is not None and group["scope"] != "vsys":
        raise PanosPlanError("address group %r exists in the shared scope; emailsec.hes manages it in "
                             "vsys %s" % (group_name, vsys))
    if want_group is not None:
        if group is None:
            entry = ET.Element("entry", {"name": group_name})
            entry.append(members_element("static", want_group))
            ET.SubElement(entry, "description").text = MARKER
            edits.append(_edit("set", base + "/address-group", [entry],
                               "set %s address-group %s static %s" % (vsys, group_name, _list(want_group)),
                               "group"))
        elif group["dynamic"] is not None:
            entry = ET.Element("entry", {"name": group_name})
            entry.append(members_element("static", want_group))
            ET.SubElement(entry, "description").text = group["description"] or MARKER
            edits.append(_edit("edit", group_xpath, entry,
                               "edit %s address-group %s static %s (was dynamic)"
                               % (vsys, group_name, _list(want_group)), "group"))
        elif set(group["static"]) != set(want_group):
            edits.append(_edit("edit", group_xpath + "/static", members_element("static", want_group),
                               "edit %s address-group %s static %s" % (vsys, group_name, _list(want_group)),
                               "group"))

    rules_by_name = dict((rule["name"], rule) for rule in config["rules"])
    for name, sources in sorted(desired["rules"].items(), key=lambda item: _rule_index(rules_by_name, item[0])):
        rule = rules_by_name.get(name)
        if rule is None:
            raise PanosPlanError("security rule %r not found in vsys %s" % (name, vsys))
        if rule["source"] != sources or (rule["negate_source"] and sources == [group_name]):
            edits.append(_edit("edit", entry_xpath(rules_xpath, name) + "/source", members_element("source", sources),
                               "edit %s rulebase security rules %s source %s" % (vsys, _quote(name), _list(sources)),
                               "rule"))

    edits.extend(_plan_denies(config, desired, group_name, prefix, rules_xpath))

    if want_group is None and group is not None:
        edits.append(_edit("delete", group_xpath, None, "delete %s address-group %s" % (vsys, group_name), "group"))

    stale = sorted(name for name, obj in current.items()
                   if obj["scope"] == "vsys" and is_managed(obj, prefix) and name not in desired["addresses"])
    deletable = []
    for name in stale:
        users = [place for place in config["references"].get(name, [])
                 if place != "address-group entry %s static" % group_name]
        if users:
            warnings.append("keeping stale object %s: still referenced by %s" % (name, "; ".join(users)))
        else:
            deletable.append(name)
    for start in range(0, len(deletable), DELETE_CHUNK):
        chunk = deletable[start:start + DELETE_CHUNK]
        predicate = " or ".join("@name=%s" % xpath_literal(n) for n in chunk)
        edit = _edit("delete", "%s/address/entry[%s]" % (base, predicate), None, None, "address")
        edit["commands"] = ["delete %s address %s" % (vsys, n) for n in chunk]
        edits.append(edit)

    return {"edits": edits, "warnings": warnings, "before": view(config, group_name, prefix, list(desired["rules"]))}


def converge(config, parsed, desired, group_name, prefix):
    """``plan`` from the XML ``config`` (parsed as ``parsed``) to ``desired``, with the edits
    applied: ``after_config`` (parsed) and the ``after`` view are what the device will hold."""
    planned = plan(parsed, desired, group_name, prefix)
    planned["after_config"] = parse_config(apply_edits(config, planned["edits"]), parsed["vsys"])
    planned["after"] = view(planned["after_config"], group_name, prefix, list(desired["rules"]))
    return planned


def _rule_index(rules_by_name, name):
    rule = rules_by_name.get(name)
    return (rule["index"] if rule else 0, name)


def _managed_denies(config, prefix):
    return dict((rule["name"], rule) for rule in config["rules"]
                if rule["name"].startswith(prefix + DENY_INFIX) and is_managed(rule, prefix))


def _plan_denies(config, desired, group_name, prefix, rules_xpath):
    """Edits for our service object and carve-out rules: wanted ones created, corrected and placed
    right after their rule; unwanted ones of ours removed."""
    vsys = config["vsys"]
    base = vsys_xpath(vsys)
    edits, removals = [], []
    rules_by_name = dict((rule["name"], rule) for rule in config["rules"])
    order = [rule["name"] for rule in config["rules"]]
    ours = _managed_denies(config, prefix)
    service = service_name(prefix)
    existing_service = config["services"].get(service)
    wanted = desired.get("denies") or {}
    if wanted:
        if existing_service is not None and not is_managed(existing_service, prefix):
            raise PanosPlanError("service %r already exists and is not managed by emailsec.hes (its description "
                                 "lacks %r); rename it or choose another object_prefix" % (service, MARKER))
        if existing_service is None or existing_service["scope"] != "vsys" or \
                (existing_service["protocol"], existing_service["port"], existing_service["source_port"]) != \
                ("tcp", str(SMTP_PORT), None):
            action = "set" if existing_service is None else "edit"
            xpath = base + "/service" if existing_service is None else entry_xpath(base + "/service", service)
            element = [service_element(service)] if existing_service is None else service_element(service)
            edits.append(_edit(action, xpath, element, "%s %s service %s protocol tcp port %d"
                               % (action, vsys, service, SMTP_PORT), "service"))
    for name, after in sorted(wanted.items(), key=lambda item: _rule_index(rules_by_name, item[1])):
        check_name(name, "carve-out rule name")
        rule = rules_by_name.get(after)
        if rule is None:
            raise PanosPlanError("security rule %r not found in vsys %s" % (after, vsys))
        existing = rules_by_name.get(name)
        if existing is not None and name not in ours:
            raise PanosPlanError("security rule %r already exists and is not managed by emailsec.hes; rename it "
                                 "or choose another object_prefix" % name)
        element = deny_element(name, rule, group_name, prefix)
        text = "deny TCP/25 to %s from outside %s, right after %s" % (
            ", ".join(rule["destination"]), group_name, after)
        if existing is None:
            edits.append(_edit("set", rules_xpath, [element], "set %s rulebase security rules %s: %s"
                               % (vsys, _quote(name), text), "deny"))
            position = None
        else:
            model_fields = _deny_fields(parse_entry_rule(element))
            if _deny_fields(existing) != model_fields:
                edits.append(_edit("edit", entry_xpath(rules_xpath, name), element,
                                   "edit %s rulebase security rules %s: %s" % (vsys, _quote(name), text), "deny"))
            position = order.index(name)
        if position is None or position != order.index(after) + 1:
            edits.append(_edit("move", entry_xpath(rules_xpath, name), None,
                               "move %s rulebase security rules %s after %s" % (vsys, _quote(name), _quote(after)),
                               "deny", where="after", dst=after))
    for name in sorted(set(ours) - set(wanted)):
        removals.append(_edit("delete", entry_xpath(rules_xpath, name), None,
                              "delete %s rulebase security rules %s" % (vsys, _quote(name)), "deny"))
    if not wanted and existing_service is not None and is_managed(existing_service, prefix) and \
            existing_service["scope"] == "vsys":
        users = [place for place in config["references"].get(service, [])
                 if not any(place == "rulebase security rules entry %s service" % n for n in ours)]
        if not users:
            removals.append(_edit("delete", entry_xpath(base + "/service", service), None,
                                  "delete %s service %s" % (vsys, service), "service"))
    return edits + removals


def parse_entry_rule(element):
    """The config-dict form of one rule element (to compare ours with what the device has)."""
    holder = ET.Element("config")
    vsys = ET.SubElement(ET.SubElement(ET.SubElement(ET.SubElement(holder, "devices"), "entry",
                                                     {"name": "localhost.localdomain"}), "vsys"),
                         "entry", {"name": "vsys1"})
    ET.SubElement(ET.SubElement(ET.SubElement(vsys, "rulebase"), "security"), "rules").append(copy.deepcopy(element))
    return parse_config(holder, "vsys1")["rules"][0]


def view(config, group_name, prefix, rule_names):
    """What we manage on the device, as plain data for diff and backup comparison."""
    group = config["groups"].get(group_name)
    service = config["services"].get(service_name(prefix))
    return {
        "addresses": dict((name, obj["value"]) for name, obj in config["addresses"].items()
                          if obj["scope"] == "vsys" and is_managed(obj, prefix)),
        "group": None if group is None else sorted(group["static"]),
        "rules": dict((rule["name"], rule["source"]) for rule in config["rules"] if rule["name"] in rule_names),
        "denies": _deny_view(config, prefix),
        "service": service is not None and is_managed(service, prefix),
    }


def _deny_view(config, prefix):
    """{our carve-out rule: the rule right above it}."""
    ours = _managed_denies(config, prefix)
    out = {}
    for index, rule in enumerate(config["rules"]):
        if rule["name"] in ours:
            out[rule["name"]] = config["rules"][index - 1]["name"] if index else None
    return out


def render_view(data, group_name):
    """A stable text form of a view for Ansible's --diff (one line per object, member and rule)."""
    lines = ["address objects:"]
    for name in sorted(data["addresses"], key=lambda n: _sort_key(data["addresses"][n])):
        lines.append("  %s %s" % (name, data["addresses"][name]))
    if data["group"] is None:
        lines.append("address-group %s: absent" % group_name)
    else:
        lines.append("address-group %s:" % group_name)
        lines.extend("  %s" % member for member in data["group"])
    lines.append("security rules (source):")
    for name in sorted(data["rules"]):
        lines.append("  %s: %s" % (name, ", ".join(data["rules"][name])))
    if data.get("denies"):
        lines.append("carve-out rules (deny TCP/25 from outside %s):" % group_name)
        for name in sorted(data["denies"]):
            lines.append("  %s: right after %s" % (name, data["denies"][name]))
    return "\n".join(lines) + "\n"


def commands(edits):
    return [command for edit in edits for command in edit["commands"]]


def commit_command(admin, foreign):
    return "commit" if foreign else "commit partial admin [ %s ]" % admin


def check_admin(admin):
    """The administrator name (provider.username) when an op command can carry it as XML text."""
    if not isinstance(admin, str) or not ADMIN_RE.fullmatch(admin):
        raise PanosPlanError("provider.username %r: expected a name without control characters, line "
                             "separators or characters XML cannot carry" % (admin,))
    return admin


def revert_command(admin):
    """The op command that reverts ``admin``'s candidate changes only, with the name escaped."""
    cmd = ET.Element("revert")
    partial = ET.SubElement(ET.SubElement(cmd, "config"), "partial")
    ET.SubElement(ET.SubElement(partial, "admin"), "member").text = check_admin(admin)
    return to_xml(cmd)


# ---------------------------------------------------------------- discovery

def _networks(values, option, config):
    """Mail servers (addresses, networks or address-object names) -> address sets."""
    sets = no_addresses()
    for index, item in enumerate(values or []):
        if not isinstance(item, str) or not item:
            raise PanosPlanError("%s[%d]: %r is not an address or an object name" % (option, index, item))
        nets = literal_networks(item)
        if nets is not None:
            sets = addresses_union(sets, address_sets(nets))
            continue
        check_name(item, "%s[%d]" % (option, index))
        if item not in config["addresses"] and item not in config["groups"]:
            raise PanosPlanError("%s[%d]: %r is neither an address nor an address object or group of vsys %s"
                                 % (option, index, item, config["vsys"]))
        span = resolve_members(config, [item])
        if span.doubts:
            raise PanosPlanError("%s[%d]: %s; give the mail server's address instead"
                                 % (option, index, "; ".join(span.doubts)))
        sets = addresses_union(sets, span.low)
    return sets


def _sets_text(sets):
    return ", ".join(address_intervals_text(f, sets[f], limit=8) for f in (4, 6) if sets[f])


def _overlaps(a, b):
    return any(iv_overlaps(a[f], b[f]) for f in (4, 6))


def _covers(outer, inner):
    return all(iv_covers(outer[f], inner[f]) for f in (4, 6))


def _inbound_rule(rule, untrust_zones, zones):
    return any(applies(rule, u, z) for u in untrust_zones for z in zones)


def find_smtp_rules(config, models, untrust_zones, group_name, servers_given, apps=None):
    """SMTP rules reachable from an untrust zone: status ``replace`` (from any) or ``hardened``
    (from our group), limited to those reaching ``servers_given`` when given; and the broader
    allow rules there that admit TCP/25 to those servers besides other traffic."""
    zones = zone_names(config)
    found, broader = [], []
    target = smtp_region(any_addresses(), servers_given or any_addresses(), SMTP_PORT)
    for rule in config["rules"]:
        model = models.get(rule["name"])
        if model is None or model.action != "permit" or not _inbound_rule(rule, untrust_zones, zones):
            continue
        destinations = projection(model.match, DST)
        if not is_smtp_only(model, SMTP_PORT):
            extra = region_subtract(model.match, smtp_region(any_addresses(), any_addresses(), SMTP_PORT))
            if region_intersect(model.match, target):
                broader.append({"name": rule["name"], "index": rule["index"], "model": model,
                                "beyond_smtp": describe_flow(witness(extra), apps) if extra else None})
            continue
        if servers_given and not _overlaps(destinations, servers_given):
            continue
        if rule["source"] == [group_name] and not rule["negate_source"]:
            status = "hardened"
        elif sources_are_any(model):
            status = "replace"
        else:
            continue
        found.append({"name": rule["name"], "index": rule["index"], "status": status, "rule": rule,
                      "model": model, "destinations": destinations})
    return found, broader


def _named_rules(config, models, names, untrust_zones, group_name, apps=None):
    """The rules named in ``hes_panos_rules``: each must exist and be an SMTP rule we may rewrite."""
    by_name = dict((rule["name"], rule) for rule in config["rules"])
    missing = [name for name in names if name not in by_name]
    if missing:
        raise PanosPlanError("security rule(s) %s not found in vsys %s (rules there: %s)" % (
            ", ".join(repr(n) for n in missing), config["vsys"], ", ".join(sorted(by_name)) or "none"))
    found, errors = [], []
    zones = zone_names(config)
    for name in names:
        rule = by_name[name]
        model = models.get(name)
        label = rule_label(rule)
        if model is None:
            errors.append("%s is disabled: nothing to harden there" % label)
            continue
        if model.action != "permit":
            errors.append("%s is not an allow rule (action %s)" % (label, rule["action"]))
            continue
        if not is_smtp_only(model, SMTP_PORT):
            extra = region_subtract(model.match, smtp_region(any_addresses(), any_addresses(), SMTP_PORT))
            reason = ("it cannot be resolved (%s)" % "; ".join(model.uncertain)) if model.uncertain else \
                "it admits more than TCP/25, e.g. %s" % describe_flow(witness(extra), apps)
            errors.append("%s is not an SMTP-only rule: %s; it is a broader rule and is never rewritten"
                          % (label, reason))
            continue
        if not _inbound_rule(rule, untrust_zones, zones):
            errors.append("%s does not apply from zone(s) %s" % (label, ", ".join(untrust_zones)))
            continue
        if rule["source"] == [group_name] and not rule["negate_source"]:
            status = "hardened"
        elif sources_are_any(model):
            status = "replace"
        else:
            errors.append("%s has source %s%s: only rules from any (or already from %s) are rewritten"
                          % (label, ", ".join(rule["source"]), " (negated)" if rule["negate_source"] else "",
                             group_name))
            continue
        found.append({"name": name, "index": rule["index"], "status": status, "rule": rule, "model": model,
                      "destinations": projection(model.match, DST)})
    return found, errors


# ---------------------------------------------------------------- the plan

def find_mail_zones(config, found, untrust_zones, given):
    """The zones of the mail servers: ``given``, else the destination zones of the SMTP rules
    found; (zones, a note when a rule's zone is any)."""
    zones = zone_names(config)
    if given:
        unknown = [z for z in given if z not in zones]
        if unknown:
            raise PanosPlanError("hes_panos_mail_zones: zone(s) %s not found in vsys %s (zones: %s)"
                                 % (", ".join(unknown), config["vsys"], ", ".join(zones) or "none"))
        return list(given), None
    out, note = [], None
    for item in found:
        for zone in item["rule"]["to"]:
            if zone == "any":
                note = ("%s has destination zone any: the mail servers' zone is taken as every zone but %s; "
                        "set hes_panos_mail_zones to name it" % (rule_label(item["rule"]), ", ".join(untrust_zones)))
                out.extend(z for z in zones if z not in untrust_zones)
            else:
                out.append(zone)
    return sorted(set(out)), note


def plan_hardening(config, ranges, vsys="vsys1", group_name=DEFAULT_GROUP, prefix=DEFAULT_PREFIX, rules=(),
                   untrust_zones=("untrust",), mail_servers=(), mail_zones=(), deny_after_rule=False, device=None):
    """Plan the hardening of a candidate ``/config`` element.

    Returns ``{edits, requests, commands, changed, findings, backup, errors, warnings, before,
    after, gate}``; ``errors`` lists the reasons not to send the edits (which are then still the
    plan that would apply)."""
    check_prefix(prefix)
    check_name(group_name, "group_name")
    untrust_zones = list(untrust_zones or [])
    if not untrust_zones:
        raise PanosPlanError("untrust_zones is empty: name the zone(s) mail arrives from")
    for index, zone in enumerate(untrust_zones):
        check_name(zone, "untrust_zones[%d]" % index)
    for index, zone in enumerate(mail_zones or []):
        check_name(zone, "mail_zones[%d]" % index)
    for index, name in enumerate(rules or []):
        check_name(name, "rules[%d]" % index)
    parsed = parse_config(config, vsys)
    known_zones = zone_names(parsed)
    unknown = [z for z in untrust_zones if z not in known_zones]
    if unknown:
        raise PanosPlanError("untrust_zones: zone(s) %s not found in vsys %s (zones: %s)"
                             % (", ".join(unknown), vsys, ", ".join(known_zones) or "none"))
    desired = desired_from_ranges(ranges, group_name, [], prefix)
    range_sets = address_sets(ipaddress.ip_network(obj["value"]) for obj in desired["addresses"].values())
    given = _networks(mail_servers, "mail_servers", parsed) if mail_servers else None

    before = build_policy(parsed)
    models = dict((path_rule.origin["name"], path_rule) for path in before.paths.values()
                  for stage, chain, path_rule in path.all_rules() if path_rule.key.startswith("rule|"))
    errors = []
    if rules:
        found, errors = _named_rules(parsed, models, list(rules), untrust_zones, group_name, before.apps)
        broader = find_smtp_rules(parsed, models, untrust_zones, group_name, given, before.apps)[1]
    else:
        found, broader = find_smtp_rules(parsed, models, untrust_zones, group_name, given, before.apps)
    servers = given
    if servers is None:
        servers = no_addresses()
        for item in found:
            servers = addresses_union(servers, item["destinations"])
    if not found and not errors:
        errors.append(_nothing_found(parsed, untrust_zones, group_name, given, broader))
    elif given is not None and not errors:
        reached = no_addresses()
        for item in found:
            reached = addresses_union(reached, item["destinations"])
        if not _covers(reached, given):
            errors.append("no SMTP rule (TCP/25 only, from any or from %s) from zone(s) %s reaches mail server(s) %s"
                          % (group_name, ", ".join(untrust_zones), _sets_text(addresses_subtract(given, reached))))
    zones, zone_note = find_mail_zones(parsed, found, untrust_zones, mail_zones)
    inbound = [path_name(u, m) for u in untrust_zones for m in zones]
    names = [item["name"] for item in found]
    desired["rules"] = dict((name, [group_name]) for name in names)
    # Carve-outs already in place stay wanted: a second run must not remove them.
    existing_denies = dict((deny_name(prefix, item["name"]), item["name"]) for item in found
                           if deny_name(prefix, item["name"]) in _managed_denies(parsed, prefix))
    desired["denies"] = existing_denies if deny_after_rule else {}

    planned = converge(config, parsed, desired, group_name, prefix)
    after = build_policy(planned["after_config"], apps=before.apps, previous=(parsed, before))
    leak_findings = [f for name in inbound if name in after.paths
                     for f in leaks(after.paths[name], range_sets, servers, SMTP_PORT)]
    if leak_findings and deny_after_rule and not errors:
        denies, carve_errors = _carve_outs(after, planned["after_config"], leak_findings, found, prefix)
        errors.extend(carve_errors)
        if set(denies) - set(desired["denies"]):
            desired["denies"] = dict(desired["denies"], **denies)
            planned = converge(config, parsed, desired, group_name, prefix)
            after = build_policy(planned["after_config"], apps=before.apps, previous=(parsed, before))
    served = served_servers(inbound, found, servers, planned["after_config"])
    gate = check_plan(before, after, inbound, range_sets, servers, served, port=SMTP_PORT,
                      smtp_apps=interval(SMTP_APP, SMTP_APP))
    if not errors:
        errors.extend(gate["refusals"])
        if gate["after"]["leaks"] and not deny_after_rule:
            errors.append("a rule broader than TCP/25 admits SMTP from outside the ranges: it cannot be rewritten "
                          "without cutting other services. Narrow it by hand, or set hes_panos_deny_after_rule to "
                          "add a rule right after the SMTP rule that denies TCP/25 from outside %s" % group_name)

    findings = {
        "rules": [{"name": item["name"], "index": item["index"], "status": item["status"],
                   "from": item["rule"]["from"], "to": item["rule"]["to"],
                   "destination": item["rule"]["destination"],
                   "addresses": _sets_text(item["destinations"]).split(", ")} for item in found],
        "broader": [{"name": item["name"], "index": item["index"], "beyond_smtp": item["beyond_smtp"],
                     "uncertain": list(item["model"].uncertain)} for item in broader],
        "mail_servers": _sets_text(servers).split(", ") if any(servers.values()) else [],
        "mail_zones": zones,
        "inbound_paths": inbound,
        "group": {"name": group_name, "exists": group_name in parsed["groups"],
                  "members": list(parsed["groups"][group_name]["static"]) if group_name in parsed["groups"] else []},
        "leaks": gate["after"]["leaks"],
        "blocked": gate["after"]["blocked"],
        "notes": before.notes + ([zone_note] if zone_note else []),
    }
    return {"edits": planned["edits"], "requests": [request(e) for e in planned["edits"]],
            "commands": commands(planned["edits"]), "changed": bool(planned["edits"]),
            "findings": findings, "errors": errors, "warnings": planned["warnings"],
            "before": planned["before"], "after": planned["after"],
            "backup": backup_data(parsed, group_name, prefix, names, device),
            "gate": {"ok": gate["ok"], "differential": gate["differential"], "refusals": gate["refusals"],
                     "changes": gate["changes"]}}


def served_servers(inbound, found, servers, after_config):
    """{inbound path: the mail servers its SMTP rules serve}: Q2 asks each path only about those."""
    served = {}
    zones = zone_names(after_config)
    for name in inbound:
        from_zone, to_zone = name.split("->", 1)
        sets = no_addresses()
        for item in found:
            if from_zone in zones and applies(item["rule"], from_zone, to_zone):
                sets = addresses_union(sets, item["destinations"])
        served[name] = dict((f, iv_intersect(sets[f], servers[f])) for f in (4, 6))
    return served


def _nothing_found(config, untrust_zones, group_name, given, broader):
    limit = " to %s" % _sets_text(given) if given else ""
    text = ("no inbound SMTP rule found in vsys %s%s: looked for enabled allow rules from zone(s) %s whose match "
            "is TCP/25 and nothing else (application smtp with application-default, or a service of tcp/25 only) "
            "from any source or from %s" % (config["vsys"], limit, ", ".join(untrust_zones), group_name))
    if broader:
        text += "; broader rules admit TCP/25 there and are never rewritten: %s" % "; ".join(
            "%s (%s)" % (item["model"].label, "also admits %s" % item["beyond_smtp"] if item["beyond_smtp"]
                         else "uncertain: %s" % "; ".join(item["model"].uncertain))
            for item in broader)
    return text + "; name the rules with hes_panos_rules, or narrow the broader rules by hand"


def _carve_outs(after, after_config, leak_findings, found, prefix):
    """Where a carve-out right after our rule stops each leak: {deny rule name: our rule}."""
    denies, errors = {}, []
    order = [rule["name"] for rule in after_config["rules"]]
    for finding in leak_findings:
        culprit = finding.rule
        hit = projection(finding.cubes, DST)
        from_zone, to_zone = finding.path.split("->", 1)
        fixed = False
        for item in found:
            if not _overlaps(item["destinations"], hit) or not applies(item["rule"], from_zone, to_zone):
                continue
            if culprit is not None and culprit.origin.get("name") in order and \
                    order.index(culprit.origin["name"]) < order.index(item["name"]):
                continue
            denies[deny_name(prefix, item["name"])] = item["name"]
            fixed = True
        if not fixed:
            data = finding_dict(finding, after.apps)
            errors.append("%s admits TCP/25 from outside the ranges (e.g. %s) on path %s and comes before (or "
                          "without) the SMTP rule for that mail server, so a carve-out after that rule would not stop "
                          "it; move or narrow it by hand" % (data["rule"], data["witness_text"], finding.path))
    return denies, errors


# ---------------------------------------------------------------- backup and rollback

def backup_data(config, group_name, prefix, rule_names, device):
    """What a rollback needs: our objects, the group, the touched rules' sources and our
    carve-out rules, before the change."""
    group = config["groups"].get(group_name)
    return {
        "format": BACKUP_FORMAT,
        "device": device,
        "vsys": config["vsys"],
        "group_name": group_name,
        "prefix": prefix,
        "addresses": dict((name, {"type": obj["type"], "value": obj["value"]})
                          for name, obj in config["addresses"].items()
                          if obj["scope"] == "vsys" and is_managed(obj, prefix)),
        "group": None if group is None else {"static": list(group["static"]), "dynamic": group["dynamic"],
                                             "description": group["description"]},
        "rules": dict((rule["name"], list(rule["source"])) for rule in config["rules"] if rule["name"] in rule_names),
        "denies": _deny_view(config, prefix),
    }


def check_backup(backup):
    """Validate a backup written by ``plan_hardening`` before anything in it reaches an edit."""
    if not isinstance(backup, dict) or backup.get("format") not in (1, BACKUP_FORMAT):
        raise PanosPlanError("backup: not an emailsec.hes PAN-OS backup (format %r, expected %d)"
                             % (backup.get("format") if isinstance(backup, dict) else backup, BACKUP_FORMAT))
    for key in ("vsys", "group_name", "prefix", "addresses", "group", "rules"):
        if key not in backup:
            raise PanosPlanError("backup lacks %r: not a backup written by emailsec.hes.panos" % key)
    check_name(backup["vsys"], "backup vsys")
    check_name(backup["group_name"], "backup group_name")
    check_prefix(backup["prefix"])
    if not isinstance(backup["addresses"], dict):
        raise PanosPlanError("backup addresses: not a mapping")
    for name, obj in backup["addresses"].items():
        check_name(name, "backup address")
        if not name.startswith(backup["prefix"]):
            raise PanosPlanError("backup address %r lacks the prefix %r" % (name, backup["prefix"]))
        if not isinstance(obj, dict) or obj.get("type") != "ip-netmask":
            raise PanosPlanError("backup address %r: type %r is not ip-netmask"
                                 % (name, obj.get("type") if isinstance(obj, dict) else obj))
        try:
            guard_restored(obj.get("value"), "backup address %s" % name)
        except RangeError as exc:
            raise PanosPlanError(str(exc))
    group = backup["group"]
    if group is not None:
        if not isinstance(group, dict) or not isinstance(group.get("static"), list):
            raise PanosPlanError("backup group: 'static' is missing or not a list")
        for member in group["static"]:
            check_name(member, "backup group member")
    if not isinstance(backup["rules"], dict):
        raise PanosPlanError("backup rules: not a mapping")
    for name, sources in backup["rules"].items():
        check_name(name, "backup rule")
        if not isinstance(sources, list) or not sources:
            raise PanosPlanError("backup rule %r: sources %r are not a non-empty list" % (name, sources))
        for source in sources:
            if not isinstance(source, str) or source != source.strip() or literal_networks(source) is None:
                check_name(source, "backup rule %s source" % name)
    if not isinstance(backup.get("denies") or {}, dict):
        raise PanosPlanError("backup denies: %r is not a mapping" % (backup.get("denies"),))
    for name, after in (backup.get("denies") or {}).items():
        check_name(name, "backup carve-out rule")
        if after is not None:
            check_name(after, "backup carve-out rule %s position" % name)
    return backup


def desired_from_backup(backup):
    """Desired state for a rollback: the managed objects, group members, rule sources and
    carve-out rules of a backup."""
    check_backup(backup)
    addresses = dict((name, {"type": obj["type"], "value": obj["value"]})
                     for name, obj in backup["addresses"].items())
    group = backup["group"]
    return {"addresses": addresses, "group": None if group is None else list(group["static"]),
            "rules": dict((name, list(sources)) for name, sources in backup["rules"].items()),
            "denies": dict((name, after) for name, after in (backup.get("denies") or {}).items() if after)}


def plan_rollback(config, backup):
    """Edits that restore a backup written by ``plan_hardening``, checked by applying them: every
    object, member, source and carve-out of the backup must then be as it was (``errors`` says
    what would not be). Returns ``{edits, requests, commands, changed, warnings, errors, before,
    after}``."""
    desired = desired_from_backup(backup)
    parsed = parse_config(config, backup["vsys"])
    planned = converge(config, parsed, desired, backup["group_name"], backup["prefix"])
    got = planned["after"]
    errors = []
    if got["addresses"] != dict((n, o["value"]) for n, o in desired["addresses"].items()):
        errors.append("after the rollback our address objects would be %s, not %s as in the backup"
                      % (sorted(got["addresses"]), sorted(desired["addresses"])))
    if (got["group"] or None) != (sorted(desired["group"]) if desired["group"] is not None else None):
        errors.append("after the rollback group %s would hold %s, not %s as in the backup"
                      % (backup["group_name"], got["group"], desired["group"]))
    for name, sources in desired["rules"].items():
        if got["rules"].get(name) != sources:
            errors.append("after the rollback rule %s would have source %s, not %s as in the backup"
                          % (name, got["rules"].get(name), sources))
    if got["denies"] != desired["denies"]:
        errors.append("after the rollback our carve-out rules would be %s, not %s as in the backup"
                      % (got["denies"], desired["denies"]))
    return {"edits": planned["edits"], "requests": [request(e) for e in planned["edits"]],
            "commands": commands(planned["edits"]), "changed": bool(planned["edits"]),
            "warnings": planned["warnings"], "errors": errors, "before": planned["before"],
            "after": planned["after"]}


# ---------------------------------------------------------------- undo after a failure

def _names_in(xpath):
    """Entry names in the last ``entry[...]`` step of an xpath this module built."""
    return [names for tag, names in _split_xpath(xpath) if tag == "entry" and names][-1]


def inverse_edits(config, applied, group_name, original):
    """Edits that put back, in reverse order, what ``applied`` edits changed (undo after a
    failure). ``config`` is the parsed candidate before the edits, ``original`` its XML element."""
    base = vsys_xpath(config["vsys"])
    rules_xpath = base + "/rulebase/security/rules"
    undo = []
    group = config["groups"].get(group_name)
    rules_by_name = dict((rule["name"], rule) for rule in config["rules"])
    order = [rule["name"] for rule in config["rules"]]
    for edit in reversed(applied):
        kind, action = edit["kind"], edit["action"]
        if kind == "address":
            if action == "set":
                names = [e.get("name") for e in _fragment(edit["element"])]
                predicate = " or ".join("@name=%s" % xpath_literal(n) for n in names)
                undo.append(_edit("delete", "%s/address/entry[%s]" % (base, predicate), None, None, "address"))
            elif action == "edit":
                name = _names_in(edit["xpath"])[0]
                undo.append(_edit("edit", edit["xpath"], ET.fromstring(config["addresses"][name]["xml"]),
                                  None, "address"))
            else:
                elements = [ET.fromstring(config["addresses"][n]["xml"]) for n in _names_in(edit["xpath"])]
                undo.append(_edit("set", base + "/address", elements, None, "address"))
        elif kind == "group":
            if group is None:
                undo.append(_edit("delete", entry_xpath(base + "/address-group", group_name), None, None, "group"))
            elif action == "delete":
                undo.append(_edit("set", base + "/address-group", [ET.fromstring(group["xml"])], None, "group"))
            else:
                undo.append(_edit("edit", entry_xpath(base + "/address-group", group_name),
                                  ET.fromstring(group["xml"]), None, "group"))
        elif kind == "rule":
            name = _names_in(edit["xpath"])[0]
            undo.append(_edit("edit", edit["xpath"], members_element("source", rules_by_name[name]["source"]),
                              None, "rule"))
        elif kind == "service":
            name = edit["xpath"].endswith("/service") and _fragment(edit["element"])[0].get("name") or \
                _names_in(edit["xpath"])[0]
            if action == "set":
                undo.append(_edit("delete", entry_xpath(base + "/service", name), None, None, "service"))
            else:
                undo.append(_edit("set", base + "/service", [ET.fromstring(config["services"][name]["xml"])],
                                  None, "service"))
        elif kind == "deny":
            name = _fragment(edit["element"])[0].get("name") if action == "set" else _names_in(edit["xpath"])[0]
            if name not in rules_by_name:
                if action == "set":
                    undo.append(_edit("delete", entry_xpath(rules_xpath, name), None, None, "deny"))
                continue
            position = order.index(name)
            element = _original_rule(original, config["vsys"], name)
            if action == "delete":
                undo.append(_edit("set", rules_xpath, [element], None, "deny"))
            elif action == "edit":
                undo.append(_edit("edit", entry_xpath(rules_xpath, name), element, None, "deny"))
            where, dst = ("after", order[position - 1]) if position else ("top", None)
            extra = {"where": where, "dst": dst} if dst else {"where": where}
            undo.append(_edit("move", entry_xpath(rules_xpath, name), None, None, "deny", **extra))
    return undo


def _original_rule(original, vsys, name):
    for entry in original.findall("devices/entry/vsys/entry"):
        if entry.get("name") == vsys:
            for rule in entry.findall("rulebase/security/rules/entry"):
                if rule.get("name") == name:
                    return ET.fromstring(clean_xml(rule))
    raise PanosPlanError("rule %r is not in the original configuration" % name)
