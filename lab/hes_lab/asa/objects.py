"""Network objects and object groups, with their member grammar."""
import ipaddress

from .acl import PROTOCOLS, Leaf, is_ipv4, mask_pairs, net_leaf, parse_port, _need
from .errors import CliError, invalid

GROUP_TYPES = ("network", "service", "protocol", "icmp-type")
GROUP_MODES = {
    "network": "config-network-object-group",
    "service": "config-service-object-group",
    "protocol": "config-protocol-object-group",
    "icmp-type": "config-icmp-object-group",
}


class NetObject:
    """`object network NAME`: one host, subnet, range or fqdn, plus a description."""

    def __init__(self, name):
        self.name = name
        self.kind = None
        self.value = ()
        self.description = None
        self.extra = []   # child lines kept verbatim (nat ...)

    def lines(self):
        out = [f"object network {self.name}"]
        if self.kind:
            out.append(f" {self.kind} {' '.join(self.value)}")
        if self.description is not None:
            out.append(f" description {self.description}")
        out += [f" {line}" for line in self.extra]
        return out

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

    def command(self, tokens):
        """A command typed in the `object network` sub-mode; returns False when it is not one."""
        word = tokens[0]
        if word == "host":
            ip = _ip(tokens, 1)
            self.kind, self.value = "host", (str(ip),)
        elif word == "subnet":
            tok = _need(tokens, 1)
            if "/" in tok:
                try:
                    net = ipaddress.IPv6Network(tok)
                except ValueError:
                    raise invalid(1) from None
                self.kind, self.value = "subnet", (net.with_prefixlen,)
            else:
                _ip(tokens, 1)
                mask = _need(tokens, 2)
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
            self.kind, self.value = "fqdn", tuple(tokens[1:]) or _need(tokens, 1)
        elif word == "description":
            _need(tokens, 1)
            self.description = " ".join(tokens[1:])
        elif word == "nat":
            self.extra = [e for e in self.extra if not e.startswith("nat ")] + [" ".join(tokens)]
        else:
            return False
        return True

    def no_command(self, tokens):
        if tokens[0] == "description":
            self.description = None
        elif tokens[0] == "nat":
            self.extra = [e for e in self.extra if not e.startswith("nat ")]
        elif tokens[0] in ("host", "subnet", "range", "fqdn"):
            self.kind, self.value = None, ()
        else:
            return False
        return True


def _ip(tokens, i):
    try:
        return ipaddress.ip_address(_need(tokens, i))
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

    def header(self):
        return " ".join(p for p in ("object-group", self.type, self.name, self.proto) if p)

    def lines(self):
        out = [self.header()]
        if self.description is not None:
            out.append(f" description {self.description}")
        out += [f" {m.text}" for m in self.members]
        return out

    def parse_member(self, tokens, ctx):
        """Parse a member line typed in this group's sub-mode; None when it is not one."""
        word = tokens[0]
        if word == "group-object":
            name = _need(tokens, 1)
            other = ctx.groups.get(name)
            if other is None:
                raise CliError(f"ERROR: specified object group <{name}> not found", 1)
            if other.type != self.type:
                raise CliError(f"ERROR: specified object group <{name}> has wrong type; "
                               f"expecting {self.type} type", 1)
            if name == self.name or self.name in ctx.nested_groups(name):
                raise CliError(f"ERROR: Adding group-object ({name}) to ({self.name}) "
                               "would create a loop", 1)
            return Member("group", (name,), f"group-object {name}")
        if self.type == "network" and word == "network-object":
            return _network_member(tokens, ctx)
        if self.type == "service" and word == "port-object" and self.proto:
            if len(tokens) < 2 or tokens[1] not in ("eq", "range"):
                raise invalid(1)
            port, i = parse_port(tokens, 1, self.proto)
            if i != len(tokens):
                raise invalid(i)
            return Member("port", (port,), f"port-object {port.text(self.proto)}")
        if self.type == "service" and word == "service-object" and not self.proto:
            return _service_member(tokens, ctx)
        if self.type == "protocol" and word == "protocol-object":
            proto = _need(tokens, 1)
            if proto not in PROTOCOLS and not (proto.isdigit() and int(proto) <= 255):
                raise invalid(1)
            return Member("proto", (proto,), f"protocol-object {proto}")
        if self.type == "icmp-type" and word == "icmp-object":
            kind = _need(tokens, 1)
            return Member("icmp", (kind,), f"icmp-object {kind}")
        return None


def _network_member(tokens, ctx):
    tok = _need(tokens, 1)
    if tok == "host":
        value = _need(tokens, 2)
        try:
            ip = ipaddress.ip_address(ctx.names.get(value, value))
        except ValueError:
            raise invalid(2) from None
        shown = value if value in ctx.names else str(ip)
        return Member("host", (shown,), f"network-object host {shown}")
    if tok == "object":
        name = _need(tokens, 2)
        if name not in ctx.objects:
            raise CliError(f"ERROR: Object {name} not found", 2)
        return Member("object", (name,), f"network-object object {name}")
    if "/" in tok:
        try:
            net = ipaddress.IPv6Network(tok)
        except ValueError:
            raise invalid(1) from None
        return Member("prefix6", (net.with_prefixlen,), f"network-object {net.with_prefixlen}")
    try:
        ipaddress.IPv4Address(ctx.names.get(tok, tok))
    except ValueError:
        raise invalid(1) from None
    mask = _need(tokens, 2)
    if not is_ipv4(mask):
        raise invalid(2)
    if not mask_pairs(ctx.names.get(tok, tok), mask):
        raise CliError("ERROR: IP address,mask doesn't pair", 2)
    if len(tokens) > 3:
        raise invalid(3)
    return Member("mask", ((tok, mask),), f"network-object {tok} {mask}")


def _service_member(tokens, ctx):
    proto = _need(tokens, 1)
    if proto not in PROTOCOLS and proto != "tcp-udp" and not proto.isdigit():
        raise invalid(1)
    i = 2
    sport = dport = None
    if proto in ("tcp", "udp", "tcp-udp", "sctp"):
        if i < len(tokens) and tokens[i] == "source":
            sport, i = parse_port(tokens, i + 1, proto) if i + 1 < len(tokens) else (None, i)
        if i < len(tokens) and tokens[i] == "destination":
            i += 1
        if i < len(tokens) and tokens[i] in ("eq", "neq", "lt", "gt", "range"):
            dport, i = parse_port(tokens, i, proto)
    if i != len(tokens):
        raise invalid(i)
    parts = ["service-object", proto]
    if sport:
        parts += ["source", sport.text(proto)]
    if dport:
        parts += ["destination", dport.text(proto)]
    return Member("svc", (proto, sport, dport), " ".join(parts))

