# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cisco ASA: ``show running-config`` (or ``show access-list``) text -> a configuration dict.

Everything the policy model needs, from one read: interfaces (nameif, security level,
addresses), ``name`` aliases, network and service objects, object-groups of every type,
time-ranges, access lists with ASA's line numbers, access-group bindings and
``same-security-traffic``. Parse and render of an ACE sit side by side (``parse_ace`` /
``ace_with_source``): the planner edits ACEs as the device prints them.

The dict (JSON-friendly, so that it can travel between Ansible tasks)::

    {"hostname": str, "interfaces": {nameif: {"security_level": int, "addresses": [cidr]}},
     "names": {name: address}, "objects": {name: {"type": "network"|"service", "definition": str}},
     "groups": {name: {"type", "protocol", "description", "members": [child lines]}},
     "time_ranges": {name: [lines]}, "acls": {name: [ace]}, "access_groups": [binding],
     "routes": [{"interface", "network"}], "same_security_inter": bool}

Interfaces also carry their connected ``subnets``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

SHOW_ACL_TAIL = re.compile(r"(\s+\(hitcnt=\d+\))?(\s+\(inactive\))?(\s+0x[0-9a-fA-F]+)?\s*$")
ACL_TYPES = ("extended", "standard", "webtype", "ethertype")
ANY_OPERANDS = ("any", "any4", "any6")
PORT_OPERATORS = ("eq", "neq", "lt", "gt", "range")
# Identity-firewall and TrustSec operands that may stand before a source or destination.
IDENTITY_KEYWORDS = ("user", "user-group", "object-group-user", "security-group", "object-group-security")
OPTION_KEYWORDS = ("log", "time-range", "inactive")


def lines_of(text):
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")


def empty_config():
    return {"hostname": None, "interfaces": {}, "names": {}, "objects": {}, "groups": {},
            "time_ranges": {}, "acls": {}, "access_groups": [], "routes": [], "same_security_inter": False}


_SERIAL = re.compile(r"^: Serial Number: (\S+)\s*$", re.M)
_HOSTNAME = re.compile(r"^hostname (\S+)\s*$", re.M)


def device_identity(text):
    """What ``show running-config`` says the device is: ``{"hostname", "serial"}`` (from the
    ``hostname`` line and the ``: Serial Number:`` header; either may be None). A backup
    records it, and a rollback refuses a backup written on another device."""
    text = text or ""
    serial = _SERIAL.search(text)
    hostname = _HOSTNAME.search(text)
    return {"hostname": hostname.group(1) if hostname else None, "serial": serial.group(1) if serial else None}


def parse_running_config(text):
    """The whole configuration from ``show running-config`` (any subset of its sections works:
    each block is recognised by its first word)."""
    config = empty_config()
    block = None
    interface = None
    for raw in lines_of(text):
        if not raw.strip() or raw.startswith(":") or raw.strip() == "!":
            block = None if raw.strip() == "!" else block
            continue
        if raw[0] in " \t":
            _child(config, block, interface, " ".join(raw.split()))
            continue
        words = raw.split()
        block, interface = None, None
        head = words[0]
        if head == "hostname" and len(words) > 1:
            config["hostname"] = words[1]
        elif head == "interface":
            interface = {"nameif": None, "security_level": 0, "addresses": []}
            block = ("interface", interface)
        elif head == "name" and len(words) >= 3:
            config["names"][words[2]] = words[1]
        elif head == "object" and len(words) >= 3:
            config["objects"].setdefault(words[2], {"type": words[1], "definition": None})
            block = ("object", words[2])
        elif head == "object-group" and len(words) >= 3:
            config["groups"].setdefault(words[2], {
                "type": words[1], "protocol": words[3] if len(words) > 3 else None,
                "description": None, "members": []})
            block = ("group", words[2])
        elif head == "time-range" and len(words) >= 2:
            config["time_ranges"].setdefault(words[1], [])
            block = ("time-range", words[1])
        elif head == "access-list":
            _access_list_line(config, words)
        elif head == "access-group":
            binding = parse_access_group(words)
            if binding:
                config["access_groups"].append(binding)
        elif words[:3] == ["same-security-traffic", "permit", "inter-interface"]:
            config["same_security_inter"] = True
        elif head == "route" and len(words) >= 5:
            _route(config, words[1], "%s/%s" % (words[2], words[3]))
        elif words[:2] == ["ipv6", "route"] and len(words) >= 4:
            _route(config, words[2], words[3])
    return config


def _route(config, interface, prefix):
    try:
        config["routes"].append({"interface": interface, "network": str(ipaddress.ip_network(prefix, strict=False))})
    except ValueError:
        pass


def _child(config, block, interface, child):
    if block is None:
        return
    kind, key = block
    if kind == "interface":
        words = child.split()
        if words[0] == "nameif" and len(words) > 1:
            key["nameif"] = words[1]
            config["interfaces"][words[1]] = key
        elif words[0] == "security-level" and len(words) > 1 and words[1].isdigit():
            key["security_level"] = int(words[1])
        elif words[:2] == ["ip", "address"] and len(words) >= 4:
            try:
                address = ipaddress.ip_interface("%s/%s" % (words[2], words[3]))
                key["addresses"].append(str(address.ip))
                key.setdefault("subnets", []).append(str(address.network))
            except ValueError:
                pass
        elif words[:2] == ["ipv6", "address"] and len(words) >= 3:
            try:
                address = ipaddress.ip_interface(words[2])
                key["addresses"].append(str(address.ip))
                key.setdefault("subnets", []).append(str(address.network))
            except ValueError:
                pass
    elif kind == "object":
        word = child.split(" ", 1)[0]
        if word in ("host", "subnet", "range", "fqdn", "service"):
            config["objects"][key]["definition"] = child
    elif kind == "group":
        group = config["groups"][key]
        if child.startswith("description "):
            group["description"] = child[len("description "):]
        elif child != "description":
            group["members"].append(child)
    elif kind == "time-range":
        config["time_ranges"][key].append(child)


def _access_list_line(config, words):
    if len(words) < 3 or words[1].endswith(";") or words[1] == "cached":
        return
    name = words[1]
    rest = words[2:]
    number = None
    if len(rest) >= 2 and rest[0] == "line" and rest[1].isdigit():
        number = int(rest[1])
        rest = SHOW_ACL_TAIL.sub("", " ".join(rest[2:])).split()
    entries = config["acls"].setdefault(name, [])
    entries.append({"line": number if number is not None else len(entries) + 1, "text": " ".join(rest)})


def parse_access_group(words):
    """``access-group NAME in|out interface IFC`` / ``access-group NAME global`` -> binding."""
    if len(words) >= 3 and words[0] == "access-group":
        if words[2] == "global":
            return {"acl": words[1], "direction": "global", "interface": None}
        if len(words) >= 5 and words[2] in ("in", "out") and words[3] == "interface":
            return {"acl": words[1], "direction": words[2], "interface": words[4]}
    return None


def acl_bindings(config, interface):
    """(inbound ACL name or None, global ACL name or None) for one nameif."""
    inbound = [b["acl"] for b in config["access_groups"]
               if b["direction"] == "in" and b["interface"] == interface]
    global_acl = [b["acl"] for b in config["access_groups"] if b["direction"] == "global"]
    return (inbound[0] if inbound else None), (global_acl[0] if global_acl else None)


# ---------------------------------------------------------------- one ACE: parse and render

def _is_address_word(word, config):
    if word in config["names"]:
        return True
    try:
        ipaddress.ip_address(word)
        return True
    except ValueError:
        pass
    try:
        ipaddress.ip_network(word, strict=False)
        return "/" in word and ":" in word
    except ValueError:
        return False


def _group_type(config, name):
    group = config["groups"].get(name)
    return group["type"] if group else None


def _operand(words, i, config):
    """(operand dict, next index) for an address operand at words[i]."""
    word = words[i] if i < len(words) else None
    if word is None:
        return None, i
    if word in ANY_OPERANDS:
        return {"kind": "any", "value": word, "span": [i, i + 1]}, i + 1
    if word in ("host", "object", "object-group", "interface") and i + 1 < len(words):
        return {"kind": word, "value": words[i + 1], "span": [i, i + 2]}, i + 2
    if "/" in word:
        return {"kind": "prefix", "value": word, "span": [i, i + 1]}, i + 1
    if i + 1 < len(words) and _is_address_word(word, config):
        return {"kind": "mask", "value": "%s %s" % (word, words[i + 1]), "span": [i, i + 2]}, i + 2
    return {"kind": "unknown", "value": word, "span": [i, i + 1]}, i + 1


def _ports(words, i, config):
    """A port spec at words[i] (operator or service group), or (None, i)."""
    if i < len(words) and words[i] in PORT_OPERATORS:
        count = 2 if words[i] == "range" else 1
        if i + count < len(words):
            return {"op": words[i], "ports": words[i + 1:i + 1 + count]}, i + 1 + count
        return {"op": words[i], "ports": words[i + 1:]}, len(words)
    if i + 1 < len(words) and words[i] == "object-group" and _group_type(config, words[i + 1]) == "service":
        return {"op": "object-group", "ports": [words[i + 1]]}, i + 2
    return None, i


def _identity(words, i):
    """Identity/TrustSec operands before an address: (list of words, next index)."""
    taken = []
    while i + 1 < len(words) and words[i] in IDENTITY_KEYWORDS:
        if words[i] == "security-group" and i + 2 < len(words):
            taken.extend(words[i:i + 3])
            i += 3
        else:
            taken.extend(words[i:i + 2])
            i += 2
    return taken, i


def parse_ace(text, config):
    """One ACE (the words after ``access-list NAME``) -> a dict.

    ``{"text", "kind": remark|extended|standard|webtype|ethertype, "action", "protocol"
    (word, or "object-group X" / "object X"), "source", "source_port", "destination",
    "destination_port", "icmp": [type words] or None, "identity": [words], "time_range",
    "inactive", "log", "rest": [words not understood]}``. Service groups are told from network
    groups by their type, so ``any object-group A object-group B`` reads right either way.
    """
    words = text.split()
    ace = {"text": text, "kind": None, "action": None, "protocol": None, "source": None,
           "source_port": None, "destination": None, "destination_port": None, "icmp": None,
           "identity": [], "time_range": None, "inactive": False, "log": False, "rest": []}
    if not words:
        ace["kind"] = "unknown"
        return ace
    if words[0] == "remark":
        ace["kind"] = "remark"
        return ace
    i = 0
    ace["kind"] = "extended"
    if words[0] in ACL_TYPES:
        ace["kind"] = words[0]
        i = 1
    if ace["kind"] != "extended" or i >= len(words) or words[i] not in ("permit", "deny"):
        return ace
    ace["action"] = words[i]
    i += 1
    if i + 1 < len(words) and words[i] in ("object-group", "object"):
        ace["protocol"] = "%s %s" % (words[i], words[i + 1])
        i += 2
    elif i < len(words):
        ace["protocol"] = words[i]
        i += 1
    identity, i = _identity(words, i)
    ace["identity"].extend(identity)
    ace["source"], i = _operand(words, i, config)
    ace["source_port"], i = _ports(words, i, config)
    identity, i = _identity(words, i)
    ace["identity"].extend(identity)
    ace["destination"], i = _operand(words, i, config)
    ace["destination_port"], i = _ports(words, i, config)
    if ace["destination_port"] is None and ace["protocol"] in ("icmp", "icmp6", "1", "58"):
        icmp = []
        if i + 1 < len(words) and words[i] == "object-group":
            icmp = words[i:i + 2]
        else:
            while i + len(icmp) < len(words) and words[i + len(icmp)] not in OPTION_KEYWORDS and len(icmp) < 2:
                icmp.append(words[i + len(icmp)])
        ace["icmp"] = icmp or None
        i += len(icmp)
    while i < len(words):
        word = words[i]
        if word == "inactive":
            ace["inactive"] = True
            i += 1
        elif word == "time-range" and i + 1 < len(words):
            ace["time_range"] = words[i + 1]
            i += 2
        elif word == "log":
            ace["log"] = True
            i += 1
            while i < len(words) and words[i] not in ("time-range", "inactive"):
                i += 1
        else:
            ace["rest"].append(word)
            i += 1
    return ace


def ace_with_source(ace, source_words):
    """The ACE's text with its source operand replaced by ``source_words`` (render side)."""
    words = ace["text"].split()
    start, end = ace["source"]["span"]
    return " ".join(words[:start] + list(source_words) + words[end:])


def destination_words(ace):
    """The destination operand's words as the ACE spells it (``host 203.0.113.25``)."""
    words = ace["text"].split()
    start, end = ace["destination"]["span"]
    return words[start:end]
