# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""nftables: our table ``inet emailsec_hes`` as a model, as nft text and as ``nft -j`` items.

``desired_table(ranges, hook, ...)`` -> a table *model* (plain dict)::

    {"sets": {"hes_v4": {"type": "ipv4_addr", "flags": ["interval"], "elements": [...]}, ...},
     "chains": {"hes_smtp": {"type": "filter", "hook": "input", "prio": -10, "policy": "accept",
                             "rules": ['iifname "lo" accept', "tcp dport 25 ip saddr @hes_v4 accept", ...],
                             "exprs": [[{"match": ...}, {"accept": None}], ...]}}}

Each rule is built once, as the JSON expressions ``nft -j`` prints for it (``exprs``); its text
(``rules``) is ``parse.format_rule`` of those. From the one model come:

* ``render_table`` / ``render_ruleset_file``: the text we load with one ``nft -f`` (create if
  missing, delete, define: a single transaction, so the old table stays if anything fails);
* ``table_items``: the same table as ``nft -j`` items, so that the plan gate reads the ruleset
  *after* the change with the same parser (``nftables.model``) as the live one. The
  integration tests load the rendered text into a kernel and compare its ``nft -j`` listing
  with ``table_items``.

The chain lets the restricted ports through from loopback (input hook: the host's own
senders), from the ranges and from the internal sources, and drops (or rejects) the rest of
that traffic; its policy is accept, so every other packet is left to the host's own tables.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.emailsec.hes.plugins.module_utils.nftables.parse import (
    TABLE_FAMILY,
    TABLE_NAME,
    NftablesError,
    format_rule,
)

CHAIN_NAME = "hes_smtp"
SET_V4 = "hes_v4"
SET_V6 = "hes_v6"
SET_DST_V4 = "hes_dst_v4"
SET_DST_V6 = "hes_dst_v6"
SET_INTERNAL_V4 = "hes_internal_v4"
SET_INTERNAL_V6 = "hes_internal_v6"
HOOKS = ("input", "forward")
ACTIONS = ("drop", "reject")
LOOPBACK = "lo"

# Standard priority names of the inet/ip/ip6 families (nft(8), "CHAINS"); nft itself decides
# which of them are valid at which hook, so that check is left to `nft -c`.
PRIORITY_NAMES = {"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50, "srcnat": 100}
# A chain priority is a signed 32-bit number in the kernel.
PRIORITY_MIN, PRIORITY_MAX = -2 ** 31, 2 ** 31 - 1
_PRIORITY_RE = re.compile(r" *([a-z]+) *(?:([+-]) *([0-9]+))? *")
# An address or CIDR as text: ASCII only, no IPv6 zone index (ipaddress keeps any text after '%').
CIDR_TEXT_RE = re.compile(r"[0-9A-Fa-f.:]+(/[0-9]{1,3})?")

FILE_HEADER = (
    "# Managed by emailsec.hes (role emailsec.hes.nftables): do not edit, changes are overwritten.\n"
    "# Only this table is ours; other tables on this host are left alone.\n"
    "# Loaded as one transaction: the table is created if missing, deleted, and defined again.\n"
)


def parse_priority(priority):
    """Return (text for nft, integer value) for an int or a `name [+-] N` priority. Numbers are
    written in canonical decimal: nft reads a leading zero as octal (``010``) or not at all (``08``)."""
    if isinstance(priority, int) and not isinstance(priority, bool):
        text, value = str(priority), priority
    else:
        text = priority.strip(" ") if isinstance(priority, str) else ""
        match = _PRIORITY_RE.fullmatch(text)
        if re.fullmatch(r"-?[0-9]+", text):
            value = int(text)
            text = str(value)
        elif match and match.group(1) in PRIORITY_NAMES:
            name, sign, offset = match.groups()
            value = PRIORITY_NAMES[name] + (int(offset or 0) if sign != "-" else -int(offset))
            text = "%s %s %d" % (name, sign, int(offset)) if sign else name
        else:
            value = None
    if value is None or not PRIORITY_MIN <= value <= PRIORITY_MAX:
        raise NftablesError(
            "priority %r is neither an integer (32 bits) nor one of %s optionally followed by '+ N' or '- N'"
            % (priority, ", ".join(sorted(PRIORITY_NAMES)))
        )
    return text, value


def _networks(entries, what):
    nets = []
    for entry in entries:
        try:
            if not isinstance(entry, str) or not CIDR_TEXT_RE.fullmatch(entry.strip()):
                raise ValueError(entry)
            nets.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise NftablesError("%s: %r is not an IPv4/IPv6 address or CIDR" % (what, entry))
    v4 = [str(n) for n in ipaddress.collapse_addresses(n for n in nets if n.version == 4)]
    v6 = [str(n) for n in ipaddress.collapse_addresses(n for n in nets if n.version == 6)]
    return v4, v6


def check_ports(ports):
    """The sorted, distinct TCP ports of ``ports``; NftablesError naming a bad one."""
    if not ports:
        raise NftablesError("ports must list at least one TCP port")
    if not isinstance(ports, (list, tuple)):
        raise NftablesError("ports: %r is not a list of TCP ports" % (ports,))
    result = set()
    for port in ports:
        # An int, or its decimal digits; not a bool, a float or int()'s other forms (' 25', '2_5').
        value = int(port) if isinstance(port, str) and re.fullmatch(r"[0-9]{1,5}", port) else port
        if not isinstance(value, int) or isinstance(value, bool) or value < 1 or value > 65535:
            raise NftablesError("ports: %r is not a TCP port (1-65535)" % (port,))
        result.add(value)
    return sorted(result)


# ---------------------------------------------------------------- rule expressions

def _match(left, right, op="=="):
    return {"match": {"op": op, "left": left, "right": right}}


def _payload(protocol, field):
    return {"payload": {"protocol": protocol, "field": field}}


def _dport(ports):
    return _match(_payload("tcp", "dport"), ports[0] if len(ports) == 1 else {"set": list(ports)})


def _address(family, field, set_name):
    return _match(_payload(family, field), "@" + set_name)


def _deny(action):
    return [{"counter": None}, {"drop": None} if action == "drop" else {"reject": {"type": "tcp reset"}}]


def desired_table(ranges, hook="input", destinations=None, ports=(25,), priority=-10, action="drop",
                  internal_sources=None):
    """Model of our table: TCP ``ports`` to ``destinations`` only from loopback, ``ranges`` and
    ``internal_sources``; all else untouched.

    ``ranges`` and ``internal_sources`` must already be validated (``hes_ranges`` does that, each
    with its own guard); here they are only parsed and aggregated. ``destinations`` empty means
    every local address, which only makes sense on the input hook: on forward it would also
    restrict this network's own outbound SMTP, so it is refused there.
    """
    if hook not in HOOKS:
        raise NftablesError("hook %r is not one of %s" % (hook, ", ".join(HOOKS)))
    if action not in ACTIONS:
        raise NftablesError("action %r is not one of %s" % (action, ", ".join(ACTIONS)))
    allowed = dict(zip(("ip", "ip6"), _networks(ranges or [], "ranges")))
    internal = dict(zip(("ip", "ip6"), _networks(internal_sources or [], "internal_sources")))
    targets = dict(zip(("ip", "ip6"), _networks(destinations or [], "destinations")))
    if hook == "forward" and not (targets["ip"] or targets["ip6"]):
        raise NftablesError(
            "destinations is empty: on the forward hook name the mail servers' addresses, "
            "otherwise outbound SMTP from behind this router would be restricted too"
        )
    prio = parse_priority(priority)[1]
    port_match = _dport(check_ports(ports))
    names = {"ip": (SET_V4, SET_INTERNAL_V4, SET_DST_V4), "ip6": (SET_V6, SET_INTERNAL_V6, SET_DST_V6)}
    types = {"ip": "ipv4_addr", "ip6": "ipv6_addr"}

    sets = {}
    for family in ("ip", "ip6"):
        allowed_set, internal_set, target_set = names[family]
        sets[allowed_set] = _set_model(types[family], allowed[family])
        if internal["ip"] or internal["ip6"]:
            sets[internal_set] = _set_model(types[family], internal[family])
    exprs = []
    if hook == "input":
        exprs.append([_match({"meta": {"key": "iifname"}}, LOOPBACK), {"accept": None}])
    families = [f for f in ("ip", "ip6") if targets[f]] if (targets["ip"] or targets["ip6"]) else []
    for family in families:
        sets[names[family][2]] = _set_model(types[family], targets[family])
    # Which set of names[family] holds the sources: 0 the ranges, 1 the internal sources.
    sources = [0, 1] if internal["ip"] or internal["ip6"] else [0]
    if families:
        for family in families:
            target = _address(family, "daddr", names[family][2])
            for index in sources:
                exprs.append([port_match, target, _address(family, "saddr", names[family][index]), {"accept": None}])
            exprs.append([port_match, target] + _deny(action))
    else:
        for index in sources:
            for family in ("ip", "ip6"):
                exprs.append([port_match, _address(family, "saddr", names[family][index]), {"accept": None}])
        exprs.append([port_match] + _deny(action))
    chain = {"type": "filter", "hook": hook, "prio": prio, "policy": "accept",
             "rules": [format_rule({"expr": e}) for e in exprs], "exprs": exprs}
    return {"sets": sets, "chains": {CHAIN_NAME: chain}}


def table_parameters(model):
    """The ``desired_table`` arguments that render ``model`` (our table as it is live), or None
    when no arguments do: a rollback re-renders the previous table through the same validation
    as a harden run, instead of loading text from a backup."""
    if not model or CHAIN_NAME not in model.get("chains", {}):
        return None
    chain = model["chains"][CHAIN_NAME]

    def elements(*names):
        return [e for name in names for e in model["sets"].get(name, {}).get("elements", [])]

    ports, action = None, None
    for exprs in chain.get("exprs", []):
        for stmt in exprs:
            if isinstance(stmt, dict) and "match" in stmt and stmt["match"].get("left") == _payload("tcp", "dport"):
                right = stmt["match"]["right"]
                ports = right["set"] if isinstance(right, dict) and "set" in right else [right]
            if isinstance(stmt, dict) and ("drop" in stmt or "reject" in stmt):
                action = "drop" if "drop" in stmt else "reject"
    if ports is None or action is None:
        return None
    parameters = {"ranges": elements(SET_V4, SET_V6), "internal_sources": elements(SET_INTERNAL_V4, SET_INTERNAL_V6),
                  "destinations": elements(SET_DST_V4, SET_DST_V6), "hook": chain.get("hook"),
                  "priority": chain.get("prio", 0), "ports": ports, "action": action}
    try:
        rendered = desired_table(**parameters)
    except (NftablesError, ValueError, TypeError):
        return None
    same = all(rendered["sets"].get(n, {}).get("elements") == model["sets"].get(n, {}).get("elements")
               for n in set(rendered["sets"]) | set(model["sets"])) and \
        rendered["chains"][CHAIN_NAME]["rules"] == chain.get("rules")
    return parameters if same else None


def _set_model(set_type, elements):
    return {"type": set_type, "flags": ["interval"], "elements": list(elements)}


# ---------------------------------------------------------------- text

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


# ---------------------------------------------------------------- nft -j items

def _element_json(cidr):
    net = ipaddress.ip_network(cidr)
    if net.prefixlen == net.max_prefixlen:
        return str(net.network_address)
    return {"prefix": {"addr": str(net.network_address), "len": net.prefixlen}}


def table_items(model):
    """Our table as the ``nft -j list ruleset`` items the kernel would list after loading it
    (no handles, counters at zero)."""
    if model is None:
        return []
    where = {"family": TABLE_FAMILY, "table": TABLE_NAME}
    items = [{"table": {"family": TABLE_FAMILY, "name": TABLE_NAME}}]
    for name in sorted(model["sets"]):
        spec = model["sets"][name]
        body = dict(where, name=name, type=spec["type"], flags=list(spec["flags"]))
        if spec["elements"]:
            body["elem"] = [_element_json(e) for e in spec["elements"]]
        items.append({"set": body})
    for name in sorted(model["chains"]):
        chain = model["chains"][name]
        body = dict(where, name=name)
        for key in ("type", "hook", "prio", "policy"):
            if key in chain:
                body[key] = chain[key]
        items.append({"chain": body})
    for name in sorted(model["chains"]):
        for exprs in model["chains"][name]["exprs"]:
            items.append({"rule": dict(where, chain=name, expr=[_zero_counter(e) for e in exprs])})
    return items


def _zero_counter(stmt):
    return {"counter": {"packets": 0, "bytes": 0}} if "counter" in stmt else stmt
