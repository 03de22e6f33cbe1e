# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cisco ASA configuration (``asa.parse``) -> the vendor-neutral policy model.

One ``Path`` per interface (nameif): the ACL bound inbound to it, then the global ACL, then the
implicit deny (first match; ``inactive`` ACEs skipped; remarks skipped). An interface with
neither ACL follows the security levels: from level 0 nothing gets in (unless
``same-security-traffic permit inter-interface``); from a higher level the engine cannot know
the egress interface, so it counts as "anything may pass" and says so.

Every operand is resolved: ``any``/``any4``/``any6``, ``host``, ``IP MASK``, IPv6 prefixes,
``name`` aliases, network objects (host, subnet, range), network object-groups (nested),
``interface IFC`` (the interface's own addresses); protocol names and numbers, protocol groups,
service groups (legacy port groups of tcp/udp/tcp-udp and extended ``service-object`` groups,
nested), service objects, source and destination port operators with ASA's literals, ICMP types
and icmp-type groups. What cannot be resolved from the configuration is uncertain (it may match
anything of its kind, or nothing): fqdn objects, identity and TrustSec operands (user, security
group), time-ranges, unknown names or literals.

ACLs bound ``out`` on an interface are a second stage: the flow meets the out ACL of the
interface its destination is routed to (longest prefix over the connected subnets and the
``route`` / ``ipv6 route`` lines), then that ACL's implicit deny.

Not modelled: NAT (ASA 8.3+ ACLs see real addresses, which is what the mail servers are given
as), no-route drops, to-the-box traffic.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.emailsec.hes.plugins.module_utils.asa.parse import (
    acl_bindings,
    parse_ace,
)
from ansible_collections.emailsec.hes.plugins.module_utils.policy.model import Chain, Path, Policy, Rule, Stage
from ansible_collections.emailsec.hes.plugins.module_utils.policy.space import (
    ICMP,
    ICMP6,
    PORT_MAX,
    PROTO_MAX,
    TCP,
    UDP,
    address_sets,
    addresses_subtract,
    addresses_union,
    any_addresses,
    interval,
    iv_from_pairs,
    iv_union,
    match_cubes,
    no_addresses,
    region_union,
    universe,
)

# ASA port literals (asa-cli.md §9), per protocol.
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
UDP_PORTS = {
    "biff": 512, "bootpc": 68, "bootps": 67, "cifs": 3020, "discard": 9, "dnsix": 195, "domain": 53,
    "echo": 7, "isakmp": 500, "kerberos": 750, "mobile-ip": 434, "nameserver": 42,
    "netbios-dgm": 138, "netbios-ns": 137, "nfs": 2049, "ntp": 123, "pcanywhere-status": 5632,
    "pim-auto-rp": 496, "radius": 1645, "radius-acct": 1646, "rip": 520, "secureid-udp": 5510,
    "sip": 5060, "snmp": 161, "snmptrap": 162, "sunrpc": 111, "syslog": 514, "tacacs": 49,
    "talk": 517, "tftp": 69, "time": 37, "vxlan": 4789, "who": 513, "www": 80, "xdmcp": 177,
}
PROTOCOLS = {
    "ip": None, "tcp": TCP, "udp": UDP, "icmp": ICMP, "icmp6": ICMP6, "ah": 51, "eigrp": 88,
    "esp": 50, "gre": 47, "igmp": 2, "igrp": 9, "ipinip": 4, "ipsec": 50, "nos": 94, "ospf": 89,
    "pcp": 108, "pim": 103, "pptp": 47, "snp": 109, "sctp": 132,
}
ICMP_TYPES = {
    "echo-reply": 0, "unreachable": 3, "source-quench": 4, "redirect": 5, "alternate-address": 6,
    "echo": 8, "router-advertisement": 9, "router-solicitation": 10, "time-exceeded": 11,
    "parameter-problem": 12, "timestamp-request": 13, "timestamp-reply": 14,
    "information-request": 15, "information-reply": 16, "mask-request": 17, "mask-reply": 18,
    "traceroute": 30, "conversion-error": 31, "mobile-redirect": 32,
}
ICMP6_TYPES = {
    "unreachable": 1, "packet-too-big": 2, "time-exceeded": 3, "parameter-problem": 4,
    "echo": 128, "echo-reply": 129, "membership-query": 130, "membership-report": 131,
    "membership-reduction": 132, "router-solicitation": 133, "router-advertisement": 134,
    "neighbor-solicitation": 135, "neighbor-advertisement": 136, "neighbor-redirect": 137,
    "router-renumbering": 138,
}
ALL_PORTS = interval(0, PORT_MAX)


class Doubt(object):
    """Collects what cannot be resolved while one ACE is modelled."""

    def __init__(self):
        self.reasons = []

    def add(self, reason):
        if reason not in self.reasons:
            self.reasons.append(reason)


# ---------------------------------------------------------------- addresses

def _address_text_networks(text, config):
    """``A MASK`` / ``A`` / ``X::/n`` / a name -> networks, or None."""
    words = text.split()
    words[0] = config["names"].get(words[0], words[0])
    try:
        if len(words) == 2:
            return [ipaddress.ip_network("%s/%s" % (words[0], words[1]))]
        return [ipaddress.ip_network(words[0], strict=True)]
    except ValueError:
        return None


def _object_addresses(name, config, doubt):
    obj = config["objects"].get(name)
    if obj is None or obj["type"] != "network" or not obj["definition"]:
        doubt.add("network object %s is not defined" % name)
        return None
    words = obj["definition"].split()
    kind = words[0]
    try:
        if kind == "host":
            return address_sets([ipaddress.ip_address(config["names"].get(words[1], words[1]))])
        if kind == "subnet":
            nets = _address_text_networks(" ".join(words[1:]), config)
            if nets is not None:
                return address_sets(nets)
        if kind == "range":
            first, last = (ipaddress.ip_address(w) for w in words[1:3])
            return address_sets([(first, last)])
    except (ValueError, IndexError):
        pass
    if kind == "fqdn":
        doubt.add("object %s is fqdn %s: its addresses are resolved by DNS at run time" % (name, words[-1]))
        family = {"v4": [4], "v6": [6]}.get(words[1], [4, 6]) if len(words) > 2 else [4, 6]
        return _doubtful_any(family)
    doubt.add("network object %s ('%s') is not understood" % (name, obj["definition"]))
    return None


def _doubtful_any(families):
    sets = no_addresses()
    for family in families:
        sets[family] = any_addresses()[family]
    return {"min": no_addresses(), "max": sets}


def _memoised(kind, resolve, name, config, doubt, seen, memo):
    """``resolve(name, config, doubt, seen, memo)`` once per (kind, name) and ``memo`` (a dict
    shared while one configuration is modelled), its doubts replayed on each later use. A group
    found inside itself is not remembered: that answer depends on where the walk entered it."""
    if memo is not None and (kind, name) in memo:
        result, reasons = memo[(kind, name)]
        for reason in reasons:
            doubt.add(reason)
        return result
    mine = Doubt()
    result = resolve(name, config, mine, seen, memo)
    for reason in mine.reasons:
        doubt.add(reason)
    if memo is not None and not any("contains itself" in r for r in mine.reasons):
        memo[(kind, name)] = (result, list(mine.reasons))
    return result


def group_addresses(name, config, doubt, seen, memo=None):
    """A network object-group's addresses ``{"min", "max"}``, or None (with a doubt) when it is
    not defined; resolved once per configuration with ``memo``."""
    return _memoised("group", _group_addresses, name, config, doubt, seen, memo)


def _group_addresses(name, config, doubt, seen, memo):
    group = config["groups"].get(name)
    if group is None or group["type"] != "network":
        doubt.add("network object-group %s is not defined" % name)
        return None
    if name in seen:
        doubt.add("object-group %s contains itself" % name)
        return None
    seen = seen | {name}
    low, high = no_addresses(), no_addresses()
    for member in group["members"]:
        words = member.split()
        part = None
        if words[0] == "group-object" and len(words) > 1:
            part = group_addresses(words[1], config, doubt, seen, memo)
        elif words[0] == "network-object" and len(words) > 2 and words[1] == "object":
            part = _object_addresses(words[2], config, doubt)
        elif words[0] == "network-object" and len(words) > 2 and words[1] == "host":
            nets = _address_text_networks(words[2], config)
            part = address_sets(nets) if nets else None
        elif words[0] == "network-object" and len(words) > 1:
            nets = _address_text_networks(" ".join(words[1:]), config)
            part = address_sets(nets) if nets else None
        if part is None:
            doubt.add("object-group %s member '%s' is not understood" % (name, member))
            part = _doubtful_any([4, 6])
        low, high = _add_span(low, high, part)
    return {"min": low, "max": high}


def _add_span(low, high, part):
    if "min" in part:
        return addresses_union(low, part["min"]), addresses_union(high, part["max"])
    return addresses_union(low, part), addresses_union(high, part)


def operand_addresses(operand, config, doubt, memo=None):
    """An ACE operand -> ``{"min": sets, "max": sets}`` (equal when certain)."""
    kind, value = operand["kind"], operand["value"]
    sets = None
    if kind == "any":
        families = {"any": [4, 6], "any4": [4], "any6": [6]}[value]
        sets = no_addresses()
        for family in families:
            sets[family] = any_addresses()[family]
    elif kind in ("host", "mask", "prefix"):
        nets = _address_text_networks(value, config)
        if nets is None:
            doubt.add("address '%s' is not understood" % value)
        else:
            sets = address_sets(nets)
    elif kind == "object":
        sets = _object_addresses(value, config, doubt)
    elif kind == "object-group":
        sets = group_addresses(value, config, doubt, frozenset(), memo)
    elif kind == "interface":
        interface = config["interfaces"].get(value)
        if interface and interface["addresses"]:
            sets = address_sets(ipaddress.ip_address(a) for a in interface["addresses"])
        else:
            doubt.add("interface %s has no address in the configuration" % value)
    else:
        doubt.add("operand '%s' is not understood" % value)
    if sets is None:
        return _doubtful_any([4, 6])
    if "min" in sets:
        return sets
    return {"min": sets, "max": sets}


def ace_destinations(ace, config):
    """The widest destination address sets of a parsed ACE."""
    return operand_addresses(ace["destination"], config, Doubt())["max"]


# ---------------------------------------------------------------- services

def port_value(token, protocol):
    """A port token (number or ASA literal of that protocol) -> int, or None."""
    if token.isdigit():
        value = int(token)
        return value if value <= PORT_MAX else None
    if protocol == TCP:
        return TCP_PORTS.get(token)
    if protocol == UDP:
        return UDP_PORTS.get(token)
    tcp, udp = TCP_PORTS.get(token), UDP_PORTS.get(token)
    return tcp if tcp is not None and (udp is None or tcp == udp) else None


def operator_ports(op, tokens, protocol, doubt):
    """An operator and its tokens -> IntervalSet of ports (None and a doubt when not understood)."""
    values = [port_value(t, protocol) for t in tokens]
    if not tokens or None in values or (op == "range" and len(values) < 2):
        doubt.add("port '%s %s' is not understood" % (op, " ".join(tokens)))
        return None
    first = values[0]
    if op == "eq":
        return interval(first, first)
    if op == "neq":
        return iv_from_pairs([(0, first - 1), (first + 1, PORT_MAX)])
    if op == "lt":
        return interval(0, first - 1)
    if op == "gt":
        return interval(first + 1, PORT_MAX)
    return interval(first, values[1])


class Term(object):
    """One service: protocols, source ports, destination ports (IntervalSets; None: all).
    ``certain`` False when it stands for "possibly this, possibly nothing"."""

    __slots__ = ("protocols", "sport", "dport", "certain")

    def __init__(self, protocols, sport=None, dport=None, certain=True):
        self.protocols = protocols
        self.sport = sport
        self.dport = dport
        self.certain = certain


def _protocol_set(word, doubt):
    if word in ("ip", "0"):
        return interval(0, PROTO_MAX)
    if word.isdigit() and int(word) <= PROTO_MAX:
        return interval(int(word), int(word))
    if word in PROTOCOLS:
        return interval(PROTOCOLS[word], PROTOCOLS[word])
    if word == "tcp-udp":
        return iv_from_pairs([(TCP, TCP), (UDP, UDP)])
    doubt.add("protocol '%s' is not understood" % word)
    return None


def _single_protocol(word):
    if word == "tcp-udp":
        return None
    return PROTOCOLS.get(word, int(word) if word.isdigit() else None)


def _clauses(words, protocol, doubt):
    """``[source OP ..] [destination OP ..]`` or a bare ``OP ..`` (destination) -> (sport, dport)."""
    sport = dport = None
    i = 0
    while i < len(words):
        target = "dport"
        if words[i] in ("source", "destination"):
            target = "sport" if words[i] == "source" else "dport"
            i += 1
        if i < len(words) and words[i] in ("eq", "neq", "lt", "gt", "range"):
            count = 2 if words[i] == "range" else 1
            ports = operator_ports(words[i], words[i + 1:i + 1 + count], protocol, doubt)
            if ports is None:
                ports = ALL_PORTS
            if target == "sport":
                sport = ports
            else:
                dport = ports
            i += 1 + count
        else:
            doubt.add("service clause '%s' is not understood" % " ".join(words[i:]))
            return sport, dport, False
    return sport, dport, True


def _icmp_term(protocol_word, words, doubt):
    """``icmp [TYPE [CODE]]`` -> Term (type in dport, code in sport)."""
    number = ICMP if protocol_word in ("icmp", "1") else ICMP6
    protocols = interval(number, number)
    if not words:
        return Term(protocols)
    table = ICMP_TYPES if number == ICMP else ICMP6_TYPES
    kind = words[0]
    value = int(kind) if kind.isdigit() else table.get(kind)
    if value is None or value > 255:
        doubt.add("icmp type '%s' is not understood" % kind)
        return Term(protocols, certain=False)
    code = None
    if len(words) > 1 and words[1].isdigit():
        code = interval(int(words[1]), int(words[1]))
    return Term(protocols, sport=code, dport=interval(value, value))


def _service_definition(words, config, doubt, seen):
    """Terms of a ``service-object`` / ``service`` definition (the words after that keyword)."""
    if not words:
        return []
    if words[0] == "object" and len(words) > 1:
        return _service_object(words[1], config, doubt, seen)
    protocols = _protocol_set(words[0], doubt)
    if protocols is None:
        return [Term(interval(0, PROTO_MAX), certain=False)]
    if words[0] in ("icmp", "icmp6", "1", "58"):
        return [_icmp_term(words[0], words[1:], doubt)]
    if len(words) == 1:
        return [Term(protocols)]
    sport, dport, understood = _clauses(words[1:], _single_protocol(words[0]), doubt)
    return [Term(protocols, sport, dport, certain=understood)]


def _service_object(name, config, doubt, seen):
    obj = config["objects"].get(name)
    if obj is None or obj["type"] != "service" or not obj["definition"]:
        doubt.add("service object %s is not defined" % name)
        return [Term(interval(0, PROTO_MAX), certain=False)]
    return _service_definition(obj["definition"].split()[1:], config, doubt, seen)


def service_group_terms(name, config, doubt, seen=frozenset(), memo=None):
    """Terms of a service object-group (legacy typed port group or extended), nested groups
    included. A typed group yields terms of its protocol(s) with destination ports."""
    return _memoised("service", _service_group_terms, name, config, doubt, seen, memo)


def _service_group_terms(name, config, doubt, seen, memo):
    group = config["groups"].get(name)
    if group is None or group["type"] != "service" or name in seen:
        doubt.add("service object-group %s is not defined" % name if group is None or group["type"] != "service"
                  else "object-group %s contains itself" % name)
        return [Term(interval(0, PROTO_MAX), certain=False)]
    seen = seen | {name}
    terms = []
    typed = group["protocol"]
    for member in group["members"]:
        words = member.split()
        if words[0] == "group-object" and len(words) > 1:
            terms.extend(service_group_terms(words[1], config, doubt, seen, memo))
        elif words[0] == "port-object" and typed:
            ports = operator_ports(words[1], words[2:], _single_protocol(typed), doubt) if len(words) > 1 else None
            protocols = _protocol_set(typed, doubt)
            terms.append(Term(protocols, dport=ports, certain=ports is not None) if ports is not None
                         else Term(protocols, certain=False))
        elif words[0] == "service-object":
            terms.extend(_service_definition(words[1:], config, doubt, seen))
        else:
            doubt.add("object-group %s member '%s' is not understood" % (name, member))
            terms.append(Term(interval(0, PROTO_MAX), certain=False))
    return terms


def _protocol_group(name, config, doubt, seen=frozenset()):
    group = config["groups"].get(name)
    if group is None or group["type"] != "protocol" or name in seen:
        doubt.add("protocol object-group %s is not defined" % name)
        return None
    seen = seen | {name}
    protocols = ()
    for member in group["members"]:
        words = member.split()
        part = None
        if words[0] == "protocol-object" and len(words) > 1:
            part = _protocol_set(words[1], doubt)
        elif words[0] == "group-object" and len(words) > 1:
            part = _protocol_group(words[1], config, doubt, seen)
        if part is None:
            return None
        protocols = iv_union(protocols, part)
    return protocols


def _icmp_group(name, config, doubt, seen=frozenset()):
    group = config["groups"].get(name)
    if group is None or group["type"] != "icmp-type" or name in seen:
        doubt.add("icmp-type object-group %s is not defined" % name)
        return None
    seen = seen | {name}
    types = ()
    for member in group["members"]:
        words = member.split()
        if words[0] == "icmp-object" and len(words) > 1:
            value = int(words[1]) if words[1].isdigit() else ICMP_TYPES.get(words[1])
            if value is None:
                doubt.add("icmp type '%s' is not understood" % words[1])
                return None
            types = iv_union(types, interval(value, value))
        elif words[0] == "group-object" and len(words) > 1:
            part = _icmp_group(words[1], config, doubt, seen)
            if part is None:
                return None
            types = iv_union(types, part)
    return types


def ace_terms(ace, config, doubt, memo=None):
    """The services an ACE matches, as Terms."""
    protocol = ace["protocol"]
    if protocol.startswith("object-group "):
        name = protocol.split(" ", 1)[1]
        kind = (config["groups"].get(name) or {}).get("type")
        if kind == "service":
            return service_group_terms(name, config, doubt, memo=memo)
        protocols = _protocol_group(name, config, doubt)
        if protocols is None:
            return [Term(interval(0, PROTO_MAX), certain=False)]
    elif protocol.startswith("object "):
        return _service_object(protocol.split(" ", 1)[1], config, doubt, frozenset())
    else:
        protocols = _protocol_set(protocol, doubt)
        if protocols is None:
            return [Term(interval(0, PROTO_MAX), certain=False)]
    if protocol in ("icmp", "icmp6", "1", "58") and ace["icmp"]:
        if ace["icmp"][0] == "object-group":
            types = _icmp_group(ace["icmp"][1], config, doubt)
            return [Term(protocols, dport=types)] if types is not None else [Term(protocols, certain=False)]
        return [_icmp_term(protocol, ace["icmp"], doubt)]
    single = _single_protocol(protocol) if " " not in protocol else None
    sport = _port_spec(ace["source_port"], single, config, doubt, memo)
    dport = _port_spec(ace["destination_port"], single, config, doubt, memo)
    certain = sport is not False and dport is not False
    return [Term(protocols, sport or None, dport or None, certain=certain)]


def _port_spec(spec, protocol, config, doubt, memo=None):
    """IntervalSet, None (all ports) or False (not understood)."""
    if spec is None:
        return None
    if spec["op"] == "object-group":
        ports = ()
        for term in service_group_terms(spec["ports"][0], config, doubt, memo=memo):
            if not term.certain:
                return False
            ports = iv_union(ports, term.dport if term.dport is not None else ALL_PORTS)
        return ports
    ports = operator_ports(spec["op"], spec["ports"], protocol, doubt)
    return False if ports is None else ports


# ---------------------------------------------------------------- rules and paths

def ace_rule(acl, ace, config, position, memo=None):
    """A parsed ACE -> Rule (None for remarks, inactive and non-extended entries)."""
    if ace["kind"] != "extended" or ace["action"] is None or ace["inactive"] or ace["source"] is None \
            or ace["destination"] is None:
        return None
    if memo is not None and ("ace", ace["text"]) in memo:
        high, low, reasons = memo[("ace", ace["text"])]
    else:
        high, low, reasons = _ace_match(ace, config, memo)
        if memo is not None:
            memo[("ace", ace["text"])] = (high, low, reasons)
    label = "%s line %d '%s'" % (acl, position, ace["text"])
    origin = {"acl": acl, "line": position, "text": ace["text"]}
    return Rule("%s|%s" % (acl, ace["text"]), label, ace["action"], high, low, uncertain=reasons, origin=origin)


def _ace_match(ace, config, memo):
    """(match, match_min, doubts) of one ACE."""
    doubt = Doubt()
    src = operand_addresses(ace["source"], config, doubt, memo)
    dst = operand_addresses(ace["destination"], config, doubt, memo)
    terms = ace_terms(ace, config, doubt, memo)
    high, low = [], []
    for term in terms:
        high.extend(match_cubes(src["max"], dst["max"], term.protocols, term.sport,
                                term.dport))
        if term.certain:
            low.extend(match_cubes(src["min"], dst["min"], term.protocols, term.sport,
                                   term.dport))
    if ace["identity"]:
        doubt.add("identity/TrustSec match '%s'" % " ".join(ace["identity"]))
        low = []
    if ace["time_range"]:
        doubt.add("time-range %s: active only at some times" % ace["time_range"])
        low = []
    if ace["rest"]:
        doubt.add("options '%s' are not understood" % " ".join(ace["rest"]))
        low = []
    return _disjoint(high), _disjoint(low), list(doubt.reasons)


def memo_without(memo, config, changed_groups):
    """A copy of ``memo`` for a configuration in which ``changed_groups`` changed: every entry
    that depends on them (groups nesting them, entries naming any of those) is dropped."""
    stale = set(changed_groups)
    grown = True
    while grown:
        grown = False
        for name, group in config["groups"].items():
            if name not in stale and any(m.split()[0] == "group-object" and m.split()[-1] in stale
                                         for m in group["members"]):
                stale.add(name)
                grown = True
    kept = {}
    for key, value in memo.items():
        if key[0] in ("group", "service") and key[1] in stale:
            continue
        if key[0] == "ace" and stale & set(key[1].split()):
            continue
        kept[key] = value
    return kept


def _disjoint(cubes):
    region = []
    for cube in cubes:
        region = region_union(region, [cube])
    return region


def acl_rules(config, name, memo=None):
    """The Rules of one ACL in order (remarks, inactive and non-extended entries left out)."""
    memo = {} if memo is None else memo
    rules = []
    seen = {}
    for entry in config["acls"].get(name, []):
        ace = parse_ace(entry["text"], config)
        rule = ace_rule(name, ace, config, entry["line"], memo)
        if rule is not None:
            # An ASA refuses a duplicate entry, but a configuration file may still carry one:
            # the second copy gets its own key, so that rules keep one identity each.
            count = seen.get(rule.key, 0)
            seen[rule.key] = count + 1
            if count:
                rule.key = "%s#%d" % (rule.key, count + 1)
            rules.append(rule)
    return rules


def build_policy(config, interfaces=None, memo=None):
    """The policy of every interface (or of ``interfaces``), as Paths named by nameif."""
    memo = {} if memo is None else memo
    paths = []
    notes = []
    egress = None
    names = interfaces if interfaces is not None else sorted(config["interfaces"])
    global_rules_cache = {}
    for nameif in names:
        inbound, global_acl = acl_bindings(config, nameif)
        rules = acl_rules(config, inbound, memo) if inbound else []
        if global_acl:
            if global_acl not in global_rules_cache:
                global_rules_cache[global_acl] = acl_rules(config, global_acl, memo)
            rules = rules + global_rules_cache[global_acl]
        if not inbound and not global_acl:
            rules = _security_level_rules(config, nameif, notes)
        where = "in on %s" % nameif + (" (ACL %s" % inbound if inbound else " (no ACL") + \
            (", then global ACL %s)" % global_acl if global_acl else ")")
        stages = [Stage(nameif, nameif, [Chain(nameif, rules)], "deny")]
        if egress is None:
            egress = _egress_stage(config, memo)
        if egress.chains[egress.entry].rules:
            stages.append(egress)
        paths.append(Path(nameif, stages, where))
    return Policy("asa", paths, notes=notes)


def _egress_stage(config, memo):
    """The out ACLs: a flow meets the one bound to the interface its destination is routed to."""
    bound = dict((b["interface"], b["acl"]) for b in config["access_groups"] if b["direction"] == "out")
    routed = _routed(config)
    entry = []
    chains = []
    for interface in sorted(bound):
        destinations = routed.get(interface)
        if not destinations or not any(destinations.values()):
            continue
        name = "out:%s" % interface
        rules = acl_rules(config, bound[interface], memo)
        implicit = "%s implicit deny of out ACL %s" % (interface, bound[interface])
        rules.append(Rule("%s|implicit-deny" % name, implicit, "deny", universe(),
                          origin={"acl": bound[interface], "line": 0, "text": "implicit deny"}))
        chains.append(Chain(name, rules))
        entry.append(Rule("egress|%s" % interface, "routed out %s" % interface, "goto",
                          match_cubes(any_addresses(), destinations), target=name,
                          origin={"acl": None, "line": 0, "text": "route to %s" % interface}))
    return Stage("egress", "egress", [Chain("egress", entry)] + chains, "permit")


def _routed(config):
    """{interface: destination address sets routed there}, by longest prefix."""
    routes = []
    for name, interface in config["interfaces"].items():
        routes.extend((ipaddress.ip_network(net), name) for net in interface.get("subnets", []))
    routes.extend((ipaddress.ip_network(r["network"]), r["interface"]) for r in config.get("routes", []))
    routes.sort(key=lambda item: -item[0].prefixlen)
    taken = no_addresses()
    routed = {}
    for network, interface in routes:
        mine = addresses_subtract(address_sets([network]), taken)
        routed[interface] = addresses_union(routed.get(interface, no_addresses()), mine)
        taken = addresses_union(taken, mine)
    return routed


def _security_level_rules(config, nameif, notes):
    interface = config["interfaces"].get(nameif, {"security_level": 0})
    if interface["security_level"] == 0 and not config["same_security_inter"]:
        return []
    notes.append("interface %s has no ACL and security-level %d: traffic to lower-level interfaces "
                 "passes, and the engine does not know the egress interface"
                 % (nameif, interface["security_level"]))
    label = "interface %s security-level %d (no ACL)" % (nameif, interface["security_level"])
    return [Rule("%s|security-level" % nameif, label, "permit", universe(), [],
                 uncertain=["the egress interface decides (security levels)"],
                 origin={"acl": None, "line": 0, "text": label})]
