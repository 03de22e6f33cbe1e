# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""nftables: ``nft -j list ruleset`` output -> an indexed ``Ruleset``, rule text, our table's model.

Nothing here runs ``nft``. ``Ruleset`` keeps the kernel's listing order (tables in creation
order, chains in creation order within a table, rules in chain order): ``nftables.model``
derives the order of base chains of equal priority from it.

``format_rule`` prints one rule as nft-like text without counter values: the rule's identity in
labels, keys, diffs and reports. ``table_model_from_json`` reads our own table back into the
shape ``nftables.render.desired_table`` builds, so that ``comparable(desired) ==
comparable(live)`` is the idempotence test (counters, handles and element order ignored).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json

TABLE_FAMILY = "inet"
TABLE_NAME = "emailsec_hes"


class NftablesError(ValueError):
    """Bad input for rendering or reading nftables; the message names the bad value."""


def load_json(ruleset_json):
    """Accept ``nft -j`` output as text, as the parsed dict, or as its ``nftables`` list."""
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
    """Tables, chains, rules and sets (maps included) of one ``nft -j list ruleset`` answer.

    ``tables``: [(family, name)] in listing order; ``chains``: {(family, table, name): chain}
    (dict order = listing order); ``rules``: {(family, table, chain): [rule]};
    ``sets``: {(family, table, name): set or map}."""

    def __init__(self, ruleset_json):
        self.tables = []
        self.chains = {}
        self.rules = {}
        self.sets = {}
        for item in load_json(ruleset_json):
            if not isinstance(item, dict) or len(item) != 1:
                continue
            (kind, body), = item.items()
            if not isinstance(body, dict):
                continue
            if kind == "table":
                self.tables.append((body.get("family"), body.get("name")))
            elif kind == "chain":
                key = (body.get("family"), body.get("table"), body.get("name"))
                self.chains[key] = body
                self.rules.setdefault(key, [])
            elif kind == "rule":
                self.rules.setdefault((body.get("family"), body.get("table"), body.get("chain")), []).append(body)
            elif kind in ("set", "map"):
                self.sets[(body.get("family"), body.get("table"), body.get("name"))] = body


def item_table(item):
    """(family, table name) of one ``nft -j`` item; None for metainfo and anything else."""
    if not isinstance(item, dict) or len(item) != 1:
        return None
    (kind, body), = item.items()
    if not isinstance(body, dict) or kind == "metainfo":
        return None
    if kind == "table":
        return body.get("family"), body.get("name")
    return body.get("family"), body.get("table")


def replace_table(ruleset_json, table_items, family=TABLE_FAMILY, name=TABLE_NAME):
    """The ruleset with table ``family name`` replaced by ``table_items`` (``nft -j`` items), or
    removed when ``table_items`` is empty. The new table goes last, where the kernel lists a
    table that one transaction deleted and created again (and so the last registered hooks)."""
    kept = [item for item in load_json(ruleset_json) if item_table(item) not in (None, (family, name))]
    return {"nftables": kept + list(table_items)}


def element_networks(elements):
    """Aggregated CIDR strings (IPv4 first) for set elements as nft prints them: an address, a
    prefix, a range, or any of those inside an ``elem`` wrapper."""
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


def table_model_from_json(ruleset_json, family=TABLE_FAMILY, name=TABLE_NAME):
    """Our table's model from ``nft -j list table ...`` / ``list ruleset``; None when it is absent.

    Chains carry their rules twice: ``rules`` as text (``format_rule``) and ``exprs`` as the
    kernel printed them."""
    ruleset = ruleset_json if isinstance(ruleset_json, Ruleset) else Ruleset(ruleset_json)
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
            "elements": element_networks(spec.get("elem")),
        }
    chains = {}
    for (fam, table, chain_name), spec in ruleset.chains.items():
        if (fam, table) != (family, name):
            continue
        rules = ruleset.rules.get((fam, table, chain_name), [])
        chain = {"rules": [format_rule(rule) for rule in rules], "exprs": [rule.get("expr", []) for rule in rules]}
        for key in ("type", "hook", "prio", "policy"):
            if key in spec:
                chain[key] = spec[key]
        chains[chain_name] = chain
    return {"sets": sets, "chains": chains}


def comparable(model):
    """A table model without what the kernel adds or reorders (rule JSON with counter values):
    two tables load the same when their ``comparable`` forms are equal."""
    if model is None:
        return None
    chains = dict((name, dict((k, v) for k, v in chain.items() if k != "exprs"))
                  for name, chain in model["chains"].items())
    return {"sets": model["sets"], "chains": chains}


# ---------------------------------------------------------------- formatting expressions

_UNQUALIFIED_META = ("iifname", "oifname", "iif", "oif")
_VERDICTS = ("accept", "drop", "continue", "return", "queue")


def format_value(value, quote=False):
    """A right-hand value (or set element) as nft prints it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return '"%s"' % value if quote else value
    if isinstance(value, list):
        return ",".join(format_value(v, quote) for v in value)
    if isinstance(value, dict):
        if "set" in value:
            items = value["set"]
            items = items if isinstance(items, list) else [items]
            return "{ %s }" % ", ".join(_format_set_item(i, quote) for i in items)
        if "prefix" in value:
            return "%s/%s" % (format_value(value["prefix"]["addr"]), value["prefix"]["len"])
        if "range" in value:
            return "%s-%s" % tuple(format_value(v, quote) for v in value["range"])
        if "elem" in value:
            return format_value(value["elem"]["val"], quote)
        if "concat" in value:
            return " . ".join(format_value(v, quote) for v in value["concat"])
        if "|" in value:
            return "|".join(format_value(v, quote) for v in value["|"])
        return format_left(value)
    return json.dumps(value, sort_keys=True)


def _format_set_item(item, quote):
    if isinstance(item, list) and len(item) == 2:
        return "%s : %s" % (format_value(item[0], quote), format_statement(item[1]))
    return format_value(item, quote)


def format_left(left):
    """A left-hand expression (what a match reads from the packet) as nft prints it."""
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
            return "%s & %s" % (format_left(left["&"][0]), format_value(left["&"][1]))
        if "fib" in left:
            fib = left["fib"]
            return "fib %s %s" % (" . ".join(fib.get("flags", [])), fib.get("result"))
        if "concat" in left:
            return " . ".join(format_left(part) for part in left["concat"])
    return format_value(left)


def _quote_for(left):
    return isinstance(left, dict) and "meta" in left and left["meta"]["key"] in ("iifname", "oifname", "iif", "oif")


def format_statement(stmt):
    """One statement of a rule (a match, a verdict, counter, log, ...) as nft-like text."""
    if not isinstance(stmt, dict) or len(stmt) != 1:
        return json.dumps(stmt, sort_keys=True)
    (kind, body), = stmt.items()
    if kind == "match":
        op = body.get("op", "==")
        right = format_value(body["right"], quote=_quote_for(body["left"]))
        if op in ("==", "in") and not (isinstance(body["left"], dict) and "&" in body["left"]):
            return "%s %s" % (format_left(body["left"]), right)
        return "%s %s %s" % (format_left(body["left"]), op, right)
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
        return ("reject with %s %s" % (body.get("type"), body.get("expr", ""))).rstrip()
    if kind == "log":
        return "log" + ("" if not body else "".join(
            ' %s "%s"' % (k, v) if k == "prefix" else " %s %s" % (k, v) for k, v in sorted(body.items())))
    if kind == "vmap":
        return "%s vmap %s" % (format_left(body["key"]), format_value(body["data"]))
    if kind in ("dnat", "snat", "redirect", "masquerade") and isinstance(body, dict) and \
            set(body) <= set(("addr", "port", "family")):
        target = format_value(body.get("addr", "")) + (":%s" % format_value(body["port"]) if "port" in body else "")
        return "%s to %s" % (kind, target) if target else kind
    if body is None:
        return kind
    return "%s %s" % (kind, json.dumps(body, sort_keys=True))


def format_rule(rule):
    """One rule (``nft -j`` rule object, or ``{"expr": [...]}``) as nft-like text without
    counter values."""
    text = " ".join(format_statement(stmt) for stmt in rule.get("expr", []))
    if rule.get("comment"):
        text += ' comment "%s"' % rule["comment"]
    return text
