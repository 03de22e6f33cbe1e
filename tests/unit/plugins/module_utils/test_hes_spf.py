"""SPF flattening (RFC 7208 limits) on a fake resolver: pure, no network."""
import re

import pytest

from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import RangeError
from ansible_collections.emailsec.hes.plugins.module_utils.hes_spf import flatten_spf, parse_dns_server


def resolver(zone, addresses=None):
    addresses = addresses or {}
    asked = []

    def txt(name):
        asked.append(name)
        return zone.get(name, [])

    def lookup(name, kind):
        return addresses.get((name, kind), [])

    return txt, lookup, asked


def cidrs(entries):
    return [entry for unused_origin, entry in entries]


def test_include_and_redirect_are_followed():
    txt, addresses, unused_asked = resolver({
        "top.example": ["v=spf1 include:a.example redirect=b.example"],
        "a.example": ["v=spf1 ip4:198.51.100.0/25 -all"],
        "b.example": ["v=spf1 ip6:2001:db8::/48 -all"],
    })
    assert cidrs(flatten_spf("top.example", txt, addresses)) == ["198.51.100.0/25", "2001:db8::/48"]


def test_redirect_ignored_when_all_present():
    txt, addresses, asked = resolver({
        "top.example": ["v=spf1 ip4:198.51.100.0/25 -all redirect=b.example"],
        "b.example": ["v=spf1 ip4:203.0.113.0/24 -all"],
    })
    assert cidrs(flatten_spf("top.example", txt, addresses)) == ["198.51.100.0/25"]
    assert "b.example" not in asked


def test_non_pass_qualifiers_do_not_authorise():
    txt, addresses, unused_asked = resolver({"top.example": ["v=spf1 -ip4:192.0.2.0/24 ~ip4:192.0.2.128/25 ?ip4:203.0.113.0/24 +ip4:198.51.100.0/24 -all"]})
    assert cidrs(flatten_spf("top.example", txt, addresses)) == ["198.51.100.0/24"]


def test_origin_names_the_include_chain():
    txt, addresses, unused_asked = resolver({
        "top.example": ["v=spf1 include:a.example -all"],
        "a.example": ["v=spf1 ip4:198.51.100.0/25 -all"],
    })
    origin, unused_cidr = flatten_spf("top.example", txt, addresses)[0]
    assert origin == "spf top.example -> a.example: 'ip4:198.51.100.0/25'"


def test_a_and_mx_mechanisms_with_prefix_lengths():
    txt, addresses, unused_asked = resolver(
        {"top.example": ["v=spf1 a/30 mx:mail.example -all"]},
        {("top.example", 4): ["198.51.100.9"], ("mail.example", "mx"): ["mx1.example"],
         ("mx1.example", 4): ["203.0.113.7"], ("mx1.example", 6): ["2001:db8::25"]})
    assert cidrs(flatten_spf("top.example", txt, addresses)) == ["198.51.100.8/30", "203.0.113.7/32", "2001:db8::25/128"]


def test_unknown_modifiers_are_ignored():
    txt, addresses, unused_asked = resolver({"top.example": ["v=spf1 ip4:198.51.100.0/25 exp=explain.example -all"]})
    assert cidrs(flatten_spf("top.example", txt, addresses)) == ["198.51.100.0/25"]


def test_error_include_loop():
    txt, addresses, unused_asked = resolver({
        "a.example": ["v=spf1 include:b.example -all"],
        "b.example": ["v=spf1 include:a.example -all"],
    })
    with pytest.raises(RangeError, match="include loop a.example -> b.example -> a.example"):
        flatten_spf("a.example", txt, addresses)


def test_error_more_than_ten_dns_terms():
    zone = {"n0.example": ["v=spf1 " + " ".join("include:n%d.example" % i for i in range(1, 12)) + " -all"]}
    for i in range(1, 12):
        zone["n%d.example" % i] = ["v=spf1 ip4:198.51.100.%d/32 -all" % i]
    txt, addresses, unused_asked = resolver(zone)
    with pytest.raises(RangeError, match="more than 10 DNS-querying terms"):
        flatten_spf("n0.example", txt, addresses)


def test_error_two_spf_records():
    txt, addresses, unused_asked = resolver({"top.example": ["v=spf1 -all", "v=spf1 ip4:198.51.100.0/24 -all"]})
    with pytest.raises(RangeError, match="2 v=spf1 records"):
        flatten_spf("top.example", txt, addresses)


def test_error_include_without_record():
    txt, addresses, unused_asked = resolver({"top.example": ["v=spf1 include:gone.example -all"]})
    with pytest.raises(RangeError, match="gone.example has no v=spf1 TXT record"):
        flatten_spf("top.example", txt, addresses)


def test_error_void_lookups():
    txt, addresses, unused_asked = resolver({"top.example": ["v=spf1 a:x1.example a:x2.example a:x3.example -all"]})
    with pytest.raises(RangeError, match="more than 2 void lookups"):
        flatten_spf("top.example", txt, addresses)


def test_error_ptr_cannot_be_flattened():
    txt, addresses, unused_asked = resolver({"top.example": ["v=spf1 ptr -all"]})
    with pytest.raises(RangeError, match="'ptr': ptr depends on the sender and cannot be flattened"):
        flatten_spf("top.example", txt, addresses)


def test_error_plus_all_is_refused():
    txt, addresses, unused_asked = resolver({"top.example": ["v=spf1 ip4:198.51.100.0/24 +all"]})
    with pytest.raises(RangeError, match=r"spf top.example: '\+all': \+all authorises every address"):
        flatten_spf("top.example", txt, addresses)


def test_non_pass_terms_are_still_checked_for_syntax():
    txt, addresses, unused_asked = resolver({"top.example": ["v=spf1 -ip4:198.51.100.0/33 ip4:198.51.100.0/24 -all"]})
    with pytest.raises(RangeError, match=r"spf top.example: '-ip4:198.51.100.0/33': malformed entry"):
        flatten_spf("top.example", txt, addresses)


def test_ip_terms_are_canonical_and_of_their_own_family():
    txt, addresses, unused_asked = resolver({"top.example": ["v=spf1 IP6:2001:DB8:0::/48 ip4:198.51.100.7 -all"]})
    assert cidrs(flatten_spf("top.example", txt, addresses)) == ["2001:db8::/48", "198.51.100.7/32"]
    txt, addresses, unused_asked = resolver({"top.example": ["v=spf1 ip4:2001:db8::/48 -all"]})
    with pytest.raises(RangeError, match=r"2001:db8::/48 is an IPv6 network under ip4"):
        flatten_spf("top.example", txt, addresses)


def test_null_mx_names_no_host():
    txt, addresses, unused_asked = resolver({"top.example": ["v=spf1 mx ip4:198.51.100.0/24 -all"]},
                                            {("top.example", "mx"): [""]})
    assert cidrs(flatten_spf("top.example", txt, addresses)) == ["198.51.100.0/24"]


def test_error_include_loop_ignores_case():
    txt, addresses, unused_asked = resolver({
        "a.example": ["v=spf1 include:B.example -all"],
        "B.example": ["v=spf1 include:A.EXAMPLE -all"],
        "A.EXAMPLE": ["v=spf1 include:b.example -all"],
    })
    with pytest.raises(RangeError, match="include loop"):
        flatten_spf("a.example", txt, addresses)


@pytest.mark.parametrize("server, expected", [
    ("192.0.2.53", ("192.0.2.53", None)),
    ("192.0.2.53:5353", ("192.0.2.53", 5353)),
    ("2001:db8::53", ("2001:db8::53", None)),
    ("[2001:db8::53]:5353", ("2001:db8::53", 5353)),
    ("[2001:db8::53]", ("2001:db8::53", None)),
])
def test_dns_server_forms(server, expected):
    assert parse_dns_server(server) == expected


@pytest.mark.parametrize("server", ["", "resolver.example", "192.0.2.53:", "192.0.2.53:65536", "[2001:db8::53]:",
                                    "fe80::1%eth0", "192.0.2.53:53:53", "192.0.2.53\n"])
def test_error_dns_server_names_the_value(server):
    with pytest.raises(RangeError, match=r"^dns_server: %s" % re.escape(repr(server))):
        parse_dns_server(server)
