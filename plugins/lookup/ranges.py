# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: ranges
author: emailsec.hes maintainers (@emailsec)
version_added: "0.1.0"
short_description: Trend Micro HES / Email Security delivery ranges for inbound SMTP allow-lists
description:
  - Returns the CIDRs from which Trend Micro Hosted Email Security (HES), Trend Micro Email Security
    and Cloud Email Gateway Protection deliver mail, for one or more sites.
  - The result is sorted, deduplicated and aggregated, IPv4 first and IPv6 after, never mixed
    within one CIDR list entry.
  - Offline by default (the bundled, versioned dataset with provenance). Other sources are the
    sites' DNS SPF records (flattened), a local file, a URL, or an explicit list.
  - "Guards: an empty result, a range broader than O(max_prefix), a range that overlaps IANA
    special-purpose space (private, documentation, 6to4, Teredo, NAT64, multicast...), host bits
    set and malformed entries each fail the task with an error that names the value and where it
    came from (option, file line, URL item, SPF domain and term). Nothing falls back silently to
    another source."
  - The modules that take ranges run the same guard again (C(hes_ranges.guard_ranges)).
  - Use C(query()) or C(lookup(..., wantlist=true)) to get a list.
options:
  _terms:
    description: Site names; an alternative to O(site).
    required: false
  site:
    description:
      - One site or a list of sites. V(all) means every site in the dataset.
      - Current sites are V(us), V(eu), V(anz), V(jp), V(sg), V(in), V(uae);
        legacy Hosted Email Security sites are V(hes-emea) and V(hes-global).
    type: list
    elements: str
    vars:
      - name: hes_site
    env:
      - name: EMAILSEC_HES_SITE
  source:
    description:
      - Where the ranges come from. Defaults to V(bundled), or to the explicit list when
        O(ranges) is given.
      - V(spf) resolves each site's SPF record recursively and warns about every difference
        from the bundled dataset (Trend's SPF chain lists more senders than its firewall lists).
    type: str
    choices: [bundled, spf, file, url]
    env:
      - name: EMAILSEC_HES_SOURCE
  ranges:
    description:
      - An explicit list of ranges that replaces the source, validated and aggregated like any
        source. This is how a pinned list (for example from an AWX workflow) enters.
    type: list
    elements: str
  path:
    description: File for O(source=file); one range per line (C(#) comments) or a JSON list.
    type: path
  url:
    description:
      - HTTPS URL for O(source=url); the body is parsed like a file.
      - Redirects are followed (at most 5), each to an C(https://) URL only; a redirect to
        C(http://) or any other scheme fails the task without contacting it.
    type: str
    env:
      - name: EMAILSEC_HES_URL
  validate_certs:
    description: Verify the URL's TLS certificate (at every redirect).
    type: bool
    default: true
  ca_path:
    description: CA bundle (a PEM file) used instead of the system's to verify the URL's certificate.
    type: path
  timeout:
    description:
      - Seconds the whole URL fetch may take (connection, TLS, every redirect, headers and the
        whole body), or the whole SPF resolution (every DNS query of every include). A deadline,
        not a per-read timeout, so a server that trickles bytes cannot hold the task.
    type: float
    default: 10
  max_body_bytes:
    description:
      - Largest URL body or O(path) file accepted, in bytes. A bigger C(Content-Length) is
        refused before the body is read, and a body that goes past the cap is refused as soon as
        it does.
    type: int
    default: 1048576
  cache_ttl:
    description:
      - Seconds a URL body is reused from the cache directory before it is fetched again.
        V(0) disables the cache. An expired or failed fetch is an error, never a stale answer.
      - The cache key is the URL with O(validate_certs), O(ca_path) and O(max_body_bytes), so a
        body fetched without certificate checks is never served to a call that requires them.
    type: int
    default: 0
  cache_dir:
    description: Directory for the URL cache (created 0700, files 0600).
    type: path
    default: ~/.cache/emailsec_hes
  dns_server:
    description:
      - DNS server for O(source=spf), by IP address (C(192.0.2.53), C(192.0.2.53:5353),
        C(2001:db8::53) or C([2001:db8::53]:5353)); default is the system resolver.
    type: str
    env:
      - name: EMAILSEC_HES_DNS_SERVER
  ip_version:
    description: Which address family to return.
    type: str
    choices: ['4', '6', both]
    default: both
  aggregate:
    description: Collapse adjacent and overlapping ranges (V(false) keeps them as given, deduplicated).
    type: bool
    default: true
  format:
    description:
      - V(cidr) C(18.208.22.64/26); V(network_netmask) as an ASA writes it, C(18.208.22.64 255.255.255.192);
        V(range) C(18.208.22.64-18.208.22.127); V(detail) a dict per range with its provenance.
    type: str
    choices: [cidr, network_netmask, range, detail]
    default: cidr
  extra:
    description: Ranges to add (for example a relay of your own), guarded like the source's.
    type: list
    elements: str
    default: []
  exclude:
    description: Ranges to remove; an exclusion that matches no range is an error.
    type: list
    elements: str
    default: []
  documented_only:
    description:
      - Only ranges that Trend documents for firewall allow-lists. Drops SPF-only entries of the
        bundled dataset (today the upper half of Singapore's 13.213.220.0/25).
    type: bool
    default: false
  max_prefix:
    description:
      - Refuse any IPv4 range broader than this prefix length.
      - From V(8) to V(32); a broader guard is refused (no single organisation holds more than
        a /8, so a broader value is a typo that would open SMTP to much of the internet).
    type: int
    default: 16
  max_prefix_v6:
    description:
      - Refuse any IPv6 range broader than this prefix length. From V(16) to V(128).
    type: int
    default: 32
  allow_reserved:
    description:
      - Accept ranges that overlap the IANA IPv4 and IPv6 special-purpose registries (private,
        shared, documentation such as RFC 5737 and 2001:db8::/32, benchmarking, 6to4, Teredo,
        NAT64, ORCHID, AS112, reserved...) and IPv6 outside 2000::/3. Only for a lab or a relay
        in private space.
      - Multicast, limited broadcast, 0.0.0.0/8, C(::) and IPv4-mapped IPv6 are refused even
        then, because no SMTP connection can come from them.
    type: bool
    default: false
    vars:
      - name: hes_allow_reserved
notes:
  - Trend publishes no machine-readable feed; SPF TXT records are the only one, and they are a
    superset of the firewall lists.
  - The dataset version and each range's source, date and confidence are in C(format=detail) and
    in docs/ranges.md.
seealso:
  - name: Trend Micro KB 000199043
    description: Accepting emails coming only from Hosted Email Security (HES) servers.
    link: https://success.trendmicro.com/solution/000199043
"""

EXAMPLES = r"""
- name: Ranges of the US site
  ansible.builtin.debug:
    msg: "{{ query('emailsec.hes.ranges', site='us') }}"

- name: Several sites, as ASA network/netmask pairs
  ansible.builtin.debug:
    msg: "{{ query('emailsec.hes.ranges', site=['eu', 'hes-emea'], format='network_netmask') }}"

- name: Refresh from DNS and see how the SPF chain differs from the bundled list
  ansible.builtin.debug:
    msg: "{{ query('emailsec.hes.ranges', site='jp', source='spf') }}"

- name: A pinned list from a file, with one exclusion
  ansible.builtin.set_fact:
    hes_pinned: "{{ query('emailsec.hes.ranges', source='file', path='files/hes.txt', exclude=['13.213.220.64/26']) }}"

- name: Validate an explicit list (what every role does with hes_ranges)
  ansible.builtin.set_fact:
    hes_checked: "{{ query('emailsec.hes.ranges', ranges=hes_ranges) }}"
"""

RETURN = r"""
_raw:
  description:
    - The ranges, sorted and aggregated, IPv4 before IPv6, as strings in the chosen O(format);
      with O(format=detail), dicts with C(cidr), C(dataset_version) and C(entries) (the bundled
      entries the range covers, each with C(site), C(source), C(date), C(confidence)).
  type: list
  elements: raw
"""

import hashlib
import json
import os
import socket
import ssl
import tempfile
import time
from http.client import HTTPException
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit, urlunsplit

from ansible.errors import AnsibleLookupError
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display

from ansible_collections.emailsec.hes.plugins.module_utils.hes_dataset import SITE_INFO
from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import (
    RangeError,
    bundled_entries,
    collect_ranges,
    compare_networks,
    format_network,
    parse_network,
    parse_text_source,
    provenance,
    resolve_sites,
)
from ansible_collections.emailsec.hes.plugins.module_utils.hes_spf import dns_resolver, flatten_spf

display = Display()

MAX_REDIRECTS = 5
READ_CHUNK = 65536


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        try:
            return self._ranges(terms)
        except RangeError as exc:
            raise AnsibleLookupError("emailsec.hes.ranges: %s" % to_native(exc))

    def _ranges(self, terms):
        explicit = self.get_option("ranges")
        source = self.get_option("source")
        if explicit is not None and source not in (None, "bundled"):
            raise RangeError("ranges and source=%s are mutually exclusive" % source)
        sites = []
        if explicit is not None:
            entries = [("ranges[%d]" % i, item) for i, item in enumerate(explicit)]
            source_name = "ranges"
        else:
            source = source or "bundled"
            if source in ("bundled", "spf"):
                sites = resolve_sites(list(terms) or self.get_option("site"))
            entries = self._source_entries(source, sites)
            source_name = "source=%s" % source
        networks = collect_ranges(
            entries,
            extra=self.get_option("extra"),
            exclude=self.get_option("exclude"),
            ip_version=self.get_option("ip_version"),
            aggregate=self.get_option("aggregate"),
            max_prefix=self.get_option("max_prefix"),
            max_prefix_v6=self.get_option("max_prefix_v6"),
            allow_reserved=self.get_option("allow_reserved"),
            source_name=source_name,
        )
        fmt = self.get_option("format")
        if fmt == "detail":
            return provenance(networks, sites)
        return [format_network(n, fmt) for n in networks]

    def _source_entries(self, source, sites):
        documented_only = self.get_option("documented_only")
        if source == "bundled":
            return bundled_entries(sites, documented_only)
        if source == "spf":
            return self._spf_entries(sites, documented_only)
        if source == "file":
            path = self.get_option("path")
            if not path:
                raise RangeError("source=file needs path")
            max_bytes = self._max_bytes()
            try:
                with open(path, "rb") as handle:
                    raw = handle.read(max_bytes + 1)
                if len(raw) > max_bytes:
                    raise RangeError("source=file: %s is larger than max_body_bytes=%d" % (path, max_bytes))
                body = to_text(raw, errors="surrogate_or_strict")
            except (IOError, OSError) as exc:
                raise RangeError("source=file: cannot read %s: %s" % (path, to_native(exc)))
            except UnicodeError:
                raise RangeError("source=file: %s is not UTF-8 text" % path)
            return parse_text_source(body, "file %s" % path)
        url = self.get_option("url")
        if not url:
            raise RangeError("source=url needs url")
        return self._url_entries(url)

    def _max_bytes(self):
        max_bytes = self.get_option("max_body_bytes")
        if max_bytes < 1:
            raise RangeError("max_body_bytes: %r is not a positive number of bytes" % (max_bytes,))
        return max_bytes

    def _deadline_seconds(self):
        timeout = self.get_option("timeout")
        if not 0 < timeout <= 3600:
            raise RangeError("timeout: %r is not a number of seconds from 0 to 3600" % (timeout,))
        return timeout

    def _spf_entries(self, sites, documented_only):
        txt, addresses = dns_resolver(self.get_option("dns_server"), self._deadline_seconds())
        entries = []
        for site in sites:
            spf_entries = flatten_spf(SITE_INFO[site]["spf"], txt, addresses)
            found = [parse_network(entry, origin) for origin, entry in spf_entries]
            bundled = [parse_network(entry, origin)
                       for origin, entry in bundled_entries([site], documented_only)]
            difference = compare_networks(found, bundled)
            if difference["extra"]:
                display.warning(
                    "emailsec.hes.ranges: the SPF chain of site %s (%s) authorises ranges that the "
                    "bundled firewall list lacks: %s. Trend lists only the bundled ranges for "
                    "firewalls; review before allowing them."
                    % (site, SITE_INFO[site]["spf"], ", ".join(difference["extra"])))
            if difference["missing"]:
                display.warning(
                    "emailsec.hes.ranges: the bundled list of site %s has ranges that its SPF chain "
                    "no longer lists: %s." % (site, ", ".join(difference["missing"])))
            entries.extend(spf_entries)
        return entries

    def _url_entries(self, url):
        if not isinstance(url, str) or not url.lower().startswith("https://"):
            raise RangeError("source=url: %s is not an https:// URL" % shown_url(url))
        validate_certs = self.get_option("validate_certs")
        ca_path = self.get_option("ca_path")
        max_bytes = self._max_bytes()
        deadline_s = self._deadline_seconds()
        origin = "url %s" % shown_url(url)
        cache_file = self._cache_file(url, validate_certs, ca_path, max_bytes)
        body = read_cache(cache_file, self.get_option("cache_ttl"), max_bytes) if cache_file else None
        if body is None:
            body = fetch_feed(url, validate_certs, ca_path, deadline_s, max_bytes)
        try:
            text = to_text(body, errors="surrogate_or_strict")
        except UnicodeError:
            raise RangeError("source=url: %s did not return UTF-8 text" % shown_url(url))
        entries = parse_text_source(text, origin)
        if cache_file:
            write_cache(cache_file, body)
        return entries

    def _cache_file(self, url, validate_certs, ca_path, max_bytes):
        if self.get_option("cache_ttl") <= 0:
            return None
        key = json.dumps({"url": url, "validate_certs": bool(validate_certs),
                          "ca_path": os.path.abspath(ca_path) if ca_path else None,
                          "max_body_bytes": max_bytes}, sort_keys=True)
        cache_dir = os.path.expanduser(self.get_option("cache_dir"))
        return os.path.join(cache_dir, hashlib.sha256(key.encode("utf-8")).hexdigest() + ".txt")


def shown_url(url):
    """The URL for messages: a password in it or a query string (often a token) is masked."""
    if not isinstance(url, str):
        return repr(url)
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            netloc = "%s:***@%s" % (parts.username, netloc.rsplit("@", 1)[1])
        shown = urlunsplit((parts.scheme, netloc, parts.path, "***" if parts.query else "", ""))
    except ValueError:
        return repr(url)
    return shown if shown.isprintable() else repr(shown)


def read_cache(cache_file, ttl, max_bytes):
    """The cached body if it is fresh and within the cap, else None."""
    try:
        if time.time() - os.path.getmtime(cache_file) >= ttl or os.path.getsize(cache_file) > max_bytes:
            return None
        with open(cache_file, "rb") as handle:
            return handle.read(max_bytes + 1)
    except OSError:
        return None


def write_cache(cache_file, body):
    """Replace the cache file atomically; the directory is private (0700), the file 0600."""
    cache_dir = os.path.dirname(cache_file)
    try:
        os.makedirs(cache_dir, mode=0o700, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=cache_dir, prefix=".part-")
        with os.fdopen(handle, "wb") as stream:
            stream.write(body)
        os.replace(temporary, cache_file)
    except OSError as exc:
        raise RangeError("cache_dir: cannot write %s: %s" % (cache_file, to_native(exc)))


class DeadlineSSLSocket(ssl.SSLSocket):
    """An SSL socket whose handshake, every read and every write get only the time left before
    ``deadline`` (time.monotonic()), so the fetch as a whole is bounded, not each read.

    http.client reads through ``makefile()``, which calls ``recv_into``, and writes with ``sendall``.
    """

    deadline = 0.0

    def _arm(self):
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("deadline reached")
        self.settimeout(remaining)

    def do_handshake(self, *args, **kwargs):
        self._arm()
        return super(DeadlineSSLSocket, self).do_handshake(*args, **kwargs)

    def recv_into(self, *args, **kwargs):
        self._arm()
        return super(DeadlineSSLSocket, self).recv_into(*args, **kwargs)

    def sendall(self, *args, **kwargs):
        self._arm()
        return super(DeadlineSSLSocket, self).sendall(*args, **kwargs)


def tls_context(validate_certs, ca_path, deadline):
    # Imported only for source=url: ansible.module_utils.urls costs more to import than a whole
    # bundled lookup, and every worker process that templates this lookup imports this file.
    from ansible.module_utils.urls import make_context

    try:
        context = make_context(cafile=ca_path, validate_certs=validate_certs)
    except (OSError, ssl.SSLError) as exc:
        raise RangeError("ca_path: cannot load %s as a PEM CA bundle: %s" % (ca_path, to_native(exc)))
    context.sslsocket_class = type("FeedSSLSocket", (DeadlineSSLSocket,), {"deadline": deadline})
    return context


def fetch_feed(url, validate_certs, ca_path, deadline_s, max_bytes):
    """GET ``url`` over https only (every redirect too), within ``deadline_s`` seconds overall and
    ``max_bytes`` of body; returns the body bytes or raises RangeError naming the URL."""
    deadline = time.monotonic() + deadline_s
    context = tls_context(validate_certs, ca_path, deadline)
    current = url
    for unused_hop in range(MAX_REDIRECTS + 1):
        if urlsplit(current).scheme.lower() != "https":
            raise RangeError("source=url: %s redirected to %s, which is not https; refusing to follow it"
                             % (shown_url(url), shown_url(current)))
        response = _open(url, current, context, deadline, deadline_s, validate_certs)
        if isinstance(response, str):
            current = response
            continue
        try:
            return _read_body(shown_url(url), response, deadline_s, max_bytes)
        finally:
            response.close()
    raise RangeError("source=url: %s redirected more than %d times" % (shown_url(url), MAX_REDIRECTS))


def _open(url, current, context, deadline, deadline_s, validate_certs):
    """The response, or the next URL (a str) when ``current`` answers with a redirect."""
    where = shown_url(url) if current == url else "%s (redirected to %s)" % (shown_url(url), shown_url(current))
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _deadline_error(where, deadline_s)
    from ansible.module_utils.urls import Request

    try:
        return Request().open("GET", current, timeout=remaining, context=context, validate_certs=validate_certs,
                              follow_redirects="none", decompress=False, http_agent="emailsec.hes-ranges")
    except HTTPError as exc:
        exc.close()
        location = exc.headers.get("Location") if exc.headers else None
        if 300 <= exc.code < 400 and location:
            return exc.filename
        raise RangeError("source=url: %s answered HTTP %s" % (where, exc.code))
    except (URLError, OSError, HTTPException, ValueError) as exc:
        reason = exc.reason if isinstance(exc, URLError) else exc
        if isinstance(reason, socket.timeout):
            raise _deadline_error(where, deadline_s)
        if isinstance(reason, ssl.SSLCertVerificationError):
            raise RangeError("source=url: certificate of %s not trusted: %s (give the CA that signed it "
                             "in ca_path)" % (where, to_native(reason)))
        raise RangeError("source=url: cannot fetch %s: %s" % (where, to_native(reason)))


def _read_body(url, response, deadline_s, max_bytes):
    announced = response.headers.get("Content-Length", "").strip()
    if announced.isdigit() and int(announced) > max_bytes:
        raise RangeError("source=url: %s announces a %s-byte body, more than max_body_bytes=%d"
                         % (url, announced, max_bytes))
    chunks = []
    total = 0
    while True:
        try:
            chunk = response.read(min(READ_CHUNK, max_bytes + 1 - total))
        except socket.timeout:
            raise _deadline_error(url, deadline_s)
        except (OSError, HTTPException, ValueError) as exc:
            raise RangeError("source=url: cannot read the body of %s: %s" % (url, to_native(exc)))
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > max_bytes:
            raise RangeError("source=url: %s sent more than max_body_bytes=%d bytes; refused" % (url, max_bytes))
        chunks.append(chunk)


def _deadline_error(where, deadline_s):
    return RangeError("source=url: %s did not answer in full within the %s s deadline (timeout)"
                      % (where, deadline_s))
