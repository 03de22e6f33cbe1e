"""Property-based fuzzing of every input of the nftables table (plugins/module_utils/nftables/
plan.py and render.py) other than the ranges' guard: interface names, file paths (the ruleset
file, the boot configuration, the nft binary), ports, priority, destinations, internal sources.

The property, for any input: either the table renders, or NftablesError / RangeError names the
bad value; never another exception, and never a rendered ruleset that gains a statement from a
value. The oracles are the rules (the kernel's dev_valid_name() for interface names; Unicode
categories and the characters nft's include and glob give meaning to, for paths; the grammar of
the one table we write, for the rendered text) and nft itself (``nft -c`` checks a sample of the
rendered files), not the code under test.
"""
import ipaddress
import re
import shutil
import subprocess

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st

from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import RangeError
from ansible_collections.emailsec.hes.plugins.module_utils.nftables import plan, render
from ansible_collections.emailsec.hes.plugins.module_utils.nftables.parse import NftablesError
from ansible_collections.emailsec.hes.plugins.modules.nftables_hes import conf_with_include, include_line
from ansible_collections.emailsec.hes.tests.unit.fuzz_inputs import (
    NOT_TEXT,
    any_values,
    bounded,
    breaking_characters,
    check_validator,
    names_value,
    with_examples,
)

NFT = shutil.which("nft", path="/usr/sbin:/sbin:/usr/bin")
RANGES = ["18.208.22.64/26", "150.70.149.0/27", "2a00:1e8::/32"]


# --- interface names: the kernel's dev_valid_name() -------------------------------------------
def kernel_accepts_interface(name):
    """net/core/dev.c dev_valid_name(): 1-15 bytes, not '.' or '..', no '/', ':' or whitespace
    (C isspace), no NUL."""
    raw = name.encode("utf-8", "surrogatepass")
    return (0 < len(raw) < 16 and name not in (".", "..") and b"\x00" not in raw
            and not any(c in raw for c in b"/: \t\n\x0b\x0c\r"))


@bounded(300)
@with_examples("value", ["eth0", "eth0:1", ".", "..", "a" * 15, "a" * 16, "eth0\n", "lo ", "br/0", "\u00e9th0",
                         "eth0\x00", ["eth0"], 0, "x\u2028"])
@given(value=st.one_of(any_values("eth0123._-@+:", 20), st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True)))
def test_fuzz_check_interface(value):
    unset = value is None or value == ""
    accepted, returned = check_validator(
        lambda v: plan.check_interface(v, "inbound_interface"), value, NftablesError, "inbound_interface: ",
        legal=unset or isinstance(value, str) and kernel_accepts_interface(value),
        plain=isinstance(value, str) and re.fullmatch(r"[a-z][a-z0-9]{0,14}", value))
    assert returned == (value if accepted and not unset else None)


# --- file paths: include "<path>" in nftables.conf, and a file name ---------------------------
PATH_META = set('"\\*?[]')


def path_rule(value):
    """An absolute path that is one line everywhere and that nft's include reads literally."""
    return (isinstance(value, str) and value.startswith("/") and not breaking_characters(value)
            and not PATH_META & set(value))


@bounded(300)
@with_examples("value", ["/etc/nftables.d/emailsec_hes.nft", '/tmp/x"\ninclude "/tmp/evil', "/tmp/x\u2028y",
                         "/tmp/x\x85y", "/tmp/*.nft", "/tmp/[a].nft", "relative.nft", "", "/", "/../../etc/x",
                         "/tmp/\udc80", None, ["/etc/x"], "/tmp/x\\y"])
@given(value=st.one_of(any_values("/abc._-", 40), st.from_regex(r"/[a-z0-9_./-]{1,30}", fullmatch=True)))
def test_fuzz_check_file_path(value):
    accepted, returned = check_validator(
        lambda v: plan.check_file_path(v, "path"), value, NftablesError, "path: ", legal=path_rule(value),
        plain=isinstance(value, str) and re.fullmatch(r"/[a-z0-9_./-]*", value))
    if not accepted:
        return
    assert returned == value
    # The include line is one line, and adding it is idempotent and undone by removing it.
    conf = "#!/usr/sbin/nft -f\nflush ruleset\ninclude \"/etc/nftables.d/other.nft\"\n"
    line = include_line(value)
    assert len(line.splitlines()) == 1
    added = conf_with_include(conf, value, True)
    assert added.splitlines()[:3] == conf.splitlines() and added.splitlines()[3:] == [line], added
    assert conf_with_include(added, value, True) == added
    assert conf_with_include(added, value, False) == conf


# --- ports and priority -----------------------------------------------------------------------
def port_rule(value):
    """A TCP port: an integer 1-65535, or its decimal digits."""
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,5}", value):
        value = int(value)
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535


@bounded(300)
@example(ports=[25.7])
@example(ports=["\u0662\u0665"])
@example(ports=["2_5"])
@example(ports=[" 25\n"])
@example(ports=[True])
@example(ports="25")
@given(ports=st.one_of(
    st.lists(st.one_of(st.integers(-5, 70000), st.sampled_from([25, 587, 465]), st.sampled_from(NOT_TEXT),
                       st.sampled_from(["25", "587", "0", "65536", "25\n", " 25", "+25", "2_5", "\u0662\u0665", "1e3",
                                        "smtp", "25.0"]), st.floats(1, 65535)), max_size=4),
    st.sampled_from(NOT_TEXT[:7])))
def test_fuzz_check_ports(ports):
    try:
        accepted = render.check_ports(ports)
    except NftablesError as exc:
        message = str(exc)
        assert message.startswith("ports"), message
        bad = [p for p in ports if not port_rule(p)] if isinstance(ports, list) else [ports]
        assert not bad or any(names_value(message, p) for p in bad) or "at least one" in message, message
        assert bad or not ports, "refused %r: %s" % (ports, message)
        return
    assert isinstance(ports, list) and ports and all(port_rule(p) for p in ports), "%r was accepted" % (ports,)
    assert accepted == sorted(set(int(p) for p in ports))


PRIORITY = re.compile(r"-?[0-9]+|(?:raw|mangle|dstnat|filter|security|srcnat)(?: [+-] [0-9]+)?")


@bounded(300)
@with_examples("value", ["\u0663", "filter + \u0663", "filter\n", "filter - 10", "-10", " 5 ", "filter;accept",
                         "filter + 1; policy drop", 10 ** 40, True, None, 1.5])
@given(value=st.one_of(any_values("filter+- 0123", 20), st.integers(-1000, 1000),
                       st.from_regex(r"(raw|mangle|dstnat|filter|security|srcnat)( [+-] [0-9]{1,3})?", fullmatch=True)))
def test_fuzz_parse_priority(value):
    try:
        text, number = render.parse_priority(value)
    except NftablesError as exc:
        assert names_value(str(exc), value), str(exc)
        return
    assert PRIORITY.fullmatch(text), "priority %r renders as %r" % (value, text)
    assert isinstance(number, int) and not isinstance(number, bool)


# --- the rendered table never gains a statement from a value ----------------------------------
CIDR = r"[0-9a-f.:]+/[0-9]{1,3}"
PORTS = r"(?:[0-9]+|\{ [0-9]+(?:, [0-9]+)+ \})"
SET = r"@hes_(?:dst_|internal_)?v[46]"
FAMILY = r"ip6?"
DENY = r"counter (?:drop|reject with tcp reset)"
RULES = [re.compile(r'iifname "lo" accept'),
         re.compile(r"tcp dport %s(?: %s daddr %s)?(?: %s saddr %s accept| %s)" % (PORTS, FAMILY, SET, FAMILY, SET, DENY))]
LINES = [re.compile(p) for p in (
    r"# .*", r"", r"table inet emailsec_hes", r"delete table inet emailsec_hes", r"table inet emailsec_hes \{",
    r"\tset hes_(?:dst_|internal_)?v[46] \{", r"\t\ttype ipv[46]_addr", r"\t\tflags interval", r"\t\tauto-merge",
    r"\t\telements = \{ %s(?:, %s)*(?:,| \})" % (CIDR, CIDR), r"\t\t\t     %s(?:, %s)*(?:,| \})" % (CIDR, CIDR),
    r"\t\}", r"\}", r"\tchain hes_smtp \{",
    r"\t\ttype filter hook (?:input|forward) priority (?:%s); policy accept;" % PRIORITY.pattern)]


def check_rendered(text, wanted_elements):
    """Every line one of the forms our table has; the set elements exactly the wanted networks."""
    for line in text.split("\n"):
        if line.startswith("\t\t") and not re.match(r"\t\t(?:type|flags|auto-merge|elements|\t)", line):
            assert any(r.fullmatch(line[2:]) for r in RULES), "rule line %r" % line
        else:
            assert any(r.fullmatch(line) for r in LINES), "line %r" % line
    assert text.count("\n") == len(text.splitlines()), "a line break other than \\n"
    elements = re.findall(CIDR, "\n".join(line for line in text.split("\n") if "elements" in line or "     " in line))
    assert sorted(elements) == sorted(wanted_elements), (elements, wanted_elements)


VALID_ADDRESSES = st.one_of(
    st.sampled_from(["203.0.113.25", "203.0.113.0/28", "2001:db8::25", " 203.0.113.26 ", "203.0.113.25/24",
                     "10.20.0.0/24", "fd00:20::/64", "18.208.22.64/26", "2a00:1e8::/32"]),
    st.tuples(st.integers(1, 223), st.integers(0, 255), st.integers(0, 255), st.integers(16, 32)).map(
        lambda t: "%d.%d.%d.0/%d" % t))
HOSTILE_ADDRESSES = st.one_of(
    st.sampled_from(["203.0.113.25\n", '2a00::%x"; flush ruleset; "/128', "fe80::1%eth0", "203.0.113.25 #",
                     "203.0.113.25}", "0x7f.1", 5, None, ["203.0.113.25"], "::ffff:1.2.3.4", "1.2.3.4/33"]),
    any_values("0123456789abcdef.:/% "))


@st.composite
def table_arguments(draw, hostile=True):
    """The arguments of desired_table, valid, and with ``hostile`` in about half the examples one
    of them bad."""
    addresses = st.lists(VALID_ADDRESSES, max_size=3)
    arguments = draw(st.fixed_dictionaries({
        "ranges": st.one_of(st.just(RANGES), addresses.filter(bool)),
        "destinations": addresses,
        "internal_sources": st.one_of(st.just(None), addresses),
        "ports": st.lists(st.one_of(st.integers(1, 65535), st.sampled_from([25, 465, 587])), min_size=1, max_size=3),
        "priority": st.one_of(st.integers(-400, 400), st.from_regex(
            r"(raw|mangle|dstnat|filter|security|srcnat)( [+-] [0-9]{1,2})?", fullmatch=True)),
        "hook": st.sampled_from(["input", "forward"]),
        "action": st.sampled_from(["drop", "reject"]),
    }))
    if arguments["hook"] == "forward" and not arguments["destinations"]:
        arguments["hook"] = "input"
    if hostile and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(arguments)))
        if key in ("ranges", "destinations", "internal_sources", "ports"):
            bad = HOSTILE_ADDRESSES if key != "ports" else st.sampled_from([0, "25", True, 70000, 25.5, "\u0662\u0665"])
            items = list(arguments[key] or [])
            items.insert(draw(st.integers(0, len(items))), draw(bad))
            arguments[key] = items
        else:
            arguments[key] = draw(st.sampled_from({
                "priority": ["filter;", "\u0665", "filter + 1; policy drop", 1.5, None],
                "hook": ["output", "input\n", None, "forward"],
                "action": ["accept", "drop;", "", None]}[key]))
    return arguments


def canonical(entries):
    """What each entry means, by the rule: an IPv4/IPv6 address or CIDR in ASCII, host bits
    cleared; None when the entry is no such thing."""
    nets = []
    for entry in entries or []:
        if not isinstance(entry, str) or not re.fullmatch(r"[0-9A-Fa-f.:]+(?:/[0-9]{1,3})?", entry.strip()):
            return None
        try:
            nets.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            return None
    return nets


def render_or_error(arguments):
    try:
        model = render.desired_table(**arguments)
        return render.render_ruleset_file(model, render.parse_priority(arguments["priority"])[0]), None
    except (NftablesError, RangeError) as exc:
        return None, str(exc)


@bounded(300)
@example(arguments={"ranges": RANGES, "destinations": ['2a00::%x"; flush ruleset; "/128'], "internal_sources": None,
                    "ports": [25], "priority": -10, "hook": "forward", "action": "drop"})
@example(arguments={"ranges": RANGES, "destinations": [5], "internal_sources": None, "ports": [25], "priority": -10,
                    "hook": "forward", "action": "drop"})
@example(arguments={"ranges": RANGES, "destinations": None, "internal_sources": None, "ports": [25],
                    "priority": "\u0665", "hook": "input", "action": "drop"})
@given(arguments=table_arguments())
def test_fuzz_rendered_table(arguments):
    text, error = render_or_error(arguments)
    event("refused" if error else "rendered")
    meaning = [canonical(arguments[key]) for key in ("ranges", "destinations", "internal_sources")]
    if error is not None:
        values = [arguments[k] for k in ("hook", "action", "priority")] + list(arguments["ports"])
        values += [e for key in ("ranges", "destinations", "internal_sources") for e in arguments[key] or []]
        assert any(names_value(error, v) for v in values) or "destinations is empty" in error, error
        return
    assert None not in meaning, "an entry that is no address was rendered: %r" % (arguments,)
    assert arguments["hook"] in ("input", "forward") and arguments["action"] in ("drop", "reject")
    wanted = []
    for nets in meaning:
        for version in (4, 6):
            wanted += [str(n) for n in ipaddress.collapse_addresses(n for n in nets if n.version == version)]
    check_rendered(text, wanted)


@pytest.fixture(scope="module")
def nft_check(tmp_path_factory):
    if not NFT:
        pytest.fail("nft is not installed: run make setup as root (it installs Debian's nftables)")
    path = tmp_path_factory.mktemp("nft") / "ruleset.nft"

    def check(text):
        path.write_text(text, encoding="utf-8")
        done = subprocess.run([NFT, "-c", "-f", str(path)], capture_output=True, text=True, check=False)
        return done.returncode, done.stderr

    return check


@bounded(40)
@given(arguments=table_arguments(hostile=False))
def test_fuzz_nft_accepts_every_rendered_table(nft_check, arguments):
    """What renders, nft itself parses and checks (``nft -c``: no kernel change). The one thing
    left to nft is which priority names a hook takes (nft(8): dstnat only at prerouting, srcnat
    only at postrouting, so neither at input or forward)."""
    text, error = render_or_error(arguments)
    event("refused" if error else "checked by nft")
    if error is None:
        rc, stderr = nft_check(text)
        nat_name = str(arguments["priority"]).split(" ", maxsplit=1)[0] in ("dstnat", "srcnat")
        assert rc == 0 or (nat_name and "invalid priority expression value in this context" in stderr
                           and stderr.count("Error:") == 1), "nft -c refused:\n%s\n%s" % (stderr, text)
        assert rc != 0 or not nat_name, "nft took %r at hook %s" % (arguments["priority"], arguments["hook"])
