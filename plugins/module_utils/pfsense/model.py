# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pfSense configuration (``pfsense.parse``) -> the vendor-neutral policy model.

One ``Path`` per enabled interface: what a new flow arriving on it meets in pf, in the exact
first-match form of pf's evaluation. pf is last-match: a ``quick`` rule that matches ends the
evaluation, otherwise the last matching rule decides. The first-match equivalent is every quick
rule in ruleset order, then every non-quick rule in reverse order, then pfSense's default deny
(``block in inet/inet6 all``, non-quick, at the top of the ruleset: the last of the reversed).
The ruleset order is pfSense's (src/etc/inc/filter.inc ``filter_rules_generate``,
``get_filter_rules_map``):

1. NAT port forwards with ``<associated-rule-id>pass</associated-rule-id>`` (``rdr pass``): the
   translated flow passes without any filter rule, so these come first, as permits;
2. pfSense's own quick blocks that touch inbound flows: all IPv6 without ``system/ipv6allow``,
   IPv4 link-local (unless ``no_apipa_block``), source or destination port 0, and per interface
   ``blockbogons`` (tables ``<bogons>``/``<bogonsv6>``) and ``blockpriv`` (10/8, 127/8,
   172.16/12, 192.168/16, fc00::/7);
3. floating rules (quick only with ``<quick>``), direction ``in`` or any, on the interface or on
   every interface;
4. interface-group rules of every group the interface is a member of (quick);
5. the interface's own rules (quick).

Disabled rules are skipped, and so is every rule pfSense itself skips when it writes the ruleset:
an unresolvable alias, an interface that is not enabled, an empty address (``wanip`` for IPv6
when WAN has no IPv6 address). ``inet46`` rules are one rule for both families; a rule without
``ipprotocol`` is IPv4 (filter_generate_user_rule's default). ``reject`` denies like ``block``;
``match`` decides nothing.

Operands: ``any``; addresses and CIDRs; aliases of type host, network and url (nested, by their
``<address>``), urltable (the table file pfSense keeps, when the caller read it: ``tables``);
``<not/>``; interface macros ``wan``/``lan``/``optN`` (the interface's subnet and VIPs),
``wanip``/``lanip``/``optNip`` (its address), ``(self)`` (every address of the firewall), each from
the configured static address, else uncertain (DHCP, PPPoE, SLAAC, track6...); ports and ranges
(``25``, ``1024-65535``), port aliases (``25 587 1024:65535``, nested); protocols by name,
``tcp/udp``, none (with ports: tcp), ``icmp`` per family. NAT port forwards are modelled on the
translated flow: pf's filter rules see the target address and local port, and that is where the
mail servers are.

Uncertain (the rule may match as much as its operands allow, or nothing): schedules, OS
fingerprints, ``tagged``, DSCP, VLAN priority, custom TCP flags that may not match a SYN, FQDN
entries in aliases, urltable aliases whose file was not read, dynamic interface addresses,
interface-group or other network macros, IPv6 addresses written as an interface suffix (``::5``).

Not modelled, and why it does not weaken the answers on the mail path: outbound evaluation on the
egress interface (floating ``out`` rules and pfSense's ``pass out`` defaults; they can only deny
more, and are noted when present); the run-time tables ``<virusprot>``, ``<sshguard>`` and
``<snort2c>`` (attackers blocked at run time, not policy); ``antispoof`` (non-quick, so any pass
that matches later overrides it, and the default deny already blocks the rest); package anchors
(``userrules/*``, ``openvpn/*``, ``ipsec/*``, ``miniupnpd``; noted when a package that fills them
is configured); NAT reflection, 1:1 NAT and outbound NAT; static-route bypass rules; the
pre-translation destination of a port forward (a flow is modelled after ``rdr``); gateways,
limiters and state options, which do not decide whether a new flow passes. ``system/disablefilter``
(pf off) is a path that permits everything.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.emailsec.hes.plugins.module_utils.pfsense.parse import as_list, get_path
from ansible_collections.emailsec.hes.plugins.module_utils.policy.model import Path, Policy, Rule
from ansible_collections.emailsec.hes.plugins.module_utils.policy.space import (
    ICMP,
    ICMP6,
    PORT_MAX,
    TCP,
    UDP,
    address_sets,
    addresses_subtract,
    addresses_union,
    any_addresses,
    interval,
    iv_from_pairs,
    match_cubes,
    no_addresses,
)

PROTOCOLS = {"tcp": TCP, "udp": UDP, "icmp": ICMP, "esp": 50, "ah": 51, "gre": 47, "etherip": 97,
             "ipv6": 41, "igmp": 2, "pim": 103, "ospf": 89, "sctp": 132, "carp": 112, "pfsync": 240,
             "ipv6-icmp": ICMP6, "icmp6": ICMP6}
# get_ipprotocols('portsonly'): ports count only for these.
PORT_PROTOCOLS = ("tcp", "udp", "tcp/udp", "sctp")
ICMP_TYPES = {4: {"echorep": 0, "unreach": 3, "squench": 4, "redir": 5, "althost": 6, "echoreq": 8,
                  "routeradv": 9, "routersol": 10, "timex": 11, "paramprob": 12, "timereq": 13,
                  "timerep": 14, "inforeq": 15, "inforep": 16, "maskreq": 17, "maskrep": 18},
              6: {"unreach": 1, "toobig": 2, "timex": 3, "paramprob": 4, "echoreq": 128, "echorep": 129,
                  "listqry": 130, "listenrep": 131, "listendone": 132, "routersol": 133, "routeradv": 134,
                  "neighbrsol": 135, "neighbradv": 136, "redir": 137}}
DYNAMIC_V4 = ("dhcp", "pppoe", "pptp", "l2tp", "ppp")
DYNAMIC_V6 = ("dhcp6", "slaac", "track6", "6rd", "6to4")
PRIVATE_BLOCKS = ((4, ("10.0.0.0/8", "127.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")), (6, ("fc00::/7",)))
ALL_PORTS = interval(0, PORT_MAX)
_FQDN = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?\.[A-Za-z]{2,}")


class Skipped(Exception):
    """pfSense itself leaves this rule out of the ruleset; the message says why."""


class Doubt(object):
    def __init__(self):
        self.reasons = []

    def add(self, reason):
        if reason not in self.reasons:
            self.reasons.append(reason)


def _span(sets, minimum=None):
    return {"max": sets, "min": sets if minimum is None else minimum}


def _one_family(sets, family):
    out = no_addresses()
    out[family] = sets[family]
    return out


def _network(text):
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def _address(text):
    try:
        return ipaddress.ip_address((text or "").strip())
    except ValueError:
        return None


def resolve_tables(tables):
    """Table rows (CIDR strings) -> address sets, once, for every policy built from them; a table
    already resolved is kept."""
    out = {}
    for name, rows in (tables or {}).items():
        if rows is None or isinstance(rows, dict):
            out[name] = rows
        else:
            out[name] = address_sets(n for n in (_network(r) for r in rows) if n is not None)
    return out


class Context(object):
    """What operand resolution needs from one configuration (and the tables read beside it)."""

    def __init__(self, config, tables=None):
        self.config = config
        self.tables = resolve_tables(tables)
        self.aliases = {}
        for alias in as_list(get_path(config, "aliases/alias")):
            if isinstance(alias, dict) and alias.get("name"):
                self.aliases.setdefault(alias["name"], alias)
        self.interfaces = {}
        interfaces = get_path(config, "interfaces", {})
        for name, data in (interfaces.items() if isinstance(interfaces, dict) else []):
            if isinstance(data, dict) and "enable" in data:
                self.interfaces[name] = data
        self.groups = {}
        for entry in as_list(get_path(config, "ifgroups/ifgroupentry")):
            if isinstance(entry, dict) and entry.get("ifname"):
                self.groups[entry["ifname"]] = (entry.get("members") or "").split()
        self.vips = [v for v in as_list(get_path(config, "virtualip/vip")) if isinstance(v, dict)]
        self.ipv6allow = "ipv6allow" in (get_path(config, "system", {}) or {})

    # ------------------------------------------------------------ interface addresses
    def interface_address(self, name, family, doubt):
        """The interface's own address (``wanip``) for one family: sets, or None when it has none."""
        data = self.interfaces.get(name)
        if data is None:
            return None
        key, dynamic = ("ipaddr", DYNAMIC_V4) if family == 4 else ("ipaddrv6", DYNAMIC_V6)
        value = (data.get(key) or "").strip()
        if value in dynamic:
            doubt.add("%s's %s address comes from %s at run time" % (name, "IPv4" if family == 4 else "IPv6", value))
            return "dynamic"
        address = _address(value)
        if address is None or address.version != family:
            return None
        return address_sets([address])

    def interface_network(self, name, family, doubt):
        """The interface's subnet and its VIPs' subnets (``$WAN__NETWORK``)."""
        data = self.interfaces.get(name)
        if data is None:
            return None
        own = self.interface_address(name, family, doubt)
        if own == "dynamic":
            return "dynamic"
        nets = []
        if own is not None:
            bits = (data.get("subnet") if family == 4 else data.get("subnetv6")) or ""
            net = _network("%s/%s" % (data.get("ipaddr" if family == 4 else "ipaddrv6"), bits)) if bits.isdigit() else None
            if net is not None:
                nets.append(net)
        for vip in self.vips:
            if vip.get("interface") == name:
                net = _network("%s/%s" % (vip.get("subnet"), vip.get("subnet_bits") or ""))
                if net is not None and net.version == family:
                    nets.append(net)
        return address_sets(nets) if nets else None

    def firewall_addresses(self, family, doubt):
        """``(self)``: every address of every enabled interface and every VIP."""
        found = []
        dynamic = False
        for name in self.interfaces:
            own = self.interface_address(name, family, doubt)
            if own == "dynamic":
                dynamic = True
            elif own is not None:
                found.append(own)
        for vip in self.vips:
            address = _address(vip.get("subnet"))
            if address is not None and address.version == family:
                found.append(address_sets([address]))
        sets = no_addresses()
        for item in found:
            sets = addresses_union(sets, item)
        if dynamic:
            return _span(_one_family(any_addresses(), family), sets)
        return _span(sets)

    # ------------------------------------------------------------ aliases
    def alias_span(self, name, family, doubt, seen=frozenset()):
        """A host/network/url/urltable alias's addresses for one family, as a span."""
        alias = self.aliases.get(name)
        kind = alias.get("type") if alias else None
        if kind in ("port", "url_ports", "urltable_ports"):
            doubt.add("alias %s is a %s alias used as an address" % (name, kind))
            return _span(_one_family(any_addresses(), family), no_addresses())
        if kind == "urltable":
            rows = self.tables.get("urltable:%s" % name)
            if rows is None:
                doubt.add("urltable alias %s: its table file was not read" % name)
                return _span(_one_family(any_addresses(), family), no_addresses())
            return _span(_one_family(rows, family))
        if name in seen:
            return _span(no_addresses())
        low, high = no_addresses(), no_addresses()
        for entry in (alias.get("address") or "").split():
            part = self.entry_span(entry, family, doubt, seen | {name})
            low, high = addresses_union(low, part["min"]), addresses_union(high, part["max"])
        if kind == "url" and not (alias.get("address") or "").strip():
            doubt.add("url alias %s has no stored addresses (fetched at run time)" % name)
            high = _one_family(any_addresses(), family)
        return _span(high, low)

    def entry_span(self, entry, family, doubt, seen):
        if entry in self.aliases:
            return self.alias_span(entry, family, doubt, seen)
        net = _network(entry)
        if net is not None:
            return _span(address_sets([net]) if net.version == family else no_addresses())
        if "-" in entry:
            first, last = (_address(p) for p in entry.split("-", 1))
            if first is not None and last is not None and first.version == last.version:
                return _span(address_sets([(first, last)]) if first.version == family else no_addresses())
        if _FQDN.fullmatch(entry):
            doubt.add("alias entry %s is a host name, resolved by filterdns at run time" % entry)
            return _span(_one_family(any_addresses(), family), no_addresses())
        doubt.add("alias entry %r is not understood" % entry)
        return _span(_one_family(any_addresses(), family), no_addresses())

    def port_alias(self, name, doubt, seen=frozenset()):
        alias = self.aliases.get(name)
        if alias is None or name in seen:
            return None
        if alias.get("type") not in ("port", "url_ports"):
            doubt.add("alias %s (%s) is used as a port" % (name, alias.get("type")))
            return ALL_PORTS
        pairs = []
        for entry in (alias.get("address") or "").split():
            if entry in self.aliases:
                nested = self.port_alias(entry, doubt, seen | {name})
                pairs.extend(nested or ())
                continue
            found = _port_range(entry.replace(":", "-"))
            if found is None:
                doubt.add("port alias %s entry %r is not understood" % (name, entry))
                return ALL_PORTS
            pairs.append(found)
        return iv_from_pairs(pairs)


def _port_range(text):
    parts = text.split("-")
    if len(parts) > 2 or not all(p.isdigit() for p in parts):
        return None
    low, high = int(parts[0]), int(parts[-1])
    if low > PORT_MAX or high > PORT_MAX or low > high:
        return None
    return (low, high)


# ---------------------------------------------------------------- one side of a rule

def side_span(side, family, ctx, doubt, interface=None):
    """``<source>`` or ``<destination>`` -> addresses (a span) for one family. Raises Skipped
    where pfSense would leave the rule out."""
    if not isinstance(side, dict):
        side = {}
    if "any" in side:
        return _span(_one_family(any_addresses(), family))
    if side.get("network"):
        span = _macro_span(side["network"], family, ctx, doubt)
    elif side.get("address"):
        address = side["address"].strip()
        if address.startswith("::"):
            doubt.add("IPv6 address %s is a suffix to the interface's delegated prefix" % address)
            span = _span(_one_family(any_addresses(), family), no_addresses())
        elif address in ctx.aliases:
            span = ctx.alias_span(address, family, doubt)
        else:
            net = _network(address)
            if net is None:
                raise Skipped("unresolvable alias %r" % address)
            span = _span(address_sets([net]) if net.version == family else no_addresses())
    else:
        raise Skipped("address is empty")
    if "not" in side:
        everything = _one_family(any_addresses(), family)
        span = {"max": addresses_subtract(everything, span["min"]), "min": addresses_subtract(everything, span["max"])}
    return span


def _macro_span(macro, family, ctx, doubt):
    if macro == "(self)":
        return ctx.firewall_addresses(family, doubt)
    if macro.endswith("ip") and macro[:-2] in ctx.interfaces:
        sets = ctx.interface_address(macro[:-2], family, doubt)
        if sets is None:
            raise Skipped("%s has no %s address" % (macro[:-2], "IPv4" if family == 4 else "IPv6"))
        if sets == "dynamic":
            return _span(_one_family(any_addresses(), family), no_addresses())
        return _span(sets)
    if macro in ctx.interfaces:
        sets = ctx.interface_network(macro, family, doubt)
        if sets is None:
            raise Skipped("interface %s has no %s network" % (macro, "IPv4" if family == 4 else "IPv6"))
        if sets == "dynamic":
            return _span(_one_family(any_addresses(), family), no_addresses())
        return _span(sets)
    doubt.add("network %s is not resolved from the configuration" % macro)
    return _span(_one_family(any_addresses(), family), no_addresses())


def side_ports(side, ctx, doubt):
    """The port IntervalSet of a side (None: any port). Raises Skipped like pfSense."""
    text = ((side or {}).get("port") or "").strip() if isinstance(side, dict) else ""
    if not text:
        return None
    if text in ctx.aliases:
        ports = ctx.port_alias(text, doubt)
        if not ports:
            raise Skipped("port alias %s is empty" % text)
        return ports
    found = _port_range(text)
    if found is None:
        raise Skipped("unresolvable port alias %r" % text)
    if found == (1, PORT_MAX):
        return None
    return iv_from_pairs([found])


def protocol_set(text, family, has_ports, doubt):
    """(IntervalSet or None for any, ports_apply)."""
    text = (text or "").strip().lower()
    if text == "":
        return (interval(TCP, TCP), True) if has_ports else (None, False)
    if text == "any":
        return None, False
    if text == "tcp/udp":
        return iv_from_pairs([(TCP, TCP), (UDP, UDP)]), True
    if text == "icmp":
        number = ICMP if family == 4 else ICMP6
        return interval(number, number), False
    number = PROTOCOLS.get(text)
    if number is None and text.isdigit() and int(text) <= 255:
        number = int(text)
    if number is None:
        doubt.add("protocol %r is not known" % text)
        return None, False
    return interval(number, number), text in PORT_PROTOCOLS


def _icmp_types(rule, family, doubt):
    text = (rule.get("icmptype") or "").strip()
    if not text or text == "any" or (rule.get("protocol") or "").lower() != "icmp":
        return None
    numbers = []
    for word in text.split(","):
        word = word.strip()
        value = int(word) if word.isdigit() else ICMP_TYPES[family].get(word)
        if value is None:
            doubt.add("icmp type %r is not known" % word)
            return None
        numbers.append((value, value))
    return iv_from_pairs(numbers)


def rule_doubts(rule, doubt):
    """What makes a whole rule uncertain, whatever its operands (added to ``doubt``); True when
    there is any, and the rule may then match nothing at all."""
    before = len(doubt.reasons)
    if rule.get("sched"):
        doubt.add("schedule %s: active only at some times" % rule["sched"])
    if rule.get("os") and (rule.get("protocol") or "").lower() == "tcp":
        doubt.add("OS fingerprint %s" % rule["os"])
    if rule.get("tagged"):
        doubt.add("matches only packets tagged %s" % rule["tagged"])
    if rule.get("dscp"):
        doubt.add("DSCP %s" % rule["dscp"])
    if rule.get("vlanprio") and rule.get("vlanprio") != "none":
        doubt.add("VLAN priority %s" % rule["vlanprio"])
    if (rule.get("protocol") or "").lower() == "tcp" and rule.get("tcpflags2") and "tcpflags_any" not in rule:
        set_flags = set(f for f in (rule.get("tcpflags1") or "").split(",") if f)
        mask = set(f for f in rule["tcpflags2"].split(",") if f)
        if not ("syn" in mask and set_flags == {"syn"}):
            doubt.add("TCP flags %s/%s may not match a connection's SYN" % (rule.get("tcpflags1") or "", rule["tcpflags2"]))
    return len(doubt.reasons) > before


def families_of(rule):
    value = (rule.get("ipprotocol") or "inet").strip()
    return {"inet": (4,), "inet6": (6,), "inet46": (4, 6)}.get(value, (4,))


def rule_match(rule, ctx, destination=None, dport=None, doubt=None):
    """(match, match_min, doubt) of a filter or NAT rule over its families. ``destination`` and
    ``dport`` override the rule's destination (a port forward's translated target). Raises
    Skipped when pfSense leaves the rule out for every family."""
    doubt = doubt if doubt is not None else Doubt()
    whole_rule_doubtful = rule_doubts(rule, doubt)
    high, low = [], []
    skipped = []
    for family in families_of(rule):
        try:
            src = side_span(rule.get("source"), family, ctx, doubt)
            dst = destination(family, doubt) if destination else side_span(rule.get("destination"), family, ctx, doubt)
            has_ports = bool(((rule.get("source") or {}) if isinstance(rule.get("source"), dict) else {}).get("port")) or \
                bool(((rule.get("destination") or {}) if isinstance(rule.get("destination"), dict) else {}).get("port"))
            protocols, ports_apply = protocol_set(rule.get("protocol"), family, has_ports, doubt)
            sport = side_ports(rule.get("source"), ctx, doubt) if ports_apply else None
            if dport is not None and ports_apply:
                dports = dport(doubt)
            else:
                dports = side_ports(rule.get("destination"), ctx, doubt) if ports_apply else None
            icmp = _icmp_types(rule, family, doubt)
            if icmp is not None:
                dports = icmp
        except Skipped as exc:
            skipped.append("%s: %s" % ("IPv4" if family == 4 else "IPv6", exc))
            continue
        high += match_cubes(src["max"], dst["max"], protocols, sport, dports)
        low += match_cubes(src["min"], dst["min"], protocols, sport, dports)
    if len(skipped) == len(families_of(rule)):
        raise Skipped("; ".join(skipped))
    if whole_rule_doubtful:
        low = []
    return high, low, doubt


# ---------------------------------------------------------------- rules per category

ACTIONS = {"pass": "permit", "block": "deny", "reject": "deny", "match": "next"}


def _descr(rule):
    return (rule.get("descr") or "").strip()


def filter_label(rule, index):
    text = _descr(rule)
    where = "floating" if "floating" in rule else "on %s" % (rule.get("interface") or "?")
    tracker = rule.get("tracker")
    name = '"%s"' % text if text else "#%d" % (index + 1)
    return "rule %s %s%s" % (name, where, " (tracker %s)" % tracker if tracker else "")


def _filter_keys(rules):
    trackers = [r.get("tracker") for r in rules if isinstance(r, dict)]
    keys = []
    for index, rule in enumerate(rules):
        tracker = rule.get("tracker") if isinstance(rule, dict) else None
        keys.append("filter:%s" % tracker if tracker and trackers.count(tracker) == 1 else "filter#%d" % index)
    return keys


def filter_rules(ctx, skipped_notes):
    """[(rule dict, Rule)] for every filter rule pfSense loads, in config order."""
    rules = as_list(get_path(ctx.config, "filter/rule"))
    keys = _filter_keys(rules)
    out = []
    for index, rule in enumerate(rules):
        if not isinstance(rule, dict) or "separator" in rule or "disabled" in rule:
            continue
        label = filter_label(rule, index)
        if "floating" not in rule and rule.get("interface") not in ctx.interfaces and rule.get("interface") not in ctx.groups:
            continue
        try:
            high, low, doubt = rule_match(rule, ctx)
        except Skipped as exc:
            skipped_notes.append("%s is left out of the ruleset by pfSense: %s" % (label, exc))
            continue
        action = ACTIONS.get((rule.get("type") or "pass").strip(), "permit")
        origin = {"section": "filter", "index": index, "tracker": rule.get("tracker"), "descr": _descr(rule),
                  "interface": rule.get("interface"), "floating": "floating" in rule,
                  "associated": rule.get("associated-rule-id")}
        out.append((rule, Rule(keys[index], label, action, high, low, doubt.reasons, origin=origin)))
    return out


def _nat_target(rule, ctx):
    target = (rule.get("target") or "").strip()

    def destination(family, doubt):
        if target in ctx.aliases:
            return ctx.alias_span(target, family, doubt)
        address = _address(target)
        if address is not None:
            return _span(address_sets([address]) if address.version == family else no_addresses())
        if target.endswith("ip") and target[:-2] in ctx.interfaces:
            return _macro_span(target, family, ctx, doubt)
        raise Skipped("unresolvable target %r" % target)
    return destination


def _nat_local_ports(rule, ctx):
    def dport(doubt):
        destination = rule.get("destination") if isinstance(rule.get("destination"), dict) else {}
        external = (destination.get("port") or "").strip()
        local = (rule.get("local-port") or "").strip()
        if external in ctx.aliases or local in ctx.aliases:
            doubt.add("port alias in a port forward: the translated port is not resolved")
            return None
        ext = _port_range(external) if external else None
        if not local:
            return iv_from_pairs([ext]) if ext else None
        if not local.isdigit():
            raise Skipped("unresolvable local port %r" % local)
        start = int(local)
        width = (ext[1] - ext[0]) if ext else 0
        return interval(start, min(start + width, PORT_MAX))
    return dport


def nat_label(rule, index):
    text = _descr(rule)
    name = '"%s"' % text if text else "#%d" % (index + 1)
    return "NAT port forward %s on %s (rdr pass)" % (name, rule.get("interface") or "wan")


def rdr_pass_rules(ctx, skipped_notes):
    """[(nat rule dict, Rule)] for the port forwards whose translated flows pass by themselves."""
    out = []
    for index, rule in enumerate(as_list(get_path(ctx.config, "nat/rule"))):
        if not isinstance(rule, dict) or "disabled" in rule or "nordr" in rule:
            continue
        if (rule.get("associated-rule-id") or "") != "pass":
            continue
        label = nat_label(rule, index)
        try:
            high, low, doubt = rule_match(rule, ctx, destination=_nat_target(rule, ctx), dport=_nat_local_ports(rule, ctx))
        except Skipped as exc:
            skipped_notes.append("%s is left out by pfSense: %s" % (label, exc))
            continue
        origin = {"section": "nat", "index": index, "descr": _descr(rule), "interface": rule.get("interface") or "wan",
                  "associated": "pass", "target": rule.get("target"), "local_port": rule.get("local-port")}
        out.append((rule, Rule("nat#%d" % index, label, "permit", high, low, doubt.reasons, origin=origin)))
    return out


def _system_rule(key, label, sets_from, families, ctx=None, protocols=None, sport=None, dport=None,
                 uncertain=(), minimum=None):
    cubes, low = [], []
    for family in families:
        src = _one_family(sets_from, family)
        cubes += match_cubes(src, _one_family(any_addresses(), family), protocols, sport, dport)
        if minimum is not None:
            low += match_cubes(_one_family(minimum, family), _one_family(any_addresses(), family), protocols, sport, dport)
    return Rule(key, label, "deny", cubes, low if uncertain else None, uncertain,
                origin={"section": "system", "index": None, "descr": label})


def system_rules(ctx, name):
    """pfSense's own quick blocks that inbound flows on interface ``name`` meet before user rules."""
    data = ctx.interfaces[name]
    config = ctx.config
    out = []
    everything = any_addresses()
    if not ctx.ipv6allow:
        out.append(_system_rule("system:block-ipv6", "pfSense: Block all IPv6 (system/ipv6allow is off)",
                                everything, (6,)))
    if "no_apipa_block" not in (get_path(config, "system", {}) or {}):
        link_local = address_sets([ipaddress.ip_network("169.254.0.0/16")])
        out.append(_system_rule("system:apipa-src", "pfSense: Block IPv4 link-local", link_local, (4,)))
        cubes = match_cubes(_one_family(everything, 4), link_local)
        out.append(Rule("system:apipa-dst", "pfSense: Block IPv4 link-local (destination)", "deny", cubes,
                        origin={"section": "system", "index": None}))
    port0 = iv_from_pairs([(TCP, TCP), (UDP, UDP)])
    families = (4, 6) if ctx.ipv6allow else (4,)
    out.append(_system_rule("system:port0-src", "pfSense: Block traffic from port 0", everything, families,
                            protocols=port0, sport=interval(0, 0)))
    out.append(_system_rule("system:port0-dst", "pfSense: Block traffic to port 0", everything, families,
                            protocols=port0, dport=interval(0, 0)))
    descr = data.get("descr") or name.upper()
    if "blockbogons" in data:
        for table, family in (("bogons", 4), ("bogonsv6", 6)):
            if family == 6 and not ctx.ipv6allow:
                continue
            rows = ctx.tables.get(table)
            label = "pfSense: block bogon %s networks from %s (table <%s>)" % ("IPv4" if family == 4 else "IPv6", descr, table)
            if rows is None:
                out.append(_system_rule("system:%s:%s" % (table, name), label, everything, (family,),
                                        uncertain=["table <%s>: its file was not read" % table], minimum=no_addresses()))
            else:
                out.append(_system_rule("system:%s:%s" % (table, name), label, rows, (family,)))
    if "blockpriv" in data:
        for family, blocks in PRIVATE_BLOCKS:
            sets = address_sets([ipaddress.ip_network(b) for b in blocks])
            out.append(_system_rule("system:private%d:%s" % (family, name),
                                    "pfSense: Block private networks from %s" % descr, sets, (family,)))
    return out


def _applies(rule, name, ctx):
    """Whether a filter rule is evaluated for flows entering interface ``name``, and its category."""
    if "floating" in rule:
        direction = (rule.get("direction") or "any").strip()
        if direction not in ("", "any", "in"):
            return None
        interfaces = [i for i in (rule.get("interface") or "").split(",") if i]
        if interfaces and interfaces != ["any"] and name not in interfaces:
            return None
        return "floating-quick" if "quick" in rule else "floating-last"
    interface = rule.get("interface")
    if interface == name:
        return "interface"
    if interface in ctx.groups and name in ctx.groups[interface]:
        return "group"
    return None


def build_policy(config, tables=None):
    """The policy of every enabled interface, as Paths named by interface (``wan``, ``lan``,
    ``opt1``...). ``tables``: table contents read on the firewall (``bogons``, ``bogonsv6``,
    ``urltable:<alias>``), each a list of CIDRs; a table not given is uncertain."""
    ctx = Context(config, tables)
    notes = []
    skipped = []
    if "disablefilter" in (get_path(config, "system", {}) or {}):
        notes.append("system/disablefilter is set: pf is off and every flow passes")
        return Policy("pfsense", [Path.single(name, [], "permit", "in on %s (pf disabled)" % name)
                                  for name in sorted(ctx.interfaces)], notes=notes)
    filters = filter_rules(ctx, skipped)
    rdr = rdr_pass_rules(ctx, skipped)
    group_order = list(ctx.groups)
    paths = []
    for name in sorted(ctx.interfaces):
        quick_floating, last_floating, groups, own = [], [], [], []
        for rule, model in filters:
            where = _applies(rule, name, ctx)
            if where == "floating-quick":
                quick_floating.append(model)
            elif where == "floating-last":
                last_floating.append(model)
            elif where == "group":
                groups.append((group_order.index(rule["interface"]), model))
            elif where == "interface":
                own.append(model)
        forwards = [model for rule, model in rdr if (rule.get("interface") or "wan") == name]
        ordered = forwards + system_rules(ctx, name) + quick_floating + \
            [model for position, model in sorted(groups, key=lambda item: item[0])] + own + list(reversed(last_floating))
        descr = ctx.interfaces[name].get("descr") or name.upper()
        paths.append(Path.single(name, ordered, "deny", "in on %s (%s, %s)" % (
            name, descr, ctx.interfaces[name].get("if") or "?")))
    if any("floating" in r and (r.get("direction") or "any") in ("out", "any") and "disabled" not in r
           for r, m in filters):
        notes.append("floating rules that apply outbound are evaluated again on the egress interface; "
                     "that second evaluation is not modelled (it can only deny more)")
    notes.extend(skipped)
    return Policy("pfsense", paths, notes=notes)
