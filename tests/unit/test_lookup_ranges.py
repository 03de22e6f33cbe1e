"""The lookup emailsec.hes.ranges: every option, and one test per error path (amazon.aws style)."""
import json

import pytest
from ansible.errors import AnsibleLookupError
from ansible.plugins.loader import lookup_loader

from ansible_collections.emailsec.hes.plugins.module_utils import hes_dataset
from local_servers import DnsServer, HttpsServer


@pytest.fixture
def ranges():
    plugin = lookup_loader.get("emailsec.hes.ranges")

    def run(*terms, variables=None, **options):
        return plugin.run(list(terms), variables=variables or {}, **options)

    return run


def error_of(run, *terms, **options):
    with pytest.raises(AnsibleLookupError) as info:
        run(*terms, **options)
    return str(info.value)


# --- bundled source -------------------------------------------------------------------------

def test_every_site_gives_sorted_aggregated_public_ranges(ranges):
    for site in hes_dataset.SITES:
        result = ranges(site=site)
        assert result, site
        assert result == sorted(result, key=lambda c: tuple(int(o) for o in c.split("/")[0].split(".")))


def test_us_site_is_the_documented_list(ranges):
    assert ranges(site="us") == ["18.188.9.192/26", "18.188.239.128/26", "18.208.22.64/26", "18.208.22.128/25"]


def test_japan_four_slash26_are_the_same_set_as_two_slash25(ranges):
    result = ranges(site="jp")
    assert "18.176.203.128/25" in result and "18.177.156.0/25" in result
    assert not any(c.startswith("18.176.203.192") for c in result)


def test_terms_are_sites(ranges):
    assert ranges("eu") == ranges(site="eu")


def test_site_from_variable(ranges):
    assert ranges(variables={"hes_site": "anz"}) == ["13.238.202.0/25", "13.238.202.128/26"]


def test_site_list_and_all(ranges):
    both = ranges(site=["hes-emea", "hes-global"])
    assert "52.58.62.192/26" in both and "54.219.191.0/25" in both
    everything = ranges(site="all")
    for site in hes_dataset.SITES:
        assert set(ranges(site=site, aggregate=False)) <= set(ranges(site="all", aggregate=False)), site
    assert len(everything) >= len(both)


def test_singapore_default_is_the_spf_superset(ranges):
    assert ranges(site="sg") == ["13.213.174.128/25", "13.213.220.0/25"]


def test_singapore_documented_only_is_the_documented_slash26(ranges):
    assert ranges(site="sg", documented_only=True) == ["13.213.174.128/25", "13.213.220.0/26"]


def test_aggregate_false_keeps_entries(ranges):
    assert len(ranges(site="jp", aggregate=False)) == 7


def test_formats(ranges):
    assert ranges(site="anz", format="network_netmask") == [
        "13.238.202.0 255.255.255.128", "13.238.202.128 255.255.255.192"]
    assert ranges(site="anz", format="range") == [
        "13.238.202.0-13.238.202.127", "13.238.202.128-13.238.202.191"]


def test_detail_format_carries_provenance_and_version(ranges):
    detail = ranges(site="jp", format="detail")
    first = detail[0]
    assert first["dataset_version"] == hes_dataset.DATASET_VERSION
    assert first["entries"] and {"source", "date", "confidence", "site"} <= set(first["entries"][0])
    merged = [d for d in detail if d["cidr"] == "18.176.203.128/25"][0]
    assert len(merged["entries"]) == 2


def test_extra_and_exclude(ranges):
    result = ranges(site="anz", extra=["198.51.100.0/24"], allow_reserved=True, exclude=["13.238.202.128/27"])
    assert result == ["13.238.202.0/25", "13.238.202.160/27", "198.51.100.0/24"]


def test_ip_version_4(ranges):
    assert ranges(site="us", ip_version="4") == ranges(site="us")


def test_ipv6_kept_apart_and_after_ipv4(ranges):
    result = ranges(ranges=["2001:db8:1::/48", "192.0.2.0/25", "2001:db8::/48", "192.0.2.128/25"],
                    allow_reserved=True)
    assert result == ["192.0.2.0/24", "2001:db8::/47"]
    assert ranges(ranges=["2001:db8::/48", "192.0.2.0/24"], allow_reserved=True, ip_version="6") == ["2001:db8::/48"]


def test_explicit_ranges_replace_the_source(ranges):
    assert ranges(site="us", ranges=["203.0.113.0/26", "203.0.113.64/26"], allow_reserved=True) == ["203.0.113.0/25"]


def test_netmask_and_host_forms_accepted(ranges):
    assert ranges(ranges=["203.0.113.0 255.255.255.128", "host 192.0.2.7"], allow_reserved=True) == [
        "192.0.2.7/32", "203.0.113.0/25"]


def test_max_prefix_can_be_widened(ranges):
    assert ranges(ranges=["20.0.0.0/15"], max_prefix=15) == ["20.0.0.0/15"]


# --- error paths: one test each -------------------------------------------------------------

def test_error_unknown_site(ranges):
    assert "unknown site 'mars'" in error_of(ranges, site="mars")


def test_error_no_site(ranges):
    assert "no site given" in error_of(ranges)


def test_error_malformed_cidr(ranges):
    assert "ranges[1]: malformed entry '18.208.22.300/26'" in error_of(
        ranges, ranges=["18.208.22.64/26", "18.208.22.300/26"])


def test_error_malformed_netmask(ranges):
    assert "non-contiguous netmask 255.0.255.0" in error_of(ranges, ranges=["18.208.22.0 255.0.255.0"])


def test_error_host_bits_set(ranges):
    message = error_of(ranges, ranges=["18.208.22.65/26"])
    assert "'18.208.22.65/26' has host bits set" in message and "18.208.22.64/26" in message


def test_error_empty_result(ranges):
    assert "refusing an empty allow-list" in error_of(ranges, ranges=[])


def test_error_empty_result_after_ip_version(ranges):
    assert "ip_version=6" in error_of(ranges, site="us", ip_version="6")


def test_error_broader_than_guard(ranges):
    assert "20.0.0.0/8 is broader than /16" in error_of(ranges, ranges=["20.0.0.0/8"])


def test_error_ipv6_broader_than_guard(ranges):
    assert "2a00::/16 is broader than /32" in error_of(ranges, ranges=["2a00::/16"])


@pytest.mark.parametrize("cidr, reason", [
    ("10.1.0.0/16", "private"),
    ("192.0.2.0/24", "private/documentation"),
    ("127.0.0.0/24", "loopback"),
    ("169.254.1.0/24", "link-local"),
    ("224.0.1.0/24", "multicast"),
    ("240.0.0.0/24", "reserved"),
    ("100.64.0.0/16", "not globally routable"),
    ("fe80::/64", "link-local"),
])
def test_error_non_public_space(ranges, cidr, reason):
    message = error_of(ranges, ranges=[cidr])
    assert cidr in message and reason in message and "allow_reserved" in message


def test_error_extra_is_guarded_too(ranges):
    assert "extra[0]: 10.0.0.0/24 is private" in error_of(ranges, site="us", extra=["10.0.0.0/24"])


def test_error_exclude_matching_nothing(ranges):
    assert "exclude[0]: 1.2.3.0/24 does not overlap any range" in error_of(ranges, site="us", exclude=["1.2.3.0/24"])


def test_error_ranges_with_other_source(ranges):
    assert "mutually exclusive" in error_of(ranges, ranges=["18.208.22.64/26"], source="file")


def test_error_not_a_list(ranges):
    assert "ranges" in error_of(ranges, ranges=[["nested"]])


# --- file source ----------------------------------------------------------------------------

def test_file_source_lines_and_comments(ranges, tmp_path):
    path = tmp_path / "hes.txt"
    path.write_text("# pinned 2026-11\n198.51.100.0/25   # relay A\n\n203.0.113.64/26\n")
    assert ranges(source="file", path=str(path), allow_reserved=True) == ["198.51.100.0/25", "203.0.113.64/26"]


def test_file_source_json(ranges, tmp_path):
    path = tmp_path / "hes.json"
    path.write_text(json.dumps({"ranges": ["18.208.22.64/26"]}))
    assert ranges(source="file", path=str(path)) == ["18.208.22.64/26"]


def test_error_file_missing(ranges, tmp_path):
    assert "cannot read %s" % (tmp_path / "nope.txt") in error_of(ranges, source="file", path=str(tmp_path / "nope.txt"))


def test_error_file_without_path(ranges):
    assert "source=file needs path" in error_of(ranges, source="file")


def test_error_file_bad_line_named(ranges, tmp_path):
    path = tmp_path / "hes.txt"
    path.write_text("18.208.22.64/26\nnot-an-address\n")
    assert "line 2: malformed entry 'not-an-address'" in error_of(ranges, source="file", path=str(path))


def test_error_file_bad_json(ranges, tmp_path):
    path = tmp_path / "hes.json"
    path.write_text("[\"18.208.22.64/26\",")
    assert "unparseable JSON" in error_of(ranges, source="file", path=str(path))


# --- url source -----------------------------------------------------------------------------

@pytest.fixture
def feed():
    with HttpsServer({"/hes.txt": (200, b"18.208.22.64/26\n18.208.22.128/25\n"),
                      "/broken": (500, b"oops"),
                      "/garbage": (200, b"<html>login</html>")}) as server:
        yield server


def test_url_source_with_trusted_ca(ranges, feed):
    assert ranges(source="url", url=feed.url("/hes.txt"), ca_path=feed.cert_path) == [
        "18.208.22.64/26", "18.208.22.128/25"]


def test_error_url_untrusted_certificate(ranges, feed):
    message = error_of(ranges, source="url", url=feed.url("/hes.txt"))
    assert "certificate" in message.lower() and feed.url("/hes.txt") in message


def test_url_source_without_validation(ranges, feed):
    assert ranges(source="url", url=feed.url("/hes.txt"), validate_certs=False) == [
        "18.208.22.64/26", "18.208.22.128/25"]


def test_error_url_http_status(ranges, feed):
    assert "answered HTTP 500" in error_of(ranges, source="url", url=feed.url("/broken"), ca_path=feed.cert_path)


def test_error_url_unparseable_body(ranges, feed):
    assert "malformed entry '<html>login</html>'" in error_of(
        ranges, source="url", url=feed.url("/garbage"), ca_path=feed.cert_path)


def test_error_url_unreachable(ranges):
    assert "cannot fetch https://127.0.0.1:9/" in error_of(ranges, source="url", url="https://127.0.0.1:9/", timeout=2)


def test_error_url_plain_http(ranges):
    assert "is not an https:// URL" in error_of(ranges, source="url", url="http://127.0.0.1/hes.txt")


def test_error_url_without_url(ranges):
    assert "source=url needs url" in error_of(ranges, source="url")


def test_url_cache_reuses_body_within_ttl(ranges, feed, tmp_path):
    options = dict(source="url", url=feed.url("/hes.txt"), ca_path=feed.cert_path, cache_ttl=3600,
                   cache_dir=str(tmp_path))
    first = ranges(**options)
    second = ranges(**options)
    assert first == second and feed.hits.count("/hes.txt") == 1
    ranges(**dict(options, cache_ttl=0))
    assert feed.hits.count("/hes.txt") == 2


# --- spf source -----------------------------------------------------------------------------

US_SPF = {
    ("spf-us.tmes.trendmicro.com", "TXT"): ['"v=spf1 include:_a.spf-us.tmes.trendmicro.com ip4:18.188.9.192/26 -all"'],
    ("_a.spf-us.tmes.trendmicro.com", "TXT"): [
        '"v=spf1 ip4:18.208.22.64/26 ip4:18.208.22.128/25 ip4:18.188.239.128/26 ip4:107.22.223.18 ~all"'],
}


def test_spf_source_flattens_and_warns_about_the_superset(ranges, capsys):
    with DnsServer(US_SPF) as dns_server:
        result = ranges(site="us", source="spf", dns_server=dns_server.address)
    assert result == ["18.188.9.192/26", "18.188.239.128/26", "18.208.22.64/26", "18.208.22.128/25", "107.22.223.18/32"]
    assert "107.22.223.18/32" in capsys.readouterr().err


def test_error_spf_no_record(ranges):
    with DnsServer({("spf-us.tmes.trendmicro.com", "TXT"): ['"google-site-verification=x"']}) as dns_server:
        assert "spf-us.tmes.trendmicro.com has no v=spf1 TXT record" in error_of(
            ranges, site="us", source="spf", dns_server=dns_server.address)


def test_error_spf_dns_unreachable(ranges):
    message = error_of(ranges, site="us", source="spf", dns_server="127.0.0.1:9", timeout=1)
    assert "DNS query spf-us.tmes.trendmicro.com TXT failed via 127.0.0.1:9" in message


def test_error_spf_malformed_ip4(ranges):
    with DnsServer({("spf-us.tmes.trendmicro.com", "TXT"): ['"v=spf1 ip4:18.208.22.64/33 -all"']}) as dns_server:
        assert "ip4:18.208.22.64/33" in error_of(ranges, site="us", source="spf", dns_server=dns_server.address)
