# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure nftables logic for emailsec.hes: render our table, read `nft -j` output, decide probes.

Nothing here runs `nft`; the module `emailsec.hes.nftables_hes` and the verify role do that and
hand the text/JSON to these functions.

Rendering (what the role loads)
-------------------------------
``desired_table(ranges, hook, ...)`` -> a table *model* (plain dict)::

    {"sets": {"hes_v4": {"type": "ipv4_addr", "flags": ["interval"], "elements": [...]}, ...},
     "chains": {"hes_smtp": {"type": "filter", "hook": "input", "prio": -10,
                             "policy": "accept", "rules": ["tcp dport 25 ip saddr @hes_v4 accept", ...]}}}

``render_table(model)`` -> the ``table inet emailsec_hes { ... }`` block;
``render_ruleset_file(model)`` -> the file we load with one ``nft -f`` (create-if-missing, delete,
define: a single transaction, so the old table stays if anything fails);
``table_model_from_json(nft_json)`` -> the same model from ``nft -j list table inet emailsec_hes``,
so that ``desired == live`` is the idempotence test (counters, handles and element order ignored).

Evaluating (what the verify role uses in the field)
---------------------------------------------------
``evaluate_tcp_probe(ruleset_json, hook, source, destination, dport, sport=40000,
iifname=None, oifname=None)`` decides what the kernel does with the SYN of a new TCP connection
after walking every base chain registered at ``hook`` (``input`` or ``forward``) in every
table of the packet's families (``ip``/``inet`` for IPv4, ``ip6``/``inet`` for IPv6), in priority
order, exactly like netfilter: ``accept`` ends one base chain and the packet moves on to the
next one; ``drop``/``reject`` end everything; a chain that runs out of rules applies its policy.
It returns a dict::

    {"verdict": "accept" | "drop" | "reject" | "undecided",
     "decided_by": {"family", "table", "chain", "handle", "rule"},   # the rule or chain policy
     "path": [{"family", "table", "chain", "prio", "verdict", "handle", "rule"}, ...],
     "assumptions": ["iifname \"eth0\" assumed to match: no input interface given", ...],
     "reason": "..."}                                                 # only when undecided

Expressions it understands: ``ip``/``ip6`` ``saddr``/``daddr`` against addresses, prefixes,
ranges, anonymous and named sets (interval sets included); ``tcp``/``th`` ``dport``/``sport``
(single, set, range, comparisons); ``meta l4proto``/``nfproto``/``protocol``, ``ip protocol``,
``ip6 nexthdr``; ``tcp flags`` (the probe is a SYN); ``ct state`` (the probe opens a new
connection); ``ct direction``; ``meta pkttype`` (unicast); ``iifname``/``oifname``/``iif``/``oif``
(when not given: loopback never matches, any other name is assumed to match and the assumption
is reported); verdict maps (``vmap``) on any of those keys; ``accept``, ``drop``, ``reject``,
``return``, ``continue``, ``jump``, ``goto``; ``counter``/``log``/``comment`` as no-ops.
Any other expression that the probe reaches makes the verdict ``undecided`` with the rule named:
the evaluator never guesses.
"""

import ipaddress
import json
import re

TABLE_FAMILY = "inet"
TABLE_NAME = "emailsec_hes"
CHAIN_NAME = "hes_smtp"
SET_V4 = "hes_v4"
SET_V6 = "hes_v6"
SET_DST_V4 = "hes_dst_v4"
SET_DST_V6 = "hes_dst_v6"
HOOKS = ("input", "forward")
ACTIONS = ("drop", "reject")

# Standard priority names of the inet/ip/ip6 families (nft(8), "CHAINS"); nft itself decides
# which of them are valid at which hook, so that check is left to `nft -c`.
PRIORITY_NAMES = {"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50, "srcnat": 100}
_PRIORITY_RE = re.compile(r"^\s*([a-z]+)\s*(?:([+-])\s*(\d+))?\s*$")

FILE_HEADER = (
    "# Managed by emailsec.hes (role emailsec.hes.nftables): do not edit, changes are overwritten.\n"
    "# Only this table is ours; other tables on this host are left alone.\n"
    "# Loaded as one transaction: the table is created if missing, deleted, and defined again.\n"
)


class NftablesError(ValueError):
    """Bad input for rendering or evaluation; the message names the bad value."""


# ---------------------------------------------------------------- rendering


def parse_priority(priority):
    """Return (text for nft, integer value) for an int or a `name [+-] N` priority."""
    if isinstance(priority, int) and not isinstance(priority, bool):
        return str(priority), priority
    text = str(priority).strip() if isinstance(priority, str) else ""
    if re.match(r"^-?\d+$", text):
        return text, int(text)
    match = _PRIORITY_RE.match(text)
    if not match or match.group(1) not in PRIORITY_NAMES:
        raise NftablesError(
            "priority %r is neither an integer nor one of %s optionally followed by '+ N' or '- N'"
            % (priority, ", ".join(sorted(PRIORITY_NAMES)))
        )
    name, sign, offset = match.groups()
    value = PRIORITY_NAMES[name]
    if sign:
        value = value + int(offset) if sign == "+" else value - int(offset)
        return "%s %s %s" % (name, sign, offset), value
    return name, value


def _networks(entries, what):
    nets = []
    for entry in entries:
        try:
            nets.append(ipaddress.ip_network(str(entry).strip(), strict=False))
        except ValueError:
            raise NftablesError("%s: %r is not an IPv4/IPv6 address or CIDR" % (what, entry))
    v4 = [str(n) for n in ipaddress.collapse_addresses(n for n in nets if n.version == 4)]
    v6 = [str(n) for n in ipaddress.collapse_addresses(n for n in nets if n.version == 6)]
    return v4, v6


def _ports(ports):
    if not ports:
        raise NftablesError("ports must list at least one TCP port")
    result = set()
    for port in ports:
        try:
            value = int(port)
        except (TypeError, ValueError):
            value = -1
        if isinstance(port, bool) or value < 1 or value > 65535:
            raise NftablesError("ports: %r is not a TCP port (1-65535)" % (port,))
        result.add(value)
    return sorted(result)


def _port_match(ports):
    if len(ports) == 1:
        return "tcp dport %d" % ports[0]
    return "tcp dport { %s }" % ", ".join(str(p) for p in ports)


def desired_table(ranges, hook="input", destinations=None, ports=(25,), priority=-10, action="drop"):
    """Model of our table: TCP `ports` to `destinations` only from `ranges`, all else untouched.

    `ranges` must already be validated (the lookup / hes_ranges.guard_ranges does that);
    here they are only parsed and aggregated. `destinations` empty means every local address,
    which only makes sense on the input hook: on forward it would also restrict this network's
    own outbound SMTP, so it is refused there.
    """
    if hook not in HOOKS:
        raise NftablesError("hook %r is not one of %s" % (hook, ", ".join(HOOKS)))
    if action not in ACTIONS:
        raise NftablesError("action %r is not one of %s" % (action, ", ".join(ACTIONS)))
    allowed_v4, allowed_v6 = _networks(ranges or [], "ranges")
    dst_v4, dst_v6 = _networks(destinations or [], "destinations")
    if hook == "forward" and not (dst_v4 or dst_v6):
        raise NftablesError(
            "destinations is empty: on the forward hook name the mail servers' addresses, "
            "otherwise outbound SMTP from behind this router would be restricted too"
        )
    prio = parse_priority(priority)[1]
    port_match = _port_match(_ports(ports))
    verdict = "counter drop" if action == "drop" else "counter reject with tcp reset"

    sets = {
        SET_V4: {"type": "ipv4_addr", "flags": ["interval"], "elements": allowed_v4},
        SET_V6: {"type": "ipv6_addr", "flags": ["interval"], "elements": allowed_v6},
    }
    rules = []
    if dst_v4 or dst_v6:
        for family, dst_set, src_set, dsts in (
            ("ip", SET_DST_V4, SET_V4, dst_v4),
            ("ip6", SET_DST_V6, SET_V6, dst_v6),
        ):
            if not dsts:
                continue
            sets[dst_set] = {
                "type": "ipv4_addr" if family == "ip" else "ipv6_addr",
                "flags": ["interval"],
                "elements": dsts,
            }
            rules.append("%s %s daddr @%s %s saddr @%s accept" % (port_match, family, dst_set, family, src_set))
            rules.append("%s %s daddr @%s %s" % (port_match, family, dst_set, verdict))
    else:
        rules.append("%s ip saddr @%s accept" % (port_match, SET_V4))
        rules.append("%s ip6 saddr @%s accept" % (port_match, SET_V6))
        rules.append("%s %s" % (port_match, verdict))
    chain = {"type": "filter", "hook": hook, "prio": prio, "policy": "accept", "rules": rules}
    return {"sets": sets, "chains": {CHAIN_NAME: chain}}


def _render_elements(elements):
    if not elements:
        return []
    lines = []
    per_line = 4
    for start in range(0, len(elements), per_line):
        chunk = ", ".join(elements[start:start + per_line])
        last = start + per_line >= len(elements)
        lines.append(chunk + (" }" if last else ","))
    out = ["\t\telements = { " + lines[0]]
    out.extend("\t\t\t     " + line for line in lines[1:])
    return out


def render_table(model, priority_text=None):
    """`table inet emailsec_hes { ... }` for a model; `priority_text` keeps a named priority."""
    if model is None:
        return ""
    out = ["table %s %s {" % (TABLE_FAMILY, TABLE_NAME)]
    blocks = []
    for name in sorted(model["sets"]):
        spec = model["sets"][name]
        block = ["\tset %s {" % name, "\t\ttype %s" % spec["type"]]
        if spec["flags"]:
            block.append("\t\tflags %s" % ", ".join(spec["flags"]))
        if "interval" in spec["flags"]:
            block.append("\t\tauto-merge")
        block.extend(_render_elements(spec["elements"]))
        block.append("\t}")
        blocks.append(block)
    for name in sorted(model["chains"]):
        chain = model["chains"][name]
        block = ["\tchain %s {" % name]
        if chain.get("hook"):
            prio = priority_text if priority_text is not None else str(chain["prio"])
            block.append(
                "\t\ttype %s hook %s priority %s; policy %s;" % (chain["type"], chain["hook"], prio, chain["policy"])
            )
        block.extend("\t\t" + rule for rule in chain["rules"])
        block.append("\t}")
        blocks.append(block)
    for index, block in enumerate(blocks):
        if index:
            out.append("")
        out.extend(block)
    out.append("}")
    return "\n".join(out) + "\n"


def render_ruleset_file(model, priority_text=None):
    """The file loaded with one `nft -f`: create-if-missing, delete, define, all one transaction."""
    return "%s\ntable %s %s\ndelete table %s %s\n\n%s" % (
        FILE_HEADER,
        TABLE_FAMILY,
        TABLE_NAME,
        TABLE_FAMILY,
        TABLE_NAME,
        render_table(model, priority_text),
    )


def render_remove_file():
    """Ruleset text that removes our table whether or not it exists, in one transaction."""
    return "table %s %s\ndelete table %s %s\n" % (TABLE_FAMILY, TABLE_NAME, TABLE_FAMILY, TABLE_NAME)


# ---------------------------------------------------------------- reading nft -j output


def load_json(ruleset_json):
    """Accept `nft -j` output as text, as the parsed dict, or as its `nftables` list."""
    if isinstance(ruleset_json, (str, bytes)):
        text = ruleset_json.decode() if isinstance(ruleset_json, bytes) else ruleset_json
        if not text.strip():
            return []
        try:
            ruleset_json = json.loads(text)
        except ValueError as exc:
            raise NftablesError("nft -j output is not JSON: %s" % exc)
    if isinstance(ruleset_json, dict):
        ruleset_json = ruleset_json.get("nftables", [])
    if not isinstance(ruleset_json, list):
        raise NftablesError("nft -j output must be an object with an 'nftables' list")
    return ruleset_json


class Ruleset(object):
    """Tables, chains, rules and sets of one `nft -j list ruleset` answer, indexed."""

    def __init__(self, ruleset_json):
        self.tables = []
        self.chains = {}
        self.rules = {}
        self.sets = {}
        for item in load_json(ruleset_json):
            if not isinstance(item, dict):
                continue
            if "table" in item:
                self.tables.append((item["table"]["family"], item["table"]["name"]))
            elif "chain" in item:
                chain = item["chain"]
                key = (chain["family"], chain["table"], chain["name"])
                self.chains[key] = chain
                self.rules.setdefault(key, [])
            elif "rule" in item:
                rule = item["rule"]
                self.rules.setdefault((rule["family"], rule["table"], rule["chain"]), []).append(rule)
            elif "set" in item or "map" in item:
                kind = "set" if "set" in item else "map"
                spec = item[kind]
                self.sets[(spec["family"], spec["table"], spec["name"])] = spec

    def base_chains(self, hook, families):
        chains = [c for c in self.chains.values() if c.get("hook") == hook and c["family"] in families]
        order = {table: index for index, table in enumerate(self.tables)}
        return sorted(chains, key=lambda c: (c.get("prio", 0), order.get((c["family"], c["table"]), 0)))


def _element_networks(elements):
    """CIDR strings for set elements as nft prints them (address, prefix, range, elem wrapper)."""
    nets = []
    for element in elements or []:
        if isinstance(element, dict) and "elem" in element:
            element = element["elem"]["val"]
        if isinstance(element, dict) and "prefix" in element:
            nets.append(ipaddress.ip_network("%s/%s" % (element["prefix"]["addr"], element["prefix"]["len"])))
        elif isinstance(element, dict) and "range" in element:
            first, last = (ipaddress.ip_address(a) for a in element["range"])
            nets.extend(ipaddress.summarize_address_range(first, last))
        else:
            nets.append(ipaddress.ip_network(str(element)))
    v4 = ipaddress.collapse_addresses(n for n in nets if n.version == 4)
    v6 = ipaddress.collapse_addresses(n for n in nets if n.version == 6)
    return [str(n) for n in v4] + [str(n) for n in v6]


def table_model_from_json(table_json, family=TABLE_FAMILY, name=TABLE_NAME):
    """Our table's model from `nft -j list table ...` / `list ruleset`; None when it is absent."""
    ruleset = Ruleset(table_json)
    if (family, name) not in ruleset.tables:
        return None
    sets = {}
    for (fam, table, set_name), spec in ruleset.sets.items():
        if (fam, table) != (family, name):
            continue
        flags = spec.get("flags", [])
        sets[set_name] = {
            "type": spec.get("type"),
            "flags": sorted(flags) if isinstance(flags, list) else [flags],
            "elements": _element_networks(spec.get("elem")),
        }
    chains = {}
    for (fam, table, chain_name), spec in ruleset.chains.items():
        if (fam, table) != (family, name):
            continue
        chain = {"rules": [format_rule(rule) for rule in ruleset.rules.get((fam, table, chain_name), [])]}
        for key in ("type", "hook", "prio", "policy"):
            if key in spec:
                chain[key] = spec[key]
        chains[chain_name] = chain
    return {"sets": sets, "chains": chains}


# ---------------------------------------------------------------- formatting expressions

_UNQUALIFIED_META = ("iifname", "oifname", "iif", "oif", "mark")
_VERDICTS = ("accept", "drop", "continue", "return", "queue")


def _format_value(value, quote=False):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return '"%s"' % value if quote else value
    if isinstance(value, list):
        return ",".join(_format_value(v, quote) for v in value)
    if isinstance(value, dict):
        if "set" in value:
            items = value["set"]
            items = items if isinstance(items, list) else [items]
            return "{ %s }" % ", ".join(_format_set_item(i, quote) for i in items)
        if "prefix" in value:
            return "%s/%s" % (_format_value(value["prefix"]["addr"]), value["prefix"]["len"])
        if "range" in value:
            return "%s-%s" % tuple(_format_value(v, quote) for v in value["range"])
        if "elem" in value:
            return _format_value(value["elem"]["val"], quote)
        if "concat" in value:
            return " . ".join(_format_value(v, quote) for v in value["concat"])
        return _format_left(value)
    return json.dumps(value, sort_keys=True)


def _format_set_item(item, quote):
    if isinstance(item, list) and len(item) == 2:
        return "%s : %s" % (_format_value(item[0], quote), _format_statement(item[1]))
    return _format_value(item, quote)


def _format_left(left):
    if isinstance(left, dict):
        if "payload" in left:
            payload = left["payload"]
            if "protocol" in payload:
                return "%s %s" % (payload["protocol"], payload["field"])
            return "@%s,%s,%s" % (payload.get("base"), payload.get("offset"), payload.get("len"))
        if "meta" in left:
            key = left["meta"]["key"]
            return key if key in _UNQUALIFIED_META else "meta %s" % key
        if "ct" in left:
            return "ct %s" % left["ct"]["key"]
        if "&" in left:
            return "%s & %s" % (_format_left(left["&"][0]), _format_value(left["&"][1]))
        if "fib" in left:
            fib = left["fib"]
            return "fib %s %s" % (" . ".join(fib.get("flags", [])), fib.get("result"))
    return _format_value(left)


def _quote_for(left):
    return isinstance(left, dict) and "meta" in left and left["meta"]["key"] in ("iifname", "oifname", "iif", "oif")


def _format_statement(stmt):
    if not isinstance(stmt, dict) or len(stmt) != 1:
        return json.dumps(stmt, sort_keys=True)
    (kind, body), = stmt.items()
    if kind == "match":
        op = body.get("op", "==")
        right = _format_value(body["right"], quote=_quote_for(body["left"]))
        if op in ("==", "in") and not (isinstance(body["left"], dict) and "&" in body["left"]):
            return "%s %s" % (_format_left(body["left"]), right)
        return "%s %s %s" % (_format_left(body["left"]), op, right)
    if kind in _VERDICTS:
        return kind
    if kind in ("jump", "goto"):
        return "%s %s" % (kind, body["target"])
    if kind == "counter":
        return "counter"
    if kind == "reject":
        if not body:
            return "reject"
        if body.get("type") == "tcp reset":
            return "reject with tcp reset"
        return "reject with %s %s" % (body.get("type"), body.get("expr", "")).rstrip()
    if kind == "log":
        return "log" + ("" if not body else "".join(' %s "%s"' % (k, v) if k == "prefix" else " %s %s" % (k, v) for k, v in sorted(body.items())))
    if kind == "vmap":
        return "%s vmap %s" % (_format_left(body["key"]), _format_value(body["data"]))
    return "%s %s" % (kind, json.dumps(body, sort_keys=True))


def format_rule(rule):
    """One rule as nft-like text without counter values: the rule's identity for diffs and reports."""
    text = " ".join(_format_statement(stmt) for stmt in rule.get("expr", []))
    if rule.get("comment"):
        text += ' comment "%s"' % rule["comment"]
    return text


# ---------------------------------------------------------------- evaluating a TCP probe

_NOMATCH = "nomatch"
_TCP_FLAGS_SYN = frozenset(["syn"])


class _Undecided(Exception):
    pass


class _Probe(object):
    def __init__(self, hook, source, destination, dport, sport, iifname, oifname):
        if hook not in ("input", "forward"):
            raise NftablesError("hook %r is not one of input, forward" % (hook,))
        try:
            self.source = ipaddress.ip_address(str(source))
            self.destination = ipaddress.ip_address(str(destination))
        except ValueError as exc:
            raise NftablesError("probe address: %s" % exc)
        if self.source.version != self.destination.version:
            raise NftablesError("probe source %s and destination %s are not the same IP version" % (source, destination))
        for name, port in (("dport", dport), ("sport", sport)):
            if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
                raise NftablesError("probe %s %r is not a TCP port" % (name, port))
        self.hook = hook
        self.dport = dport
        self.sport = sport
        self.iifname = iifname
        self.oifname = oifname if hook == "forward" else None
        self.version = self.source.version
        self.assumptions = []

    @property
    def families(self):
        return ("ip", "inet") if self.version == 4 else ("ip6", "inet")


class _Evaluator(object):
    def __init__(self, ruleset, probe):
        self.ruleset = ruleset
        self.probe = probe

    # -- values of the probe for a left-hand expression; None means "this packet has no such field"
    def value(self, left, rule):
        probe = self.probe
        if isinstance(left, dict) and "payload" in left:
            payload = left["payload"]
            proto, field = payload.get("protocol"), payload.get("field")
            if proto == "ip":
                if probe.version != 4:
                    return None
                return {"saddr": probe.source, "daddr": probe.destination, "protocol": "tcp", "version": 4}.get(field, _UNKNOWN)
            if proto == "ip6":
                if probe.version != 6:
                    return None
                return {"saddr": probe.source, "daddr": probe.destination, "nexthdr": "tcp", "version": 6}.get(field, _UNKNOWN)
            if proto in ("tcp", "th"):
                if field == "flags" and proto == "tcp":
                    return _TCP_FLAGS_SYN
                return {"dport": probe.dport, "sport": probe.sport}.get(field, _UNKNOWN)
            if proto in ("udp", "udplite", "sctp", "dccp", "icmp", "icmpv6"):
                return None
            return _UNKNOWN
        if isinstance(left, dict) and "meta" in left:
            key = left["meta"]["key"]
            if key == "l4proto":
                return "tcp"
            if key == "nfproto":
                return "ipv4" if probe.version == 4 else "ipv6"
            if key == "protocol":
                return "ip" if probe.version == 4 else "ip6"
            if key == "pkttype":
                return "host"
            if key in ("iifname", "iif"):
                return _Interface(probe.iifname, "input interface")
            if key in ("oifname", "oif"):
                if probe.hook == "input":
                    return None
                return _Interface(probe.oifname, "output interface")
            return _UNKNOWN
        if isinstance(left, dict) and "ct" in left:
            key = left["ct"]["key"]
            if key == "state":
                return "new"
            if key == "direction":
                return "original"
            return _UNKNOWN
        if isinstance(left, dict) and "&" in left:
            base, mask = left["&"]
            value = self.value(base, rule)
            if value is None or value is _UNKNOWN:
                return value
            if isinstance(value, frozenset):
                return value & frozenset(_as_list(mask))
            if isinstance(value, int) and isinstance(mask, int):
                return value & mask
            return _UNKNOWN
        return _UNKNOWN

    def lookup_set(self, family, table, name):
        spec = self.ruleset.sets.get((family, table, name))
        if spec is None:
            raise _Undecided("named set @%s does not exist in table %s %s" % (name, family, table))
        return spec

    def contains(self, value, right, rule):
        """True/False for `value` matching `right` (scalar, prefix, range, set, named set)."""
        if isinstance(right, str) and right.startswith("@"):
            spec = self.lookup_set(rule["family"], rule["table"], right[1:])
            return any(self.contains(value, item, rule) for item in (spec.get("elem") or []))
        if isinstance(right, dict):
            if "set" in right:
                items = right["set"] if isinstance(right["set"], list) else [right["set"]]
                return any(self.contains(value, item, rule) for item in items)
            if "elem" in right:
                return self.contains(value, right["elem"]["val"], rule)
            if "prefix" in right:
                if not isinstance(value, _ADDRESS_TYPES):
                    raise _Undecided("prefix %s compared with %r" % (_format_value(right), value))
                net = ipaddress.ip_network("%s/%s" % (right["prefix"]["addr"], right["prefix"]["len"]), strict=False)
                return value.version == net.version and value in net
            if "range" in right:
                low, high = (self.scalar(v, value) for v in right["range"])
                return low <= value <= high
            raise _Undecided("value %s" % _format_value(right))
        if isinstance(right, list):
            if isinstance(value, frozenset):
                return value == frozenset(right)
            return any(self.contains(value, item, rule) for item in right)
        if isinstance(value, frozenset):
            return value == frozenset([right])
        return value == self.scalar(right, value)

    def scalar(self, right, like):
        if isinstance(like, _ADDRESS_TYPES):
            try:
                return ipaddress.ip_address(str(right))
            except ValueError:
                raise _Undecided("%r is not an address" % (right,))
        if isinstance(like, int) and not isinstance(right, int):
            try:
                return int(right)
            except (TypeError, ValueError):
                raise _Undecided("%r compared with a port" % (right,))
        return right

    def match(self, body, rule):
        op = body.get("op", "==")
        value = self.value(body["left"], rule)
        if value is None:
            return False
        if value is _UNKNOWN:
            raise _Undecided("cannot evaluate %s for a TCP probe" % _format_left(body["left"]))
        right = body["right"]
        if isinstance(value, _Interface):
            return value.matches(op, right, self.probe)
        if op in ("==", "in"):
            if op == "in" and isinstance(value, frozenset):
                return bool(value & frozenset(_as_list(right)))
            return self.contains(value, right, rule)
        if op == "!=":
            return not self.contains(value, right, rule)
        if op in ("<", ">", "<=", ">="):
            other = self.scalar(right, value)
            return {"<": value < other, ">": value > other, "<=": value <= other, ">=": value >= other}[op]
        raise _Undecided("operator %r" % op)

    def vmap_verdict(self, body, rule):
        value = self.value(body["key"], rule)
        if value is None:
            return None
        if value is _UNKNOWN or isinstance(value, _Interface):
            raise _Undecided("cannot evaluate verdict map key %s for a TCP probe" % _format_left(body["key"]))
        data = body["data"]
        if isinstance(data, str) and data.startswith("@"):
            spec = self.lookup_set(rule["family"], rule["table"], data[1:])
            pairs = spec.get("elem") or []
        elif isinstance(data, dict) and "set" in data:
            pairs = data["set"]
        else:
            raise _Undecided("verdict map %s" % _format_value(data))
        for pair in pairs:
            key, verdict = pair[0], pair[1]
            if self.contains(value, key, rule):
                return verdict
        return None

    def run_rule(self, rule):
        """(kind, detail) for one rule: nomatch, accept, drop, reject, return, continue, jump, goto."""
        for stmt in rule.get("expr", []):
            if not isinstance(stmt, dict) or len(stmt) != 1:
                raise _Undecided("unrecognised statement %s" % json.dumps(stmt, sort_keys=True))
            (kind, body), = stmt.items()
            if kind == "match":
                if not self.match(body, rule):
                    return _NOMATCH, None
            elif kind in ("counter", "log", "comment"):
                continue
            elif kind == "vmap":
                verdict = self.vmap_verdict(body, rule)
                if verdict is None:
                    return _NOMATCH, None
                return self.verdict_of(verdict)
            elif kind in ("accept", "drop", "return", "continue"):
                return kind, None
            elif kind == "reject":
                return "reject", None
            elif kind in ("jump", "goto"):
                return kind, body["target"]
            else:
                raise _Undecided("statement %s is not understood by the evaluator" % _format_statement(stmt))
        return "continue", None

    def verdict_of(self, verdict):
        if not isinstance(verdict, dict) or len(verdict) != 1:
            raise _Undecided("verdict %r" % (verdict,))
        (kind, body), = verdict.items()
        if kind in ("accept", "drop", "return", "continue"):
            return kind, None
        if kind in ("jump", "goto"):
            return kind, body["target"]
        raise _Undecided("verdict %s" % kind)

    def run_chain(self, family, table, name, depth=0):
        """(kind, rule) where kind is accept/drop/reject or 'end' (fell off / returned)."""
        if depth > 16:
            raise _Undecided("jump depth over 16 at chain %s" % name)
        key = (family, table, name)
        if key not in self.ruleset.chains:
            raise _Undecided("jump to chain %s that does not exist in table %s %s" % (name, family, table))
        for rule in self.ruleset.rules.get(key, []):
            self.current = rule
            kind, target = self.run_rule(rule)
            if kind in (_NOMATCH, "continue"):
                continue
            if kind in ("accept", "drop", "reject"):
                return kind, rule
            if kind == "return":
                return "end", rule
            if kind == "jump":
                result = self.run_chain(family, table, target, depth + 1)
                if result[0] == "end":
                    continue
                return result
            if kind == "goto":
                return self.run_chain(family, table, target, depth + 1)
        return "end", None


class _Unknown(object):
    pass


_UNKNOWN = _Unknown()
_ADDRESS_TYPES = (ipaddress.IPv4Address, ipaddress.IPv6Address)


def _as_list(value):
    return value if isinstance(value, list) else [value]


class _Interface(object):
    """An interface name that may be unknown: loopback never matches, other names are assumed."""

    LOOPBACK = ("lo",)

    def __init__(self, name, what):
        self.name = name
        self.what = what

    def _equals(self, right, probe):
        names = [_format_value(v) for v in _as_list(right.get("set") if isinstance(right, dict) and "set" in right else right)]
        if self.name is not None:
            return any(_glob_match(self.name, n) for n in names)
        if all(n in self.LOOPBACK for n in names):
            return False
        probe.assumptions.append('%s "%s" assumed to match: no %s given' % (self.what, ",".join(names), self.what))
        return True

    def matches(self, op, right, probe):
        if op in ("==", "in"):
            return self._equals(right, probe)
        if op == "!=":
            if self.name is None:
                names = [_format_value(v) for v in _as_list(right)]
                if all(n in self.LOOPBACK for n in names):
                    return True
                probe.assumptions.append('%s != "%s" assumed to match: no %s given' % (self.what, ",".join(names), self.what))
                return True
            return not self._equals(right, probe)
        raise _Undecided("operator %r on %s" % (op, self.what))


def _glob_match(name, pattern):
    if pattern.endswith("*"):
        return name.startswith(pattern[:-1])
    return name == pattern


def _where(chain, rule):
    return {
        "family": chain["family"],
        "table": chain["table"],
        "chain": rule["chain"] if rule else chain["name"],
        "handle": rule.get("handle") if rule else None,
        "rule": format_rule(rule) if rule else "policy %s" % chain.get("policy", "accept"),
    }


def evaluate_tcp_probe(ruleset_json, hook, source, destination, dport, sport=40000, iifname=None, oifname=None):
    """Verdict of the kernel for the SYN of a new TCP connection; see the module docstring."""
    ruleset = ruleset_json if isinstance(ruleset_json, Ruleset) else Ruleset(ruleset_json)
    probe = _Probe(hook, source, destination, dport, sport, iifname, oifname)
    evaluator = _Evaluator(ruleset, probe)
    path = []
    decided_by = None
    for chain in ruleset.base_chains(hook, probe.families):
        evaluator.current = None
        try:
            kind, rule = evaluator.run_chain(chain["family"], chain["table"], chain["name"])
        except _Undecided as exc:
            where = _where(chain, evaluator.current)
            where.update(prio=chain.get("prio", 0), verdict="undecided")
            path.append(where)
            return {
                "verdict": "undecided",
                "decided_by": _where(chain, evaluator.current),
                "path": path,
                "assumptions": probe.assumptions,
                "reason": "%s (rule: %s)" % (exc, where["rule"]),
            }
        if kind == "end":
            kind = chain.get("policy", "accept")
            rule = None
        decided_by = _where(chain, rule)
        step = dict(decided_by, prio=chain.get("prio", 0), verdict=kind)
        path.append(step)
        if kind != "accept":
            return {"verdict": kind, "decided_by": decided_by, "path": path, "assumptions": probe.assumptions}
    return {"verdict": "accept", "decided_by": decided_by, "path": path, "assumptions": probe.assumptions}
