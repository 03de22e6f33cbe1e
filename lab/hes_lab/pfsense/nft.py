"""What a lab box's pfctl loaded, as an nftables forward chain: a second opinion on pf's rule
semantics from the Linux kernel (the namespace tests send real packets through it). Not a claim
that pf is emulated.

pf is last-match with ``quick`` as an early exit, and passes what no rule matches; the chain is
pf's first-match equivalent: every quick rule in ruleset order, then every non-quick rule in
reverse order, then accept. Only rules evaluated for IPv4 flows entering ``device`` count
(``in`` or no direction, on that device or on every interface); return traffic of accepted
connections passes (pf keeps state). ``block return`` rejects with a TCP reset, ``block drop``
drops, ``match`` decides nothing.
"""

TABLE = "hes_pf"


def _addresses(spec, tables, field):
    """(expression or None for any, matches_nothing)."""
    items = spec["items"]
    if items == ["any"]:
        return (None, True) if spec["not"] else (None, False)
    values = []
    for item in items:
        if item.startswith("<"):
            values.extend(e for e in tables.get(item.strip("<>"), []) if ":" not in e)
        elif item == "(self)":
            raise ValueError("(self) is not translated")
        elif ":" not in item:
            values.append(item)
    if not values:
        # an empty (or IPv6-only) set: the positive match is nothing, the negated one everything
        return (None, False) if spec["not"] else (None, True)
    return "ip %s %s{ %s }" % (field, "!= " if spec["not"] else "", ", ".join(values)), False


def _ports(ranges, field):
    if not ranges:
        return None
    words = ["%d" % low if low == high else "%d-%d" % (low, high) for low, high in ranges]
    return "th %s { %s }" % (field, ", ".join(words))


def rule_expression(rule, tables):
    """The nft statement for one loaded rule, or None when it never matches an IPv4 flow."""
    if rule.get("af") == "inet6":
        return None
    parts = ["meta nfproto ipv4"]
    if rule["proto"]:
        parts.append("meta l4proto { %s }" % ", ".join(rule["proto"]))
    for spec, field in ((rule["from"], "saddr"), (rule["to"], "daddr")):
        expression, nothing = _addresses(spec, tables, field)
        if nothing:
            return None
        if expression:
            parts.append(expression)
    for ranges, field in ((rule["sport"], "sport"), (rule["dport"], "dport")):
        expression = _ports(ranges, field)
        if expression:
            parts.append(expression)
    if rule["action"] == "pass":
        verdict = "accept"
    elif rule["return"]:
        verdict = "reject with tcp reset" if rule["proto"] == ["tcp"] else "reject"
    else:
        verdict = "drop"
    return " ".join(parts + [verdict])


def chain_rules(state, device):
    applicable = [r for r in state["rules"]
                  if r["action"] != "match" and r["direction"] in (None, "in") and (not r["on"] or device in r["on"])]
    ordered = [r for r in applicable if r["quick"]] + list(reversed([r for r in applicable if not r["quick"]]))
    out = []
    for rule in ordered:
        expression = rule_expression(rule, state["tables"])
        if expression:
            out.append(expression)
    return out


def ruleset(state, device):
    """``nft -f`` input: table inet hes_pf with the forward chain for flows entering ``device``."""
    lines = ["table inet %s {" % TABLE, "  chain forward {", "    type filter hook forward priority 0; policy accept;",
             "    ct state established,related accept", '    iifname != "%s" accept' % device]
    lines += ["    %s" % rule for rule in chain_rules(state, device)]
    lines += ["    accept", "  }", "}"]
    return "\n".join(lines) + "\n"
