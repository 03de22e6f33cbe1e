# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure PAN-OS logic for the panos role: naming, reading a configuration tree, discovering the
inbound SMTP rules, planning the API edits (make-before-break), diff, backup and policy-match
probes.

Nothing here talks to a device. Input is the candidate configuration as an ElementTree element
(the answer of one ``get`` of ``/config``); output is a list of XML API edits that
``plugins/modules/panos_hes_smtp.py`` sends with pan-os-python. Standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re
import xml.etree.ElementTree as ET

from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import parse_network
# The connection code lives in panos/client.py; these names stay importable from here.
from ansible_collections.emailsec.hes.plugins.module_utils.panos.client import (  # pylint: disable=unused-import
    HAS_PANOS, PANOS_ERRORS, connect_firewall, describe_error, endpoint, provider_argument_spec,
    provider_credentials,
)

DEFAULT_GROUP = "TM_HES_IP_RANGE"
DEFAULT_PREFIX = "TM_HES_"
MARKER = "managed by emailsec.hes"
NAME_MAX = 63
# PAN-OS object names: letters, digits, underscore, hyphen, period and space, starting with an
# alphanumeric character or an underscore.
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\- ]*$")
PREFIX_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
DEVICE_XPATH = "/config/devices/entry[@name='localhost.localdomain']"
SMTP_APPLICATIONS = ("smtp", "smtp-base")
# Longest name this module builds: prefix + a full IPv6 address with ':' as '-' + '_128'.
LONGEST_SUFFIX = len("ffff-ffff-ffff-ffff-ffff-ffff-ffff-ffff_128")
DELETE_CHUNK = 40
PROTOCOLS = {"tcp": 6, "udp": 17, "icmp": 1, "icmp6": 58, "sctp": 132}
PROBE_KEYS = ("name", "source", "destination", "port", "protocol", "application", "from_zone", "to_zone")


class PanosPlanError(ValueError):
    """Input or device state the plan cannot safely handle; the message names the culprit."""


# ---------------------------------------------------------------- naming and xpaths

def check_prefix(prefix):
    if not PREFIX_RE.match(prefix or ""):
        raise PanosPlanError("object_prefix %r: use letters, digits, '_', '-' or '.', starting with a "
                             "letter, digit or '_'" % (prefix,))
    if len(prefix) + LONGEST_SUFFIX > NAME_MAX:
        raise PanosPlanError("object_prefix %r is too long: names would exceed PAN-OS's %d characters "
                             "(at most %d characters)" % (prefix, NAME_MAX, NAME_MAX - LONGEST_SUFFIX))
    return prefix


def check_name(name, what):
    if not NAME_RE.match(name or "") or len(name) > NAME_MAX:
        raise PanosPlanError("%s %r is not a valid PAN-OS name (at most %d of letters, digits, '_', '-', "
                             "'.', space)" % (what, name, NAME_MAX))
    return name


def object_name(network, prefix=DEFAULT_PREFIX):
    """``TM_HES_18.208.22.64_26``: readable, stable for a range, valid in PAN-OS (``:`` → ``-``)."""
    net = parse_network(network, "ranges") if isinstance(network, str) else network
    return "%s%s_%d" % (prefix, net.network_address.compressed.replace(":", "-"), net.prefixlen)


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


# ---------------------------------------------------------------- reading the configuration

def _members(elem, tag):
    node = elem.find(tag)
    if node is None:
        return []
    return [(m.text or "").strip() for m in node.findall("member")]


def _text(elem, tag, default=None):
    node = elem.find(tag)
    if node is None or node.text is None:
        return default
    return node.text.strip()


def _address(entry, scope):
    for kind in ("ip-netmask", "ip-range", "fqdn", "ip-wildcard"):
        value = _text(entry, kind)
        if value is not None:
            break
    else:
        kind, value = None, None
    return {"name": entry.get("name"), "scope": scope, "type": kind, "value": value,
            "description": _text(entry, "description", ""), "tags": _members(entry, "tag"),
            "xml": clean_xml(entry)}


def clean_xml(entry):
    """An entry as XML text without PAN-OS's uncommitted-change markers (admin, dirtyId, time)."""
    text = ET.tostring(entry, encoding="unicode")
    copy = ET.fromstring(text)
    for node in copy.iter():
        for attribute in ("admin", "dirtyId", "time"):
            node.attrib.pop(attribute, None)
    copy.tail = None
    return ET.tostring(copy, encoding="unicode")


def _service(entry):
    for proto in ("tcp", "udp", "sctp"):
        node = entry.find("protocol/%s" % proto)
        if node is not None:
            return {"protocol": proto, "port": _text(node, "port", "")}
    return {"protocol": None, "port": ""}


def _rule(entry, index):
    return {
        "name": entry.get("name"),
        "index": index,
        "from": _members(entry, "from"),
        "to": _members(entry, "to"),
        "source": _members(entry, "source"),
        "destination": _members(entry, "destination"),
        "application": _members(entry, "application"),
        "service": _members(entry, "service"),
        "action": _text(entry, "action", "allow"),
        "disabled": _text(entry, "disabled", "no") == "yes",
        "negate_source": _text(entry, "negate-source", "no") == "yes",
        "negate_destination": _text(entry, "negate-destination", "no") == "yes",
    }


def find_vsys(config, vsys):
    """The ``vsys`` element of a ``/config`` tree; an error names the vsys when it is missing."""
    for device in config.findall("devices/entry"):
        for entry in device.findall("vsys/entry"):
            if entry.get("name") == vsys:
                return entry
    raise PanosPlanError("vsys %r not found in the device's candidate configuration" % (vsys,))


def read_state(config, vsys):
    """Everything the plan needs from a candidate ``/config`` element, vsys first then shared."""
    vsys_elem = find_vsys(config, vsys)
    shared = config.find("shared")
    scopes = [("vsys", vsys_elem)] + ([("shared", shared)] if shared is not None else [])
    state = {"vsys": vsys, "addresses": {}, "groups": {}, "services": {}, "service_groups": {},
             "rules": [], "pending_admins": pending_admins(config)}
    for scope, elem in scopes:
        for entry in elem.findall("address/entry"):
            state["addresses"].setdefault(entry.get("name"), _address(entry, scope))
        for entry in elem.findall("address-group/entry"):
            state["groups"].setdefault(entry.get("name"), {
                "name": entry.get("name"), "scope": scope,
                "static": _members(entry, "static"),
                "dynamic": _text(entry, "dynamic/filter"),
                "description": _text(entry, "description", ""),
                "xml": clean_xml(entry)})
        for entry in elem.findall("service/entry"):
            state["services"].setdefault(entry.get("name"), _service(entry))
        for entry in elem.findall("service-group/entry"):
            state["service_groups"].setdefault(entry.get("name"), _members(entry, "members"))
    for index, entry in enumerate(vsys_elem.findall("rulebase/security/rules/entry"), start=1):
        state["rules"].append(_rule(entry, index))
    state["references"] = _references(vsys_elem, shared)
    return state


def _references(vsys_elem, shared):
    """name -> readable places where a ``member`` refers to it (for objects we may delete)."""
    refs = {}

    def walk(elem, labels):
        for child in elem:
            label = child.tag if child.get("name") is None else "%s %s" % (child.tag, child.get("name"))
            if child.tag == "member" and child.text:
                refs.setdefault(child.text.strip(), []).append(" ".join(labels))
            else:
                walk(child, labels + [label])

    walk(vsys_elem, [])
    if shared is not None:
        walk(shared, ["shared"])
    return refs


def pending_admins(config):
    """Administrators whose uncommitted changes PAN-OS marks in the candidate (``admin`` attributes)."""
    return sorted({node.get("admin") for node in config.iter() if node.get("admin")})


def is_managed(address, prefix):
    """Our objects carry both the prefix and the marker, so a user's ``TM_HES_x`` is never touched."""
    return address["name"].startswith(prefix) and MARKER in (address.get("description") or "")


# ---------------------------------------------------------------- rule discovery

def port_spec_admits(spec, port):
    for part in (spec or "").split(","):
        part = part.strip()
        if not part:
            continue
        low, dummy, high = part.partition("-")
        try:
            if int(low) <= port <= int(high or low):
                return True
        except ValueError:
            continue
    return False


def service_admits(state, name, port=25, protocol="tcp", seen=None):
    seen = set() if seen is None else seen
    if name in seen:
        return False
    seen.add(name)
    if name in state["services"]:
        service = state["services"][name]
        return service["protocol"] == protocol and port_spec_admits(service["port"], port)
    return any(service_admits(state, member, port, protocol, seen)
               for member in state["service_groups"].get(name, []))


def rule_admits_smtp(state, rule):
    """Service and application let TCP/25 SMTP through (``any``, application-default, objects, groups)."""
    apps = rule["application"] or ["any"]
    app_ok = "any" in apps or any(app in SMTP_APPLICATIONS for app in apps)
    if not app_ok:
        return False
    for member in rule["service"] or ["application-default"]:
        if member == "any" or member == "application-default":
            return True
        if service_admits(state, member):
            return True
    return False


def _address_networks(state, member, seen=None):
    """Networks (ip_network or (first, last) tuples) a source/destination member stands for."""
    seen = set() if seen is None else seen
    if member in seen:
        return []
    seen.add(member)
    literal = _literal_networks(member)
    if literal is not None:
        return literal
    if member in state["addresses"]:
        return _literal_networks(state["addresses"][member]["value"] or "") or []
    group = state["groups"].get(member)
    if group:
        out = []
        for child in group["static"]:
            out.extend(_address_networks(state, child, seen))
        return out
    return []


def _literal_networks(text):
    try:
        if "-" in text:
            first, last = (ipaddress.ip_address(p.strip()) for p in text.split("-", 1))
            return [(first, last)]
        return [ipaddress.ip_network(text, strict=False)]
    except ValueError:
        return None


def _covers(networks, address):
    for net in networks:
        if isinstance(net, tuple):
            if net[0].version == address.version and net[0] <= address <= net[1]:
                return True
        elif net.version == address.version and address in net:
            return True
    return False


def destination_reaches(state, rule, mail_servers):
    """True when the rule's destination covers one of the mail servers (by address or object name)."""
    if not mail_servers:
        return True
    if "any" in rule["destination"]:
        return True
    for server in mail_servers:
        if server in rule["destination"]:
            return True
        try:
            address = ipaddress.ip_address(server)
        except ValueError:
            networks = _address_networks(state, server)
            if any(_networks_overlap(networks, _address_networks(state, d)) for d in rule["destination"]):
                return True
            continue
        if any(_covers(_address_networks(state, d), address) for d in rule["destination"]):
            return True
    return False


def _networks_overlap(left, right):
    for a in left:
        for b in right:
            a_first, a_last = (a if isinstance(a, tuple) else (a.network_address, a.broadcast_address))
            b_first, b_last = (b if isinstance(b, tuple) else (b.network_address, b.broadcast_address))
            if a_first.version == b_first.version and a_first <= b_last and b_first <= a_last:
                return True
    return False


def discover_rules(state, untrust_zones, mail_servers, group_name):
    """Inbound SMTP allow rules: from an untrust-side zone, to the mail server, admitting TCP/25,
    source ``any`` (or already our group, so that a second run finds the same rules)."""
    found = []
    for rule in state["rules"]:
        if rule["action"] != "allow" or rule["disabled"] or rule["negate_source"]:
            continue
        if not any(zone in untrust_zones for zone in rule["from"]):
            continue
        if rule["source"] not in (["any"], [group_name]):
            continue
        if not rule_admits_smtp(state, rule) or not destination_reaches(state, rule, mail_servers):
            continue
        found.append(rule)
    return found


def select_rules(state, names, untrust_zones, mail_servers, group_name):
    """The rules to edit: the named ones (each must exist), or the discovered ones (at least one)."""
    by_name = {rule["name"]: rule for rule in state["rules"]}
    if names:
        missing = [name for name in names if name not in by_name]
        if missing:
            raise PanosPlanError("security rule(s) %s not found in vsys %s (rules there: %s)" % (
                ", ".join(repr(n) for n in missing), state["vsys"],
                ", ".join(sorted(by_name)) or "none"))
        return [by_name[name] for name in names]
    found = discover_rules(state, untrust_zones, mail_servers, group_name)
    if not found:
        raise PanosPlanError(
            "no inbound SMTP rule found in vsys %s: looked for allow rules from zone(s) %s%s whose "
            "service admits TCP/25 and whose source is any; name the rules with hes_panos_rules"
            % (state["vsys"], ", ".join(untrust_zones),
               " to %s" % ", ".join(mail_servers) if mail_servers else ""))
    return found


# ---------------------------------------------------------------- desired state and planning

def desired_from_ranges(ranges, group_name, rule_names, prefix=DEFAULT_PREFIX):
    """Desired state for hardening: one object per range, the group of exactly those, rules → group."""
    check_prefix(prefix)
    check_name(group_name, "group name")
    addresses = {}
    for index, entry in enumerate(ranges):
        net = parse_network(entry, "ranges[%d]" % index) if isinstance(entry, str) else entry
        addresses[object_name(net, prefix)] = {"type": "ip-netmask", "value": str(net)}
    if not addresses:
        raise PanosPlanError("ranges is empty: refusing to build an empty %s" % group_name)
    return {"addresses": addresses, "group": sorted(addresses, key=lambda n: _sort_key(addresses[n])),
            "rules": dict((name, [group_name]) for name in rule_names)}


def _sort_key(address):
    try:
        net = ipaddress.ip_network(address["value"], strict=False)
        return (net.version, int(net.network_address), net.prefixlen, "")
    except ValueError:
        return (9, 0, 0, address["value"] or "")


def desired_from_backup(backup):
    """Desired state for a rollback: the managed objects, group members and rule sources of a backup."""
    for key in ("vsys", "group_name", "prefix", "addresses", "group", "rules"):
        if key not in backup:
            raise PanosPlanError("backup lacks %r: not a backup written by emailsec.hes.panos" % key)
    addresses = dict((name, {"type": obj["type"], "value": obj["value"]})
                     for name, obj in backup["addresses"].items())
    group = backup["group"]
    return {"addresses": addresses, "group": None if group is None else list(group["static"]),
            "rules": dict((name, list(sources)) for name, sources in backup["rules"].items())}


def address_element(name, obj):
    entry = ET.Element("entry", {"name": name})
    ET.SubElement(entry, obj["type"]).text = obj["value"]
    ET.SubElement(entry, "description").text = MARKER
    return entry


def members_element(tag, members):
    node = ET.Element(tag)
    for member in members:
        ET.SubElement(node, "member").text = member
    return node


def to_xml(*elements):
    return "".join(ET.tostring(e, encoding="unicode") for e in elements)


def _quote(name):
    return '"%s"' % name if " " in name else name


def _list(members):
    return "[ %s ]" % " ".join(_quote(m) for m in members)


def plan(state, desired, group_name=DEFAULT_GROUP, prefix=DEFAULT_PREFIX):
    """The ordered edits from ``state`` to ``desired``, make-before-break.

    Order: new and drifted address objects, then the group, then the rule sources, then the
    group's removal (rollback only) and last the deletion of our stale objects, so that the
    rules never point at something that does not yet or no longer exists.
    Returns ``{"edits": [...], "warnings": [...], "before": view, "after": view}``.
    """
    vsys = state["vsys"]
    base = vsys_xpath(vsys)
    edits, warnings = [], []
    current = state["addresses"]

    creates = []
    for name, obj in sorted(desired["addresses"].items(), key=lambda item: _sort_key(item[1])):
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
        edits.insert(0, _edit("set", base + "/address", creates, None, "address"))
        edits[0]["commands"] = ["set %s address %s %s %s description \"%s\"" % (
            vsys, e.get("name"), e[0].tag, e[0].text, MARKER) for e in creates]

    group = state["groups"].get(group_name)
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

    rules_by_name = dict((rule["name"], rule) for rule in state["rules"])
    for name, sources in desired["rules"].items():
        rule = rules_by_name.get(name)
        if rule is None:
            raise PanosPlanError("security rule %r not found in vsys %s" % (name, vsys))
        if rule["source"] != sources:
            edits.append(_edit("edit", entry_xpath(base + "/rulebase/security/rules", name) + "/source",
                               members_element("source", sources),
                               "edit %s rulebase security rules %s source %s" % (vsys, _quote(name),
                                                                                 _list(sources)),
                               "rule"))

    if want_group is None and group is not None:
        edits.append(_edit("delete", group_xpath, None,
                           "delete %s address-group %s" % (vsys, group_name), "group"))

    stale = sorted(name for name, obj in current.items()
                   if obj["scope"] == "vsys" and is_managed(obj, prefix) and name not in desired["addresses"])
    deletable = []
    for name in stale:
        users = [place for place in state["references"].get(name, [])
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

    before = view(state, group_name, prefix, list(desired["rules"]))
    after = _after_view(before, desired, [n for n in stale if n not in deletable])
    return {"edits": edits, "warnings": warnings, "before": before, "after": after}


def _edit(action, xpath, element, command, kind):
    if isinstance(element, list):
        element_text = to_xml(*element)
    elif element is not None:
        element_text = to_xml(element)
    else:
        element_text = None
    return {"action": action, "xpath": xpath, "element": element_text, "kind": kind,
            "commands": [command] if command else []}


def view(state, group_name, prefix, rule_names):
    """What we manage on the device, as plain data for diff and backup comparison."""
    group = state["groups"].get(group_name)
    rules = dict((rule["name"], rule["source"]) for rule in state["rules"] if rule["name"] in rule_names)
    return {
        "addresses": dict((name, obj["value"]) for name, obj in state["addresses"].items()
                          if obj["scope"] == "vsys" and is_managed(obj, prefix)),
        "group": None if group is None else sorted(group["static"]),
        "rules": rules,
    }


def _after_view(before, desired, kept):
    addresses = dict((name, obj["value"]) for name, obj in desired["addresses"].items())
    for name in kept:
        addresses[name] = before["addresses"][name]
    return {"addresses": addresses,
            "group": None if desired["group"] is None else sorted(desired["group"]),
            "rules": dict(before["rules"], **desired["rules"])}


def render_view(data, group_name):
    """A stable text form of a view for Ansible's --diff (one line per object, member and rule)."""
    lines = ["address objects:"]
    for name in sorted(data["addresses"], key=lambda n: _sort_key({"value": data["addresses"][n]})):
        lines.append("  %s %s" % (name, data["addresses"][name]))
    if data["group"] is None:
        lines.append("address-group %s: absent" % group_name)
    else:
        lines.append("address-group %s:" % group_name)
        lines.extend("  %s" % member for member in data["group"])
    lines.append("security rules (source):")
    for name in sorted(data["rules"]):
        lines.append("  %s: %s" % (name, ", ".join(data["rules"][name])))
    return "\n".join(lines) + "\n"


def commands(edits):
    return [command for edit in edits for command in edit["commands"]]


def commit_command(admin, foreign):
    return "commit" if foreign else "commit partial admin [ %s ]" % admin


def inverse_edits(state, applied, group_name):
    """Edits that put back, in reverse order, what ``applied`` edits changed (undo after a failure)."""
    base = vsys_xpath(state["vsys"])
    undo = []
    group = state["groups"].get(group_name)
    rules_by_name = dict((rule["name"], rule) for rule in state["rules"])
    for edit in reversed(applied):
        if edit["kind"] == "address":
            if edit["action"] == "set":
                names = [e.get("name") for e in ET.fromstring("<x>%s</x>" % edit["element"])]
                predicate = " or ".join("@name=%s" % xpath_literal(n) for n in names)
                undo.append(_edit("delete", "%s/address/entry[%s]" % (base, predicate), None, None, "address"))
            elif edit["action"] == "edit":
                name = _names_in(edit["xpath"])[0]
                undo.append(_edit("edit", edit["xpath"], ET.fromstring(state["addresses"][name]["xml"]),
                                  None, "address"))
            else:
                elements = [ET.fromstring(state["addresses"][n]["xml"]) for n in _names_in(edit["xpath"])]
                undo.append(_edit("set", base + "/address", elements, None, "address"))
        elif edit["kind"] == "group":
            if group is None:
                undo.append(_edit("delete", entry_xpath(base + "/address-group", group_name), None, None, "group"))
            elif edit["action"] == "delete":
                undo.append(_edit("set", base + "/address-group", [ET.fromstring(group["xml"])], None, "group"))
            else:
                undo.append(_edit("edit", entry_xpath(base + "/address-group", group_name),
                                  ET.fromstring(group["xml"]), None, "group"))
        elif edit["kind"] == "rule":
            name = _names_in(edit["xpath"])[0]
            undo.append(_edit("edit", edit["xpath"], members_element("source", rules_by_name[name]["source"]),
                              None, "rule"))
    return undo


def _names_in(xpath):
    """Entry names in the last ``entry[...]`` step of an xpath this module built."""
    last = xpath[xpath.rindex("entry["):]
    return [a or b for a, b in re.findall(r"@name=(?:'([^']*)'|\"([^\"]*)\")", last)]


# ---------------------------------------------------------------- backup

def backup_data(state, group_name, prefix, rule_names, device):
    """What a rollback needs: our objects, the group and the touched rules' sources, before the change."""
    group = state["groups"].get(group_name)
    return {
        "format": 1,
        "device": device,
        "vsys": state["vsys"],
        "group_name": group_name,
        "prefix": prefix,
        "addresses": dict((name, {"type": obj["type"], "value": obj["value"]})
                          for name, obj in state["addresses"].items()
                          if obj["scope"] == "vsys" and is_managed(obj, prefix)),
        "group": None if group is None else {"static": list(group["static"]), "dynamic": group["dynamic"],
                                             "description": group["description"]},
        "rules": dict((rule["name"], list(rule["source"])) for rule in state["rules"]
                      if rule["name"] in rule_names),
    }


# ---------------------------------------------------------------- policy-match probes

def probe_arguments(probe, index):
    """pan-os-python ``test_security_policy_match`` keyword arguments for one probe dict."""
    where = "probes[%d]" % index
    unknown = sorted(set(probe) - set(PROBE_KEYS))
    if unknown:
        raise PanosPlanError("%s: unknown key(s) %s (allowed: %s)" % (where, ", ".join(unknown), ", ".join(PROBE_KEYS)))
    args = {}
    for key in ("source", "destination"):
        value = probe.get(key)
        try:
            ipaddress.ip_address(value)
        except (ValueError, TypeError):
            raise PanosPlanError("%s: %s %r is not an IP address" % (where, key, value))
        args[key] = str(value)
    protocol = str(probe.get("protocol", "tcp")).lower()
    if protocol.isdigit() and 1 <= int(protocol) <= 255:
        args["protocol"] = int(protocol)
    elif protocol in PROTOCOLS:
        args["protocol"] = PROTOCOLS[protocol]
    else:
        raise PanosPlanError("%s: protocol %r is not one of %s or 1-255"
                             % (where, probe.get("protocol"), ", ".join(sorted(PROTOCOLS))))
    port = probe.get("port")
    if port is not None:
        if not str(port).isdigit() or not 0 <= int(port) <= 65535:
            raise PanosPlanError("%s: port %r is not 0-65535" % (where, port))
        args["port"] = int(port)
    for key, arg in (("application", "application"), ("from_zone", "from_zone"), ("to_zone", "to_zone")):
        if probe.get(key):
            args[arg] = str(probe[key])
    return args


def probe_result(probe, matches):
    """One row of the module's result: the probe as given plus the first matching rule, or none."""
    first = matches[0] if matches else None
    row = dict(probe)
    row.update({"rule": first["name"] if first else None,
                "index": first["index"] if first else None,
                "action": first["action"] if first else None,
                "allowed": bool(first) and first["action"] == "allow"})
    return row
