"""Objects (`object network|service`) and object groups, with their member grammar."""
import ipaddress

from .acl import (PROTOCOLS, Icmp, ICMP_TYPES, Leaf, is_ipv4, mask_pairs, need, net_leaf,
                  parse_icmp, parse_port, parse_protocol, parse_service, split_svc)
from .errors import CliError, invalid
from .keywords import complete, expect

GROUP_TYPES = ("network", "service", "protocol", "icmp-type", "security", "user")
GROUP_MODES = {
    "network": "config-network-object-group",
    "service": "config-service-object-group",
    "protocol": "config-protocol-object-group",
    "icmp-type": "config-icmp-object-group",
    "security": "config-security-object-group",
    "user": "config-user-object-group",
}
# The member commands of each group's sub-mode (a service group with a protocol takes ports).
MEMBER_KEYWORDS = {
    "network": ("network-object",),
    "service": ("service-object",),
    "port": ("port-object",),
    "protocol": ("protocol-object",),
    "icmp-type": ("icmp-object",),
    "security": ("security-group",),
    "user": ("user", "user-group"),
}
OBJECT_TYPES = ("network", "service")
OBJECT_MODES = {"network": "config-network-object", "service": "config-service-object"}


class _Object:
    """What network and service objects share: a name, a description, a typed sub-mode."""

    type = None
    KEYWORDS = ("description",)

    def __init__(self, name):
        self.name = name
        self.description = None

    def command(self, tokens, rest_text):
        """A command typed in the sub-mode (keyword completed); False when it is not one."""
        if tokens[0] != "description":
            return self._set(tokens)
        need(tokens, 1)
        self.description = rest_text
        return True

    def no_command(self, tokens):
        if tokens[0] != "description":
            return self._unset(tokens)
        self.description = None
        return True

    def _description_lines(self):
        return [] if self.description is None else [f" description {self.description}"]


class NetObject(_Object):
    """`object network NAME`: one host, subnet, range or fqdn, plus a description."""

    type = "network"
    KEYWORDS = ("host", "subnet", "range", "fqdn", "description", "nat")

    def __init__(self, name):
        super().__init__(name)
        self.kind = None
        self.value = ()
        self.extra = []   # child lines kept verbatim (nat ...)

    def lines(self):
        out = [f"object network {self.name}"]
        if self.kind:
            out.append(f" {self.kind} {' '.join(self.value)}")
        return out + self._description_lines() + [f" {line}" for line in self.extra]

    def leaves(self):
        if self.kind == "host":
            return [net_leaf(ipaddress.ip_network(self.value[0]))]
        if self.kind == "subnet":
            if len(self.value) == 2:
                net = ipaddress.IPv4Network("/".join(self.value))
                return [Leaf(" ".join(self.value), "net", net)] if net.prefixlen < 32 else [net_leaf(net)]
            return [net_leaf(ipaddress.IPv6Network(self.value[0]))]
        if self.kind == "range":
            lo, hi = (ipaddress.ip_address(v) for v in self.value)
            return [Leaf(f"range {lo} {hi}", "range", lo=lo, hi=hi)]
        if self.kind == "fqdn":
            return [Leaf(f"fqdn {self.value[-1]}", "never")]
        return []

    def _set(self, tokens):
        word = tokens[0]
        if word == "host":
            ip = _ip(tokens, 1)
            if len(tokens) > 2:
                raise invalid(2)
            self.kind, self.value = "host", (str(ip),)
        elif word == "subnet":
            tok = need(tokens, 1)
            if "/" in tok:
                try:
                    net = ipaddress.IPv6Network(tok)
                except ValueError:
                    raise invalid(1) from None
                self.kind, self.value = "subnet", (net.with_prefixlen,)
            else:
                _ip(tokens, 1)
                mask = need(tokens, 2)
                if not is_ipv4(mask):
                    raise invalid(2)
                if not mask_pairs(tok, mask):
                    raise CliError("ERROR: IP address,mask doesn't pair", 2)
                self.kind, self.value = "subnet", (tok, mask)
        elif word == "range":
            lo, hi = _ip(tokens, 1), _ip(tokens, 2)
            if lo.version != hi.version or lo > hi:
                raise CliError("ERROR: Invalid IP address range", 2)
            self.kind, self.value = "range", (str(lo), str(hi))
        elif word == "fqdn":
            need(tokens, 1)
            self.kind, self.value = "fqdn", tuple(tokens[1:])
        elif word == "nat":
            self.extra = [e for e in self.extra if not e.startswith("nat ")] + [" ".join(tokens)]
        else:
            return False
        return True

    def _unset(self, tokens):
        if tokens[0] == "nat":
            self.extra = [e for e in self.extra if not e.startswith("nat ")]
        elif tokens[0] in ("host", "subnet", "range", "fqdn"):
            self.kind, self.value = None, ()
        else:
            return False
        return True


class ServiceObject(_Object):
    """`object service NAME`: one `service …` line (the service-object grammar, no tcp-udp)."""

    type = "service"
    KEYWORDS = ("service", "description")

    def __init__(self, name):
        super().__init__(name)
        self.svc = None
        self.text = None

    def leaves(self):
        """The Svc leaves (none while the object has no `service` line)."""
        return split_svc(self.svc) if self.svc else []

    def lines(self):
        out = [f"object service {self.name}"]
        if self.text:
            out.append(f" service {self.text}")
        return out + self._description_lines()

    def _set(self, tokens):
        if tokens[0] != "service":
            return False
        self.svc, self.text = parse_service(tokens, 1, allow_tcp_udp=False)
        return True

    def _unset(self, tokens):
        if tokens[0] != "service":
            return False
        self.svc = self.text = None
        return True


def new_object(otype, name):
    return (NetObject if otype == "network" else ServiceObject)(name)


def _ip(tokens, i):
    try:
        return ipaddress.ip_address(need(tokens, i))
    except ValueError:
        raise invalid(i) from None


class Member:
    """One child line of an object group: kind, parsed arguments and its printed text."""

    __slots__ = ("kind", "args", "text")

    def __init__(self, kind, args, text):
        self.kind, self.args, self.text = kind, args, text

    def key(self):
        return self.text


class Group:
    """`object-group TYPE NAME [PROTO]` with its description and ordered members."""

    def __init__(self, name, gtype, proto=None):
        self.name = name
        self.type = gtype
        self.proto = proto
        self.description = None
        self.members = []

    @property
    def mode(self):
        return GROUP_MODES[self.type]

    def keywords(self):
        """The sub-mode's member commands (completion candidates)."""
        kind = "port" if self.type == "service" and self.proto else self.type
        return MEMBER_KEYWORDS[kind] + ("group-object",)

    def header(self):
        return " ".join(p for p in ("object-group", self.type, self.name, self.proto) if p)

    def lines(self):
        out = [self.header()]
        if self.description is not None:
            out.append(f" description {self.description}")
        out += [f" {m.text}" for m in self.members]
        return out

    def parse_member(self, tokens, ctx):
        """Parse a member line (first word completed); None when it is not one of this group's."""
        word = tokens[0]
        if word not in self.keywords():
            return None
        if word == "group-object":
            name = need(tokens, 1)
            other = ctx.groups.get(name)
            if other is None:
                raise CliError(f"ERROR: specified object group <{name}> not found", 1)
            if other.type != self.type or other.proto != self.proto:
                raise CliError(f"ERROR: specified object group <{name}> has wrong type; "
                               f"expecting {self.type} type", 1)
            if name == self.name or self.name in ctx.nested_groups(name):
                raise CliError(f"ERROR: Adding group-object ({name}) to ({self.name}) "
                               "would create a loop", 1)
            return Member("group", (name,), f"group-object {name}")
        member = _MEMBER_PARSERS[word](self, tokens, ctx)
        return member


def _network_member(group, tokens, ctx):
    tok = need(tokens, 1)
    keyword = complete(tokens, 1, ("host", "object"))
    if keyword == "host":
        value = need(tokens, 2)
        try:
            ip = ipaddress.ip_address(ctx.names.get(value, value))
        except ValueError:
            raise invalid(2) from None
        shown = value if value in ctx.names else str(ip)
        _end(tokens, 3)
        return Member("host", (shown,), f"network-object host {shown}")
    if keyword == "object":
        name = need(tokens, 2)
        obj = ctx.objects.get(name)
        if obj is None or obj.type != "network":
            raise CliError(f"ERROR: Object {name} not found", 2)
        _end(tokens, 3)
        return Member("object", (name,), f"network-object object {name}")
    if "/" in tok:
        try:
            net = ipaddress.IPv6Network(tok)
        except ValueError:
            raise invalid(1) from None
        _end(tokens, 2)
        return Member("prefix6", (net.with_prefixlen,), f"network-object {net.with_prefixlen}")
    try:
        ipaddress.IPv4Address(ctx.names.get(tok, tok))
    except ValueError:
        raise invalid(1) from None
    mask = need(tokens, 2)
    if not is_ipv4(mask):
        raise invalid(2)
    if not mask_pairs(ctx.names.get(tok, tok), mask):
        raise CliError("ERROR: IP address,mask doesn't pair", 2)
    _end(tokens, 3)
    return Member("mask", ((tok, mask),), f"network-object {tok} {mask}")


def _service_member(group, tokens, ctx):
    if complete(tokens, 1, ("object",) + tuple(PROTOCOLS) + ("tcp-udp",)) == "object":
        name = need(tokens, 2)
        obj = ctx.objects.get(name)
        if obj is None or obj.type != "service":
            raise CliError(f"ERROR: Object {name} not found", 2)
        _end(tokens, 3)
        return Member("object", (name,), f"service-object object {name}")
    svc, text = parse_service(tokens, 1)
    return Member("svc", (svc,), f"service-object {text}")


def _port_member(group, tokens, ctx):
    port, i = parse_port(tokens, 1, group.proto, ("eq", "range"))
    _end(tokens, i)
    return Member("port", (port,), f"port-object {port.text(group.proto)}")


def _protocol_member(group, tokens, ctx):
    proto = parse_protocol(tokens, 1)
    _end(tokens, 2)
    return Member("proto", (proto,), f"protocol-object {proto}")


def _icmp_member(group, tokens, ctx):
    need(tokens, 1)
    if tokens[1].isdigit():
        icmp, i = parse_icmp(tokens, 1, "icmp")
    else:
        name = expect(tokens, 1, tuple(ICMP_TYPES))
        icmp, i = Icmp(name, ICMP_TYPES[name], None), 2
    _end(tokens, i)
    return Member("icmp", (icmp,), f"icmp-object {icmp.text}")


def _security_member(group, tokens, ctx):
    sub = expect(tokens, 1, ("name", "tag"))
    value = need(tokens, 2)
    if sub == "tag" and not (value.isdigit() and 1 <= int(value) <= 65535):
        raise invalid(2)
    _end(tokens, 3)
    return Member("security", (sub, value), f"security-group {sub} {value}")


def _user_member(group, tokens, ctx):
    value = ctx.qualified_user(need(tokens, 1), group_names=tokens[0] == "user-group")
    if value is None:
        raise invalid(1)
    _end(tokens, 2)
    return Member(tokens[0], (value,), f"{tokens[0]} {value}")


def _end(tokens, i):
    if i < len(tokens):
        raise invalid(i)


_MEMBER_PARSERS = {
    "network-object": _network_member, "service-object": _service_member,
    "port-object": _port_member, "protocol-object": _protocol_member,
    "icmp-object": _icmp_member, "security-group": _security_member,
    "user": _user_member, "user-group": _user_member,
}
