# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cisco ASA: parse the device's configuration, plan the HES hardening, plan its rollback.

Three layers, kept apart in the cisco.asa resource-module style, all pure (standard library only):

* parse: ``parse_object_groups``, ``parse_network_objects``, ``parse_access_lists`` (running-config
  or ``show access-list`` form), ``parse_access_groups``; ``parse_device`` bundles them.
* evaluate: ``ace_tcp_ports``, ``ace_matches_tcp_port``, ``ace_admits_tcp_port``,
  ``resolve_address``, ``source_is_anywhere``: what an ACE lets through (reused by the verify role).
* plan: ``plan_hardening`` and ``plan_rollback`` return the exact commands, ordered
  make-before-break, with a structured change list, the findings and a backup.

Why our own planner rather than asa_ogs/asa_acls ``replaced``: those remove before they add
(an ACL whose only ACE is the SMTP rule is emptied and loses its access-group; a referenced
group whose members are all replaced is refused), and their ``line`` handling is not idempotent.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import (
    RangeError,
    asa_network_object,
    parse_network,
)

SMTP_PORT = 25
BACKUP_FORMAT = 1
ANY_SOURCES = ("any", "any4", "any6")
ALL_PORTS = ((0, 65535),)
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")

# ASA port literals (asa-cli.md §9); numbers print as these names.
TCP_PORTS = {
    "aol": 5190, "bgp": 179, "chargen": 19, "cifs": 3020, "citrix-ica": 1494, "cmd": 514,
    "rsh": 514, "ctiqbe": 2748, "daytime": 13, "discard": 9, "domain": 53, "echo": 7, "exec": 512,
    "finger": 79, "ftp": 21, "ftp-data": 20, "gopher": 70, "h323": 1720, "hostname": 101,
    "http": 80, "www": 80, "https": 443, "ident": 113, "imap4": 143, "irc": 194, "kerberos": 750,
    "klogin": 543, "kshell": 544, "ldap": 389, "ldaps": 636, "login": 513, "lotusnotes": 1352,
    "lpd": 515, "netbios-ssn": 139, "nfs": 2049, "nntp": 119, "pcanywhere-data": 5631,
    "pim-auto-rp": 496, "pop2": 109, "pop3": 110, "pptp": 1723, "rtsp": 554, "sip": 5060,
    "smtp": 25, "sqlnet": 1521, "ssh": 22, "sunrpc": 111, "tacacs": 49, "talk": 517,
    "telnet": 23, "uucp": 540, "whois": 43,
}
PORT_OPS = ("eq", "neq", "lt", "gt", "range")
TCP_PROTOCOLS = ("tcp", "6")
ALL_IP_PROTOCOLS = ("ip", "0")
ACL_TYPES = ("extended", "standard", "webtype", "ethertype")
SHOW_ACL_TAIL = re.compile(r"(\s+\(hitcnt=\d+\))?(\s+\(inactive\))?(\s+0x[0-9a-fA-F]+)?\s*$")


class AsaPlanError(ValueError):
    """Input the planner cannot act on safely; the message names the value and what to do."""


# ------------------------------------------------------------------------------------- parse
def _lines(text):
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")


def parse_object_groups(text):
    """``show running-config object-group`` -> ``{name: {type, protocol, description, members}}``.

    ``members`` are the child lines as the device prints them (without the leading space and
    without ``description``), in order, e.g. ``network-object host 192.0.2.10``.
    """
    groups = {}
    current = None
    for raw in _lines(text):
        if not raw.strip():
            continue
        if raw[0] in " \t":
            if current is None:
                continue
            child = " ".join(raw.split())
            if child.startswith("description "):
                current["description"] = child[len("description "):]
            elif child != "description":
                current["members"].append(child)
            continue
        words = raw.split()
        current = None
        if len(words) >= 3 and words[0] == "object-group":
            current = groups.setdefault(words[2], {
                "type": words[1], "protocol": words[3] if len(words) > 3 else None,
                "description": None, "members": []})
    return groups


def parse_network_objects(text):
    """``show running-config object`` -> ``{name: {type, definition}}``.

    ``definition`` is the defining child line (``host A``, ``subnet A MASK``, ``subnet X::/len``,
    ``range A B``, ``fqdn NAME`` or ``service tcp destination eq smtp``); NAT and description
    lines are ignored.
    """
    objects = {}
    current = None
    for raw in _lines(text):
        if not raw.strip():
            continue
        if raw[0] in " \t":
            child = " ".join(raw.split())
            word = child.split(" ", 1)[0]
            if current is not None and word in ("host", "subnet", "range", "fqdn", "service"):
                current["definition"] = child
            continue
        words = raw.split()
        current = None
        if len(words) >= 3 and words[0] == "object":
            current = objects.setdefault(words[2], {"type": words[1], "definition": None})
    return objects


def parse_access_lists(text):
    """ACLs from ``show running-config access-list`` or ``show access-list``.

    Returns ``{acl_name: [ace, ...]}`` in line order. Each ACE is a dict with ``line`` (ASA's
    1-based line number: every ACE and remark counts, object-group expansions do not), ``text``
    (the ACE as configured, after ``access-list NAME``, e.g. ``extended permit tcp any host
    203.0.113.25 eq smtp``) and the parsed fields of ``parse_ace``.
    In ``show access-list`` output the printed line numbers are used, the hit counters and hashes
    dropped and the indented expansions skipped.
    """
    acls = {}
    for raw in _lines(text):
        if not raw.startswith("access-list "):
            continue
        words = raw.split()
        if len(words) < 3 or words[1].endswith(";") or words[1] == "cached":
            continue
        name = words[1]
        rest = words[2:]
        number = None
        if len(rest) >= 2 and rest[0] == "line" and rest[1].isdigit():
            number = int(rest[1])
            rest = rest[2:]
            rest = SHOW_ACL_TAIL.sub("", " ".join(rest)).split()
        entries = acls.setdefault(name, [])
        ace = parse_ace(rest)
        ace["line"] = number if number is not None else len(entries) + 1
        entries.append(ace)
    return acls


def parse_access_groups(text):
    """``show running-config access-group`` -> ``[{acl, direction, interface}]``.

    ``direction`` is ``in``, ``out`` or ``global`` (then ``interface`` is None).
    """
    bindings = []
    for raw in _lines(text):
        words = raw.split()
        if len(words) >= 3 and words[0] == "access-group":
            if words[2] == "global":
                bindings.append({"acl": words[1], "direction": "global", "interface": None})
            elif len(words) >= 5 and words[2] in ("in", "out") and words[3] == "interface":
                bindings.append({"acl": words[1], "direction": words[2], "interface": words[4]})
    return bindings


def parse_device(object_groups="", objects="", access_lists="", access_groups=""):
    """The four show outputs the role reads, parsed into one state dict."""
    return {
        "groups": parse_object_groups(object_groups),
        "objects": parse_network_objects(objects),
        "acls": parse_access_lists(access_lists),
        "access_groups": parse_access_groups(access_groups),
    }


def _is_address_start(words, i):
    if i >= len(words):
        return False
    word = words[i]
    if word in ANY_SOURCES or word in ("host", "object", "object-group", "interface"):
        return True
    if "/" in word and ":" in word:
        return True
    try:
        ipaddress.IPv4Address(word)
        return True
    except ValueError:
        return False


def _parse_address(words, i):
    word = words[i]
    if word in ANY_SOURCES:
        return {"kind": "any", "value": word}, i + 1
    if word in ("host", "object", "object-group", "interface") and i + 1 < len(words):
        return {"kind": word, "value": words[i + 1]}, i + 2
    if "/" in word:
        return {"kind": "prefix", "value": word}, i + 1
    if i + 1 < len(words):
        return {"kind": "mask", "value": "%s %s" % (word, words[i + 1])}, i + 2
    return {"kind": "unknown", "value": word}, i + 1


def _parse_port(words, i):
    """A port operator at words[i], or (None, i)."""
    if i < len(words) and words[i] in PORT_OPS:
        count = 2 if words[i] == "range" else 1
        if i + count < len(words):
            return {"op": words[i], "ports": words[i + 1:i + 1 + count]}, i + 1 + count
    return None, i


def parse_ace(words):
    """Parse the words of one ACE after ``access-list NAME`` (and ``line N``).

    Returns ``{text, kind, action, protocol, source, source_port, destination, destination_port,
    options, inactive, source_span}``; ``kind`` is ``remark``, ``extended`` or the other ACL type.
    An ``object-group`` right after the source is a source-port group when an address follows it.
    """
    ace = {"text": " ".join(words), "kind": None, "action": None, "protocol": None,
           "source": None, "source_port": None, "destination": None, "destination_port": None,
           "options": [], "inactive": False, "source_span": None}
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
    if i < len(words) and words[i] in ("object-group", "object") and i + 1 < len(words):
        ace["protocol"] = "%s %s" % (words[i], words[i + 1])
        i += 2
    elif i < len(words):
        ace["protocol"] = words[i]
        i += 1
    if i >= len(words):
        return ace
    start = i
    ace["source"], i = _parse_address(words, i)
    ace["source_span"] = [start, i]
    ace["source_port"], i = _parse_port(words, i)
    if ace["source_port"] is None and i + 1 < len(words) and words[i] == "object-group" \
            and _is_address_start(words, i + 2):
        ace["source_port"] = {"op": "object-group", "ports": [words[i + 1]]}
        i += 2
    if i < len(words):
        ace["destination"], i = _parse_address(words, i)
    ace["destination_port"], i = _parse_port(words, i)
    if ace["destination_port"] is None and i + 1 < len(words) and words[i] == "object-group":
        ace["destination_port"] = {"op": "object-group", "ports": [words[i + 1]]}
        i += 2
    ace["options"] = words[i:]
    ace["inactive"] = "inactive" in ace["options"]
    return ace


# ---------------------------------------------------------------------------------- evaluate
def port_number(token):
    """A TCP port token (number or ASA literal) as a number, or None."""
    if token.isdigit():
        return int(token)
    return TCP_PORTS.get(token)


def _merge(intervals):
    merged = []
    for low, high in sorted(intervals):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return tuple(merged)


def _operator_ports(port):
    """A port operator dict -> intervals of TCP ports; an unknown literal matches nothing."""
    if port is None:
        return ALL_PORTS
    numbers = [port_number(p) for p in port["ports"]]
    if None in numbers:
        return ()
    first = numbers[0]
    op = port["op"]
    if op == "eq":
        return ((first, first),)
    if op == "neq":
        return _merge([(0, first - 1), (first + 1, 65535)] if 0 < first < 65535 else
                      [(1, 65535)] if first == 0 else [(0, 65534)])
    if op == "lt":
        return ((0, first - 1),) if first > 0 else ()
    if op == "gt":
        return ((first + 1, 65535),) if first < 65535 else ()
    return ((first, numbers[1]),)


def _service_line_ports(words, groups, objects, seen):
    """TCP destination ports of one ``service-object``/``service`` definition (words after it)."""
    if not words:
        return ()
    if words[0] == "object" and len(words) > 1:
        obj = objects.get(words[1])
        if not obj or not obj.get("definition"):
            return ()
        return _service_line_ports(obj["definition"].split()[1:], groups, objects, seen)
    proto = words[0]
    if proto in ALL_IP_PROTOCOLS:
        return ALL_PORTS
    if proto not in TCP_PROTOCOLS and proto != "tcp-udp":
        return ()
    rest = words[1:]
    destination = None
    i = 0
    while i < len(rest):
        if rest[i] in ("source", "destination"):
            port, nxt = _parse_port(rest, i + 1)
            if rest[i] == "destination":
                destination = port
            i = nxt if nxt > i + 1 else i + 1
        elif rest[i] in PORT_OPS:
            destination, i = _parse_port(rest, i)
            i = max(i, 1)
        else:
            i += 1
    return _operator_ports(destination)


def group_tcp_ports(name, groups, objects=None, seen=None):
    """TCP destination ports a service or port object group matches (nested groups included)."""
    objects = objects or {}
    seen = set() if seen is None else seen
    group = groups.get(name)
    if group is None or name in seen:
        return ()
    seen.add(name)
    intervals = []
    if group["type"] == "service" and group["protocol"]:
        if group["protocol"] not in ("tcp", "tcp-udp"):
            return ()
        for member in group["members"]:
            words = member.split()
            if words[0] == "port-object":
                intervals.extend(_operator_ports(_parse_port(words, 1)[0]))
            elif words[0] == "group-object" and len(words) > 1:
                intervals.extend(group_tcp_ports(words[1], groups, objects, seen))
    elif group["type"] == "service":
        for member in group["members"]:
            words = member.split()
            if words[0] == "service-object":
                intervals.extend(_service_line_ports(words[1:], groups, objects, seen))
            elif words[0] == "group-object" and len(words) > 1:
                intervals.extend(group_tcp_ports(words[1], groups, objects, seen))
    return _merge(intervals)


def _protocol_group_has_tcp(name, groups, seen=None):
    seen = set() if seen is None else seen
    group = groups.get(name)
    if group is None or name in seen:
        return False
    seen.add(name)
    for member in group["members"]:
        words = member.split()
        if words[0] == "protocol-object" and len(words) > 1 and \
                (words[1] in TCP_PROTOCOLS or words[1] in ALL_IP_PROTOCOLS):
            return True
        if words[0] == "group-object" and len(words) > 1 and _protocol_group_has_tcp(words[1], groups, seen):
            return True
    return False


def ace_tcp_ports(ace, groups, objects=None):
    """The TCP destination ports an ACE matches, as merged ``(low, high)`` intervals.

    Follows the protocol (``tcp``, ``ip``, a protocol or service object group, a service object)
    and the destination port (operator or port group). Source ports are not considered: an ACE
    restricted to some source ports still admits TCP/25 from those ports.
    """
    objects = objects or {}
    if ace.get("action") is None or ace.get("protocol") is None:
        return ()
    proto = ace["protocol"]
    if proto.startswith("object-group "):
        name = proto.split(" ", 1)[1]
        group = groups.get(name)
        if group is None:
            return ()
        if group["type"] == "protocol":
            if not _protocol_group_has_tcp(name, groups):
                return ()
            proto = "tcp"
        else:
            return group_tcp_ports(name, groups, objects)
    elif proto.startswith("object "):
        obj = objects.get(proto.split(" ", 1)[1])
        if not obj or not obj.get("definition"):
            return ()
        return _service_line_ports(obj["definition"].split()[1:], groups, objects, set())
    if proto in ALL_IP_PROTOCOLS:
        return ALL_PORTS
    if proto not in TCP_PROTOCOLS:
        return ()
    port = ace.get("destination_port")
    if port and port["op"] == "object-group":
        return group_tcp_ports(port["ports"][0], groups, objects)
    return _operator_ports(port)


def ace_matches_tcp_port(ace, port, groups, objects=None):
    """True when the ACE's service matches TCP destination ``port`` (whatever its action)."""
    return any(low <= port <= high for low, high in ace_tcp_ports(ace, groups, objects))


def ace_admits_tcp_port(ace, port, groups, objects=None):
    """True when the ACE is an active ``permit`` whose service matches TCP destination ``port``."""
    return ace.get("action") == "permit" and not ace.get("inactive") and \
        ace_matches_tcp_port(ace, port, groups, objects)


def ace_is_smtp_only(ace, groups, objects=None):
    """True when the ACE's service is TCP/25 and nothing else."""
    return ace_tcp_ports(ace, groups, objects) == ((SMTP_PORT, SMTP_PORT),)


def source_is_anywhere(address):
    """``any``/``any4``/``any6`` or ``0.0.0.0 0.0.0.0``."""
    if not address:
        return False
    return address["kind"] == "any" or (address["kind"] == "mask" and address["value"] == "0.0.0.0 0.0.0.0")


def resolve_address(address, groups, objects=None, seen=None):
    """An ACE operand as a list of ``ipaddress`` networks, or None when it cannot be resolved
    (``interface``, FQDN objects, unknown names)."""
    objects = objects or {}
    seen = set() if seen is None else seen
    kind, value = address["kind"], address["value"]
    try:
        if kind == "any":
            nets = []
            if value in ("any", "any4"):
                nets.append(ipaddress.ip_network("0.0.0.0/0"))
            if value in ("any", "any6"):
                nets.append(ipaddress.ip_network("::/0"))
            return nets
        if kind == "host":
            return [ipaddress.ip_network(value)]
        if kind == "mask":
            return [parse_network(value, "ACE operand")]
        if kind == "prefix":
            return [ipaddress.ip_network(value, strict=False)]
    except (ValueError, RangeError):
        return None
    if kind == "object":
        obj = objects.get(value)
        if not obj or not obj.get("definition"):
            return None
        return _definition_networks(obj["definition"])
    if kind == "object-group":
        group = groups.get(value)
        if group is None or group["type"] != "network" or value in seen:
            return None
        seen.add(value)
        nets = []
        for member in group["members"]:
            member_nets = network_member(member, groups, objects, seen)
            if member_nets is None:
                return None
            nets.extend(member_nets)
        return nets
    return None


def _definition_networks(definition):
    words = definition.split()
    try:
        if words[0] == "host":
            return [ipaddress.ip_network(words[1])]
        if words[0] == "subnet":
            return [parse_network(" ".join(words[1:]), "object subnet")]
        if words[0] == "range":
            return list(ipaddress.summarize_address_range(ipaddress.ip_address(words[1]),
                                                          ipaddress.ip_address(words[2])))
    except (ValueError, RangeError, IndexError, TypeError):
        return None
    return None


def network_member(member, groups, objects=None, seen=None):
    """The networks of one ``network-object``/``group-object`` line, or None if unresolvable."""
    words = member.split()
    if words[0] == "group-object" and len(words) > 1:
        return resolve_address({"kind": "object-group", "value": words[1]}, groups, objects, seen)
    if words[0] != "network-object" or len(words) < 2:
        return None
    if words[1] == "object" and len(words) > 2:
        return resolve_address({"kind": "object", "value": words[2]}, groups, objects, seen)
    try:
        return [parse_network(" ".join(words[1:]), "network-object")]
    except RangeError:
        return None


def _covers(outer, inner):
    """Every network of ``inner`` lies in some network of ``outer``."""
    return all(any(n.version == o.version and n.subnet_of(o) for o in outer) for n in inner)


def _overlaps(first, second):
    return any(a.version == b.version and a.overlaps(b) for a in first for b in second)


# -------------------------------------------------------------------------------------- plan
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


def _member_key(member):
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
    current_keys = set(_member_key(m) for m in current)
    want_keys = set(net for net, line in want)
    added = [line for net, line in want if net not in current_keys]
    removed = [member for member in current if _member_key(member) not in want_keys]
    change = {"name": name, "created": group is None, "added": added, "removed": removed,
              "before": list(current)}
    if not added and not removed:
        return [], change
    commands = ["object-group network %s" % name] + added + ["no %s" % m for m in removed]
    return commands, change


def _check_name(value, option):
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise AsaPlanError("%s: %r is not a valid ASA object name (1-64 letters, digits, '_', '-', "
                           "'.', starting with a letter or digit)" % (option, value))


def _mail_server_networks(mail_servers):
    nets = []
    for index, item in enumerate(mail_servers or []):
        try:
            nets.append(parse_network(item, "hes_asa_mail_servers[%d]" % index))
        except RangeError as exc:
            raise AsaPlanError(str(exc))
    return nets


def _scope(state, interfaces, use_global, acl_name):
    """The ACLs to harden, from the access-group bindings: [(acl, [binding texts])]."""
    bound = {}
    missing = []
    for interface in interfaces:
        names = [b["acl"] for b in state["access_groups"]
                 if b["direction"] == "in" and b["interface"] == interface]
        if not names:
            missing.append(interface)
        for name in names:
            bound.setdefault(name, []).append("access-group %s in interface %s" % (name, interface))
    if use_global:
        names = [b["acl"] for b in state["access_groups"] if b["direction"] == "global"]
        if not names:
            missing.append("global")
        for name in names:
            bound.setdefault(name, []).append("access-group %s global" % name)
    if missing and not bound:
        raise AsaPlanError("no access-group binds an ACL inbound to %s; bindings on the device: %s"
                           % (", ".join(missing), _describe_bindings(state)))
    if acl_name:
        if acl_name not in bound:
            raise AsaPlanError("hes_asa_acl_name: ACL %s is not bound inbound to %s (bound there: %s)"
                               % (acl_name, ", ".join(interfaces + (["global"] if use_global else [])),
                                  ", ".join(sorted(bound)) or "none"))
        bound = {acl_name: bound[acl_name]}
    return [(name, bound[name]) for name in sorted(bound)], missing


def _describe_bindings(state):
    texts = []
    for b in state["access_groups"]:
        if b["direction"] == "global":
            texts.append("%s global" % b["acl"])
        else:
            texts.append("%s %s %s" % (b["acl"], b["direction"], b["interface"]))
    return ", ".join(texts) or "none"


def _replace_source(ace, group_name):
    words = ace["text"].split()
    start, end = ace["source_span"]
    return " ".join(words[:start] + ["object-group", group_name] + words[end:])


def _dst_text(ace):
    words = ace["text"].split()
    start = ace["source_span"][1]
    if ace["source_port"]:
        start += 1 + len(ace["source_port"]["ports"])
    dst = ace["destination"]
    width = 1 if dst["kind"] in ("any", "prefix", "unknown") else 2
    return " ".join(words[start:start + width])


def _address_text(net):
    if net.version == 4 and net.prefixlen == 32 or net.version == 6 and net.prefixlen == 128:
        return "host %s" % net.network_address
    return asa_network_object(net)


def _is_neutralized(acl, broad, server, groups, objects):
    """An earlier active deny refuses TCP/25 from anywhere to ``server`` before ``broad``."""
    for ace in acl:
        if ace["line"] >= broad["line"]:
            return False
        if ace.get("action") != "deny" or ace.get("inactive") or not source_is_anywhere(ace["source"]):
            continue
        if not ace_matches_tcp_port(ace, SMTP_PORT, groups, objects):
            continue
        dst = resolve_address(ace["destination"], groups, objects) if ace["destination"] else None
        if dst and _covers(dst, [server]):
            return True
    return False


def _ace_summary(acl_name, ace, bindings, status, destinations):
    return {"acl": acl_name, "line": ace["line"], "text": ace["text"], "status": status,
            "bindings": bindings, "destination": [str(n) for n in destinations or []]}


def plan_hardening(state, ranges, group_name="TM_HES_IP_RANGE", interfaces=("outside",),
                   use_global_acl=False, acl_name=None, mail_servers=None,
                   add_ace_when_missing=False, deny_after_permit=False):
    """Plan the hardening of a parsed device ``state`` (see ``parse_device``).

    Returns ``{commands, changed, changes, findings, backup, errors, preview}`` (``preview``: the
    group's members and each touched ACL's ACE texts before and after). ``errors`` lists the
    reasons not to push (nothing found, broader permits); the commands are then still the plan
    that would apply if those were resolved, but must not be sent.
    """
    _check_name(group_name, "hes_group_name")
    if acl_name:
        _check_name(acl_name, "hes_asa_acl_name")
    interfaces = list(interfaces or [])
    if not interfaces and not use_global_acl:
        raise AsaPlanError("hes_asa_interfaces is empty and hes_asa_use_global_acl is false: "
                           "no ACL to harden")
    servers_given = _mail_server_networks(mail_servers)
    if add_ace_when_missing and not servers_given:
        raise AsaPlanError("hes_asa_add_ace_when_missing needs hes_asa_mail_servers: the "
                           "destination of the ACE to add")
    groups, objects = state["groups"], state.get("objects", {})
    group_commands, group_change = plan_group(group_name, ranges, groups)
    scope, unbound = _scope(state, interfaces, use_global_acl, acl_name)

    errors = []
    rules = []          # {acl, bindings, ace, status, dst}: the SMTP rules found
    candidates = []     # permits admitting TCP/25 from anywhere that are not rules
    for name, bindings in scope:
        for ace in state["acls"].get(name, []):
            if ace.get("action") != "permit" or ace.get("inactive") or ace["source"] is None:
                continue
            if not ace_matches_tcp_port(ace, SMTP_PORT, groups, objects):
                continue
            dst = resolve_address(ace["destination"], groups, objects) if ace["destination"] else None
            smtp_only = ace_is_smtp_only(ace, groups, objects) and ace["source_port"] is None
            in_filter = not servers_given or (dst is not None and _covers(servers_given, dst))
            found = {"acl": name, "bindings": bindings, "ace": ace, "dst": dst}
            if smtp_only and in_filter and source_is_anywhere(ace["source"]):
                rules.append(dict(found, status="replace"))
            elif smtp_only and in_filter and ace["source"] == {"kind": "object-group", "value": group_name}:
                rules.append(dict(found, status="hardened"))
            elif source_is_anywhere(ace["source"]):
                candidates.append(found)

    servers = servers_given or _unique([n for rule in rules for n in rule["dst"] or []])
    broader = []        # candidates with "hit": the mail servers they admit SMTP to from anywhere
    for found in candidates:
        acl = state["acls"][found["acl"]]
        hit = [s for s in servers if found["dst"] is not None and _overlaps(found["dst"], [s])
               and not _is_neutralized(acl, found["ace"], s, groups, objects)]
        if hit:
            broader.append(dict(found, hit=hit))

    findings = {
        "acls": [{"acl": name, "bindings": bindings} for name, bindings in scope],
        "unbound": unbound,
        "rules": [_ace_summary(r["acl"], r["ace"], r["bindings"], r["status"], r["dst"]) for r in rules],
        "broader_permits": [dict(_ace_summary(b["acl"], b["ace"], b["bindings"], "broader", None),
                                 mail_servers=[str(s) for s in b["hit"]]) for b in broader],
        "mail_servers": [str(s) for s in servers],
        "group": {"name": group_name, "exists": group_name in groups,
                  "members": list(groups[group_name]["members"]) if group_name in groups else []},
    }

    missing_servers = [s for s in servers_given
                       if not any(rule["dst"] and _covers(rule["dst"], [s]) for rule in rules)]
    additions = []
    if not rules and not add_ace_when_missing:
        errors.append(_nothing_found(scope, group_name, servers_given))
    elif missing_servers and not add_ace_when_missing:
        errors.append("no inbound SMTP permit (TCP/25 only, from any or from object-group %s) to %s "
                      "in %s; set hes_asa_add_ace_when_missing to add one"
                      % (group_name, ", ".join(str(s) for s in missing_servers),
                         ", ".join(acl for acl, bindings in scope)))
    elif missing_servers:
        if len(scope) != 1:
            errors.append("hes_asa_add_ace_when_missing: %d ACLs are in scope (%s); set "
                          "hes_asa_acl_name to choose where the new ACE goes"
                          % (len(scope), ", ".join(acl for acl, bindings in scope)))
        else:
            additions = [(scope[0][0], s) for s in missing_servers]

    denies = _plan_denies(rules, additions, broader, deny_after_permit, errors)

    acl_commands, rule_changes, models = _plan_acls(state, rules, additions, denies, group_name)
    commands = group_commands + acl_commands
    changes = {"group": group_change, "rules": rule_changes}
    preview = {
        "group": {"before": group_change["before"],
                  "after": [m for m in group_change["before"] if m not in group_change["removed"]]
                  + group_change["added"]},
        "acls": {name: {"before": [a["text"] for a in state["acls"].get(name, [])],
                        "after": list(model.texts)}
                 for name, model in sorted(models.items()) if model.commands},
    }
    backup = {
        "format": BACKUP_FORMAT,
        "group": {"name": group_name, "existed": group_name in groups,
                  "members": list(groups[group_name]["members"]) if group_name in groups else []},
        "rules": rule_changes,
    }
    return {"commands": commands, "changed": bool(commands), "changes": changes,
            "findings": findings, "backup": backup, "errors": errors, "preview": preview}


def _unique(items):
    seen, result = set(), []
    for item in items:
        if item not in seen:
            seen.add(item)
            result.append(item)
    return result


def _nothing_found(scope, group_name, servers_given):
    where = ", ".join("%s (%s)" % (n, "; ".join(b)) for n, b in scope)
    limit = " to %s" % ", ".join(str(s) for s in servers_given) if servers_given else ""
    return ("no inbound SMTP permit found%s in %s: looked for active 'permit' ACEs whose service "
            "is TCP/25 alone (eq smtp, eq 25 or a service group holding only tcp/25) from any/any4 "
            "or from object-group %s; set hes_asa_acl_name / hes_asa_interfaces to point at the "
            "right ACL, or hes_asa_add_ace_when_missing with hes_asa_mail_servers to add one"
            % (limit, where or "no ACL", group_name))


def _plan_denies(rules, additions, broader, deny_after_permit, errors):
    """Which rules (by acl and line) get a ``deny tcp any <dst> eq smtp`` right after them, and
    which new ACEs must go above a broader permit. Appends to ``errors`` what cannot be fixed."""
    denies = {}
    if not broader:
        return denies
    for found in broader:
        name, ace, hit = found["acl"], found["ace"], found["hit"]
        described = "%s line %d '%s' admits TCP/25 from anywhere to %s" % (
            name, ace["line"], ace["text"], ", ".join(str(s) for s in hit))
        if not deny_after_permit:
            errors.append("broader permit: %s; it cannot be rewritten without cutting other services. "
                          "Narrow it by hand, or set hes_asa_deny_after_permit to insert "
                          "'deny tcp any <mail server> eq smtp' right after the group's SMTP permit"
                          % described)
            continue
        for server in hit:
            above = [r["ace"] for r in rules if r["acl"] == name and r["dst"] and
                     _covers(r["dst"], [server]) and r["ace"]["line"] < ace["line"]]
            added_here = [s for n, s in additions if n == name and s == server]
            if above:
                first = min(above, key=lambda a: a["line"])
                denies[(name, first["line"])] = True
            elif added_here:
                denies.setdefault((name, "new", str(server)), ace["line"])
            else:
                errors.append("broader permit: %s, and it comes before (or without) the SMTP rule "
                              "for %s in %s, so a deny after that rule would not stop it; move "
                              "or narrow it by hand" % (described, server, name))
    return denies


class _AclModel:
    """The ACE texts of one ACL, kept in device order while commands are planned, so that each
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


def _plan_acls(state, rules, additions, denies, group_name):
    models = {}
    changes = []
    for rule in rules:
        name, ace, status = rule["acl"], rule["ace"], rule["status"]
        model = models.setdefault(name, _AclModel(name, state["acls"][name]))
        deny_text = "extended deny tcp any %s eq smtp" % _dst_text(ace) if denies.get((name, ace["line"])) else None
        if status == "hardened":
            if deny_text:
                model.insert(model.position(ace["text"]) + 1, deny_text)
                changes.append({"acl": name, "line": ace["line"], "action": "deny_added",
                                "before": None, "after": ace["text"], "deny": deny_text})
            continue
        new_text = _replace_source(ace, group_name)
        if new_text in model.texts:
            if model.position(new_text) > model.position(ace["text"]):
                raise AsaPlanError("ACL %s: '%s' (line %d) already exists below '%s' (line %d); "
                                   "removing the 'any' rule would move SMTP from the ranges behind "
                                   "the ACEs between them: merge the two by hand"
                                   % (name, new_text, model.position(new_text), ace["text"], ace["line"]))
            model.remove(ace["text"])
            changes.append({"acl": name, "line": ace["line"], "action": "removed_duplicate",
                            "before": ace["text"], "after": new_text, "deny": None})
            continue
        line = model.position(ace["text"])
        model.insert(line, new_text)
        if deny_text:
            model.insert(line + 1, deny_text)
        model.remove(ace["text"])
        changes.append({"acl": name, "line": ace["line"], "action": "replaced",
                        "before": ace["text"], "after": new_text, "deny": deny_text})
    for name, server in additions:
        model = models.setdefault(name, _AclModel(name, state["acls"].get(name, [])))
        dst = _address_text(server)
        new_text = "extended permit tcp object-group %s %s eq smtp" % (group_name, dst)
        before_line = denies.get((name, "new", str(server)))
        if before_line is not None:
            broad_text = next(a["text"] for a in state["acls"][name] if a["line"] == before_line)
            line = model.position(broad_text)
            deny_text = "extended deny tcp any %s eq smtp" % dst
            model.insert(line, new_text)
            model.insert(line + 1, deny_text)
        else:
            deny_text = None
            line = len(model.texts) + 1
            model.append(new_text)
        changes.append({"acl": name, "line": line, "action": "added", "before": None,
                        "after": new_text, "deny": deny_text})
    commands = []
    for name in sorted(models):
        commands.extend(models[name].commands)
    return commands, changes, models


def plan_rollback(state, backup):
    """Commands that restore a backup written by ``plan_hardening``: original ACEs back at their
    place (each inserted before the ACE that replaced it is removed), added ACEs and denies
    removed, then the group's original membership (or the group removed if it did not exist and
    nothing references it any more). Returns ``{commands, changed, warnings}``."""
    if not isinstance(backup, dict) or backup.get("format") != BACKUP_FORMAT:
        raise AsaPlanError("backup: not an emailsec.hes ASA backup (format %r, expected %d)"
                           % (backup.get("format") if isinstance(backup, dict) else backup, BACKUP_FORMAT))
    group = backup["group"]
    _check_name(group["name"], "backup group name")
    models = {}
    warnings = []
    for change in sorted(backup.get("rules", []), key=lambda c: (c["acl"], c["line"])):
        name = change["acl"]
        if name not in state["acls"]:
            warnings.append("ACL %s no longer exists; its change at line %d is not restored"
                            % (name, change["line"]))
            continue
        model = models.setdefault(name, _AclModel(name, state["acls"][name]))
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
    for name in sorted(models):
        commands.extend(models[name].commands)

    current = state["groups"].get(group["name"])
    if group["existed"]:
        current_members = current["members"] if current else []
        current_keys = set(_member_key(m) for m in current_members)
        original_keys = set(_member_key(m) for m in group["members"])
        add = [m for m in group["members"] if _member_key(m) not in current_keys]
        remove = [m for m in current_members if _member_key(m) not in original_keys]
        if add or remove:
            commands.extend(["object-group network %s" % group["name"]] + add + ["no %s" % m for m in remove])
    elif current is not None:
        still_used = [(n, t) for n, texts in _all_texts(state, models) for t in texts
                      if _references(t, group["name"])]
        still_used += [("object-group", g) for g, spec in state["groups"].items()
                       if "group-object %s" % group["name"] in spec["members"]]
        if still_used:
            warnings.append("object group %s was created by the hardening but is still used by %s; "
                            "left in place" % (group["name"], "; ".join("%s '%s'" % u for u in still_used)))
        else:
            commands.append("no object-group network %s" % group["name"])
    return {"commands": commands, "changed": bool(commands), "warnings": warnings}


def _all_texts(state, models):
    for name, aces in state["acls"].items():
        yield name, models[name].texts if name in models else [a["text"] for a in aces]


def _references(text, group_name):
    words = text.split()
    return any(words[i] == "object-group" and words[i + 1] == group_name for i in range(len(words) - 1))
