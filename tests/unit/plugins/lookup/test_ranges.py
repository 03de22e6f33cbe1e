"""The lookup emailsec.hes.ranges: every option, and one test per error path (amazon.aws style)."""
import json
import time

import pytest
from ansible.errors import AnsibleLookupError
from ansible.plugins.loader import lookup_loader

from ansible_collections.emailsec.hes.plugins.module_utils import hes_dataset
from ansible_collections.emailsec.hes.tests.unit.local_servers import DnsServer, HttpsServer, Tarpit, drip, endless_body, redirect_to


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
    assert ranges(ranges=["20.0.0.0/8"], max_prefix=8) == ["20.0.0.0/8"]
    assert ranges(ranges=["2a00::/16"], max_prefix_v6=16) == ["2a00::/16"]


@pytest.mark.parametrize("option, value, message", [
    ("max_prefix", 0, "max_prefix: /0 is below the floor /8"),
    ("max_prefix", -1, "max_prefix: /-1 is below the floor /8"),
    ("max_prefix", 7, "max_prefix: /7 is below the floor /8"),
    ("max_prefix", 33, "max_prefix: /33 is longer than an IPv4 address"),
    ("max_prefix_v6", 0, "max_prefix_v6: /0 is below the floor /16"),
    ("max_prefix_v6", 15, "max_prefix_v6: /15 is below the floor /16"),
    ("max_prefix_v6", 129, "max_prefix_v6: /129 is longer than an IPv6 address"),
])
def test_error_max_prefix_below_the_floor(ranges, option, value, message):
    assert message in error_of(ranges, ranges=["0.0.0.0/0", "::/0"], **{option: value})


def test_error_zone_index_is_never_a_range(ranges):
    message = error_of(ranges, ranges=["2a00:1::%eth0\x00x/32"])
    assert "ranges[0]: '2a00:1::%eth0\\x00x/32' has an IPv6 zone index" in message


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
    ("10.1.0.0/16", "Private-Use 10.0.0.0/8 (RFC 1918)"),
    ("192.0.2.0/24", "Documentation (TEST-NET-1) 192.0.2.0/24 (RFC 5737)"),
    ("127.0.0.0/24", "Loopback 127.0.0.0/8"),
    ("169.254.1.0/24", "Link-Local 169.254.0.0/16"),
    ("240.0.0.0/24", "Reserved 240.0.0.0/4"),
    ("100.64.0.0/16", "Shared Address Space 100.64.0.0/10 (RFC 6598)"),
    ("192.0.0.0/24", "IETF Protocol Assignments 192.0.0.0/24"),
    ("198.18.0.0/16", "Benchmarking 198.18.0.0/15 (RFC 2544)"),
    ("192.88.99.0/24", "6to4 Relay Anycast"),
    ("192.31.196.0/24", "AS112-v4"),
    ("fe80::/64", "Link-Local Unicast fe80::/10"),
    ("2002::/16", "6to4 2002::/16 (RFC 3056)"),
    ("2001::/32", "TEREDO 2001::/32"),
    ("64:ff9b::/96", "IPv4-IPv6 Translation (NAT64) 64:ff9b::/96 (RFC 6052)"),
    ("64:ff9b:1::/48", "64:ff9b:1::/48 (RFC 8215)"),
    ("2001:10::/28", "previously ORCHID"),
    ("2001:20::/28", "ORCHIDv2 2001:20::/28"),
    ("2001:db8::/32", "Documentation 2001:db8::/32 (RFC 3849)"),
    ("3fff::/20", "Documentation 3fff::/20 (RFC 9637)"),
    ("5f00::/16", "Segment Routing (SRv6) SIDs"),
    ("fd00:1::/48", "Unique-Local fc00::/7"),
    ("4000::/16", "outside 2000::/3"),
])
def test_error_special_purpose_space(ranges, cidr, reason):
    message = error_of(ranges, ranges=[cidr], max_prefix_v6=16)
    assert "ranges[0]: %s overlaps" % cidr in message or "ranges[0]: %s is outside" % cidr in message
    assert reason in message and "set allow_reserved" in message


def test_allow_reserved_opens_special_purpose_space(ranges):
    assert ranges(ranges=["2002:c000:204::/48", "100.64.0.0/16", "3fff::/32"], allow_reserved=True) == [
        "100.64.0.0/16", "2002:c000:204::/48", "3fff::/32"]


def test_a_range_that_contains_special_space_is_refused(ranges):
    message = error_of(ranges, ranges=["192.0.0.0/16"])
    assert "ranges[0]: 192.0.0.0/16 overlaps IETF Protocol Assignments 192.0.0.0/24" in message
    assert "198.0.0.0/8 overlaps Benchmarking 198.18.0.0/15" in error_of(ranges, ranges=["198.0.0.0/8"], max_prefix=8)


@pytest.mark.parametrize("cidr, block", [
    ("224.0.1.0/24", "Multicast 224.0.0.0/4"),
    ("255.255.255.255/32", "Limited Broadcast"),
    ("0.0.0.0/8", '"This network" 0.0.0.0/8'),
    ("ff0e::/16", "Multicast ff00::/8"),
    ("::/128", "Unspecified Address ::/128"),
    ("::ffff:0:0/96", "IPv4-mapped Address"),
])
def test_never_a_source_even_with_allow_reserved(ranges, cidr, block):
    message = error_of(ranges, ranges=[cidr], allow_reserved=True, max_prefix=8, max_prefix_v6=16)
    assert "ranges[0]: %s overlaps %s" % (cidr, block) in message
    assert "allow_reserved does not change that" in message


def test_error_extra_is_guarded_too(ranges):
    assert "extra[0]: 10.0.0.0/24 overlaps Private-Use" in error_of(ranges, site="us", extra=["10.0.0.0/24"])


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


def test_error_file_larger_than_the_cap(ranges, tmp_path):
    path = tmp_path / "hes.txt"
    path.write_text("18.208.22.64/26\n" * 100)
    assert "source=file: %s is larger than max_body_bytes=1000" % path in error_of(
        ranges, source="file", path=str(path), max_body_bytes=1000)
    assert ranges(source="file", path=str(path), max_body_bytes=1600) == ["18.208.22.64/26"]


def test_error_file_deeply_nested_json(ranges, tmp_path):
    path = tmp_path / "hes.json"
    path.write_text("[" * 100000 + "]" * 100000)
    assert "file %s: unparseable JSON" % path in error_of(ranges, source="file", path=str(path))


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
                   cache_dir=str(tmp_path / "cache"))
    first = ranges(**options)
    second = ranges(**options)
    assert first == second and feed.hits.count("/hes.txt") == 1
    ranges(**dict(options, cache_ttl=0))
    assert feed.hits.count("/hes.txt") == 2
    assert (tmp_path / "cache").stat().st_mode & 0o777 == 0o700
    assert all(f.stat().st_mode & 0o777 == 0o600 for f in (tmp_path / "cache").iterdir())


def test_url_cache_is_keyed_on_the_tls_options(ranges, feed, tmp_path):
    options = dict(source="url", url=feed.url("/hes.txt"), cache_ttl=3600, cache_dir=str(tmp_path))
    assert ranges(validate_certs=False, **options) == ["18.208.22.64/26", "18.208.22.128/25"]
    assert feed.hits.count("/hes.txt") == 1
    message = error_of(ranges, **options)
    assert "certificate of %s not trusted" % feed.url("/hes.txt") in message
    ranges(ca_path=feed.cert_path, **options)
    assert feed.hits.count("/hes.txt") == 2


def test_url_redirect_to_https_is_followed(ranges, feed):
    feed.routes["/moved"] = redirect_to("/hes.txt", status=301)
    assert ranges(source="url", url=feed.url("/moved"), ca_path=feed.cert_path) == [
        "18.208.22.64/26", "18.208.22.128/25"]


def test_url_body_cap_can_be_raised(ranges, feed):
    body = b"".join(b"20.%d.%d.0/24\n" % (i // 256 * 2, i % 256) for i in range(256 * 80))
    feed.routes["/big"] = (200, body)
    assert len(body) > 262144
    assert "more than max_body_bytes=262144" in error_of(
        ranges, source="url", url=feed.url("/big"), ca_path=feed.cert_path, max_body_bytes=262144)
    result = ranges(source="url", url=feed.url("/big"), ca_path=feed.cert_path, max_body_bytes=len(body))
    assert result == ["20.%d.0.0/16" % (2 * i) for i in range(80)]


def test_error_ranges_that_aggregate_broader_than_the_guard(ranges):
    message = error_of(ranges, ranges=["20.%d.0.0/16" % i for i in range(4)])
    assert "ranges: its ranges aggregate to 20.0.0.0/14, broader than /16" in message
    assert len(ranges(ranges=["20.%d.0.0/16" % i for i in range(4)], aggregate=False)) == 4


# --- hostile feed servers -------------------------------------------------------------------
# Deadline 2 s. Each assertion is on the refusal and its wording; the elapsed-time bound (20 s) is
# ten times the deadline and only shows that nothing waited for the server to finish.

HOSTILE_DEADLINE = 2


@pytest.fixture
def plain_http():
    with HttpsServer({"/hes.txt": (200, b"18.208.22.64/26\n")}, tls=False) as server:
        yield server


@pytest.fixture
def hostile(plain_http):
    routes = {
        "/to-http": redirect_to(plain_http.url("/hes.txt")),
        "/to-ftp": redirect_to("ftp://127.0.0.1/hes.txt"),
        "/loop": redirect_to("/loop"),
        "/endless": endless_body(),
        "/huge-length": endless_body(content_length=64 * 2 ** 30),
        "/drip-body": drip(),
        "/drip-headers": drip(headers=True),
    }
    with HttpsServer(routes) as server:
        yield server


def hostile_error(ranges, server, path, **options):
    start = time.monotonic()
    message = error_of(ranges, source="url", url=server.url(path), ca_path=server.cert_path,
                       timeout=HOSTILE_DEADLINE, **options)
    assert time.monotonic() - start < 10 * HOSTILE_DEADLINE
    assert server.url(path) in message
    return message


def test_hostile_redirect_to_http_is_refused_without_contacting_it(ranges, hostile, plain_http):
    message = hostile_error(ranges, hostile, "/to-http")
    assert "redirected to %s, which is not https" % plain_http.url("/hes.txt") in message
    assert plain_http.hits == []


def test_hostile_redirect_to_another_scheme_is_refused(ranges, hostile):
    assert "redirected to ftp://127.0.0.1/hes.txt, which is not https" in hostile_error(ranges, hostile, "/to-ftp")


def test_hostile_redirect_loop_is_refused(ranges, hostile):
    assert "redirected more than 5 times" in hostile_error(ranges, hostile, "/loop")
    assert hostile.hits.count("/loop") == 6


def test_hostile_endless_body_is_cut_at_the_cap(ranges, hostile):
    message = hostile_error(ranges, hostile, "/endless", max_body_bytes=100000)
    assert "sent more than max_body_bytes=100000 bytes" in message


def test_hostile_huge_content_length_is_refused_before_reading(ranges, hostile):
    message = hostile_error(ranges, hostile, "/huge-length")
    assert "announces a %d-byte body, more than max_body_bytes=1048576" % (64 * 2 ** 30) in message


@pytest.mark.parametrize("path", ["/drip-body", "/drip-headers"])
def test_hostile_slow_drip_is_refused_at_the_deadline(ranges, hostile, path):
    message = hostile_error(ranges, hostile, path)
    assert "did not answer in full within the %s s deadline" % float(HOSTILE_DEADLINE) in message


def test_hostile_silent_server_is_refused_at_the_deadline(ranges):
    with Tarpit() as tarpit:
        start = time.monotonic()
        message = error_of(ranges, source="url", url=tarpit.url("/hes.txt"), timeout=HOSTILE_DEADLINE)
        assert time.monotonic() - start < 10 * HOSTILE_DEADLINE
    assert tarpit.url("/hes.txt") in message and "deadline" in message


def test_url_secrets_are_masked_in_errors(ranges):
    message = error_of(ranges, source="url", url="http://feed:s3cret@127.0.0.1:9/x?token=t0ken")
    assert "s3cret" not in message and "t0ken" not in message
    assert "http://feed:***@127.0.0.1:9/x?***" in message


@pytest.mark.parametrize("options, message", [
    (dict(timeout=0), "timeout: 0.0 is not a number of seconds"),
    (dict(timeout=-1), "timeout: -1.0 is not a number of seconds"),
    (dict(max_body_bytes=0), "max_body_bytes: 0 is not a positive number"),
])
def test_error_url_bad_limits(ranges, feed, options, message):
    assert message in error_of(ranges, source="url", url=feed.url("/hes.txt"), ca_path=feed.cert_path, **options)


def test_error_url_bad_ca_path(ranges, feed, tmp_path):
    (tmp_path / "ca.pem").write_text("not a certificate")
    message = error_of(ranges, source="url", url=feed.url("/hes.txt"), ca_path=str(tmp_path / "ca.pem"))
    assert "ca_path: cannot load %s" % (tmp_path / "ca.pem") in message


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
    assert "deadline (timeout); stopped at spf-us.tmes.trendmicro.com TXT via 127.0.0.1:9" in message


def test_error_spf_malformed_ip4(ranges):
    with DnsServer({("spf-us.tmes.trendmicro.com", "TXT"): ['"v=spf1 ip4:18.208.22.64/33 -all"']}) as dns_server:
        assert "ip4:18.208.22.64/33" in error_of(ranges, site="us", source="spf", dns_server=dns_server.address)


@pytest.mark.parametrize("record, message", [
    ("v=spf1 ip4 -all", "spf spf-us.tmes.trendmicro.com: 'ip4': ip4 needs ':address[/length]'"),
    ("v=spf1 ip4: -all", "'ip4:': ip4 needs ':address[/length]'"),
    ("v=spf1 a/abc -all", "'a/abc': malformed prefix length"),
    ("v=spf1 a/33 -all", "'a/33': prefix length out of range"),
    ("v=spf1 a//129 -all", "'a//129': prefix length out of range"),
    ("v=spf1 ip6:zz::/32 -all", "'ip6:zz::/32': malformed entry 'zz::/32'"),
    ("v=spf1 ip6:18.208.22.64/26 -all", "18.208.22.64/26 is an IPv4 network under ip6"),
    ("v=spf1 include: -all", "'include:': empty domain"),
    ("v=spf1 include:%{i}.x.example -all", "uses SPF macros"),
    ("v=spf1 redirect=bad..name", "'bad..name' is not a valid domain name"),
    ("v=spf1 +all", "+all authorises every address"),
    ("v=spf1 frob:x -all", "unknown mechanism 'frob'"),
])
def test_error_spf_malformed_terms_name_domain_and_term(ranges, record, message):
    with DnsServer({("spf-us.tmes.trendmicro.com", "TXT"): ['"%s"' % record]}) as dns_server:
        text = error_of(ranges, site="us", source="spf", dns_server=dns_server.address)
    assert message in text and "spf spf-us.tmes.trendmicro.com" in text


@pytest.mark.parametrize("server, message", [
    ("dns.example.com", "'dns.example.com' is not an IP address"),
    ("127.0.0.1:abc", "'abc' is not a port"),
    ("127.0.0.1:0", "'0' is not a port"),
    ("127.0.0.1:70000", "'70000' is not a port"),
    ("[::1]:x", "'x' is not a port"),
    ("[nope]:53", "'nope' is not an IP address"),
])
def test_error_bad_dns_server_is_named(ranges, server, message):
    text = error_of(ranges, site="us", source="spf", dns_server=server)
    assert "dns_server: %r" % server in text and message in text


def test_spf_deadline_covers_the_whole_resolution(ranges):
    zone = {("spf-us.tmes.trendmicro.com", "TXT"): ['"v=spf1 include:n1.example -all"']}
    for i in range(1, 9):
        zone[("n%d.example" % i, "TXT")] = ['"v=spf1 include:n%d.example -all"' % (i + 1)]
    zone[("n9.example", "TXT")] = ['"v=spf1 ip4:18.208.22.64/26 -all"']
    with DnsServer(zone, delay=0.4) as dns_server:
        message = error_of(ranges, site="us", source="spf", dns_server=dns_server.address, timeout=2)
    assert "took longer than its 2.0 s deadline" in message
    assert len(dns_server.queries) < 10
