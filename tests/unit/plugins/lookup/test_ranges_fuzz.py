"""Property-based fuzzing of every way ranges enter: the lookup (explicit list, file, URL, SPF) and
`guard_ranges`, the guard every module calls.

The property, for any input: either valid public ranges come back, or the documented error
(AnsibleError from the lookup, RangeError from the guard) names the culprit; never another
exception, and never a range that the IANA registries say must be refused. "Must be refused" is
decided by the oracle below, written from the registries themselves and not from the code under
test. Runs are bounded (max_examples) and derandomized by default, so the suite stays fast and
stable; HES_FUZZ_EXPLORE=1 runs ten times as many random examples.
"""
import ipaddress
import json
import re

import pytest
from ansible.errors import AnsibleError
from ansible.plugins.loader import lookup_loader
from hypothesis import event, given
from hypothesis import strategies as st

from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import RangeError, guard_ranges
from ansible_collections.emailsec.hes.tests.unit.fuzz_inputs import bounded
from ansible_collections.emailsec.hes.tests.unit.local_servers import DnsServer, HttpsServer

# --- the oracle -------------------------------------------------------------------------------
# IANA IPv4 Special-Purpose Address Registry, IANA IPv6 Special-Purpose Address Registry, the
# multicast blocks (IANA multicast registries), and IPv6 global unicast (IANA IPv6 Address Space:
# only 2000::/3 is allocated for it). Transcribed from the registries, one "block  name" per line.
IANA_SPECIAL_PURPOSE = """
0.0.0.0/8           this host on this network
0.0.0.0/32          this host on this network
10.0.0.0/8          private-use
100.64.0.0/10       shared address space
127.0.0.0/8         loopback
169.254.0.0/16      link local
172.16.0.0/12       private-use
192.0.0.0/24        IETF protocol assignments
192.0.0.0/29        IPv4 service continuity prefix
192.0.0.8/32        IPv4 dummy address
192.0.0.9/32        port control protocol anycast
192.0.0.10/32       TURN anycast
192.0.0.170/32      NAT64/DNS64 discovery
192.0.0.171/32      NAT64/DNS64 discovery
192.0.2.0/24        documentation TEST-NET-1
192.31.196.0/24     AS112-v4
192.52.193.0/24     AMT
192.88.99.0/24      deprecated 6to4 relay anycast
192.168.0.0/16      private-use
192.175.48.0/24     direct delegation AS112 service
198.18.0.0/15       benchmarking
198.51.100.0/24     documentation TEST-NET-2
203.0.113.0/24      documentation TEST-NET-3
240.0.0.0/4         reserved
255.255.255.255/32  limited broadcast
224.0.0.0/4         multicast
::1/128             loopback
::/128              unspecified
::ffff:0:0/96       IPv4-mapped
64:ff9b::/96        IPv4-IPv6 translation
64:ff9b:1::/48      IPv4-IPv6 translation, local use
100::/64            discard-only
100:0:0:1::/64      dummy IPv6 prefix
2001::/23           IETF protocol assignments
2001::/32           Teredo
2001:1::1/128       port control protocol anycast
2001:1::2/128       TURN anycast
2001:1::3/128       DNS-SD SRP anycast
2001:2::/48         benchmarking
2001:3::/32         AMT
2001:4:112::/48     AS112-v6
2001:10::/28        deprecated ORCHID
2001:20::/28        ORCHIDv2
2001:30::/28        drone remote ID entity tags
2001:db8::/32       documentation
2002::/16           6to4
2620:4f:8000::/48   direct delegation AS112 service
3fff::/20           documentation
5f00::/16           SRv6 SIDs
fc00::/7            unique-local
fe80::/10           link-local unicast
ff00::/8            multicast
"""
# No TCP connection comes from these (RFC 1122, RFC 4291): refused even with allow_reserved.
NO_SOURCE_BLOCKS = """
0.0.0.0/8
224.0.0.0/4
255.255.255.255/32
::/128
::ffff:0:0/96
ff00::/8
"""


def _spans(text):
    spans = []
    for line in text.strip().splitlines():
        net = ipaddress.ip_network(line.split()[0])
        spans.append((net.version, int(net.network_address), int(net.broadcast_address)))
    return spans


SPECIAL_SPANS = _spans(IANA_SPECIAL_PURPOSE)
NO_SOURCE_SPANS = _spans(NO_SOURCE_BLOCKS)
GLOBAL_UNICAST_V6 = (int(ipaddress.IPv6Address("2000::")), int(ipaddress.IPv6Address("3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")))


def _touches(net, spans):
    first, last = int(net.network_address), int(net.broadcast_address)
    return any(version == net.version and lo <= last and first <= hi for version, lo, hi in spans)


def must_refuse(net, allow_reserved, max_prefix, max_prefix_v6):
    """True when the guards must not let ``net`` through: too broad, no possible source, or special space."""
    if net.prefixlen < (max_prefix if net.version == 4 else max_prefix_v6):
        return True
    if _touches(net, NO_SOURCE_SPANS):
        return True
    if allow_reserved:
        return False
    if _touches(net, SPECIAL_SPANS):
        return True
    if net.version == 6:
        return not (GLOBAL_UNICAST_V6[0] <= int(net.network_address) and int(net.broadcast_address) <= GLOBAL_UNICAST_V6[1])
    return False


def prefix_option_ok(value, floor, bits):
    if isinstance(value, str) and value.isdigit() and value.isascii() and len(value) <= 3:
        value = int(value)
    return isinstance(value, int) and not isinstance(value, bool) and floor <= value <= bits


# Ansible booleans (ansible.module_utils.parsing.convert_bool) and what they mean.
TRUTH = {True: True, False: False, "yes": True, "false": False, "No": False, "on": True, "1": True, "0": False}
NOT_BOOLEAN = ["maybe", "", None, 2, "falsch"]


# --- inputs -----------------------------------------------------------------------------------
class Entry(object):
    """A generated entry: its raw value and what it means, when the generator knows (else None)."""

    def __init__(self, raw, network=None, known=True):
        self.raw = raw
        self.network = network  # an ipaddress network when the entry is a valid range
        self.known = known      # False: junk whose validity only the parser can say

    def __repr__(self):
        return "Entry(%r)" % (self.raw,)


SPECIAL_NETWORKS = [ipaddress.ip_network(line.split()[0]) for line in IANA_SPECIAL_PURPOSE.strip().splitlines()]


def weighted(*choices):
    """One of the strategies, each drawn about in proportion to its weight."""
    return st.sampled_from([strategy for weight, strategy in choices for unused in range(weight)]).flatmap(
        lambda strategy: strategy)


@st.composite
def near(draw, block):
    """A network inside ``block``, around it, or just beside it."""
    bits = block.max_prefixlen
    prefix = draw(weighted((1, st.integers(max(0, block.prefixlen - 4), block.prefixlen)),
                           (4, st.integers(block.prefixlen, min(bits, block.prefixlen + 40)))))
    offset = draw(st.integers(-2, 2 ** min(prefix - block.prefixlen, 64) + 1 if prefix > block.prefixlen else 2))
    value = (int(block.network_address) + offset * 2 ** (bits - prefix)) % 2 ** bits
    value &= (2 ** bits - 1) ^ (2 ** (bits - prefix) - 1)
    address = ipaddress.IPv4Address(value) if bits == 32 else ipaddress.IPv6Address(value)
    return ipaddress.ip_network((address, prefix))


@st.composite
def networks(draw):
    """Any network, mostly plausible allow-list entries, often near special-purpose blocks."""
    kind = draw(st.sampled_from(["special"] * 4 + ["public4"] * 5 + ["public6"] * 2 + ["any"]))
    if kind == "special":
        return draw(near(draw(st.sampled_from(SPECIAL_NETWORKS))))
    if kind == "public4":
        octets = draw(st.tuples(st.integers(1, 223), st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)))
        bits, prefix, value = 32, draw(st.integers(14, 32)), int(ipaddress.IPv4Address(".".join(map(str, octets))))
    elif kind == "public6":
        bits, prefix = 128, draw(st.integers(28, 128))
        value = (draw(st.integers(0x2400, 0x2c00)) << 112) | draw(st.integers(0, 2 ** 112 - 1))
    else:
        bits = draw(st.sampled_from([32, 128]))
        prefix, value = draw(st.integers(0, bits)), draw(st.integers(0, 2 ** bits - 1))
    value &= (2 ** bits - 1) ^ (2 ** (bits - prefix) - 1)
    address = ipaddress.IPv4Address(value) if bits == 32 else ipaddress.IPv6Address(value)
    return ipaddress.ip_network((address, prefix))


@st.composite
def valid_entries(draw):
    net = draw(networks())
    forms = ["%s" % net]
    if net.prefixlen == net.max_prefixlen:
        forms += ["%s" % net.network_address, "host %s" % net.network_address]
    if net.version == 4:
        forms.append("%s %s" % (net.network_address, net.netmask))
    text = draw(st.sampled_from(forms))
    pad = draw(st.sampled_from(["", " ", "\t", "  "]))
    return Entry(pad + text + pad, net)


@st.composite
def host_bit_entries(draw):
    net = draw(networks())
    if net.prefixlen == net.max_prefixlen:
        return Entry(str(net), net)
    offset = draw(st.integers(1, min(net.num_addresses - 1, 2 ** 32)))
    return Entry("%s/%d" % (net.network_address + offset, net.prefixlen), None)


# Seeds from the review and from earlier fuzz runs; every one must be refused.
NASTY = [
    "", " ", "ip4", "1.2.3.4/33", "1.2.3.4/abc", "1.2.3.4/-1", "01.2.3.4/32", "1.2.3", "1.2.3.4.5",
    "256.1.1.1", "1.2.3.0 255.0.255.0", "1.2.3.0/24 255.255.255.0", "host 1.2.3.0/24", "host",
    "2a00::%eth0/32", "2a00::%x\x00y/32", "fe80::1%1", "2a00:::/32", "2a00::/129", "::/0", "0.0.0.0/0",
    "\ufeff18.208.22.64/26", "18.208.22.64/26 # x", "18.208.22.64/ 26",
    "[2a00::]/32", "１８.208.22.64/26", "18.208.22.64\u2028/26",
]


def junk_entries():
    texts = st.one_of(
        st.sampled_from(NASTY),
        st.text(max_size=40),
        st.text(alphabet="0123456789abcdef.:/% \t", max_size=45),
    )
    return st.one_of(texts.map(lambda t: Entry(t, None, known=False)),
                     st.one_of(st.integers(), st.none(), st.booleans(), st.lists(st.integers(), max_size=2),
                               st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)).map(
                         lambda v: Entry(v, None, known=False)))


entries_strategy = st.lists(weighted((16, valid_entries()), (1, host_bit_entries()), (1, junk_entries())), max_size=6)
prefix_v4_strategy = weighted((6, st.sampled_from([16, 8, 12, 24])), (1, st.integers(-3, 40)))
prefix_v6_strategy = weighted((6, st.sampled_from([32, 16, 24, 48])), (1, st.integers(-3, 140)))


# --- checks -----------------------------------------------------------------------------------
def check_outcome(entries, result, error, allow_reserved, max_prefix, max_prefix_v6, ip_version,
                  aggregate, name_of, options_ok=True):
    """The property. ``name_of(i)`` is how an error must call entry i (``ranges[3]``, ``line 4``)."""
    if error is not None:
        event("refused: " + re.sub(r"^.*?: (.*?: )?", "", error)[:24])
        check_error(entries, error, allow_reserved, max_prefix, max_prefix_v6, ip_version, aggregate, name_of,
                    options_ok)
        return
    event("accepted")
    assert options_ok, "bad options were accepted: %r" % ((allow_reserved, max_prefix, max_prefix_v6),)
    max_prefix, max_prefix_v6 = int(max_prefix), int(max_prefix_v6)
    assert result, "an empty allow-list came back"
    for text in result:
        assert re.fullmatch(r"[0-9a-f.:]+/[0-9]{1,3}", text), "%r is not a plain CIDR" % text
    outputs = [ipaddress.ip_network(text, strict=True) for text in result]
    assert [str(n) for n in outputs] == result, "output not in canonical CIDR form: %r" % result
    for net in outputs:
        assert not must_refuse(net, allow_reserved, max_prefix, max_prefix_v6), "%s must be refused" % net
    for entry in entries:
        if entry.network is not None:
            assert not must_refuse(entry.network, allow_reserved, max_prefix, max_prefix_v6), (
                "%r was accepted; the registries refuse it" % entry.raw)
        else:
            assert not entry.known, "%r (host bits set) was accepted" % entry.raw
    if all(entry.network is not None for entry in entries):
        wanted = [e.network for e in entries if ip_version == "both" or str(e.network.version) == ip_version]
        for version in (4, 6):
            expected = list(ipaddress.collapse_addresses(n for n in wanted if n.version == version))
            got = list(ipaddress.collapse_addresses(n for n in outputs if n.version == version))
            assert got == expected, "the output is not the input's address set"
        if aggregate:
            assert len(set(outputs)) == len(outputs) == len(list(ipaddress.collapse_addresses(
                n for n in outputs if n.version == 4))) + len(list(ipaddress.collapse_addresses(
                    n for n in outputs if n.version == 6)))


def check_error(entries, message, allow_reserved, max_prefix, max_prefix_v6, ip_version, aggregate, name_of,
                options_ok):
    if not options_ok:
        assert re.search(r"\b(max_prefix|max_prefix_v6|allow_reserved)\b", message), message
        return
    named = [i for i in range(len(entries)) if re.search(re.escape(name_of(i)) + r"(?![0-9\]])", message)]
    if named:
        index = named[0]
        entry = entries[index]
        if entry.network is not None:
            assert must_refuse(entry.network, allow_reserved, int(max_prefix), int(max_prefix_v6)), (
                "%s (%r) is a valid public range, yet: %s" % (name_of(index), entry.raw, message))
            assert str(entry.network) in message, message
        elif isinstance(entry.raw, str) and entry.raw.strip():
            assert repr(entry.raw) in message or entry.raw.strip() in message, message
        return
    wanted = [e.network for e in entries if e.network is not None
              and (ip_version == "both" or str(e.network.version) == ip_version)]
    if "refusing an empty allow-list" in message:
        assert not wanted, message
        return
    assert "aggregate to" in message and aggregate, message
    collapsed = list(ipaddress.collapse_addresses(n for n in wanted if n.version == 4)) + list(
        ipaddress.collapse_addresses(n for n in wanted if n.version == 6))
    assert any(n.prefixlen < (int(max_prefix) if n.version == 4 else int(max_prefix_v6)) for n in collapsed), message


# --- the guard every module calls -------------------------------------------------------------
@bounded(400)
@given(entries=entries_strategy,
       allow_reserved=weighted((8, st.booleans()), (1, st.sampled_from(list(TRUTH) + NOT_BOOLEAN))),
       max_prefix=weighted((8, prefix_v4_strategy), (1, st.sampled_from(["16", "8", "abc", "", None, True, 16.0]))),
       max_prefix_v6=weighted((8, prefix_v6_strategy), (1, st.sampled_from(["32", " 48", "x", None, False]))),
       ip_version=st.sampled_from(["both", "both", "both", "4", "6", 4]),
       aggregate=st.booleans())
def test_fuzz_guard_ranges(entries, allow_reserved, max_prefix, max_prefix_v6, ip_version, aggregate):
    options_ok = (prefix_option_ok(max_prefix, 8, 32) and prefix_option_ok(max_prefix_v6, 16, 128)
                  and allow_reserved in TRUTH and allow_reserved not in NOT_BOOLEAN)
    raw = [e.raw for e in entries]
    try:
        result = guard_ranges(raw, "hes_ranges", allow_reserved=allow_reserved, max_prefix=max_prefix,
                              max_prefix_v6=max_prefix_v6, ip_version=ip_version, aggregate=aggregate)
        error = None
    except RangeError as exc:
        result, error = None, str(exc)
    reserved = TRUTH.get(allow_reserved, False) if options_ok else False
    check_outcome(entries, result, error, reserved, max_prefix if options_ok else 0,
                  max_prefix_v6 if options_ok else 0, str(ip_version), aggregate,
                  lambda i: "hes_ranges[%d]" % i, options_ok)
    if result is not None:
        again = guard_ranges(result, "hes_ranges", allow_reserved=allow_reserved, max_prefix=max_prefix,
                             max_prefix_v6=max_prefix_v6, ip_version=ip_version, aggregate=aggregate)
        assert again == result, "the guard is not idempotent"


@bounded(50)
@given(value=st.one_of(st.text(max_size=20), st.integers(), st.dictionaries(st.text(max_size=3), st.text(max_size=3)),
                       st.none(), st.binary(max_size=8)))
def test_fuzz_guard_ranges_refuses_anything_but_a_list(value):
    with pytest.raises(RangeError, match=r"^hes_ranges: expected a list of ranges, got "):
        guard_ranges(value, "hes_ranges")


@pytest.mark.parametrize("block", SPECIAL_NETWORKS, ids=str)
@bounded(15)
@given(data=st.data(), allow_reserved=st.booleans())
def test_fuzz_guard_agrees_with_the_registries_at_every_block(block, data, allow_reserved):
    """One range at a time, around every registry block: accepted exactly when the oracle allows it."""
    net = data.draw(near(block))
    try:
        guard_ranges([str(net)], "hes_ranges", allow_reserved=allow_reserved, max_prefix=8, max_prefix_v6=16)
        refused = None
    except RangeError as exc:
        refused = str(exc)
        assert refused.startswith("hes_ranges[0]: %s " % net), refused
    assert (refused is not None) == must_refuse(net, allow_reserved, 8, 16), (net, refused)


@bounded(300)
@given(net=networks(), allow_reserved=st.booleans(), max_prefix=st.integers(8, 32), max_prefix_v6=st.integers(16, 128))
def test_fuzz_guard_agrees_with_the_registries_anywhere(net, allow_reserved, max_prefix, max_prefix_v6):
    try:
        guard_ranges([str(net)], "hes_ranges", allow_reserved=allow_reserved, max_prefix=max_prefix,
                     max_prefix_v6=max_prefix_v6)
        refused = None
    except RangeError as exc:
        refused = str(exc)
    assert (refused is not None) == must_refuse(net, allow_reserved, max_prefix, max_prefix_v6), (net, refused)


@pytest.mark.parametrize("text", NASTY)
def test_nasty_seeds_are_refused_and_named(text):
    with pytest.raises(RangeError) as info:
        guard_ranges(["18.208.22.64/26", text], "hes_ranges", max_prefix=8, max_prefix_v6=16)
    assert str(info.value).startswith("hes_ranges[1]: "), str(info.value)
    assert repr(text) in str(info.value) or text.strip() in str(info.value)


# --- the lookup, every source -----------------------------------------------------------------
@pytest.fixture(scope="module")
def lookup():
    plugin = lookup_loader.get("emailsec.hes.ranges")

    def run(**options):
        try:
            return plugin.run([], variables={}, **options), None
        except AnsibleError as exc:
            return None, str(exc)

    return run


lookup_options = st.fixed_dictionaries({
    "allow_reserved": st.booleans(),
    "max_prefix": prefix_v4_strategy,
    "max_prefix_v6": prefix_v6_strategy,
    "ip_version": st.sampled_from(["both", "both", "both", "4", "6"]),
    "aggregate": st.booleans(),
})


def lookup_check(entries, result, error, options, name_of):
    options_ok = prefix_option_ok(options["max_prefix"], 8, 32) and prefix_option_ok(options["max_prefix_v6"], 16, 128)
    if error is not None:
        assert error.startswith("emailsec.hes.ranges: "), error
    check_outcome(entries, result, error, options["allow_reserved"], options["max_prefix"], options["max_prefix_v6"],
                  options["ip_version"], options["aggregate"], name_of, options_ok)


@bounded(300)
@given(entries=entries_strategy, options=lookup_options)
def test_fuzz_lookup_explicit_list(lookup, entries, options):
    result, error = lookup(ranges=[e.raw for e in entries], **options)
    lookup_check(entries, result, error, options, lambda i: "ranges[%d]" % i)


def line_entries(entries):
    """The entries that can stand on a line of their own: strings without newline or comment."""
    return [e for e in entries if isinstance(e.raw, str) and not re.search(r"[\n#]", e.raw) and e.raw.strip()
            and not e.raw.startswith(("\ufeff", "[", "{")) and not e.raw.strip().startswith(("[", "{"))]


@bounded(120)
@given(entries=entries_strategy, options=lookup_options, as_json=st.booleans())
def test_fuzz_lookup_file(lookup, tmp_path_factory, entries, options, as_json):
    path = tmp_path_factory.mktemp("feed") / "hes.txt"
    if as_json:
        path.write_text(json.dumps([e.raw for e in entries]), encoding="utf-8")
        name_of = "file %s item %%d" % path
        result, error = lookup(source="file", path=str(path), **options)
        lookup_check(entries, result, error, options, lambda i: name_of % (i + 1))
        return
    entries = line_entries(entries)
    path.write_text("\n".join(e.raw for e in entries), encoding="utf-8", errors="surrogatepass")
    result, error = lookup(source="file", path=str(path), **options)
    if error is not None and "is not UTF-8 text" in error:
        return  # a lone surrogate from st.text(): not a text file
    lookup_check(entries, result, error, options, lambda i: "file %s line %d" % (path, i + 1))


@pytest.fixture(scope="module")
def feed_server():
    with HttpsServer({}) as server:
        yield server


@bounded(40)
@given(entries=entries_strategy, options=lookup_options)
def test_fuzz_lookup_url(lookup, feed_server, entries, options):
    entries = line_entries(entries)
    body = "\n".join(e.raw for e in entries).encode("utf-8", "surrogatepass")
    path = "/feed-%d" % len(feed_server.hits)
    feed_server.routes[path] = (200, body)
    url = feed_server.url(path)
    result, error = lookup(source="url", url=url, ca_path=feed_server.cert_path, timeout=20, **options)
    if error is not None and "did not return UTF-8 text" in error:
        assert url in error
        return
    lookup_check(entries, result, error, options, lambda i: "url %s line %d" % (url, i + 1))


# --- SPF --------------------------------------------------------------------------------------
TOP = "spf-us.tmes.trendmicro.com"
HOST = "host.fuzz.example"
INCLUDED = "inc.fuzz.example"
# Junk without ':', '/' or '=' can name no address or domain, so whatever the lookup makes of it
# ("a" is a void lookup, "ptr" or "ip4" an error), it authorises nothing.
term_junk = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters='"\\:/='),
                    min_size=1, max_size=14)
CIDR_SUFFIXES = {"": (32, 128), "/24": (24, 128), "/28//64": (28, 64), "//48": (32, 48), "/0": (0, 128)}
BAD_SUFFIXES = ["/33", "/abc", "//129", "/024", ":", ":bad..name", ":%{i}.x", "/"]


@st.composite
def spf_term(draw, host_v4, host_v6, hostile):
    """(term text, what it authorises): a list of networks, "include", "void", "unknown" (junk that
    authorises nothing), or None when the lookup must refuse the whole record. ``hostile`` draws
    only terms that must be refused or junk; otherwise only valid terms."""
    qualifier = draw(st.sampled_from(["", "", "", "", "+", "+", "-", "~", "?"]))
    passes = qualifier in ("", "+")
    if hostile:
        kind = draw(st.sampled_from(["host bits", "family", "suffix", "include", "all", "junk"]))
    else:
        kind = draw(st.sampled_from(["ip"] * 6 + ["a"] * 2 + ["include"]))
    if kind in ("ip", "family"):
        net = draw(networks())
        version = net.version if kind == "ip" else 10 - net.version
        return "%sip%d:%s" % (qualifier, version, net), ([net] if passes else []) if kind == "ip" else None
    if kind == "host bits":
        entry = draw(host_bit_entries())
        if entry.network is not None:  # a /32 or /128 has no host bits to set
            return "%sip%d:%s//" % (qualifier, entry.network.version, entry.network), None
        return "%sip%d:%s" % (qualifier, 6 if ":" in entry.raw else 4, entry.raw), None
    if kind == "suffix":
        return qualifier + "a" + draw(st.sampled_from(["", ":" + HOST])) + draw(st.sampled_from(BAD_SUFFIXES)), None
    if kind == "a":
        target = draw(st.sampled_from(["", ":" + HOST, ":" + HOST]))
        suffix = draw(st.sampled_from(list(CIDR_SUFFIXES)))
        if not passes:
            return qualifier + "a" + target + suffix, []
        if not target:
            return qualifier + "a" + suffix, "void"
        v4_len, v6_len = CIDR_SUFFIXES[suffix]
        nets = [ipaddress.ip_network("%s/%d" % (host_v4, v4_len), strict=False),
                ipaddress.ip_network("%s/%d" % (host_v6, v6_len), strict=False)]
        return qualifier + "a" + target + suffix, nets
    if kind == "include" and not hostile:
        return qualifier + "include:" + INCLUDED, "include" if passes else []
    if kind == "include":
        target = draw(st.sampled_from(["missing.fuzz.example", "", "%{i}.fuzz.example", "bad..example"]))
        if target == "missing.fuzz.example" and not passes:
            return qualifier + "include:" + target, []
        return qualifier + "include:" + target, None
    if kind == "all":
        return qualifier + "all", None if passes else []
    return draw(term_junk), "unknown"


@st.composite
def spf_terms(draw, host_v4, host_v6):
    """Valid terms, and in about one record in three one hostile term among them."""
    terms = draw(st.lists(spf_term(host_v4, host_v6, hostile=False), min_size=1, max_size=4))
    if draw(st.integers(0, 2)) == 0:
        terms.insert(draw(st.integers(0, len(terms))), draw(spf_term(host_v4, host_v6, hostile=True)))
    return terms


@pytest.fixture(scope="module")
def dns_server():
    with DnsServer({}) as server:
        yield server


def txt_rdata(record):
    return " ".join('"%s"' % record[i:i + 200] for i in range(0, max(len(record), 1), 200))


@bounded(150)
@given(data=st.data(), options=lookup_options)
def test_fuzz_lookup_spf(lookup, dns_server, data, options):
    host_v4 = data.draw(networks().map(lambda n: n.network_address if n.version == 4 else ipaddress.IPv4Address(
        int(n.network_address) >> 96)))
    host_v6 = data.draw(st.integers(0, 2 ** 128 - 1).map(ipaddress.IPv6Address))
    included = data.draw(valid_entries())
    terms = data.draw(spf_terms(host_v4, host_v6))
    record = " ".join(["v=spf1"] + [t for t, unused in terms] + ["-all"])
    inc_record = "v=spf1 ip%d:%s -all" % (included.network.version, included.network)
    dns_server.set_records({(TOP, "TXT"): [txt_rdata(record)], (INCLUDED, "TXT"): [txt_rdata(inc_record)],
                            (HOST, "A"): [str(host_v4)], (HOST, "AAAA"): [str(host_v6)]})
    result, error = lookup(site="us", source="spf", dns_server=dns_server.address, timeout=20, **options)
    options_ok = prefix_option_ok(options["max_prefix"], 8, 32) and prefix_option_ok(options["max_prefix_v6"], 16, 128)
    outcomes = [outcome for unused, outcome in terms]
    allowed = []
    for outcome in outcomes:
        if outcome == "include":
            allowed.append(included.network)
        elif isinstance(outcome, list):
            allowed.extend(outcome)
    event(("refused: " + re.sub(r"^.*?: (.*?: )?", "", error)[:40]) if error else "accepted")
    if error is not None:
        assert error.startswith("emailsec.hes.ranges: "), error
        assert re.search(r"\b(spf|max_prefix|max_prefix_v6|source=spf)\b", error), error
        wanted = [n for n in allowed if options["ip_version"] == "both" or str(n.version) == options["ip_version"]]
        must_work = (options_ok and None not in outcomes and "unknown" not in outcomes and outcomes.count("void") <= 2
                     and wanted and not any(must_refuse(n, options["allow_reserved"], options["max_prefix"],
                                                        options["max_prefix_v6"]) for n in allowed)
                     and not any(n.prefixlen < (options["max_prefix"] if n.version == 4 else options["max_prefix_v6"])
                                 for n in ipaddress.collapse_addresses(n for n in wanted if n.version == 4))
                     and not any(n.prefixlen < options["max_prefix_v6"]
                                 for n in ipaddress.collapse_addresses(n for n in wanted if n.version == 6)))
        assert not must_work, "%r was refused: %s" % (record, error)
        return
    assert options_ok, "bad options accepted"
    assert None not in outcomes, "a record the lookup must refuse was flattened: %r" % record
    assert all(re.fullmatch(r"[0-9a-f.:]+/[0-9]{1,3}", text) for text in result), result
    outputs = [ipaddress.ip_network(text) for text in result]
    for net in outputs:
        assert not must_refuse(net, options["allow_reserved"], options["max_prefix"], options["max_prefix_v6"]), net
        assert any(net.version == a.version and net.subnet_of(a) for a in allowed), (
            "%s is in no authorised network of %r" % (net, record))
    for net in allowed:
        assert not must_refuse(net, options["allow_reserved"], options["max_prefix"], options["max_prefix_v6"]), (
            "%s was authorised and accepted, but the registries refuse it" % net)
