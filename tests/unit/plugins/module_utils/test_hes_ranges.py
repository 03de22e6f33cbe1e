"""Pure range helpers: parsing, guards, aggregation, formats, ASA network-object form, probes."""
import ipaddress
import re

import pytest

from ansible_collections.emailsec.hes.plugins.module_utils.hes_probes import build_probes
from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import (
    SPECIAL_PURPOSE,
    RangeError,
    aggregate_networks,
    asa_network_object,
    compare_networks,
    exclude_networks,
    format_network,
    guard_ranges,
    parse_network,
    parse_text_source,
)


def nets(*texts):
    return [ipaddress.ip_network(t) for t in texts]


def test_parse_forms():
    assert str(parse_network("18.208.22.64/26", "t")) == "18.208.22.64/26"
    assert str(parse_network(" 18.208.22.64   255.255.255.192 ", "t")) == "18.208.22.64/26"
    assert str(parse_network("host 192.0.2.1", "t")) == "192.0.2.1/32"
    assert str(parse_network("2001:db8::/32", "t")) == "2001:db8::/32"


def test_parse_error_names_origin():
    with pytest.raises(RangeError, match=r"^file x line 3: malformed entry"):
        parse_network("1.2.3", "file x line 3")


def test_aggregate_keeps_families_apart_v4_first():
    merged = aggregate_networks(nets("2001:db8::/33", "198.51.100.128/25", "2001:db8:8000::/33", "198.51.100.0/25"))
    assert [str(n) for n in merged] == ["198.51.100.0/24", "2001:db8::/32"]


def test_exclude_splits_ranges():
    assert [str(n) for n in exclude_networks(nets("198.51.100.0/24"), [("x", ipaddress.ip_network("198.51.100.0/26"))])] == [
        "198.51.100.128/25", "198.51.100.64/26"]


def test_compare_reports_both_directions():
    result = compare_networks(nets("198.51.100.0/24", "203.0.113.5/32"), nets("198.51.100.0/25", "192.0.2.0/28"))
    assert result == {"extra": ["198.51.100.128/25", "203.0.113.5/32"], "missing": ["192.0.2.0/28"]}


def test_formats_and_asa_form():
    assert format_network("13.238.202.128/26", "network_netmask") == "13.238.202.128 255.255.255.192"
    assert format_network("2001:db8::/48", "network_netmask") == "2001:db8::/48"
    assert asa_network_object("198.51.100.0/25") == "198.51.100.0 255.255.255.128"
    assert asa_network_object("192.0.2.9/32") == "host 192.0.2.9"
    assert asa_network_object("2001:db8::/48") == "2001:db8::/48"
    assert asa_network_object("2001:db8::1/128") == "host 2001:db8::1"


def test_text_source_json_and_lines():
    assert parse_text_source('["1.2.3.0/24"]', "u") == [("u item 1", "1.2.3.0/24")]
    assert parse_text_source("a\n#c\n b # x\n", "f") == [("f line 1", "a"), ("f line 3", "b")]


def test_guard_ranges_for_roles():
    assert guard_ranges(["203.0.113.0/25", "203.0.113.128/25"], "hes_ranges", allow_reserved=True) == ["203.0.113.0/24"]
    with pytest.raises(RangeError, match=r"hes_ranges\[0\]: 203.0.113.0/24 overlaps Documentation"):
        guard_ranges(["203.0.113.0/24"], "hes_ranges")


def test_probes_inside_edges_and_complement():
    probes = build_probes(["18.208.22.64/26", "18.208.22.128/25"], complement_samples=3)
    by_kind = {}
    for probe in probes:
        by_kind.setdefault(probe["kind"], []).append(probe["source"])
    assert by_kind["inside-first"] == ["18.208.22.64", "18.208.22.128"]
    assert by_kind["inside-last"] == ["18.208.22.127", "18.208.22.255"]
    assert by_kind["inside-middle"] == ["18.208.22.95", "18.208.22.191"]
    # the upper edge of the /26 is inside the /25, so it is not a deny probe
    assert by_kind["edge-below"] == ["18.208.22.63"]
    assert by_kind["edge-above"] == ["18.208.23.0"]
    assert len(by_kind["complement"]) == 3
    allowed = nets("18.208.22.64/26", "18.208.22.128/25")
    for probe in probes:
        inside = any(ipaddress.ip_address(probe["source"]) in n for n in allowed)
        assert inside == (probe["expect"] == "allow"), probe


def test_probes_are_deterministic_and_public():
    first = build_probes(["18.208.22.64/26"], complement_samples=20)
    assert first == build_probes(["18.208.22.64/26"], complement_samples=20)
    for probe in first:
        if probe["kind"] == "complement":
            assert ipaddress.ip_address(probe["source"]).is_global


def test_probes_ipv6():
    probes = build_probes(["2001:db8:10::/48"], complement_samples=2)
    assert probes[0] == {"source": "2001:db8:10::", "expect": "allow", "kind": "inside-first", "range": "2001:db8:10::/48"}
    complement = [p for p in probes if p["kind"] == "complement"]
    assert len(complement) == 2 and all(":" in p["source"] for p in complement)


def test_guard_ranges_contract():
    assert guard_ranges(("18.208.22.128/25", ipaddress.ip_network("18.208.22.64/26"), "host 18.188.9.200"),
                        "hes_ranges") == ["18.188.9.200/32", "18.208.22.64/26", "18.208.22.128/25"]
    assert guard_ranges(["18.208.22.64/26", "18.208.22.128/25"], "x", aggregate=False) == [
        "18.208.22.64/26", "18.208.22.128/25"]
    assert guard_ranges(["18.208.22.64/26", "2a00:1::/32"], "x", ip_version="6") == ["2a00:1::/32"]
    assert guard_ranges(["20.0.0.0/15"], "x", max_prefix="15") == ["20.0.0.0/15"]


@pytest.mark.parametrize("entries, options, message", [
    ("18.208.22.64/26", {}, r"^hes_ranges: expected a list of ranges, got the string '18.208.22.64/26'"),
    ({"18.208.22.64/26": 1}, {}, r"^hes_ranges: expected a list of ranges, got dict"),
    (None, {}, r"^hes_ranges: expected a list of ranges, got NoneType"),
    ([], {}, r"^hes_ranges gave no ranges \(ip_version=both\); refusing an empty allow-list"),
    (["18.208.22.64/26"], {"ip_version": "6"}, r"^hes_ranges gave no ranges \(ip_version=6\)"),
    (["18.208.22.64/26", b"18.208.22.128/25"], {}, r"^hes_ranges\[1\]: b'18.208.22.128/25' is not a string"),
    (["0.0.0.0/0"], {"max_prefix": 0}, r"^max_prefix: /0 is below the floor /8"),
    (["0.0.0.0/0"], {"max_prefix": True}, r"^max_prefix: True is not a prefix length"),
    (["::/0"], {"max_prefix_v6": "0"}, r"^max_prefix_v6: /0 is below the floor /16"),
    (["10.0.0.0/8"], {"allow_reserved": "maybe"}, r"^allow_reserved: 'maybe' is not a boolean"),
    (["10.0.0.0/24"], {"allow_reserved": "false"}, r"^hes_ranges\[0\]: 10.0.0.0/24 overlaps Private-Use"),
    (["224.0.0.0/24"], {"allow_reserved": True}, r"^hes_ranges\[0\]: 224.0.0.0/24 overlaps Multicast .* "
                                                 r"allow_reserved does not change that"),
    (["18.208.22.64/26"], {"aggregate": "sometimes"}, r"^aggregate: 'sometimes' is not a boolean"),
    (["18.208.22.64/26"], {"ip_version": "7"}, r"^ip_version: '7' is not one of 4, 6, both"),
    (["20.%d.0.0/16" % i for i in range(2)], {}, r"^hes_ranges: its ranges aggregate to 20.0.0.0/15, broader than /16"),
])
def test_guard_ranges_refusals_name_the_culprit(entries, options, message):
    with pytest.raises(RangeError, match=message):
        guard_ranges(entries, "hes_ranges", **options)


def test_guard_ranges_opt_in_opens_special_space_only():
    assert guard_ranges(["10.0.0.0/24", "2002:c000:204::/48"], "x", allow_reserved="yes") == [
        "10.0.0.0/24", "2002:c000:204::/48"]
    with pytest.raises(RangeError, match=r"x\[0\]: ::ffff:0:0/96 overlaps IPv4-mapped Address"):
        guard_ranges(["::ffff:0:0/96"], "x", allow_reserved=True)


def test_special_purpose_table_is_well_formed():
    for cidr, name, reference in SPECIAL_PURPOSE:
        assert str(ipaddress.ip_network(cidr)) == cidr and name and re.fullmatch(r"RFC [0-9]{3,4}", reference)
    assert len({cidr for cidr, unused_name, unused_ref in SPECIAL_PURPOSE}) == len(SPECIAL_PURPOSE)
