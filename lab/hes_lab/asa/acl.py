"""ACE grammar, rendering and expansion: the part of the ASA that reads `access-list` lines.

Operands are parsed against a context (the device) that knows names, network objects, object
groups and interfaces, so the same code checks references on input, expands groups for
`show access-list` and evaluates packets for packet-tracer.
"""
import ipaddress
import zlib

from .errors import CliError, invalid
from .ports import port_literal, port_number

PROTOCOLS = {
    "ah": 51, "eigrp": 88, "esp": 50, "gre": 47, "icmp": 1, "icmp6": 58, "igmp": 2, "igrp": 9,
    "ip": 0, "ipinip": 4, "ipsec": 50, "nos": 94, "ospf": 89, "pcp": 108, "pim": 103, "pptp": 47,
    "sctp": 132, "snp": 109, "tcp": 6, "udp": 17,
}
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


# ---------------------------------------------------------------- operands
class Addr:
    """One address operand as entered: any/any4/any6, host, IP MASK, v6 prefix, object, group."""

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


def parse_ip_token(ctx, tok, idx):
    """An IPv4/IPv6 literal or a `name` alias; returns the address object."""
    real = ctx.names.get(tok, tok)
    try:
        return ipaddress.ip_address(real)
    except ValueError:
        raise invalid(idx) from None


def parse_address(tokens, i, ctx, want_group="network"):
    """Parse an address operand at tokens[i]; returns (Addr, next index)."""
    if i >= len(tokens):
        raise CliError("ERROR: % Incomplete command")
    tok = tokens[i]
    if tok in ("any", "any4", "any6"):
        return Addr("any", tok), i + 1
    if tok == "host":
        if i + 1 >= len(tokens):
            raise CliError("ERROR: % Incomplete command")
        ip = parse_ip_token(ctx, tokens[i + 1], i + 1)
        value = tokens[i + 1] if tokens[i + 1] in ctx.names else str(ip)
        return Addr("host", value), i + 2
    if tok == "object":
        name = _need(tokens, i + 1)
        if name not in ctx.objects:
            raise CliError(f"ERROR: specified object ({name}) not found", i + 1)
        return Addr("object", name), i + 2
    if tok == "object-group":
        name = _need(tokens, i + 1)
        check_group(ctx, name, want_group, i + 1)
        return Addr("object-group", name), i + 2
    if tok == "interface":
        name = _need(tokens, i + 1)
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


def _need(tokens, i):
    if i >= len(tokens):
        raise CliError("ERROR: % Incomplete command")
    return tokens[i]


def check_group(ctx, name, want, idx):
    group = ctx.groups.get(name)
    if group is None:
        raise CliError(f"ERROR: specified object group <{name}> not found", idx)
    if want and group.type != want and not (want == "service" and group.type == "service"):
        raise CliError(f"ERROR: specified object group <{name}> has wrong type; "
                       f"expecting {want} type", idx)
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


def parse_port(tokens, i, proto):
    """Parse `eq|neq|lt|gt P` or `range A B` at tokens[i]; returns (Port, next index)."""
    op = tokens[i]
    count = 2 if op == "range" else 1
    nums = []
    for k in range(1, count + 1):
        tok = _need(tokens, i + k)
        num = port_number(tok, proto)
        if num is None:
            raise invalid(i + k)
        nums.append(num)
    if op == "range" and nums[0] > nums[1]:
        raise invalid(i + 2)
    return Port(op, nums), i + 1 + count


# ---------------------------------------------------------------- ACEs
class Ace:
    """One access-list entry: a remark, an extended/standard rule, or a line kept verbatim."""

    def __init__(self, kind, text, **fields):
        self.kind = kind            # remark | extended | standard | raw
        self.text = text            # canonical text after "access-list NAME "
        self.action = fields.get("action")
        self.proto = fields.get("proto")          # keyword/number, or Addr-like ("object-group", n)
        self.src = fields.get("src")
        self.sport = fields.get("sport")
        self.dst = fields.get("dst")
        self.dport = fields.get("dport")          # Port or ("object-group", name)
        self.icmp = fields.get("icmp")
        self.log = fields.get("log")              # tuple of log tokens, or None
        self.time_range = fields.get("time_range")
        self.inactive = fields.get("inactive", False)
        self.hitcnt = 0

    @property
    def is_rule(self):
        return self.kind in ("extended", "standard")

    def refs(self):
        """Names of the object groups and objects this ACE references."""
        out = set()
        for op in (self.proto, self.src, self.dst, self.dport, self.sport):
            if isinstance(op, Addr) and op.kind in ("object-group", "object"):
                out.add((op.kind, op.value))
        return out


def parse_ace(tokens, ctx):
    """Parse the tokens after `access-list NAME [line N]` into an Ace (canonical text included)."""
    if not tokens:
        raise CliError("ERROR: % Incomplete command")
    first = tokens[0]
    if first == "remark":
        if len(tokens) < 2:
            raise CliError("ERROR: % Incomplete command")
        return Ace("remark", "remark " + " ".join(tokens[1:]))
    if first == "standard":
        action = _need(tokens, 1)
        if action not in ("permit", "deny"):
            raise invalid(1)
        dst, i = parse_address(tokens, 2, ctx)
        if i != len(tokens):
            raise invalid(i)
        return Ace("standard", f"standard {action} {dst.text()}", action=action, dst=dst)
    if first in ("ethertype", "webtype"):
        return Ace("raw", " ".join(tokens))
    start = 1 if first == "extended" else 0
    return _parse_extended(tokens, start, ctx)


def _parse_extended(tokens, i, ctx):
    action = _need(tokens, i)
    if action not in ("permit", "deny"):
        raise invalid(i)
    i += 1
    tok = _need(tokens, i)
    port_proto = None  # protocol whose literals the port operators use
    if tok == "object-group":
        name = _need(tokens, i + 1)
        group = ctx.groups.get(name)
        if group is None:
            raise CliError(f"ERROR: specified object group <{name}> not found", i + 1)
        if group.type not in ("protocol", "service"):
            raise CliError(f"ERROR: specified object group <{name}> has wrong type; "
                           f"expecting protocol or service type", i + 1)
        proto = Addr("object-group", name)
        if group.type == "protocol":
            protos = {m.args[0] for m in group.members if m.kind == "proto"}
            port_proto = "tcp-udp" if protos and protos <= {"tcp", "udp"} else None
        i += 2
    elif tok in PROTOCOLS or (tok.isdigit() and int(tok) <= 255):
        proto = tok
        if tok.isdigit():
            proto = {"6": "tcp", "17": "udp", "1": "icmp", "0": "ip"}.get(tok, tok)
        port_proto = proto if proto in PORT_PROTOCOLS else None
        i += 1
    else:
        raise invalid(i)
    src, i = parse_address(tokens, i, ctx)
    sport = None
    if i < len(tokens) and tokens[i] in PORT_OPS:
        if port_proto is None:
            raise invalid(i)
        sport, i = parse_port(tokens, i, port_proto)
    elif (i + 1 < len(tokens) and tokens[i] == "object-group" and port_proto
          and getattr(ctx.groups.get(tokens[i + 1]), "type", None) == "service"):
        sport = Addr("object-group", tokens[i + 1])
        i += 2
    dst, i = parse_address(tokens, i, ctx)
    dport = None
    icmp = None
    if proto in ("icmp", "icmp6") and i < len(tokens) and tokens[i] == "object-group":
        check_group(ctx, _need(tokens, i + 1), "icmp-type", i + 1)
        icmp = f"object-group {tokens[i + 1]}"
        i += 2
    elif i < len(tokens) and tokens[i] in PORT_OPS:
        if port_proto is None:
            raise invalid(i)
        dport, i = parse_port(tokens, i, port_proto)
    elif i < len(tokens) and tokens[i] == "object-group":
        if port_proto is None:
            raise invalid(i)
        check_group(ctx, _need(tokens, i + 1), "service", i + 1)
        dport = Addr("object-group", tokens[i + 1])
        i += 2
    if proto in ("icmp", "icmp6") and icmp is None and i < len(tokens) and (tokens[i] in ICMP_TYPES or tokens[i].isdigit()):
        icmp = [tokens[i]]
        i += 1
        if i < len(tokens) and tokens[i].isdigit():
            icmp.append(tokens[i])
            i += 1
        icmp = " ".join(icmp)
    log = time_range = None
    inactive = False
    while i < len(tokens):
        tok = tokens[i]
        if tok == "log" and log is None:
            log, i = _parse_log(tokens, i + 1)
        elif tok == "time-range" and time_range is None:
            time_range = _need(tokens, i + 1)
            i += 2
        elif tok == "inactive" and not inactive:
            inactive = True
            i += 1
        else:
            raise invalid(i)
    ace = Ace("extended", "", action=action, proto=proto, src=src, sport=sport, dst=dst,
              dport=dport, icmp=icmp, log=log, time_range=time_range, inactive=inactive)
    ace.text = render_extended(ace, port_proto)
    ace.port_proto = port_proto
    return ace


def _parse_log(tokens, i):
    out = []
    if i < len(tokens) and tokens[i] in ("disable", "default"):
        return (tokens[i],), i + 1
    if i < len(tokens):
        tok = tokens[i]
        if tok.isdigit() and int(tok) < 8:
            out.append(LOG_LEVELS[int(tok)])
            i += 1
        elif tok in LOG_LEVELS:
            out.append(tok)
            i += 1
    if i < len(tokens) and tokens[i] == "interval":
        val = _need(tokens, i + 1)
        if not val.isdigit() or not 1 <= int(val) <= 600:
            raise invalid(i + 1)
        out += ["interval", val]
        i += 2
    return tuple(out), i


def _port_text(port, proto):
    if port is None:
        return None
    if isinstance(port, Addr):
        return port.text()
    return port.text(proto)


def render_extended(ace, port_proto, src=None, dst=None, svc=None, show=False):
    """Canonical text of an extended ACE; with src/dst/svc leaves, one expanded element."""
    if svc is not None:
        proto, sport, dport = svc
        pp = proto if proto in PORT_PROTOCOLS else port_proto
    else:
        proto, sport, dport, pp = _proto_text(ace.proto), ace.sport, ace.dport, port_proto
    parts = ["extended", ace.action, proto,
             src if src is not None else ace.src.text(), _port_text(sport, pp),
             dst if dst is not None else ace.dst.text(), _port_text(dport, pp), ace.icmp]
    if ace.log is not None:
        parts.append(" ".join(("log",) + (_show_log(ace.log) if show else ace.log)))
    if ace.time_range:
        parts.append("time-range " + ace.time_range)
    if ace.inactive:
        parts.append("inactive")
    return " ".join(p for p in parts if p)


def _proto_text(proto):
    return proto.text() if isinstance(proto, Addr) else proto


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


def address_leaves(addr, ctx, seen=()):
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
        ifc = ctx.interfaces().get(addr.value)
        ip = ifc.get("ip") if ifc else None
        if ip is None:
            return [Leaf(f"interface {addr.value}", "never")]
        return [Leaf(f"interface {addr.value}", "net", ipaddress.ip_network(ip))]
    if addr.kind == "object":
        return ctx.objects[addr.value].leaves()
    group = ctx.groups[addr.value]
    return group_leaves(group, ctx, seen)


def group_leaves(group, ctx, seen=()):
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
        elif m.kind in ("port", "proto", "svc", "icmp"):
            out.append(m)
    return out


def service_leaves(ace, ctx):
    """(proto, sport, dport) triples an extended ACE's protocol and ports expand to."""
    sports = [ace.sport]
    if isinstance(ace.sport, Addr):
        sports = [m.args[0] for m in group_leaves(ctx.groups[ace.sport.value], ctx)]
    dports = [ace.dport]
    if isinstance(ace.dport, Addr):
        dports = [m.args[0] for m in group_leaves(ctx.groups[ace.dport.value], ctx)]
    if isinstance(ace.proto, Addr):
        group = ctx.groups[ace.proto.value]
        members = group_leaves(group, ctx)
        if group.type == "protocol":
            protos = [m.args[0] for m in members]
        else:
            return [(m.args[0], m.args[1], m.args[2]) for m in members]
    else:
        protos = [ace.proto]
    return [(p, s, d) for p in protos for s in sports for d in dports]


def expands(ace):
    """True when `show access-list` prints expansion lines under this ACE."""
    return any(isinstance(op, Addr) and op.kind in ("object", "object-group")
               for op in (ace.proto, ace.src, ace.dst, ace.sport, ace.dport))


def elements(ace, ctx):
    """The leaf (src, dst, service) combinations of a rule."""
    if ace.kind == "standard":
        return [(None, leaf, None) for leaf in address_leaves(ace.dst, ctx)]
    srcs = address_leaves(ace.src, ctx)
    dsts = address_leaves(ace.dst, ctx)
    svcs = service_leaves(ace, ctx)
    return [(s, d, v) for v in svcs for s in srcs for d in dsts]


def proto_matches(proto, packet_proto):
    if proto in ("ip", "0"):
        return True
    if proto == "tcp-udp":
        return packet_proto in ("tcp", "udp")
    return proto == packet_proto or str(PROTOCOLS.get(packet_proto)) == proto


def element_matches(element, packet):
    src, dst, svc = element
    proto, sport, dport = svc
    if not proto_matches(proto, packet["proto"]):
        return False
    if not (src.matches(packet["src"]) and dst.matches(packet["dst"])):
        return False
    if sport is not None and not sport.matches(packet["sport"]):
        return False
    if dport is not None and not dport.matches(packet["dport"]):
        return False
    return True
