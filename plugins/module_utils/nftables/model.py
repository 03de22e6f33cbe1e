# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""nftables: ``nft -j list ruleset`` -> the vendor-neutral policy model (``policy.model``).

Two ``Path``s: ``input`` (new flows to this host) and ``forward`` (new flows through it). A path's
stages are the base chains of type filter that a packet meets, each with its table's other
chains (jump and goto targets), in the kernel's order:

* hooks: ``input`` = prerouting then input; ``forward`` = prerouting, forward, postrouting;
* families: a table of family ``ip`` is met by IPv4 flows only, ``ip6`` by IPv6 flows only,
  ``inet`` by both. The first rule of an ``ip``/``ip6`` base chain lets the other family pass;
* within a hook, by priority; at equal priority the kernel runs the base chain registered
  *last* first (measured with ``nft monitor trace``: ``nf_hook_entries_grow`` inserts a new hook
  before the existing ones of the same priority). ``nft`` lists tables and chains in creation
  order, so equal priorities are taken in reverse listing order. This is the registration order
  unless a base chain was added to a table after later tables were created; only the rule a
  deny is blamed on can depend on it, never a verdict (every stage must accept).

Within a stage: first match; ``accept`` ends the stage, ``drop``/``reject`` end everything,
``jump``/``goto``/``return``/``continue`` as in the kernel; the base chain's policy applies when
it runs out of rules (an explicit last rule names it). A ``vmap`` (anonymous or named verdict
map) becomes one rule per element.

Every flow is the first packet of a new connection (a TCP SYN): ``ct state`` is ``new`` (but
``invalid`` in prerouting chains that run before conntrack, priority < -200), ``ct direction``
is ``original``, ``tcp flags`` are ``syn``, ``meta pkttype`` is ``host``. Interfaces: an inbound
flow never arrives on loopback; any other interface name is uncertain unless the caller names
the inbound (``iifname``) or outbound (``oifname``, forward) interface; ``oif`` at prerouting
and input and ``iif`` at postrouting never match (the kernel has no such device there).

Understood: ``ip``/``ip6`` ``saddr``/``daddr`` (addresses, prefixes, ranges, contiguous masks,
anonymous and named sets, interval sets), ``tcp``/``udp``/``sctp``/``dccp``/``udplite``/``th``
``sport``/``dport``, ``icmp``/``icmpv6`` ``type``/``code``, ``meta l4proto``/``nfproto``/``protocol``,
``ip protocol``, ``ip6 nexthdr``, ``tcp flags``, ``ct state``/``direction``, ``meta pkttype``,
``iifname``/``oifname``/``iif``/``oif``; ``==``, ``!=``, ``in``, ``<``, ``<=``, ``>``, ``>=``;
concatenations of those; ``counter``, ``log`` and comments as no-ops. Anything else makes the
rule *uncertain*: its widest match is the rule without that expression, its narrowest is
nothing, and ``Rule.uncertain`` names the expression. A statement the model does not know in a
verdict's place (``queue``, NAT, an iptables-nft ``xt`` target) may end the chain either way: it
becomes an uncertain accept followed by an uncertain drop. Sets with the ``timeout`` or
``dynamic`` flag change at run time and are uncertain too. Chains of type nat, and netdev /
bridge / arp tables, are not modelled (NAT is out of scope); ``Policy.notes`` lists them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.emailsec.hes.plugins.module_utils.nftables.parse import (
    Ruleset,
    format_left,
    format_rule,
    format_statement,
    format_value,
)
from ansible_collections.emailsec.hes.plugins.module_utils.policy.engine import CannotProve, evaluate_flow
from ansible_collections.emailsec.hes.plugins.module_utils.policy.model import Chain, Path, Policy, Rule, Stage
from ansible_collections.emailsec.hes.plugins.module_utils.policy.space import (
    ADDRESS_MAX,
    DPORT,
    DST,
    FAMILY,
    PORT_MAX,
    PROTO,
    PROTO_MAX,
    SPORT,
    SRC,
    TCP,
    interval,
    iv_from_pairs,
    iv_subtract,
    flow_in_region,
    make_cube,
    make_flow,
    region_equal,
    region_intersect,
    region_subtract,
    region_union,
    universe,
)

PATHS = ("input", "forward")
PATH_HOOKS = {"input": ("prerouting", "input"), "forward": ("prerouting", "forward", "postrouting")}
TABLE_FAMILIES = {"ip": (4,), "ip6": (6,), "inet": (4, 6)}
FAMILY_NAMES = {4: "IPv4", 6: "IPv6"}
CONNTRACK_PRIORITY = -200
LOOPBACK_NAMES = ("lo",)
LOOPBACK_INDEX = 1

PROTOCOLS = {
    "icmp": 1, "igmp": 2, "ipencap": 4, "tcp": 6, "egp": 8, "udp": 17, "dccp": 33, "ipv6": 41,
    "gre": 47, "esp": 50, "ah": 51, "icmpv6": 58, "ipv6-icmp": 58, "ospf": 89, "pim": 103,
    "comp": 108, "vrrp": 112, "l2tp": 115, "sctp": 132, "udplite": 136,
}
PORT_PROTOCOLS = {"tcp": 6, "udp": 17, "dccp": 33, "sctp": 132, "udplite": 136}
ICMP_TYPES = {
    "echo-reply": 0, "destination-unreachable": 3, "source-quench": 4, "redirect": 5, "echo-request": 8,
    "router-advertisement": 9, "router-solicitation": 10, "time-exceeded": 11, "parameter-problem": 12,
    "timestamp-request": 13, "timestamp-reply": 14, "info-request": 15, "info-reply": 16,
    "address-mask-request": 17, "address-mask-reply": 18,
}
ICMPV6_TYPES = {
    "destination-unreachable": 1, "packet-too-big": 2, "time-exceeded": 3, "parameter-problem": 4,
    "echo-request": 128, "echo-reply": 129, "mld-listener-query": 130, "mld-listener-report": 131,
    "mld-listener-done": 132, "mld-listener-reduction": 132, "nd-router-solicit": 133,
    "nd-router-advert": 134, "nd-neighbor-solicit": 135, "nd-neighbor-advert": 136, "nd-redirect": 137,
    "router-renumbering": 138, "ind-neighbor-solicit": 141, "ind-neighbor-advert": 142,
    "mld2-listener-report": 143,
}
TCP_FLAGS = {"fin": 0x01, "syn": 0x02, "rst": 0x04, "psh": 0x08, "ack": 0x10, "urg": 0x20, "ecn": 0x40, "cwr": 0x80}
SYN_FLAGS = TCP_FLAGS["syn"]
# Payload protocols whose every field implies the flow's family or protocol, known field or not.
PAYLOAD_SCOPE = {
    "ip": ((4,), None), "ip6": ((6,), None), "icmp": ((4,), 1), "icmpv6": ((6,), 58),
    "tcp": ((4, 6), 6), "udp": ((4, 6), 17), "sctp": ((4, 6), 132), "dccp": ((4, 6), 33),
    "udplite": ((4, 6), 136),
}
NO_OP_STATEMENTS = ("counter", "log")
# Statements that never end a chain: an unknown one is doubtful as a condition, not as a verdict.
NON_TERMINAL_STATEMENTS = ("mangle", "notrack", "set", "map", "limit", "quota", "meter", "dup", "secmark", "xt")


NOT_UNDERSTOOD = "not understood by the model"


class _NotUnderstood(Exception):
    """A value or expression the model cannot turn into flows; the message says which."""


# ---------------------------------------------------------------- fields

class _Field(object):
    """What a match's left-hand side reads, for the flows of ``families``.

    kind ``dim``: a dimension of the header space (``dimension``, ``parse``: one right-hand item
    to an IntervalSet per family); ``const``: a value every flow here has (``test``: op and
    right-hand side to True, False, or None when unknown); ``never``: the kernel cannot read it
    here, so the rule never matches; ``unknown``: not modelled (``reason``)."""

    def __init__(self, kind, families, base=None, dimension=None, parse=None, test=None, reason=None,
                 doubtful=None):
        self.kind = kind
        self.families = families
        self.base = base or {}
        self.dimension = dimension
        self.parse = parse
        self.test = test
        self.reason = reason
        # Flows the field reads something the model does not know for (th on non-port protocols).
        self.doubtful = doubtful or []

    def scope(self):
        """Every flow this field can be read for (its dependency)."""
        return _cubes(self.families, self.base)


def _cubes(families, constraints):
    out = []
    for family in families:
        cube = make_cube(family, **constraints)
        if cube is not None:
            out.append(cube)
    return out


def _numeric(names, what):
    def parse(item, family):
        return _number_interval(item, names, what)
    return parse


def _number(value, names, what):
    if isinstance(value, bool):
        raise _NotUnderstood("%s %r is not understood by the model" % (what, value))
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        if value.isdigit():
            return int(value)
        if value.startswith("0x"):
            try:
                return int(value, 16)
            except ValueError:
                pass
        if value in names:
            return names[value]
    raise _NotUnderstood("%s %s is not known to the model" % (what, format_value(value)))


def _number_interval(item, names, what):
    if isinstance(item, dict) and "range" in item:
        low, high = (_number(v, names, what) for v in item["range"])
        return interval(low, high)
    value = _number(item, names, what)
    return interval(value, value)


def _address_parse(item, family):
    """One right-hand item (address, prefix, range) -> IntervalSet of ``family``."""
    try:
        if isinstance(item, str):
            address = ipaddress.ip_address(item)
            return interval(int(address), int(address)) if address.version == family else ()
        if isinstance(item, dict) and "prefix" in item:
            net = ipaddress.ip_network("%s/%s" % (item["prefix"]["addr"], item["prefix"]["len"]), strict=False)
            if net.version != family:
                return ()
            return interval(int(net.network_address), int(net.broadcast_address))
        if isinstance(item, dict) and "range" in item:
            first, last = (ipaddress.ip_address(a) for a in item["range"])
            return interval(int(first), int(last)) if first.version == family else ()
    except (ValueError, TypeError, KeyError):
        pass
    raise _NotUnderstood("address %s is not understood by the model" % format_value(item))


def _family_parse(names):
    def parse(item, family):
        value = names.get(item) if isinstance(item, str) else None
        if value is None:
            raise _NotUnderstood("family %s is not understood by the model" % format_value(item))
        return interval(value, value) if value else ()
    return parse


def _payload_field(left, ctx):
    payload = left["payload"]
    protocol, field = payload.get("protocol"), payload.get("field")
    if protocol in ("ip", "ip6") and field in ("saddr", "daddr"):
        family = 4 if protocol == "ip" else 6
        return _Field("dim", (family,), dimension=SRC if field == "saddr" else DST, parse=_address_parse)
    if protocol == "ip" and field == "protocol" or protocol == "ip6" and field == "nexthdr":
        return _Field("dim", (4,) if protocol == "ip" else (6,), dimension=PROTO,
                      parse=_numeric(PROTOCOLS, "protocol"))
    if protocol in PORT_PROTOCOLS and field in ("sport", "dport"):
        number = PORT_PROTOCOLS[protocol]
        return _Field("dim", (4, 6), base={"proto": interval(number, number)},
                      dimension=SPORT if field == "sport" else DPORT, parse=_numeric({}, "port"))
    if protocol == "th" and field in ("sport", "dport"):
        ports = iv_from_pairs((n, n) for n in PORT_PROTOCOLS.values())
        return _Field("dim", (4, 6), base={"proto": ports}, dimension=SPORT if field == "sport" else DPORT,
                      parse=_numeric({}, "port"),
                      doubtful=_cubes((4, 6), {"proto": iv_subtract(interval(0, PROTO_MAX), ports)}))
    if protocol in ("icmp", "icmpv6") and field in ("type", "code"):
        families, number = PAYLOAD_SCOPE[protocol]
        names = (ICMP_TYPES if protocol == "icmp" else ICMPV6_TYPES) if field == "type" else {}
        return _Field("dim", families, base={"proto": interval(number, number)},
                      dimension=DPORT if field == "type" else SPORT, parse=_numeric(names, "%s %s" % (protocol, field)))
    if protocol == "tcp" and field == "flags":
        return _Field("const", (4, 6), base={"proto": interval(TCP, TCP)}, test=_flags_test(SYN_FLAGS))
    scope = PAYLOAD_SCOPE.get(protocol)
    if scope is not None:
        families, number = scope
        base = {"proto": interval(number, number)} if number is not None else {}
        return _Field("unknown", families, base=base)
    return _Field("unknown", (4, 6))


def _meta_field(key, ctx):
    if key == "l4proto":
        return _Field("dim", (4, 6), dimension=PROTO, parse=_numeric(PROTOCOLS, "protocol"))
    if key == "nfproto":
        return _Field("dim", (4, 6), dimension=FAMILY, parse=_family_parse({"ipv4": 4, "ipv6": 6}))
    if key == "protocol":
        return _Field("dim", (4, 6), dimension=FAMILY,
                      parse=_family_parse({"ip": 4, "ip6": 6, "arp": 0, "vlan": 0, "8021q": 0}))
    if key == "pkttype":
        return _Field("const", (4, 6), test=_symbol_test(("host", "unicast")))
    if key in ("iifname", "iif", "oifname", "oif"):
        inbound = key in ("iifname", "iif")
        # The kernel has no input device at postrouting and no output device before routing.
        if ctx.hook in (("postrouting",) if inbound else ("prerouting", "input")):
            return _Field("never", (4, 6), reason="%s is not set at hook %s" % (key, ctx.hook))
        return _Field("const", (4, 6), test=_interface_test(ctx.iifname if inbound else ctx.oifname, key))
    return _Field("unknown", (4, 6))


def _ct_field(key, ctx):
    if ctx.ct_phase == "unknown":
        return _Field("unknown", (4, 6), reason="a chain at the conntrack priority (%d) may run before or after it"
                      % CONNTRACK_PRIORITY)
    if key == "state":
        return _Field("const", (4, 6), test=_symbol_test(("new",) if ctx.ct_phase == "after" else ("invalid",)))
    if key == "direction":
        if ctx.ct_phase == "before":
            return _Field("never", (4, 6), reason="ct direction before conntrack")
        return _Field("const", (4, 6), test=_symbol_test(("original",)))
    return _Field("unknown", (4, 6))


def _field(left, ctx):
    if isinstance(left, dict):
        if "payload" in left and "protocol" in left["payload"]:
            return _payload_field(left, ctx)
        if "meta" in left:
            return _meta_field(left["meta"].get("key"), ctx)
        if "ct" in left and "dir" not in left["ct"]:
            return _ct_field(left["ct"].get("key"), ctx)
        if "&" in left:
            return _masked_field(left, ctx)
    return _Field("unknown", (4, 6))


def _masked_field(left, ctx):
    base, mask = left["&"]
    inner = _field(base, ctx)
    if inner.kind == "const" and isinstance(base, dict) and base.get("payload", {}).get("field") == "flags":
        try:
            bits = _flag_bits(mask)
        except _NotUnderstood as exc:
            return _Field("unknown", inner.families, base=inner.base, reason=str(exc))
        return _Field("const", inner.families, base=inner.base, test=_flags_test(SYN_FLAGS & bits))
    if inner.kind == "dim" and inner.dimension in (SRC, DST) and isinstance(mask, str):
        try:
            mask_address = ipaddress.ip_address(mask)
            family = inner.families[0]
            width = 32 if family == 4 else 128
            bits = int(mask_address)
            inverted = ~bits & ((1 << width) - 1)
            if mask_address.version == family and not inverted & (inverted + 1):
                length = width - inverted.bit_length()

                def parse(item, fam):
                    address = ipaddress.ip_address(item)
                    return _address_parse({"prefix": {"addr": str(address), "len": length}}, fam)
                return _Field("dim", inner.families, base=inner.base, dimension=inner.dimension, parse=parse)
        except ValueError:
            pass
    return _Field("unknown", inner.families, base=inner.base)


# ---------------------------------------------------------------- constant fields

def _symbols(right):
    """The symbols of a right-hand side: a name, a list (a bitmask), ``{"|": [...]}`` or a set."""
    if isinstance(right, str):
        return [right]
    if isinstance(right, list):
        return [s for item in right for s in _symbols(item)]
    if isinstance(right, dict) and "|" in right:
        return _symbols(right["|"])
    raise _NotUnderstood("value %s is not understood by the model" % format_value(right))


def _set_items(right):
    if isinstance(right, dict) and "set" in right:
        items = right["set"]
        return items if isinstance(items, list) else [items]
    return None


def _symbol_test(values):
    """A field whose value is one symbol (``ct state new``; aliases allowed)."""
    def test(op, right, ctx):
        items = _set_items(right)
        if items is None:
            items = [right]
        member = any(symbol in values for item in items for symbol in _symbols(item))
        return not member if op == "!=" else member
    return test


def _flag_bits(value):
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    bits = 0
    for symbol in _symbols(value):
        if symbol not in TCP_FLAGS:
            raise _NotUnderstood("tcp flag %s is not understood by the model" % symbol)
        bits |= TCP_FLAGS[symbol]
    return bits


def _flags_test(value):
    """``tcp flags`` of the SYN (``value``: its bits, already masked when the rule masks them)."""
    def test(op, right, ctx):
        items = _set_items(right)
        if items is not None:
            member = any(value == _flag_bits(item) for item in items)
            return not member if op == "!=" else member
        bits = _flag_bits(right)
        if op == "in":
            return bool(value & bits)
        if op == "==":
            return value == bits
        if op == "!=":
            return not value & bits if isinstance(right, list) else value != bits
        raise _NotUnderstood("operator %s on tcp flags is not understood by the model" % op)
    return test


def _interface_names(right, key):
    items = _set_items(right)
    names = []
    for item in (items if items is not None else [right]):
        if key in ("iif", "oif") and isinstance(item, int) and not isinstance(item, bool):
            names.append("lo" if item == LOOPBACK_INDEX else None)
        elif isinstance(item, str):
            names.append(item)
        else:
            raise _NotUnderstood("interface %s is not understood by the model" % format_value(item))
    return names


def _interface_test(name, key):
    def one(pattern):
        if pattern is None:
            return None
        literal = not pattern.endswith("*") or pattern.endswith("\\*")
        if name is not None:
            if literal:
                return name == pattern.replace("\\*", "*")
            return name.startswith(pattern[:-1])
        if literal and pattern in LOOPBACK_NAMES:
            return False
        return None

    def test(op, right, ctx):
        if op not in ("==", "!=", "in"):
            raise _NotUnderstood("operator %s on %s is not understood by the model" % (op, key))
        answers = [one(pattern) for pattern in _interface_names(right, key)]
        if True in answers:
            member = True
        elif None in answers:
            return None
        else:
            member = False
        return not member if op == "!=" else member
    return test


# ---------------------------------------------------------------- matches

class _Context(object):
    """Where a rule is read: its table, the stage's hook and priority, the named interfaces."""

    def __init__(self, ruleset, family, table, hook, priority, iifname, oifname):
        self.ruleset = ruleset
        self.family = family
        self.table = table
        self.hook = hook
        self.families = TABLE_FAMILIES[family]
        self.iifname = iifname
        self.oifname = oifname
        if hook != "prerouting" or priority > CONNTRACK_PRIORITY:
            self.ct_phase = "after"
        elif priority < CONNTRACK_PRIORITY:
            self.ct_phase = "before"
        else:
            self.ct_phase = "unknown"
        self.everything = universe(self.families)

    def named_set(self, name):
        spec = self.ruleset.sets.get((self.family, self.table, name))
        if spec is None:
            raise _NotUnderstood("set @%s does not exist in table %s %s" % (name, self.family, self.table))
        flags = spec.get("flags") or []
        flags = flags if isinstance(flags, list) else [flags]
        changing = [f for f in flags if f in ("timeout", "dynamic")]
        if changing:
            raise _NotUnderstood("set @%s changes at run time (flags %s)" % (name, ", ".join(changing)))
        return spec


def _elements(right, ctx):
    """The items of a right-hand side: a value, an anonymous set, a named set."""
    if isinstance(right, str) and right.startswith("@"):
        return [_unwrap(e) for e in (ctx.named_set(right[1:]).get("elem") or [])]
    items = _set_items(right)
    if items is not None:
        return [_unwrap(e) for e in items]
    return [_unwrap(right)]


def _unwrap(item):
    if isinstance(item, dict) and "elem" in item:
        return item["elem"]["val"]
    return item


def _dimension_hit(field, items):
    """The flows in the field's scope whose value is one of ``items``."""
    values = dict((family, ()) for family in field.families)
    for item in items:
        for family in field.families:
            values[family] = iv_from_pairs(values[family] + field.parse(item, family))
    out = []
    for family in field.families:
        if field.dimension == FAMILY:
            if any(low <= family <= high for low, high in values[family]):
                out.extend(_cubes((family,), field.base))
        elif values[family]:
            constraints = dict(field.base)
            constraints[_DIMENSION_NAMES[field.dimension]] = values[family]
            out.extend(_cubes((family,), constraints))
    return out


_DIMENSION_NAMES = dict((index, name) for index, name in enumerate(("family", "src", "dst", "proto", "sport", "dport", "app")))
_DIMENSION_MAX = {FAMILY: 6, PROTO: PROTO_MAX, SPORT: PORT_MAX, DPORT: PORT_MAX}


def _item_text(field, value):
    """A value of the field's dimension as the right-hand item nft would print."""
    if field.dimension in (SRC, DST):
        return str(ipaddress.IPv4Address(value) if field.families[0] == 4 else ipaddress.IPv6Address(value))
    return value


def _comparison_items(field, op, right):
    """``<``, ``<=``, ``>``, ``>=`` as one range item."""
    if field.dimension in (SRC, DST):
        family = field.families[0]
        bound = _address_parse(right, family)
        if not bound:
            raise _NotUnderstood("address %s is not understood by the model" % format_value(right))
        value, top = bound[0][0], ADDRESS_MAX[family]
    else:
        value, top = field.parse(right, None)[0][0], _DIMENSION_MAX[field.dimension]
    low, high = {"<": (0, value - 1), "<=": (0, value), ">": (value + 1, top), ">=": (value, top)}[op]
    return [{"range": [_item_text(field, low), _item_text(field, high)]}] if low <= high else []


def _match(body, ctx):
    """One match -> (widest flows, narrowest flows, [reason]) within the table's families."""
    op, left, right = body.get("op", "=="), body.get("left"), body.get("right")
    text = format_statement({"match": body})
    if isinstance(left, dict) and "concat" in left:
        return _concat_match(op, left["concat"], right, ctx, text)
    field = _field(left, ctx)
    scope = region_intersect(field.scope(), ctx.everything)
    try:
        if field.kind == "never":
            return [], [], []
        if field.kind == "unknown":
            raise _NotUnderstood(field.reason or NOT_UNDERSTOOD)
        if field.kind == "const":
            answer = field.test(op, right, ctx)
            if answer is None:
                return scope, [], ["%s: the interface is not known (name the inbound interface)" % text]
            return (scope, scope, []) if answer else ([], [], [])
        if op in ("<", "<=", ">", ">="):
            items = _comparison_items(field, op, right)
        elif op in ("==", "!=", "in"):
            items = _elements(right, ctx)
        else:
            raise _NotUnderstood("operator %s is not understood by the model" % op)
        hit = region_intersect(_dimension_hit(field, items), scope)
        if op == "!=":
            hit = region_subtract(scope, hit)
        if field.doubtful:
            unknown = region_intersect(field.doubtful, ctx.everything)
            doubt = "%s: the transport header of other protocols has no ports" % text
            return region_union(hit, unknown), hit, [doubt] if unknown else []
        return hit, hit, []
    except _NotUnderstood as exc:
        return scope, [], [_doubt(text, exc)]


def _doubt(text, exc):
    return "%s: %s" % (text, exc)


def _concat_match(op, lefts, right, ctx, text):
    fields = [_field(left, ctx) for left in lefts]
    scope = ctx.everything
    for field in fields:
        scope = region_intersect(scope, field.scope())
    try:
        for field in fields:
            if field.kind != "dim" or field.doubtful:
                raise _NotUnderstood("a concatenation of %s is not understood by the model"
                                     % " . ".join(format_left(x) for x in lefts))
        if op not in ("==", "!=", "in"):
            raise _NotUnderstood("operator %s on a concatenation is not understood by the model" % op)
        hit = []
        for item in _elements(right, ctx):
            parts = item.get("concat") if isinstance(item, dict) else None
            if not isinstance(parts, list) or len(parts) != len(fields):
                raise _NotUnderstood("element %s is not understood by the model" % format_value(item))
            piece = scope
            for field, part in zip(fields, parts):
                piece = region_intersect(piece, _dimension_hit(field, [part]))
            hit = region_union(hit, piece)
        if op == "!=":
            hit = region_subtract(scope, hit)
        return hit, hit, []
    except _NotUnderstood as exc:
        return scope, [], [_doubt(text, exc)]


# ---------------------------------------------------------------- rules

VERDICT_ACTIONS = {"accept": "permit", "drop": "deny", "reject": "deny", "return": "return", "jump": "jump",
                   "goto": "goto", "continue": "next"}


def _verdict(stmt):
    """(action, target, kernel verdict) of a verdict statement, None when it is not one."""
    (kind, body), = stmt.items()
    if kind not in VERDICT_ACTIONS:
        return None
    target = body.get("target") if kind in ("jump", "goto") and isinstance(body, dict) else None
    return VERDICT_ACTIONS[kind], target, kind


class _RuleBuilder(object):
    """One ``nft -j`` rule -> policy Rules (several for a verdict map or an unknown verdict)."""

    def __init__(self, ctx, chain, rule, occurrence):
        self.ctx = ctx
        self.chain = chain
        self.rule = rule
        self.text = format_rule(rule)
        self.where = "%s %s %s" % (ctx.family, ctx.table, chain)
        self.key = "%s|%s|%d" % (self.where, self.text, occurrence)
        handle = rule.get("handle")
        self.label = "%s: %s%s" % (self.where, self.text, " (handle %s)" % handle if handle is not None else "")

    def make(self, suffix, action, widest, narrowest, doubts, target=None, verdict=None, element=None):
        origin = {"family": self.ctx.family, "table": self.ctx.table, "chain": self.chain,
                  "handle": self.rule.get("handle"), "text": self.text, "verdict": verdict or action}
        label = self.label if element is None else "%s, element %s" % (self.label, element)
        if not doubts or region_equal(widest, narrowest):
            # The other conditions of the rule may settle what one expression left open.
            doubts, narrowest = [], widest
        return Rule(self.key + suffix, label, action, widest, narrowest, uncertain=doubts, target=target,
                    origin=origin)

    def build(self):
        widest, narrowest, doubts = self.ctx.everything, self.ctx.everything, []
        exprs = self.rule.get("expr") or []
        for index, stmt in enumerate(exprs):
            if not isinstance(stmt, dict) or len(stmt) != 1:
                return self._unknown_verdict(widest, doubts + ["statement %s" % format_statement(stmt)])
            (kind, body), = stmt.items()
            if kind == "match":
                high, low, why = _match(body, self.ctx)
                widest = region_intersect(widest, high)
                narrowest = region_intersect(narrowest, low)
                doubts.extend(why)
                if not widest:
                    return []
                continue
            if kind in NO_OP_STATEMENTS:
                continue
            verdict = _verdict(stmt)
            if verdict is not None:
                action, target, name = verdict
                if action == "next":
                    return []
                return [self.make("", action, widest, narrowest, doubts, target, name)]
            if kind == "vmap":
                return self._vmap(body, widest, narrowest, doubts)
            what = "statement %s" % format_statement(stmt)
            terminal = index == len(exprs) - 1 and kind not in NON_TERMINAL_STATEMENTS or \
                kind == "xt" and isinstance(body, dict) and body.get("type") == "target"
            if terminal:
                return self._unknown_verdict(widest, doubts + [what + ": its verdict is not known to the model"])
            doubts.append(what + " is not understood by the model")
            narrowest = []
        return []

    def _unknown_verdict(self, widest, doubts):
        return [self.make("#accept", "permit", widest, [], doubts, verdict="unknown"),
                self.make("#drop", "deny", widest, [], doubts, verdict="unknown")]

    def _vmap(self, body, widest, narrowest, doubts):
        data = body.get("data")
        text = format_statement({"vmap": body})
        try:
            if isinstance(data, str) and data.startswith("@"):
                pairs = self.ctx.named_set(data[1:]).get("elem") or []
            elif _set_items(data) is not None:
                pairs = _set_items(data)
            else:
                raise _NotUnderstood("verdict map %s is not understood by the model" % format_value(data))
        except _NotUnderstood as exc:
            return self._unknown_verdict(widest, doubts + [_doubt(text, exc)])
        rules = []
        for pair in pairs:
            if not isinstance(pair, list) or len(pair) != 2 or not isinstance(pair[1], dict):
                return self._unknown_verdict(widest, doubts + ["%s: element %s" % (text, format_value(pair))])
            key, verdict = _unwrap(pair[0]), _verdict(pair[1])
            high, low, why = _match({"op": "==", "left": body.get("key"), "right": {"set": [key]}}, self.ctx)
            element_high = region_intersect(widest, high)
            element = "%s : %s" % (format_value(key), format_statement(pair[1]))
            if verdict is None:
                element_doubts = doubts + why + ["%s: verdict %s is not known to the model"
                                                 % (text, format_statement(pair[1]))]
                rules.append(self.make("#%s#accept" % format_value(key), "permit", element_high, [],
                                       element_doubts, verdict="unknown", element=element))
                rules.append(self.make("#%s#drop" % format_value(key), "deny", element_high, [],
                                       element_doubts, verdict="unknown", element=element))
                continue
            action, target, name = verdict
            if action == "next" or not element_high:
                continue
            rules.append(self.make("#%s" % format_value(key), action, element_high,
                                   region_intersect(narrowest, low), doubts + why, target, name, element))
        return rules


# ---------------------------------------------------------------- chains, stages, paths

class NftablesPath(Path):
    """A path, and the NAT rules on its hooks: the model reads every flow as the filter chains see
    it (after translation), so a probe that one of them may rewrite is not answered."""

    __slots__ = ("translations",)

    def __init__(self, name, stages, description, translations):
        super(NftablesPath, self).__init__(name, stages, description)
        self.translations = translations


class _PolicyBuilder(object):
    def __init__(self, ruleset, iifname, oifname):
        self.ruleset = ruleset
        self.iifname = iifname
        self.oifname = oifname
        self.notes = []
        self.cache = {}
        self.position = dict((key, index) for index, key in enumerate(ruleset.chains))

    def chain_rules(self, ctx, name):
        key = (ctx.family, ctx.table, name, ctx.hook, ctx.ct_phase)
        if key not in self.cache:
            rules, seen = [], {}
            for rule in self.ruleset.rules.get((ctx.family, ctx.table, name), []):
                text = format_rule(rule)
                seen[text] = seen.get(text, 0) + 1
                rules.extend(_RuleBuilder(ctx, name, rule, seen[text]).build())
            self.cache[key] = rules
        return self.cache[key]

    def stage(self, chain):
        family, table, name = chain["family"], chain["table"], chain["name"]
        prio = chain.get("prio", 0)
        ctx = _Context(self.ruleset, family, table, chain["hook"], prio if isinstance(prio, int) else 0,
                       self.iifname, self.oifname)
        where = "%s %s %s" % (family, table, name)
        policy = "deny" if chain.get("policy") == "drop" else "permit"
        entry = []
        others = [f for f in (4, 6) if f not in ctx.families]
        if others:
            entry.append(Rule("%s|(other family)" % where, "%s: %s flows do not pass an %s table"
                              % (where, FAMILY_NAMES[others[0]], family), "permit", universe(others),
                              origin={"family": family, "table": table, "chain": name, "verdict": "accept",
                                      "text": "(other family)"}))
        entry.extend(self.chain_rules(ctx, name))
        entry.append(Rule("%s|(policy)" % where, "%s: policy %s" % (where, chain.get("policy", "accept")),
                          policy, ctx.everything,
                          origin={"family": family, "table": table, "chain": name,
                                  "verdict": chain.get("policy", "accept"), "text": "policy"}))
        chains = [Chain(name, entry)]
        for (fam, tab, other), spec in self.ruleset.chains.items():
            if (fam, tab) == (family, table) and other != name and not spec.get("hook"):
                chains.append(Chain(other, self.chain_rules(ctx, other)))
        return Stage("%s (hook %s, priority %s)" % (where, chain["hook"], prio), name, chains, policy)

    def path(self, name):
        stages = []
        for hook in PATH_HOOKS[name]:
            base = [c for c in self.ruleset.chains.values()
                    if c.get("hook") == hook and c.get("family") in TABLE_FAMILIES and c.get("type", "filter") == "filter"]
            base.sort(key=lambda c: (c.get("prio", 0) if isinstance(c.get("prio", 0), int) else 0,
                                     -self.position[(c["family"], c["table"], c["name"])]))
            stages.extend(self.stage(chain) for chain in base)
        description = "new flows %s: base chains at %s, in the kernel's order" % (
            "to this host" if name == "input" else "through this host", ", ".join(PATH_HOOKS[name]))
        return NftablesPath(name, stages, description, self.translations(name))

    def translations(self, name):
        """The rules of nat chains on the path's hooks that may rewrite a flow (dnat, redirect...)."""
        found = {}
        for (family, table, chain_name), chain in self.ruleset.chains.items():
            if chain.get("hook") not in PATH_HOOKS[name] or family not in TABLE_FAMILIES or \
                    chain.get("type", "filter") == "filter":
                continue
            prio = chain.get("prio", 0)
            ctx = _Context(self.ruleset, family, table, chain["hook"], prio if isinstance(prio, int) else 0,
                           self.iifname, self.oifname)
            for (fam, tab, other), unused in self.ruleset.chains.items():
                if (fam, tab) != (family, table) or (other != chain_name and unused.get("hook")):
                    continue
                for rule in self.chain_rules(ctx, other):
                    if rule.origin.get("verdict") == "unknown":
                        found.setdefault(rule.key.rsplit("#", 1)[0], rule)
        return list(found.values())

    def note_unmodelled(self):
        for (family, table, name), chain in self.ruleset.chains.items():
            hook = chain.get("hook")
            if not hook:
                continue
            if family not in TABLE_FAMILIES:
                self.notes.append("%s %s %s (hook %s) is not modelled: only ip, ip6 and inet tables are"
                                  % (family, table, name, hook))
            elif chain.get("type", "filter") != "filter" and hook in ("prerouting", "input", "forward", "postrouting"):
                self.notes.append("%s %s %s (type %s, hook %s) is not modelled: address translation is out "
                                  "of scope" % (family, table, name, chain.get("type"), hook))


def build_policy(ruleset_json, iifname=None, oifname=None):
    """The ``input`` and ``forward`` paths of a ruleset (``nft -j list ruleset`` text, dict,
    list or ``parse.Ruleset``). ``iifname``/``oifname``: the interfaces the flows come in and
    (forward) go out by, when known."""
    ruleset = ruleset_json if isinstance(ruleset_json, Ruleset) else Ruleset(ruleset_json)
    builder = _PolicyBuilder(ruleset, iifname, oifname)
    builder.note_unmodelled()
    paths = [builder.path(name) for name in PATHS]
    return Policy("nftables", paths, notes=builder.notes)


# ---------------------------------------------------------------- one flow

def _stage_text(stage, rule):
    if rule is not None:
        return rule.label
    # Evaluation left the base chain by a return, or ran out of a goto target: its policy applies.
    return "%s (after a return or goto)" % stage.chains[stage.entry].rules[-1].label


def flow_verdict(policy, hook, source, destination, port, sport=40000, protocol=TCP):
    """The verdict for one new flow: ``{"verdict": accept|drop|reject|uncertain, "rule": the label
    of the deciding rule, "trail": [one label per stage passed], "uncertain": [reasons]}``.
    ``drop`` and ``reject`` are the kernel's two ways to deny (``reject`` answers the sender)."""
    path = policy.paths[hook]
    flow = make_flow(source, destination, protocol, sport, port)
    rewritten = [rule for rule in getattr(path, "translations", ()) if flow_in_region(flow, rule.match)]
    if rewritten:
        return {"verdict": "uncertain", "rule": rewritten[0].label, "trail": [], "uncertain": [
            "%s may translate this flow; address translation is not modelled" % rule.label for rule in rewritten]}
    try:
        answer = evaluate_flow(path, flow)
    except CannotProve as exc:
        return {"verdict": "uncertain", "rule": None, "trail": [], "uncertain": [str(exc)]}
    may, must = answer["may"], answer["must"]
    trail = [_stage_text(stage, rule) for stage, rule in zip(path.stages, may.trail)]
    if answer["verdict"] == "uncertain":
        doubts = sorted(set("%s [%s]" % (rule.label, reason) for piece in (may, must) for rule in piece.trail
                            if rule is not None for reason in rule.uncertain))
        return {"verdict": "uncertain", "rule": trail[-1] if trail else None, "trail": trail, "uncertain": doubts}
    if not path.stages:
        return {"verdict": "accept", "rule": "no base chain at hook %s" % hook, "trail": [], "uncertain": []}
    if may.verdict == "permit":
        return {"verdict": "accept", "rule": trail[-1], "trail": trail, "uncertain": []}
    decider = may.trail[-1]
    kind = decider.origin.get("verdict") if decider is not None else None
    return {"verdict": "reject" if kind == "reject" else "drop", "rule": trail[-1], "trail": trail,
            "uncertain": []}
