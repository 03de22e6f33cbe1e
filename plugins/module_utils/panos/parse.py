# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PAN-OS candidate ``/config`` XML (one ``get`` of ``/config``) -> a plain, JSON-friendly config
dict for one vsys: zones, address objects (ip-netmask, ip-range, ip-wildcard, fqdn), static and
dynamic address groups, services and service groups, applications (custom ones with their
default ports, application groups and filters), schedules, external dynamic lists, the security
rules with every field that decides a match, the overridden default rules, and what a planner
needs besides (pending administrators, references, the original XML of what it may restore).

Objects come from the vsys first, then ``/config/shared``: a vsys object shadows a shared one of
the same name, as on the firewall. Nothing here judges a rule; ``panos.model`` does.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import xml.etree.ElementTree as ET

DIRTY_ATTRIBUTES = ("admin", "dirtyId", "time")
DEFAULT_RULE_NAMES = ("intrazone-default", "interzone-default")
# Member lists of a security rule, by config key and XML tag.
RULE_LISTS = (
    ("from", "from"), ("to", "to"), ("source", "source"), ("destination", "destination"),
    ("source_user", "source-user"), ("category", "category"), ("application", "application"),
    ("service", "service"), ("source_hip", "source-hip"), ("destination_hip", "destination-hip"),
    ("hip_profiles", "hip-profiles"), ("tags", "tag"),
)


class PanosError(ValueError):
    """A configuration or input the PAN-OS code cannot act on; the message names the culprit."""


def members(elem, tag):
    """The ``member`` texts under ``elem/tag`` ([] when the node is absent)."""
    node = elem.find(tag)
    if node is None:
        return []
    return [(m.text or "").strip() for m in node.findall("member")]


def text(elem, tag, default=None):
    node = elem.find(tag)
    if node is None or node.text is None:
        return default
    return node.text.strip()


def clean_xml(entry):
    """An entry as XML text without PAN-OS's uncommitted-change markers (admin, dirtyId, time)."""
    copy = ET.fromstring(ET.tostring(entry, encoding="unicode"))
    for node in copy.iter():
        for attribute in DIRTY_ATTRIBUTES:
            node.attrib.pop(attribute, None)
    copy.tail = None
    return ET.tostring(copy, encoding="unicode")


def literal_networks(value):
    """``[network]`` for ``192.0.2.1`` / ``192.0.2.0/24``, ``[(first, last)]`` for
    ``192.0.2.1-192.0.2.9``; None when ``value`` is not an address literal."""
    try:
        if "-" in value:
            first, last = (ipaddress.ip_address(part.strip()) for part in value.split("-", 1))
            if first.version != last.version or first > last:
                return None
            return [(first, last)]
        return [ipaddress.ip_network(value.strip(), strict=False)]
    except ValueError:
        return None


def port_ranges(spec):
    """``25,587,1000-2000`` -> ``[(25, 25), (587, 587), (1000, 2000)]``; None when malformed."""
    out = []
    for part in (spec or "").split(","):
        part = part.strip()
        low, dash, high = part.partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            return None
        first, last = int(low), int(high) if dash else int(low)
        if first > last or last > 65535:
            return None
        out.append((first, last))
    return out or None


def find_vsys(config, vsys):
    """The ``vsys`` element of a ``/config`` tree; an error names the vsys when it is missing."""
    for device in config.findall("devices/entry"):
        for entry in device.findall("vsys/entry"):
            if entry.get("name") == vsys:
                return entry
    raise PanosError("vsys %r not found in the device's candidate configuration" % (vsys,))


# ---------------------------------------------------------------- objects

def _address(entry, scope):
    for kind in ("ip-netmask", "ip-range", "ip-wildcard", "fqdn"):
        value = text(entry, kind)
        if value is not None:
            break
    else:
        kind, value = None, None
    return {"name": entry.get("name"), "scope": scope, "type": kind, "value": value,
            "description": text(entry, "description", ""), "tags": members(entry, "tag"),
            "xml": clean_xml(entry)}


def _group(entry, scope):
    dynamic = entry.find("dynamic")
    return {"name": entry.get("name"), "scope": scope, "static": members(entry, "static"),
            "dynamic": None if dynamic is None else (text(dynamic, "filter") or ""),
            "description": text(entry, "description", ""), "tags": members(entry, "tag"),
            "xml": clean_xml(entry)}


def _service(entry, scope):
    service = {"name": entry.get("name"), "scope": scope, "protocol": None, "port": "", "source_port": None,
               "description": text(entry, "description", ""), "xml": clean_xml(entry)}
    protocol = entry.find("protocol")
    if protocol is not None and len(protocol):
        node = protocol[0]
        service.update(protocol=node.tag, port=text(node, "port", ""), source_port=text(node, "source-port"))
    return service


def _application(entry, scope):
    """A custom application: its default ports as PAN-OS writes them (``tcp/25``, ``udp/53,5353``)."""
    return {"name": entry.get("name"), "scope": scope, "default_ports": members(entry, "default/port")}


def _rule(entry, index):
    rule = {"name": entry.get("name"), "index": index, "uuid": entry.get("uuid")}
    for key, tag in RULE_LISTS:
        rule[key] = members(entry, tag)
    rule.update({
        "action": text(entry, "action", "allow"),
        "disabled": text(entry, "disabled", "no") == "yes",
        "negate_source": text(entry, "negate-source", "no") == "yes",
        "negate_destination": text(entry, "negate-destination", "no") == "yes",
        "rule_type": text(entry, "rule-type", "universal"),
        "schedule": text(entry, "schedule"),
        "description": text(entry, "description", ""),
    })
    return rule


def _zones(vsys_elem):
    zones = {}
    for entry in vsys_elem.findall("zone/entry"):
        network = entry.find("network")
        mode, interfaces = None, []
        if network is not None and len(network):
            mode = network[0].tag
            interfaces = [(m.text or "").strip() for m in network[0].findall("member")]
        zones[entry.get("name")] = {"name": entry.get("name"), "mode": mode, "interfaces": interfaces}
    return zones


def parse_config(config, vsys):
    """Everything the model and the planner need from a candidate ``/config`` element."""
    vsys_elem = find_vsys(config, vsys)
    shared = config.find("shared")
    scopes = [("vsys", vsys_elem)] + ([("shared", shared)] if shared is not None else [])
    parsed = {"vsys": vsys, "zones": _zones(vsys_elem), "addresses": {}, "groups": {}, "services": {},
              "service_groups": {}, "applications": {}, "application_groups": {},
              "application_filters": {}, "schedules": {}, "external_lists": {}, "regions": {},
              "rules": [], "default_rules": {}, "pending_admins": pending_admins(config)}
    for scope, elem in scopes:
        for tag, key, read in (("address", "addresses", _address), ("address-group", "groups", _group),
                               ("service", "services", _service), ("application", "applications", _application)):
            for entry in elem.findall("%s/entry" % tag):
                parsed[key].setdefault(entry.get("name"), read(entry, scope))
        for entry in elem.findall("service-group/entry"):
            parsed["service_groups"].setdefault(entry.get("name"), {
                "name": entry.get("name"), "scope": scope, "members": members(entry, "members")})
        for entry in elem.findall("application-group/entry"):
            parsed["application_groups"].setdefault(entry.get("name"), {
                "name": entry.get("name"), "scope": scope, "members": members(entry, "members")})
        for tag, key in (("application-filter", "application_filters"), ("schedule", "schedules"),
                         ("external-list", "external_lists"), ("region", "regions")):
            for entry in elem.findall("%s/entry" % tag):
                parsed[key].setdefault(entry.get("name"), scope)
    rulebase = vsys_elem.find("rulebase")
    if rulebase is not None:
        for index, entry in enumerate(rulebase.findall("security/rules/entry"), start=1):
            parsed["rules"].append(_rule(entry, index))
        for entry in rulebase.findall("default-security-rules/rules/entry"):
            if entry.get("name") in DEFAULT_RULE_NAMES and text(entry, "action"):
                parsed["default_rules"][entry.get("name")] = {"action": text(entry, "action")}
    parsed["references"] = references(vsys_elem, shared)
    return parsed


def references(vsys_elem, shared):
    """name -> readable places where a ``member`` refers to it (for objects a planner may delete)."""
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


def verification_state(config, vsys):
    """``parse_config`` without what only the planner needs (the raw XML of each object, the
    reference index): the JSON-friendly state verify judges."""
    state = parse_config(config, vsys)
    for collection in (state["addresses"], state["groups"], state["services"]):
        for item in collection.values():
            item.pop("xml", None)
    state.pop("references", None)
    return state
