"""The lab's stand-in for pfSense's rule generation (filter.inc ``filter_rules_generate`` and
``filter_nat_rules_generate``): the configuration array (as JSON, from the lab's PHP) -> the pf
ruleset text that ``filter_configure_sync()`` writes to /tmp/rules.debug.

It follows what filter.inc writes for what the lab's boxes use: aliases as tables and port
macros (nested, urltable files), the default deny, pfSense's own quick blocks (IPv6 without
ipv6allow, link-local, port 0, bogons and private networks per interface), floating rules (quick
only with <quick>), interface-group rules, interface rules, inet46 as two rules, tcp/udp, port
ranges, interface macros from static addresses, NAT port forwards (``rdr``, ``rdr pass``).
A rule pfSense would skip (an unresolvable alias, a disabled rule, a missing address) becomes a
``#`` comment, as in rules.debug. It is not pfSense's code: docs/pfsense.md says what it leaves out.

    python -m hes_lab.pfsense.render --root DIR --config CONFIG.json --out rules.debug
"""
import argparse
import ipaddress
import json
import os
import sys

PORT_PROTOCOLS = ("tcp", "udp", "tcp/udp", "sctp")
DYNAMIC = ("dhcp", "pppoe", "pptp", "l2tp", "ppp", "dhcp6", "slaac", "track6", "6rd", "6to4")


class Skip(Exception):
    pass


def as_list(value):
    return value if isinstance(value, list) else []


class Box:
    def __init__(self, config, root):
        self.config = config if isinstance(config, dict) else {}
        self.root = root
        self.aliases = dict((a["name"], a) for a in as_list((self.config.get("aliases") or {}).get("alias")
                                                           if isinstance(self.config.get("aliases"), dict) else [])
                            if isinstance(a, dict) and a.get("name"))
        interfaces = self.config.get("interfaces") if isinstance(self.config.get("interfaces"), dict) else {}
        self.interfaces = dict((n, d) for n, d in interfaces.items() if isinstance(d, dict) and "enable" in d)
        groups = self.config.get("ifgroups") if isinstance(self.config.get("ifgroups"), dict) else {}
        self.groups = dict((g["ifname"], (g.get("members") or "").split()) for g in as_list(groups.get("ifgroupentry"))
                           if isinstance(g, dict) and g.get("ifname"))
        system = self.config.get("system") if isinstance(self.config.get("system"), dict) else {}
        self.system = system
        self.ipv6allow = "ipv6allow" in system

    def device(self, name):
        return self.interfaces[name].get("if") or name

    # -------------------------------------------------------------- tables and macros
    def alias_members(self, name, seen=()):
        alias = self.aliases[name]
        out = []
        for entry in (alias.get("address") or "").split():
            if entry in self.aliases and entry not in seen:
                nested = self.aliases[entry]
                if nested.get("type") == "urltable":
                    out.extend(self.urltable(entry))
                else:
                    out.extend(self.alias_members(entry, seen + (name,)))
            else:
                out.append(entry)
        return out

    def urltable(self, name):
        path = os.path.join(self.root, "var/db/aliastables/%s.txt" % name)
        try:
            with open(path) as handle:
                return [line.split("#")[0].strip() for line in handle if line.split("#")[0].strip()]
        except OSError:
            return []

    def tables(self):
        lines = []
        for name, alias in self.aliases.items():
            kind = alias.get("type")
            if kind in ("host", "network", "url"):
                members = [m for m in self.alias_members(name) if _is_address(m)]
                lines.append("table <%s> { %s }" % (name, " ".join(members)) if members else "table <%s> persist" % name)
            elif kind == "urltable":
                lines.append('table <%s> persist file "%s"' % (name, os.path.join(self.root, "var/db/aliastables/%s.txt" % name)))
        lines.append('table <bogons> persist file "%s"' % os.path.join(self.root, "etc/bogons"))
        if self.ipv6allow:
            lines.append('table <bogonsv6> persist file "%s"' % os.path.join(self.root, "etc/bogonsv6"))
        return lines

    def address_of(self, name, family):
        data = self.interfaces.get(name) or {}
        value = (data.get("ipaddr") if family == 4 else data.get("ipaddrv6")) or ""
        if value in DYNAMIC:
            raise Skip("%s has a dynamic address, which the lab does not emulate" % name)
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            raise Skip("%s has no IPv%d address" % (name, family))
        if address.version != family:
            raise Skip("%s has no IPv%d address" % (name, family))
        return address

    def network_of(self, name, family):
        address = self.address_of(name, family)
        data = self.interfaces[name]
        bits = (data.get("subnet") if family == 4 else data.get("subnetv6")) or str(address.max_prefixlen)
        return ipaddress.ip_network("%s/%s" % (address, bits), strict=False)

    def side(self, side, family):
        side = side if isinstance(side, dict) else {}
        if "any" in side:
            text = "any"
        elif side.get("network"):
            macro = side["network"]
            if macro == "(self)":
                text = "(self)"
            elif macro.endswith("ip") and macro[:-2] in self.interfaces:
                text = str(self.address_of(macro[:-2], family))
            elif macro in self.interfaces:
                text = str(self.network_of(macro, family))
            else:
                raise Skip("network %s is not emulated" % macro)
        elif side.get("address"):
            address = side["address"]
            if address in self.aliases:
                if self.aliases[address].get("type") not in ("host", "network", "url", "urltable"):
                    raise Skip("alias %s is not an address alias" % address)
                text = "<%s>" % address
            else:
                try:
                    net = ipaddress.ip_network(address, strict=False)
                except ValueError:
                    raise Skip("Unresolvable alias '%s'" % address)
                if net.version != family:
                    raise Skip("address %s is not IPv%d" % (address, family))
                text = str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)
        else:
            raise Skip("address is empty")
        if "not" in side:
            text = "! " + text
        return text

    def ports(self, text):
        text = (text or "").strip()
        if not text:
            return ""
        if text in self.aliases:
            entries = []
            for entry in self.alias_members(text):
                entries.append(entry.replace("-", ":"))
            if not entries:
                raise Skip("Empty port alias '%s'" % text)
            return " port { %s }" % " ".join(entries)
        parts = text.split("-")
        if not all(p.isdigit() for p in parts) or len(parts) > 2:
            raise Skip("Unresolvable port alias '%s'" % text)
        low, high = int(parts[0]), int(parts[-1])
        if low == high:
            return " port = %d" % low
        if (low, high) == (1, 65535):
            return ""
        return " port %d:%d" % (low, high)


def _is_address(text):
    try:
        ipaddress.ip_network(text, strict=False)
        return True
    except ValueError:
        return False


def families(rule):
    value = (rule.get("ipprotocol") or "inet").strip()
    return {"inet": (4,), "inet6": (6,), "inet46": (4, 6)}.get(value, (4,))


def protocol_words(rule, family):
    proto = (rule.get("protocol") or "").strip().lower()
    has_ports = any(isinstance(rule.get(s), dict) and rule[s].get("port") for s in ("source", "destination"))
    if proto == "":
        return (" proto tcp", True) if has_ports else ("", False)
    if proto == "any":
        return "", False
    if proto == "tcp/udp":
        return " proto { tcp udp }", True
    if proto == "icmp":
        return (" proto icmp" if family == 4 else " proto ipv6-icmp"), False
    return " proto %s" % proto, proto in PORT_PROTOCOLS


def user_rule(box, rule, family, where):
    descr = (rule.get("descr") or "").replace('"', "'")
    kind = (rule.get("type") or "pass").strip()
    action = {"pass": "pass", "block": "block drop", "reject": "block return", "match": "match"}.get(kind, "pass")
    if "floating" in rule:
        direction = (rule.get("direction") or "any").strip()
        direction = "" if direction in ("", "any") else " " + direction
        quick = " quick" if "quick" in rule else ""
        names = [i for i in (rule.get("interface") or "").split(",") if i and i != "any"]
        devices = [box.device(n) for n in names if n in box.interfaces]
        if names and not devices:
            raise Skip("rule %s has no enabled interfaces" % descr)
        on = "" if not devices else (" on %s" % devices[0] if len(devices) == 1 else " on { %s }" % " ".join(devices))
    else:
        direction, quick = " in", " quick"
        on = " on %s" % where
    proto, ports_apply = protocol_words(rule, family)
    src = box.side(rule.get("source"), family)
    dst = box.side(rule.get("destination"), family)
    sport = box.ports((rule.get("source") or {}).get("port")) if ports_apply and isinstance(rule.get("source"), dict) else ""
    dport = box.ports((rule.get("destination") or {}).get("port")) if ports_apply and isinstance(rule.get("destination"), dict) else ""
    af = "inet" if family == 4 else "inet6"
    flags = " flags S/SA" if (rule.get("protocol") or "").lower() == "tcp" and action == "pass" else ""
    state = " keep state" if action == "pass" else ""
    tracker = " ridentifier %s" % rule["tracker"] if rule.get("tracker") else ""
    log = " log" if "log" in rule else ""  # filter.inc puts it right after the direction
    return "%s%s%s%s%s %s%s from %s%s to %s%s%s%s label \"USER_RULE: %s\"%s" % (
        action, direction, log, quick, on, af, proto, src, sport, dst, dport, flags, state, descr, tracker)


def nat_rule(box, rule):
    interface = rule.get("interface") or "wan"
    if interface not in box.interfaces:
        raise Skip("interface %s is not enabled" % interface)
    family = 6 if rule.get("ipprotocol") == "inet6" else 4
    proto, ports_apply = protocol_words(rule, family)
    src = box.side(rule.get("source"), family)
    dst = box.side(rule.get("destination"), family)
    sport = box.ports((rule.get("source") or {}).get("port")) if isinstance(rule.get("source"), dict) else ""
    dport = box.ports((rule.get("destination") or {}).get("port")) if isinstance(rule.get("destination"), dict) else ""
    target = rule.get("target") or ""
    if target in box.aliases:
        target = "<%s>" % target
    elif not _is_address(target):
        raise Skip("Unresolvable alias %s" % target)
    local = (rule.get("local-port") or "").strip()
    passing = " pass" if rule.get("associated-rule-id") == "pass" else ""
    return "rdr%s on %s %s%s from %s%s to %s%s -> %s%s" % (
        passing, box.device(interface), "inet" if family == 4 else "inet6", proto, src, sport, dst, dport, target,
        " port %s" % local if local else "")


def render(config, root):
    box = Box(config, root)
    lines = ["# rules.debug written by hes-lab pfsense (a stand-in for pfSense's filter.inc)"]
    if "disablefilter" in box.system:
        return "\n".join(lines + ["# pf is disabled (system/disablefilter)"]) + "\n", False
    lines += box.tables()
    nat = (config.get("nat") or {}) if isinstance(config.get("nat"), dict) else {}
    for rule in as_list(nat.get("rule")):
        if not isinstance(rule, dict) or "disabled" in rule or "nordr" in rule:
            continue
        try:
            lines.append(nat_rule(box, rule))
        except Skip as exc:
            lines.append("# %s" % exc)
    lines.append('block in log inet all ridentifier 1000000103 label "Default deny rule IPv4"')
    lines.append('block in log inet6 all ridentifier 1000000104 label "Default deny rule IPv6"')
    if not box.ipv6allow:
        lines.append('block in log quick inet6 all ridentifier 1000000101 label "Block all IPv6"')
    if "no_apipa_block" not in box.system:
        lines.append('block in log quick from 169.254.0.0/16 to any ridentifier 1000000102 label "Block IPv4 link-local"')
        lines.append('block in log quick from any to 169.254.0.0/16 ridentifier 1000000105 label "Block IPv4 link-local"')
    lines.append('block log quick inet proto { tcp udp } from any port = 0 to any ridentifier 1000000111 label "Block traffic from port 0"')
    lines.append('block log quick inet proto { tcp udp } from any to any port = 0 ridentifier 1000000112 label "Block traffic to port 0"')
    if box.ipv6allow:
        lines.append('block log quick inet6 proto { tcp udp } from any port = 0 to any ridentifier 1000000113 label "Block traffic from port 0"')
        lines.append('block log quick inet6 proto { tcp udp } from any to any port = 0 ridentifier 1000000114 label "Block traffic to port 0"')
    tracker = 11000
    for name in box.interfaces:
        data = box.interfaces[name]
        device = box.device(name)
        descr = data.get("descr") or name.upper()
        if "blockbogons" in data:
            lines.append('block in log quick on %s from <bogons> to any ridentifier %d label "block bogon IPv4 networks from %s"'
                         % (device, tracker, descr))
            if box.ipv6allow:
                lines.append('block in log quick on %s from <bogonsv6> to any ridentifier %d label "block bogon IPv6 networks from %s"'
                             % (device, tracker + 1, descr))
        if "blockpriv" in data:
            for net in ("10.0.0.0/8", "127.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"):
                lines.append('block in log quick on %s from %s to any ridentifier %d label "Block private networks from %s"'
                             % (device, net, tracker + 2, descr))
            lines.append('block in log quick on %s from fc00::/7 to any ridentifier %d label "Block ULA networks from %s"'
                         % (device, tracker + 3, descr))
        tracker += 10
    lines.append('pass out inet all keep state allow-opts ridentifier 1000000201 label "let out anything IPv4 from firewall host itself"')
    rules = [r for r in as_list((config.get("filter") or {}).get("rule") if isinstance(config.get("filter"), dict) else [])
             if isinstance(r, dict) and "separator" not in r]
    ordered = [r for r in rules if "floating" in r]
    for group in box.groups:
        ordered += [r for r in rules if "floating" not in r and r.get("interface") == group]
    for name in box.interfaces:
        ordered += [r for r in rules if "floating" not in r and r.get("interface") == name]
    for rule in ordered:
        if "disabled" in rule:
            lines.append("# rule %s disabled" % rule.get("descr"))
            continue
        interface = rule.get("interface")
        where = interface if interface in box.groups else (box.device(interface) if interface in box.interfaces else None)
        if "floating" not in rule and where is None:
            lines.append('# array key "%s" does not exist for "%s"' % (interface, rule.get("descr")))
            continue
        for family in families(rule):
            try:
                lines.append(user_rule(box, rule, family, where))
            except Skip as exc:
                lines.append("# %s - %s" % (exc, rule.get("descr")))
    return "\n".join(lines) + "\n", True


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m hes_lab.pfsense.render")
    parser.add_argument("--root", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    with open(args.config) as handle:
        config = json.load(handle)
    text, enabled = render(config if isinstance(config, dict) else {}, args.root)
    with open(args.out, "w") as handle:
        handle.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
