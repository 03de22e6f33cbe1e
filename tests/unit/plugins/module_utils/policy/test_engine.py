"""The exact engine: set algebra checked against brute force on small spaces, first-match
evaluation, uncertainty, and the differential (plugins/module_utils/policy/)."""
import ipaddress
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.emailsec.hes.plugins.module_utils.policy import engine, space
from ansible_collections.emailsec.hes.plugins.module_utils.policy.gate import check_plan, judge
from ansible_collections.emailsec.hes.plugins.module_utils.policy.model import Chain, Path, Policy, Rule, Stage


# ---------------------------------------------------------------- interval sets

small_sets = st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), max_size=5).map(space.iv_from_pairs)


def values(ivs):
    return {v for low, high in ivs for v in range(low, high + 1)}


@settings(max_examples=300, deadline=None)
@given(small_sets, small_sets)
def test_interval_set_algebra_matches_python_sets(a, b):
    assert values(space.iv_intersect(a, b)) == values(a) & values(b)
    assert values(space.iv_subtract(a, b)) == values(a) - values(b)
    assert values(space.iv_union(a, b)) == values(a) | values(b)
    assert space.iv_overlaps(a, b) == bool(values(a) & values(b))
    assert space.iv_covers(a, b) == (values(b) <= values(a))
    for result in (space.iv_intersect(a, b), space.iv_subtract(a, b), space.iv_union(a, b)):
        assert list(result) == sorted(result)
        assert all(x[1] + 1 < y[0] for x, y in zip(result, result[1:])), "not normalized: %r" % (result,)


# ---------------------------------------------------------------- cubes and regions on a tiny space

def tiny_cube(src, dst, dport):
    """A v4 cube constrained in three dimensions (the others full)."""
    return space.make_cube(4, src=src, dst=dst, dport=dport)


tiny_cubes = st.builds(tiny_cube, small_sets.filter(bool), small_sets.filter(bool), small_sets.filter(bool))
tiny_regions = st.lists(tiny_cubes, max_size=4)


def points(region):
    out = set()
    for cube in region:
        for s, d, p in itertools.product(values(cube[space.SRC]), values(cube[space.DST]), values(cube[space.DPORT])):
            out.add((s, d, p))
    return out


@settings(max_examples=200, deadline=None)
@given(tiny_regions, tiny_regions)
def test_region_algebra_matches_brute_force(a, b):
    assert points(space.region_intersect(a, b)) == points(a) & points(b)
    assert points(space.region_subtract(a, b)) == points(a) - points(b)
    assert points(space.region_union(a, b)) == points(a) | points(b)
    assert space.region_covers(a, b) == (points(b) <= points(a))
    difference = space.region_subtract(a, b)
    flow = space.witness(difference)
    if points(a) - points(b):
        assert (flow[space.SRC], flow[space.DST], flow[space.DPORT]) in points(a) - points(b)
    else:
        assert flow is None


# ---------------------------------------------------------------- first match

def net(text):
    return space.address_sets([ipaddress.ip_network(text)])


ANY = space.any_addresses()
MAIL = net("203.0.113.25/32")
RANGES = net("198.51.100.0/24")
TCP = space.interval(6, 6)
P25 = space.interval(25, 25)


def rule(key, action, sources=None, destinations=None, protocols=None, dport=None, sport=None, **kw):
    return Rule(key, key, action, space.match_cubes(sources or ANY, destinations or ANY, protocols, sport, dport),
                **kw)


def flow(src, dst="203.0.113.25", dport=25, sport=40000, proto=6):
    return space.make_flow(src, dst, proto, sport, dport)


def test_first_match_and_default():
    path = Path.single("outside", [
        rule("deny-one", "deny", net("192.0.2.7/32"), MAIL, TCP, P25),
        rule("smtp", "permit", ANY, MAIL, TCP, P25),
    ])
    assert engine.evaluate_flow(path, flow("192.0.2.7"))["verdict"] == "deny"
    assert engine.evaluate_flow(path, flow("192.0.2.8"))["verdict"] == "permit"
    assert engine.evaluate_flow(path, flow("192.0.2.8", dport=26))["verdict"] == "deny"
    assert engine.evaluate_flow(path, flow("192.0.2.8"))["may"].trail[0].key == "smtp"


def test_partial_deny_above_a_broad_permit_is_not_taken_for_a_full_one():
    # A deny of one source port above a broader permit leaves every other source port open.
    path = Path.single("outside", [
        rule("deny-sport", "deny", ANY, MAIL, TCP, P25, sport=space.interval(1234, 1234)),
        rule("permit-ip", "permit", ANY, MAIL),
    ])
    found = engine.leaks(path, RANGES, MAIL)
    assert [f.rule.key for f in found] == ["permit-ip"]
    assert found[0].witness[space.SPORT] != 1234
    assert engine.evaluate_flow(path, found[0].witness)["verdict"] == "permit"


def test_uncertain_rules_count_against_us():
    # A time-ranged deny cannot be relied on (Q1), and a time-ranged permit cannot either (Q2).
    timed_deny = rule("deny-night", "deny", ANY, MAIL, TCP, P25, uncertain=["time-range night"])
    timed_deny.match_min = []
    permit = rule("smtp", "permit", ANY, MAIL, TCP, P25)
    path = Path.single("outside", [timed_deny, permit])
    assert engine.leaks(path, RANGES, MAIL), "a time-ranged deny must not hide the permit below"
    assert engine.blocked(path, RANGES, MAIL), "the ranges are not surely admitted"
    assert engine.evaluate_flow(path, flow("198.51.100.7"))["verdict"] == "uncertain"


def test_stages_accept_goes_on_drop_is_final():
    first = Stage("a", "a", [Chain("a", [rule("a-accept", "permit")])], "permit")
    second = Stage("b", "b", [Chain("b", [rule("b-drop", "deny", ANY, MAIL, TCP, P25)])], "permit")
    path = Path("input", [first, second])
    assert engine.evaluate_flow(path, flow("192.0.2.1"))["verdict"] == "deny"
    assert engine.evaluate_flow(path, flow("192.0.2.1", dport=80))["verdict"] == "permit"


def test_jump_return_and_goto():
    smtp = Chain("smtp", [rule("ranges-ok", "permit", RANGES), rule("back", "return", net("192.0.2.0/24")),
                          rule("drop-rest", "deny")])
    entry = Chain("entry", [rule("to-smtp", "jump", ANY, MAIL, TCP, P25, target="smtp"),
                            rule("after", "deny", net("192.0.2.0/24"))])
    path = Path("input", [Stage("input", "entry", [entry, smtp], "permit")])
    assert engine.evaluate_flow(path, flow("198.51.100.9"))["verdict"] == "permit"
    assert engine.evaluate_flow(path, flow("192.0.2.9"))["may"].trail[-1].key == "after"
    assert engine.evaluate_flow(path, flow("203.0.113.99", dst="203.0.113.25"))["may"].trail[-1].key == "drop-rest"


# ---------------------------------------------------------------- differential and gate

def policy(rules):
    return Policy("test", [Path.single("outside", rules)])


def test_differential_of_the_hardening_is_exactly_the_expected_change():
    before = policy([rule("smtp-any", "permit", ANY, MAIL, TCP, P25), rule("web", "permit", ANY, MAIL, TCP, space.interval(443, 443))])
    after = policy([rule("smtp-hes", "permit", RANGES, MAIL, TCP, P25), rule("web", "permit", ANY, MAIL, TCP, space.interval(443, 443))])
    gate = check_plan(before, after, ["outside"], RANGES, MAIL)
    assert gate["ok"], gate["refusals"]
    assert gate["differential"] == ("verdict changes: TCP/25 from outside the ranges to 203.0.113.25: "
                                    "allow -> deny; other flows: none")


def test_rewriting_a_broad_rule_is_refused_with_a_witness():
    # The outage of the reviewers' report: a rule carrying HTTPS and SSH rewritten to the ranges.
    before = policy([rule("all-to-mail", "permit", ANY, MAIL)])
    after = policy([rule("all-to-mail-hes", "permit", RANGES, MAIL)])
    gate = check_plan(before, after, ["outside"], RANGES, MAIL)
    assert not gate["ok"]
    witness = [c for c in gate["changes"] if c["kind"] == "unexpected"][0]
    assert witness["witness"]["port"] != 25 or witness["witness"]["protocol"] != 6
    assert "all-to-mail" in gate["refusals"][0]


def test_a_broader_permit_below_keeps_smtp_open_and_is_refused():
    before = policy([rule("smtp-any", "permit", ANY, MAIL, TCP, P25), rule("all", "permit", ANY, MAIL)])
    after = policy([rule("smtp-hes", "permit", RANGES, MAIL, TCP, P25), rule("all", "permit", ANY, MAIL)])
    gate = check_plan(before, after, ["outside"], RANGES, MAIL)
    assert not gate["ok"]
    assert gate["differential"].startswith("verdict changes: none")
    assert any(r.startswith("after the plan: all admits TCP/25") for r in gate["refusals"]), gate["refusals"]
    verdict = judge(after, ["outside"], RANGES, MAIL)
    assert verdict["leaks"][0]["rule"] == "all"


def test_changed_region_is_the_union_of_changed_rules_only():
    common = [rule("r%d" % i, "permit", ANY, net("192.0.2.%d/32" % i), TCP, space.interval(80, 80)) for i in range(20)]
    before = Path.single("outside", common + [rule("smtp-any", "permit", ANY, MAIL, TCP, P25)])
    after = Path.single("outside", common + [rule("smtp-hes", "permit", RANGES, MAIL, TCP, P25)])
    region, note = engine.changed_region(before, after)
    assert note is None
    assert space.region_covers(space.match_cubes(ANY, MAIL, TCP, None, P25), region)
    reordered = Path.single("outside", list(reversed(common)) + [rule("smtp-hes", "permit", RANGES, MAIL, TCP, P25)])
    region, note = engine.changed_region(before, reordered)
    assert "order" in note


def test_uncertain_rules_in_the_change_are_enumerated():
    timed = rule("timed-deny", "deny", net("192.0.2.0/24"), MAIL, TCP, P25, uncertain=["time-range t"])
    timed.match_min = []
    before = policy([timed, rule("smtp-any", "permit", ANY, MAIL, TCP, P25)])
    after = policy([timed, rule("smtp-hes", "permit", RANGES, MAIL, TCP, P25)])
    findings, note = engine.differential(before.paths["outside"], after.paths["outside"])
    assert findings and all(f.before[0] == "permit" and f.after[0] == "deny" for f in findings)
    gate = check_plan(before, after, ["outside"], RANGES, MAIL)
    # The time-ranged deny may be off: nothing refuses for it after the plan, but it may block
    # nothing of the ranges either, so the gate is clean.
    assert gate["ok"], gate["refusals"]


def test_other_ports_expected_open_are_judged_from_client_source_ports_and_closed_ones_from_every_port():
    """pfSense blocks source port 0 before any user rule: HTTPS from the ranges is still open to
    every real client. A port expected closed stays judged over every source port (an attacker
    picks them), so a rule that opens it to source port 53 only is still caught."""
    from ansible_collections.emailsec.hes.plugins.module_utils.policy.verify import plan_verification

    zero = space.interval(0, 0)
    rules = [rule("block-port-0", "deny", ANY, ANY, TCP, None, sport=zero),
             rule("smtp", "permit", RANGES, MAIL, TCP, P25),
             rule("https", "permit", ANY, MAIL, TCP, space.interval(443, 443)),
             rule("dns-trick", "permit", ANY, MAIL, TCP, space.interval(8080, 8080), sport=space.interval(53, 53))]
    planned = plan_verification(policy(rules), ["outside"], [ipaddress.ip_network("198.51.100.0/24")], MAIL,
                                other_ports={443: "allow", 8080: "deny"})
    by_port = {row["port"]: row for row in planned["other_ports"]}
    assert by_port[443]["ok"] and by_port[443]["engine"] == ["allow"]
    assert not by_port[8080]["ok"] and "allow" in by_port[8080]["engine"]
