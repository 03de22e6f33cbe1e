"""The nftables model against the kernel: random rulesets, random new TCP flows (needs root).

Hypothesis writes rulesets with several tables (ip, ip6, inet), base chains at input and
prerouting with clashing priorities, regular chains reached by jump and goto, named interval
sets, verdict maps, and the match kinds the model understands. Each ruleset is loaded into a
fresh pair of network namespaces (hes_lab.netns.KernelFirewall, RFC 5737 addresses only); the
kernel's own `nft -j list ruleset` is read by nftables.model.build_policy, and every flow is
both sent for real (a SYN from the sender namespace) and decided by engine.evaluate_flow. They
must agree: accept = the handshake completes, reject = refused, drop = no answer.

A disagreement is a bug in the model (or the engine): the case is then kept in
tests/unit/plugins/module_utils/nftables/golden/kernel_cases/ (see test_nftables_kernel_cases.py).

The run is bounded: HES_KERNEL_EXAMPLES examples (default 25), about a second each, and no
shrinking unless HES_KERNEL_SHRINK is set.
"""
import ipaddress
import os
import sys

import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from ansible_collections.emailsec.hes.plugins.module_utils.nftables.model import build_policy, flow_verdict

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "lab"))
from hes_lab.netns import PROBE_INTERFACE, PROBE_SOURCE_NETS, PROBE_TARGETS, KernelFirewall  # noqa: E402

pytestmark = [pytest.mark.netns, pytest.mark.slow]

EXAMPLES = int(os.environ.get("HES_KERNEL_EXAMPLES", "25"))
# Shrinking a failure costs minutes of namespaces; ask for it (HES_KERNEL_SHRINK=1) to get the
# smallest case to keep as a golden test.
PHASES = [Phase.explicit, Phase.generate] + ([Phase.shrink] if os.environ.get("HES_KERNEL_SHRINK") else [])
PORTS = [22, 25, 80, 587, 2525]
SPORTS = [1024, 40000, 50000]
KERNEL = {"accept": "accepted", "reject": "refused", "drop": "timeout"}
SOURCE_NETS = [ipaddress.ip_network(n) for n in PROBE_SOURCE_NETS]


def in_sources(address):
    return any(address in net for net in SOURCE_NETS)


# ---------------------------------------------------------------- values

source_address = st.sampled_from(SOURCE_NETS).flatmap(
    lambda net: st.integers(0, net.num_addresses - 1).map(lambda i: net.network_address + i))


@st.composite
def address_spec(draw, sets=True):
    """An IPv4 address operand inside the senders' space: address, prefix, range or (``sets``) set."""
    kind = draw(st.sampled_from(["address", "prefix", "range"] + (["set"] if sets else [])))
    if kind == "address":
        return str(draw(source_address))
    if kind == "prefix":
        length = draw(st.integers(24, 31))
        net = ipaddress.ip_network("%s/%d" % (draw(source_address), length), strict=False)
        return str(net)
    if kind == "range":
        first = draw(source_address)
        last = first + draw(st.integers(1, 40))
        return "%s-%s" % (first, last) if in_sources(last) else str(first)
    items = draw(st.lists(source_address, min_size=1, max_size=3, unique=True))
    return "{ %s }" % ", ".join(str(a) for a in sorted(items))


port = st.sampled_from(PORTS + [23, 443, 1000])


@st.composite
def port_spec(draw):
    kind = draw(st.sampled_from(["port", "range", "set"]))
    if kind == "port":
        return str(draw(port))
    if kind == "range":
        low = draw(st.sampled_from([0, 20, 25, 26, 80, 500, 1024, 2000]))
        return "%d-%d" % (low, low + draw(st.sampled_from([1, 5, 60, 600, 40000])))
    values = draw(st.lists(port, min_size=1, max_size=3, unique=True))
    return "{ %s }" % ", ".join(str(v) for v in sorted(values))


def negated(spec, draw):
    return ("!= " + spec) if draw(st.booleans()) and draw(st.booleans()) else spec


# ---------------------------------------------------------------- expressions

@st.composite
def match_expression(draw, family, named_set):
    """One match the model understands: (nft text, network protocol, transport protocol); nft
    refuses a rule that names two different ones (``ip protocol udp tcp dport 25``)."""
    kinds = ["tcp_dport", "tcp_dport", "tcp_sport", "th_dport", "udp_dport", "l4proto", "tcp_flags", "ct_state",
             "ct_direction", "pkttype", "iifname", "oifname"]
    if family in ("ip", "inet"):
        kinds += ["saddr", "saddr", "daddr", "ip_protocol", "concat"]
        if named_set:
            kinds += ["named_set"]
    if family in ("ip6", "inet"):
        kinds += ["ip6_saddr", "ip6_nexthdr"]
    if family == "inet":
        kinds += ["nfproto"]
    kind = draw(st.sampled_from(kinds))
    if kind == "saddr":
        return "ip saddr " + negated(draw(address_spec()), draw), "ip", None
    if kind == "daddr":
        targets = draw(st.sampled_from(PROBE_TARGETS + ["{ %s }" % ", ".join(PROBE_TARGETS)]))
        return "ip daddr " + negated(targets, draw), "ip", None
    if kind == "named_set":
        return "ip saddr %s@s0" % draw(st.sampled_from(["", "!= "])), "ip", None
    if kind == "tcp_dport":
        op = draw(st.sampled_from(["", "", "!= ", "< ", ">= "]))
        return "tcp dport " + op + (draw(port_spec()) if op in ("", "!= ") else str(draw(port))), None, "tcp"
    if kind == "tcp_sport":
        value = draw(st.sampled_from(["1024", "40000", "1024-40000", "{ 50000, 1024 }"]))
        return "tcp sport " + negated(value, draw), None, "tcp"
    if kind == "th_dport":
        return "meta l4proto { tcp, udp } th dport " + draw(port_spec()), None, "th"
    if kind == "udp_dport":
        return "udp dport " + draw(port_spec()), None, "udp"
    if kind == "l4proto":
        value = draw(st.sampled_from(["tcp", "udp", "{ tcp, udp }", "icmp", "!= udp"]))
        return "meta l4proto " + value, None, {"{ tcp, udp }": "th", "!= udp": None}.get(value, value)
    if kind == "ip_protocol":
        value = draw(st.sampled_from(["tcp", "udp", "!= tcp"]))
        return "ip protocol " + value, "ip", value if value in ("tcp", "udp") else None
    if kind == "ip6_nexthdr":
        return "ip6 nexthdr tcp", "ip6", "tcp"
    if kind == "ip6_saddr":
        return "ip6 saddr 2001:db8::/32", "ip6", None
    if kind == "nfproto":
        value = draw(st.sampled_from(["ipv4", "ipv6"]))
        return "meta nfproto " + value, "ip" if value == "ipv4" else "ip6", None
    if kind == "tcp_flags":
        value = draw(st.sampled_from(["syn", "== syn", "& (syn | ack) == syn", "ack", "!= syn",
                                      "& (fin | syn | rst | ack) == syn"]))
        return "tcp flags " + value, None, "tcp"
    if kind == "ct_state":
        value = draw(st.sampled_from(["new", "established,related", "{ established, related }", "!= established",
                                      "invalid", "{ new, untracked }"]))
        return "ct state " + value, None, None
    if kind == "ct_direction":
        return "ct direction " + draw(st.sampled_from(["original", "reply"])), None, None
    if kind == "pkttype":
        return "meta pkttype " + draw(st.sampled_from(["host", "broadcast"])), None, None
    if kind == "iifname":
        return draw(st.sampled_from(['iifname "%s"' % PROBE_INTERFACE, 'iifname "lo"', 'iifname "eth*"',
                                     'iifname { "lo", "%s" }' % PROBE_INTERFACE, 'iifname != "lo"', 'iifname "veth9"',
                                     'iif "lo"', 'iif "%s"' % PROBE_INTERFACE])), None, None
    if kind == "oifname":
        return 'oifname "%s"' % PROBE_INTERFACE, None, None
    first, second = draw(source_address), draw(source_address)
    if first == second:
        return "ip saddr . tcp dport { %s . 25 }" % first, "ip", "tcp"
    return "ip saddr . tcp dport { %s . %d, %s . %d }" % (first, draw(port), second, draw(port)), "ip", "tcp"


def consistent(expressions):
    """The expressions that agree with the first network and transport protocols named."""
    kept, network, transport = [], None, None
    for text, net, proto in expressions:
        if net and network and net != network or proto and transport and proto != transport:
            continue
        network, transport = network or net, transport or proto
        kept.append(text)
    return kept


@st.composite
def rule_text(draw, family, named_set, targets, may_reject):
    expressions = draw(st.lists(match_expression(family, named_set), max_size=3))
    verdicts = ["accept", "drop", "drop", "return", "continue", ""]
    if may_reject:
        verdicts.append("reject")
    if targets:
        verdicts += ["jump " + draw(st.sampled_from(targets)), "goto " + draw(st.sampled_from(targets))]
    if draw(st.integers(0, 9)) == 0:
        keys = draw(st.lists(st.sampled_from(PORTS), min_size=1, max_size=3, unique=True))
        choices = ["accept", "drop"] + (["jump " + targets[0]] if targets else [])
        pairs = ", ".join("%d : %s" % (k, draw(st.sampled_from(choices))) for k in sorted(keys))
        verdict = "tcp dport vmap { %s }" % pairs
        matches = consistent([("", None, "tcp")] + expressions)[1:]
    else:
        verdict = draw(st.sampled_from(verdicts))
        matches = consistent(expressions)
    extras = draw(st.sampled_from(["", "", "counter", 'log prefix "hes "']))
    return " ".join(part for part in matches + [extras, verdict] if part) or "counter"


@st.composite
def table_text(draw, index):
    family = draw(st.sampled_from(["ip", "inet", "inet", "ip6"]))
    hook = draw(st.sampled_from(["input", "input", "prerouting"]))
    named_set = family != "ip6" and draw(st.booleans())
    regular = ["r%d" % i for i in range(draw(st.integers(0, 2)))]
    lines = ["table %s t%d {" % (family, index)]
    if named_set:
        elements = draw(st.lists(address_spec(sets=False), min_size=1, max_size=3))
        lines.append("\tset s0 { type ipv4_addr; flags interval; auto-merge; elements = { %s }; }" % ", ".join(elements))
    for number in range(draw(st.integers(1, 2))):
        priority = draw(st.sampled_from([-10, 0, 0, 10] if hook == "input" else [-300, -150, 0]))
        policy = draw(st.sampled_from(["accept", "accept", "accept", "drop"]))
        rules = draw(st.lists(rule_text(family, named_set, regular, hook == "input"), max_size=5))
        lines.append("\tchain b%d {" % number)
        lines.append("\t\ttype filter hook %s priority %d; policy %s;" % (hook, priority, policy))
        lines.extend("\t\t" + r for r in rules)
        lines.append("\t}")
    for number, name in enumerate(regular):
        rules = draw(st.lists(rule_text(family, named_set, regular[number + 1:], hook == "input"), max_size=4))
        lines.append("\tchain %s {" % name)
        lines.extend("\t\t" + r for r in rules)
        lines.append("\t}")
    lines.append("}")
    return "\n".join(lines)


@st.composite
def rulesets(draw):
    tables = [draw(table_text(i)) for i in range(draw(st.integers(1, 3)))]
    return "\n".join(tables) + "\n"


def literal_addresses(text):
    """Edges of every address literal of the ruleset, and their neighbours: flows that test them."""
    found = set()
    for token in text.replace("{", " ").replace("}", " ").replace(",", " ").split():
        for part in token.split("-") if token.count(".") == 6 else [token]:
            try:
                net = ipaddress.ip_network(part, strict=False)
            except ValueError:
                continue
            if net.version == 4:
                for edge in (net.network_address, net.broadcast_address):
                    found.update((edge - 1, edge, edge + 1))
    return sorted(a for a in found if in_sources(a))


@st.composite
def cases(draw):
    text = draw(rulesets())
    pool = literal_addresses(text)
    sources = st.sampled_from(pool) if pool and draw(st.booleans()) else source_address
    flows = draw(st.lists(st.tuples(sources, st.sampled_from(SPORTS), st.sampled_from(PROBE_TARGETS),
                                    st.sampled_from(PORTS)),
                          min_size=4, max_size=10, unique=True))
    return text, [(str(s), sport, d, dport) for s, sport, d, dport in flows]


# ---------------------------------------------------------------- the comparison

def compare(text, flows):
    """[(flow, kernel outcome, engine answer)] for the flows where the two disagree."""
    with KernelFirewall(PORTS) as firewall:
        rc, error = firewall.load(text)
        assert rc == 0, "the generator wrote a ruleset nft refuses:\n%s\n%s" % (text, error)
        policy = build_policy(firewall.ruleset_json(), iifname=PROBE_INTERFACE)
        # Every expression the generator writes is one the model understands.
        assert [rule.label for rule in policy.uncertain_rules()] == [], text
        answers = [flow_verdict(policy, "input", s, d, dport, sport=sport) for s, sport, d, dport in flows]
        outcomes = firewall.probe_many(flows)
        # A slow machine may miss a handshake in 0.6 s: ask again, patiently, before calling it a drop.
        slow = [i for i, (a, o) in enumerate(zip(answers, outcomes)) if o == "timeout" and a["verdict"] != "drop"]
        for index, outcome in zip(slow, firewall.probe_many([flows[i] for i in slow], timeout=3.0)):
            outcomes[index] = outcome
    event("verdicts: %s" % ", ".join(sorted(set(answer["verdict"] for answer in answers))))
    return [(flow, outcome, answer) for flow, outcome, answer in zip(flows, outcomes, answers)
            if KERNEL.get(answer["verdict"]) != outcome]


@settings(max_examples=EXAMPLES, deadline=None, database=None, phases=PHASES,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(cases())
def test_the_model_and_the_kernel_agree_on_every_flow(case):
    text, flows = case
    disagreements = compare(text, flows)
    lines = ["%s:%d -> %s:%d kernel %s, engine %s (%s; %s)"
             % (f[0], f[1], f[2], f[3], outcome, answer["verdict"], answer["rule"], "; ".join(answer["uncertain"]))
             for f, outcome, answer in disagreements]
    assert disagreements == [], "ruleset:\n%s\ndisagreements:\n%s" % (text, "\n".join(lines))
