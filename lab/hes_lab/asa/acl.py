"""ACE grammar, rendering and expansion: the part of the ASA that reads `access-list` lines.

Operands are parsed against a context (the device) that knows names, objects, object groups
and interfaces, so the same code checks references on input, expands groups for
`show access-list` and evaluates packets for packet-tracer. Keywords may be abbreviated
(keywords.py); the canonical text always carries them in full.
"""
import ipaddress
import zlib
from collections import namedtuple

from .errors import INCOMPLETE, CliError, invalid
from .keywords import complete, expect
from .ports import port_literal, port_number

PROTOCOLS = {
    "ah": 51, "eigrp": 88, "esp": 50, "gre": 47, "icmp": 1, "icmp6": 58, "igmp": 2, "igrp": 9,
    "ip": 0, "ipinip": 4, "ipsec": 50, "nos": 94, "ospf": 89, "pcp": 108, "pim": 103, "pptp": 47,
    "sctp": 132, "snp": 109, "tcp": 6, "udp": 17,
}
# Protocol numbers the ASA stores under their name (`access-list … permit 6 …` shows `tcp`).
NUMBERED = {"6": "tcp", "17": "udp", "1": "icmp", "0": "ip"}
PORT_PROTOCOLS = ("tcp", "udp", "sctp", "tcp-udp")
PORT_OPS = ("eq", "neq", "lt", "gt", "range")
LOG_LEVELS = ["emergencies", "alerts", "critical", "errors", "warnings", "notifications",
              "informational", "debugging"]
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
ADDRESS_KEYWORDS = ("any", "any4", "any6", "host", "object", "object-group", "interface")
USER_KEYWORDS = ("user", "user-group", "object-group-user")
SECURITY_KEYWORDS = ("security-group", "object-group-security")
TRAILER_KEYWORDS = ("log", "time-range", "inactive")


def ace_hash(*parts):
    """A stable 32-bit hash in ASA's `0x%08x` form."""
    return "0x%08x" % (zlib.crc32(" ".join(parts).encode()) & 0xFFFFFFFF)


def is_ipv4(token):
    try:
        ipaddress.IPv4Address(token)
        return True
    except ValueError:
        return False


def mask_pairs(ip, mask):
    """ASA refuses `IP MASK` pairs with host bits set or a non-contiguous mask."""
    try:
        ipaddress.IPv4Network(f"{ip}/{mask}")
        return True
    except ValueError:
        return False


def need(tokens, i):
    if i >= len(tokens):
        raise CliError(INCOMPLETE)
    return tokens[i]


def protocol_number(proto):
    """IP protocol number of a keyword or number string (`ip` is 0, matching every protocol)."""
    return int(proto) if proto.isdigit() else PROTOCOLS[proto]


def parse_protocol(tokens, i, extra=()):
    """A protocol keyword (completed) or number 0-255 at tokens[i], in its stored form."""
    tok = need(tokens, i)
    if tok.isdigit():
        if int(tok) > 255:
            raise invalid(i)
        return NUMBERED.get(str(int(tok)), str(int(tok)))
    found = complete(tokens, i, tuple(PROTOCOLS) + tuple(extra))
    if found is None:
        raise invalid(i)
    return found


# ---------------------------------------------------------------- operands
class Addr:
    """One operand as entered: any/any4/any6, host, IP MASK, v6 prefix, object, group, interface."""

    __slots__ = ("kind", "value")

    def __init__(self, kind, value):
        self.kind = kind
        self.value = value

    def text(self):
        if self.kind == "any":
            return self.value
        if self.kind in ("host", "object", "object-group", "interface"):
            return f"{self.kind} {self.value}"
        if self.kind == "mask":
            return f"{self.value[0]} {self.value[1]}"
        return self.value  # prefix6

    def __eq__(self, other):
        return isinstance(other, Addr) and (self.kind, self.value) == (other.kind, other.value)

    def __hash__(self):
        return hash((self.kind, self.value))


class Ident:
    """An identity condition in an ACE: user, user-group, security-group or their groups."""

    __slots__ = ("kind", "value")

    def __init__(self, kind, value):
        self.kind, self.value = kind, value

    def text(self):
        return f"{self.kind} {self.value}"

    def group(self):
        """The object group this condition references, or None."""
        return self.value if self.kind.startswith("object-group-") else None

    def holds_without_identity(self):
        """True when a packet that carries no user and no security tag satisfies it."""
        return (self.kind, self.value) == ("user", "none")


class Icmp:
    """An ICMP type (name or number) with an optional code, as entered."""

    __slots__ = ("text", "type", "code")

    def __init__(self, text, itype, code):
        self.text, self.type, self.code = text, itype, code

    def matches(self, itype, code):
        return itype == self.type and (self.code is None or code == self.code)


class Svc(namedtuple("Svc", "proto sport dport icmp")):
    """One service leaf: protocol, source and destination Port (or None), Icmp (or None)."""


def parse_ip_token(ctx, tok, idx):
    """An IPv4/IPv6 literal or a `name` alias; returns the address object."""
    real = ctx.names.get(tok, tok)
    try:
        return ipaddress.ip_address(real)
    except ValueError:
        raise invalid(idx) from None


def parse_address(tokens, i, ctx):
    """Parse an address operand at tokens[i]; returns (Addr, next index)."""
    tok = need(tokens, i)
    keyword = complete(tokens, i, ADDRESS_KEYWORDS)
    if keyword in ("any", "any4", "any6"):
        return Addr("any", keyword), i + 1
    if keyword == "host":
        value = need(tokens, i + 1)
        ip = parse_ip_token(ctx, value, i + 1)
        return Addr("host", value if value in ctx.names else str(ip)), i + 2
    if keyword == "object":
        name = need(tokens, i + 1)
        check_object(ctx, name, "network", i + 1)
        return Addr("object", name), i + 2
    if keyword == "object-group":
        name = need(tokens, i + 1)
        check_group(ctx, name, ("network",), i + 1)
        return Addr("object-group", name), i + 2
    if keyword == "interface":
        name = need(tokens, i + 1)
        if name not in ctx.interfaces():
            raise invalid(i + 1)
        return Addr("interface", name), i + 2
    if "/" in tok:
        try:
            net = ipaddress.IPv6Network(tok, strict=True)
        except ValueError:
            raise invalid(i) from None
        return Addr("prefix6", net.with_prefixlen), i + 1
    ip = parse_ip_token(ctx, tok, i)
    if ip.version != 4 or i + 1 >= len(tokens) or not is_ipv4(tokens[i + 1]):
        raise invalid(i + 1 if ip.version == 4 else i)
    mask = tokens[i + 1]
    if not mask_pairs(str(ip), mask):
        raise CliError("ERROR: IP address,mask doesn't pair", i + 1)
    return Addr("mask", (tok, mask)), i + 2


def check_object(ctx, name, otype, idx):
    obj = ctx.objects.get(name)
    if obj is None:
        raise CliError(f"ERROR: specified object ({name}) not found", idx)
    if obj.type != otype:
        raise CliError(f"ERROR: specified object ({name}) is not a {otype} object", idx)
    return obj


def check_group(ctx, name, types, idx):
    group = ctx.groups.get(name)
    if group is None:
        raise CliError(f"ERROR: specified object group <{name}> not found", idx)
    if group.type not in types:
        raise CliError(f"ERROR: specified object group <{name}> has wrong type; "
                       f"expecting {' or '.join(types)} type", idx)
    return group


def check_port_group(ctx, name, port_proto, idx):
    """A port group (`object-group service NAME tcp|udp|tcp-udp`) usable with PORT_PROTO."""
    group = check_group(ctx, name, ("service",), idx)
    fits = {"tcp": ("tcp", "tcp-udp"), "udp": ("udp", "tcp-udp"), "tcp-udp": ("tcp-udp",)}
    if group.proto not in fits.get(port_proto, ()):
        raise CliError(f"ERROR: specified object group <{name}> has wrong type; "
                       f"expecting {port_proto} port type", idx)
    return group


class Port:
    """A port operator: eq/neq/lt/gt N or range A B, printed with the protocol's literals."""

    __slots__ = ("op", "nums")

    def __init__(self, op, nums):
        self.op = op
        self.nums = tuple(nums)

    def text(self, proto):
        return " ".join([self.op] + [port_literal(n, proto) for n in self.nums])

    def matches(self, port):
        a = self.nums[0]
        if self.op == "eq":
            return port == a
        if self.op == "neq":
            return port != a
        if self.op == "lt":
            return port < a
        if self.op == "gt":
            return port > a
        return a <= port <= self.nums[1]

    def __eq__(self, other):
        return isinstance(other, Port) and (self.op, self.nums) == (other.op, other.nums)

    def __hash__(self):
        return hash((self.op, self.nums))


def parse_port(tokens, i, proto, ops=PORT_OPS):
    """Parse `eq|neq|lt|gt P` or `range A B` at tokens[i]; returns (Port, next index)."""
    op = expect(tokens, i, ops)
    count = 2 if op == "range" else 1
    nums = []
    for k in range(1, count + 1):
        tok = need(tokens, i + k)
        num = port_number(tok, proto)
        if num is None:
            raise invalid(i + k)
        nums.append(num)
    if op == "range" and nums[0] > nums[1]:
        raise invalid(i + 2)
    return Port(op, nums), i + 1 + count


def parse_icmp(tokens, i, proto):
    """An ICMP type (name, completed, or 0-255) and an optional code at tokens[i]."""
    table = ICMP6_TYPES if proto == "icmp6" else ICMP_TYPES
    tok = need(tokens, i)
    if tok.isdigit():
        if int(tok) > 255:
            raise invalid(i)
        itype = int(tok)
    else:
        itype = table[expect(tokens, i, tuple(table))]
    text, code, i = tokens[i], None, i + 1
    if i < len(tokens) and tokens[i].isdigit():
        if int(tokens[i]) > 255:
            raise invalid(i)
        code = int(tokens[i])
        text, i = f"{text} {code}", i + 1
    return Icmp(text, itype, code), i


def parse_service(tokens, i, allow_tcp_udp=True):
    """`PROTO [source OP P] [destination OP P]` or `icmp|icmp6 [TYPE [CODE]]` at tokens[i].

    The service grammar of `service-object` and of `object service`'s `service` line; returns
    (Svc, canonical text).
    """
    proto = parse_protocol(tokens, i, ("tcp-udp",) if allow_tcp_udp else ())
    i += 1
    sport = dport = icmp = None
    if proto in PORT_PROTOCOLS:
        if complete(tokens, i, ("source", "destination") + PORT_OPS) == "source":
            sport, i = parse_port(tokens, i + 1, proto)
        if complete(tokens, i, ("destination",) + PORT_OPS) == "destination":
            i += 1
        if i < len(tokens):
            dport, i = parse_port(tokens, i, proto)
    elif proto in ("icmp", "icmp6") and i < len(tokens):
        icmp, i = parse_icmp(tokens, i, proto)
    if i != len(tokens):
        raise invalid(i)
    parts = [proto]
    if sport:
        parts += ["source", sport.text(proto)]
    if dport:
        parts += ["destination", dport.text(proto)]
    if icmp:
        parts.append(icmp.text)
    return Svc(proto, sport, dport, icmp), " ".join(parts)


def split_svc(svc):
    """tcp-udp is one line in the config and two elements (tcp, udp) everywhere else."""
    if svc.proto == "tcp-udp":
        return [svc._replace(proto="tcp"), svc._replace(proto="udp")]
    return [svc]


# ---------------------------------------------------------------- ACEs
class Ace:
    """One access-list entry: a remark, an extended/standard rule, or a line kept verbatim."""

    def __init__(self, kind, text, **fields):
        self.kind = kind            # remark | extended | standard | raw
        self.text = text            # canonical text after "access-list NAME "
        self.action = fields.get("action")
        self.proto = fields.get("proto")          # keyword/number, or Addr (object-group, object)
        self.port_proto = fields.get("port_proto")  # protocol whose literals the ports use
        self.src_ident = fields.get("src_ident", ())
        self.src = fields.get("src")
        self.sport = fields.get("sport")          # Port or Addr("object-group", port group)
        self.dst_ident = fields.get("dst_ident", ())
        self.dst = fields.get("dst")
        self.dport = fields.get("dport")          # Port or Addr("object-group", port group)
        self.icmp = fields.get("icmp")            # Icmp or Addr("object-group", icmp-type group)
        self.log = fields.get("log")              # tuple of log tokens, or None
        self.time_range = fields.get("time_range")
        self.inactive = fields.get("inactive", False)
        self.hitcnt = 0
        self.leaf_hits = {}

    @property
    def is_rule(self):
        return self.kind in ("extended", "standard")

    def refs(self):
        """(kind, name) of the object groups and objects this ACE references."""
        out = set()
        for op in (self.proto, self.src, self.dst, self.dport, self.sport, self.icmp):
            if isinstance(op, Addr) and op.kind in ("object-group", "object"):
                out.add((op.kind, op.value))
        for ident in self.src_ident + self.dst_ident:
            if ident.group():
                out.add(("object-group", ident.group()))
        return out

    def identity_matches(self):
        """Whether a packet with no user and no security tag (packet-tracer's) meets it."""
        return all(i.holds_without_identity() for i in self.src_ident + self.dst_ident)


def parse_ace(tokens, ctx, raw_text=None):
    """Parse the tokens after `access-list NAME [line N]` into an Ace (canonical text included).

    RAW_TEXT, the line from the first token on as typed, keeps a remark's spacing.
    """
    if not tokens:
        raise CliError(INCOMPLETE)
    first = expect(tokens, 0, ("remark", "standard", "extended", "ethertype", "webtype",
                               "permit", "deny"))
    if first == "remark":
        if len(tokens) < 2:
            raise CliError(INCOMPLETE)
        text = raw_text.split(None, 1)[1] if raw_text else " ".join(tokens[1:])
        return Ace("remark", "remark " + text)
    if first == "standard":
        action = expect(tokens, 1, ("permit", "deny"))
        dst, i = parse_address(tokens, 2, ctx)
        if i != len(tokens):
            raise invalid(i)
        return Ace("standard", f"standard {action} {dst.text()}", action=action, dst=dst)
    if first in ("ethertype", "webtype"):
        return Ace("raw", " ".join(tokens))
    return _parse_extended(tokens, 1 if first == "extended" else 0, ctx)


def _parse_identity(tokens, i, ctx, keywords):
    """Identity conditions (user/security) before an address; returns (tuple of Ident, index)."""
    out = []
    while i < len(tokens):
        keyword = complete(tokens, i, keywords + ADDRESS_KEYWORDS)
        if keyword not in keywords:
            break
        value = need(tokens, i + 1)
        if keyword == "security-group":
            sub = expect(tokens, i + 1, ("name", "tag"))
            arg = need(tokens, i + 2)
            if sub == "tag" and not (arg.isdigit() and 1 <= int(arg) <= 65535):
                raise invalid(i + 2)
            out.append(Ident(keyword, f"{sub} {arg}"))
            i += 3
            continue
        if keyword == "object-group-user":
            check_group(ctx, value, ("user",), i + 1)
        elif keyword == "object-group-security":
            check_group(ctx, value, ("security",), i + 1)
        elif keyword == "user-group" or (keyword == "user" and value not in ("any", "none")):
            value = ctx.qualified_user(value, group_names=keyword == "user-group")
            if value is None:
                raise invalid(i + 1)
        out.append(Ident(keyword, value))
        i += 2
    return tuple(out), i


def _parse_extended(tokens, i, ctx):
    action = expect(tokens, i, ("permit", "deny"))
    i += 1
    need(tokens, i)
    port_proto = None
    if complete(tokens, i, ("object-group", "object") + tuple(PROTOCOLS)) in ("object-group", "object"):
        name = need(tokens, i + 1)
        if tokens[i] == "object":
            check_object(ctx, name, "service", i + 1)
        else:
            group = check_group(ctx, name, ("protocol", "service"), i + 1)
            if group.type == "service" and group.proto:
                raise CliError(f"ERROR: specified object group <{name}> has wrong type; "
                               "expecting protocol or service type", i + 1)
            if group.type == "protocol":
                protos = set(group_leaves(group, ctx))
                port_proto = {frozenset({"tcp"}): "tcp", frozenset({"udp"}): "udp",
                              frozenset({"tcp", "udp"}): "tcp-udp"}.get(frozenset(protos))
        proto = Addr(tokens[i], name)
        i += 2
    else:
        proto = parse_protocol(tokens, i)
        port_proto = proto if proto in PORT_PROTOCOLS else None
        i += 1
    src_ident, i = _parse_identity(tokens, i, ctx, USER_KEYWORDS + SECURITY_KEYWORDS)
    src, i = parse_address(tokens, i, ctx)
    sport = None
    after_src = complete(tokens, i, PORT_OPS + ADDRESS_KEYWORDS + SECURITY_KEYWORDS)
    if after_src in PORT_OPS:
        if port_proto is None:
            raise invalid(i)
        sport, i = parse_port(tokens, i, port_proto)
    elif (after_src == "object-group" and port_proto and i + 1 < len(tokens)
          and getattr(ctx.groups.get(tokens[i + 1]), "type", None) == "service"):
        check_port_group(ctx, tokens[i + 1], port_proto, i + 1)
        sport = Addr("object-group", tokens[i + 1])
        i += 2
    dst_ident, i = _parse_identity(tokens, i, ctx, SECURITY_KEYWORDS)
    dst, i = parse_address(tokens, i, ctx)
    dport = icmp = None
    if proto in ("icmp", "icmp6"):
        table = ICMP6_TYPES if proto == "icmp6" else ICMP_TYPES
        keyword = complete(tokens, i, ("object-group",) + TRAILER_KEYWORDS + tuple(table))
        if keyword == "object-group":
            check_group(ctx, need(tokens, i + 1), ("icmp-type",), i + 1)
            icmp = Addr("object-group", tokens[i + 1])
            i += 2
        elif i < len(tokens) and keyword not in TRAILER_KEYWORDS:
            icmp, i = parse_icmp(tokens, i, proto)
    else:
        keyword = complete(tokens, i, PORT_OPS + ("object-group",) + TRAILER_KEYWORDS)
        if keyword in PORT_OPS:
            if port_proto is None:
                raise invalid(i)
            dport, i = parse_port(tokens, i, port_proto)
        elif keyword == "object-group":
            if port_proto is None:
                raise invalid(i)
            check_port_group(ctx, need(tokens, i + 1), port_proto, i + 1)
            dport = Addr("object-group", tokens[i + 1])
            i += 2
    log = time_range = None
    inactive = False
    while i < len(tokens):
        keyword = expect(tokens, i, TRAILER_KEYWORDS)
        if keyword == "log" and log is None:
            log, i = _parse_log(tokens, i + 1)
        elif keyword == "time-range" and time_range is None:
            time_range = need(tokens, i + 1)
            i += 2
        elif keyword == "inactive" and not inactive:
            inactive = True
            i += 1
        else:
            raise invalid(i)
    ace = Ace("extended", "", action=action, proto=proto, port_proto=port_proto,
              src_ident=src_ident, src=src, sport=sport, dst_ident=dst_ident, dst=dst,
              dport=dport, icmp=icmp, log=log, time_range=time_range, inactive=inactive)
    ace.text = render_extended(ace)
    return ace


def _parse_log(tokens, i):
    out = []
    keyword = complete(tokens, i, tuple(LOG_LEVELS) + ("disable", "default", "interval")
                       + TRAILER_KEYWORDS)
    if keyword in ("disable", "default"):
        return (keyword,), i + 1
    if i < len(tokens):
        tok = tokens[i]
        if tok.isdigit() and int(tok) < 8:
            out.append(LOG_LEVELS[int(tok)])
            i += 1
        elif tok in LOG_LEVELS:
            out.append(tok)
            i += 1
    if complete(tokens, i, ("interval",) + TRAILER_KEYWORDS) == "interval":
        val = need(tokens, i + 1)
        if not val.isdigit() or not 1 <= int(val) <= 600:
            raise invalid(i + 1)
        out += ["interval", val]
        i += 2
    return tuple(out), i


def _operand_text(op, proto):
    if op is None:
        return None
    if isinstance(op, (Addr, Icmp)):
        return op.text() if isinstance(op, Addr) else op.text
    return op.text(proto)


def render_extended(ace, src=None, dst=None, svc=None, show=False):
    """Canonical text of an extended ACE; with src/dst/svc leaves, one expanded element."""
    if svc is not None:
        proto, sport, dport, icmp = svc
        pp = proto if proto in PORT_PROTOCOLS else ace.port_proto
    else:
        proto = ace.proto.text() if isinstance(ace.proto, Addr) else ace.proto
        sport, dport, icmp, pp = ace.sport, ace.dport, ace.icmp, ace.port_proto
    parts = ["extended", ace.action, proto] + [i.text() for i in ace.src_ident] + [
        src if src is not None else ace.src.text(), _operand_text(sport, pp)] + [
        i.text() for i in ace.dst_ident] + [
        dst if dst is not None else ace.dst.text(), _operand_text(dport, pp),
        _operand_text(icmp, pp)]
    if ace.log is not None:
        parts.append(" ".join(("log",) + (_show_log(ace.log) if show else ace.log)))
    if ace.time_range:
        parts.append("time-range " + ace.time_range)
    if ace.inactive:
        parts.append("inactive")
    return " ".join(p for p in parts if p)


def _show_log(log):
    if log and log[0] in ("disable", "default"):
        return log
    level = log[0] if log and log[0] in LOG_LEVELS else "informational"
    interval = log[log.index("interval") + 1] if "interval" in log else "300"
    return (level, "interval", interval)


# ---------------------------------------------------------------- expansion
class Leaf:
    """One concrete address an operand expands to, with its printed form."""

    __slots__ = ("text", "kind", "net", "lo", "hi")

    def __init__(self, text, kind, net=None, lo=None, hi=None):
        self.text, self.kind, self.net, self.lo, self.hi = text, kind, net, lo, hi

    def matches(self, ip):
        if self.kind == "any":
            return True
        if self.kind == "any4":
            return ip.version == 4
        if self.kind == "any6":
            return ip.version == 6
        if self.kind == "net":
            return ip.version == self.net.version and ip in self.net
        if self.kind == "range":
            return ip.version == self.lo.version and self.lo <= ip <= self.hi
        return False


def net_leaf(net, label=None):
    if net.prefixlen == net.max_prefixlen:
        return Leaf(f"host {label or net.network_address}", "net", net)
    if net.version == 4:
        return Leaf(f"{net.network_address} {net.netmask}", "net", net)
    return Leaf(net.with_prefixlen, "net", net)


def address_leaves(addr, ctx):
    """Expand an address operand into leaves (groups flattened, objects resolved)."""
    if addr.kind == "any":
        return [Leaf(addr.value, addr.value)]
    if addr.kind == "host":
        ip = ipaddress.ip_address(ctx.names.get(addr.value, addr.value))
        return [net_leaf(ipaddress.ip_network(ip), addr.value if addr.value in ctx.names else None)]
    if addr.kind == "mask":
        ip, mask = addr.value
        net = ipaddress.IPv4Network(f"{ctx.names.get(ip, ip)}/{mask}")
        return [Leaf(f"{ip} {mask}", "net", net)] if net.prefixlen < 32 else [net_leaf(net)]
    if addr.kind == "prefix6":
        return [net_leaf(ipaddress.IPv6Network(addr.value))]
    if addr.kind == "interface":
        info = ctx.interfaces().get(addr.value) or {"ip": None, "ip6": []}
        nets = ([ipaddress.ip_network(info["ip"])] if info["ip"] else []) + [
            ipaddress.ip_network(ip6.ip) for ip6 in info["ip6"]]
        return [Leaf(f"interface {addr.value}", "net", net) for net in nets] or [
            Leaf(f"interface {addr.value}", "never")]
    if addr.kind == "object":
        return ctx.objects[addr.value].leaves()
    return group_leaves(ctx.groups[addr.value], ctx)


def group_leaves(group, ctx, seen=()):
    """A group's members flattened: address Leaves, Svc, Port, Icmp or protocol strings."""
    if group.name in seen:
        return []
    seen = seen + (group.name,)
    out = []
    for m in group.members:
        if m.kind == "group":
            out += group_leaves(ctx.groups[m.args[0]], ctx, seen)
        elif m.kind == "object":
            out += ctx.objects[m.args[0]].leaves()
        elif m.kind in ("host", "mask", "prefix6"):
            out += address_leaves(Addr(m.kind, m.args[0]), ctx)
        elif m.kind == "svc":
            out += split_svc(m.args[0])
        elif m.kind in ("port", "proto", "icmp"):
            out.append(m.args[0])
    return out


def _values(op, ctx):
    """A port or ICMP operand as the list of values it stands for (a group: its members)."""
    if isinstance(op, Addr):
        return group_leaves(ctx.groups[op.value], ctx)
    return [op]


def service_leaves(ace, ctx):
    """The Svc leaves an extended ACE's protocol, ports and ICMP type expand to."""
    if isinstance(ace.proto, Addr):
        if ace.proto.kind == "object":
            return ctx.objects[ace.proto.value].leaves()
        group = ctx.groups[ace.proto.value]
        if group.type == "service":
            return group_leaves(group, ctx)
        protos = group_leaves(group, ctx)
    else:
        protos = [ace.proto]
    return [Svc(p, s, d, c) for p in protos for s in _values(ace.sport, ctx)
            for d in _values(ace.dport, ctx) for c in _values(ace.icmp, ctx)]


def expands(ace):
    """True when `show access-list` prints expansion lines under this ACE."""
    return any(isinstance(op, Addr) and op.kind in ("object", "object-group")
               for op in (ace.proto, ace.src, ace.dst, ace.sport, ace.dport, ace.icmp))


def elements(ace, ctx):
    """The leaf (src, dst, service) combinations of a rule."""
    if ace.kind == "standard":
        return [(None, leaf, None) for leaf in address_leaves(ace.dst, ctx)]
    srcs = address_leaves(ace.src, ctx)
    dsts = address_leaves(ace.dst, ctx)
    svcs = service_leaves(ace, ctx)
    return [(s, d, v) for v in svcs for s in srcs for d in dsts]


def proto_matches(proto, packet_proto):
    if proto == "ip":
        return True
    if proto == "tcp-udp":
        return packet_proto in ("tcp", "udp")
    return protocol_number(proto) == protocol_number(packet_proto)


def service_matches(svc, packet):
    proto, sport, dport, icmp = svc
    if not proto_matches(proto, packet["proto"]):
        return False
    if sport is not None and not sport.matches(packet["sport"]):
        return False
    if dport is not None and not dport.matches(packet["dport"]):
        return False
    return icmp is None or icmp.matches(packet["icmp_type"], packet["icmp_code"])


def element_matches(element, packet):
    src, dst, svc = element
    return (service_matches(svc, packet) and src.matches(packet["src"])
            and dst.matches(packet["dst"]))
