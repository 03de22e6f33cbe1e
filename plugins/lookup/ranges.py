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
  - "Guards: an empty result, a range broader than O(max_prefix), private, reserved, loopback,
    link-local or multicast space, host bits set and malformed entries each fail the task with an
    error that names the value and where it came from. Nothing falls back silently to another
    source."
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
    description: HTTPS URL for O(source=url); the body is parsed like a file.
    type: str
    env:
      - name: EMAILSEC_HES_URL
  validate_certs:
    description: Verify the URL's TLS certificate.
    type: bool
    default: true
  ca_path:
    description: CA bundle used to verify the URL's certificate.
    type: path
  timeout:
    description: Seconds to wait for the URL or each DNS query.
    type: float
    default: 10
  cache_ttl:
    description:
      - Seconds a URL body is reused from the cache directory before it is fetched again.
        V(0) disables the cache. An expired or failed fetch is an error, never a stale answer.
    type: int
    default: 0
  cache_dir:
    description: Directory for the URL cache.
    type: path
    default: ~/.cache/emailsec_hes
  dns_server:
    description: DNS server (C(host) or C(host:port)) for O(source=spf); default is the system resolver.
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
    description: Refuse any IPv4 range broader than this prefix length.
    type: int
    default: 16
  max_prefix_v6:
    description: Refuse any IPv6 range broader than this prefix length.
    type: int
    default: 32
  allow_reserved:
    description:
      - Accept private, documentation (RFC 5737), reserved and other non-global space.
        Only for a lab or a relay in private space.
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
import os
import time

from ansible.errors import AnsibleLookupError
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.module_utils.urls import ConnectionError as UrlConnectionError
from ansible.module_utils.urls import SSLValidationError, open_url
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
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
            try:
                with open(path, "rb") as handle:
                    body = to_text(handle.read(), errors="surrogate_or_strict")
            except (IOError, OSError) as exc:
                raise RangeError("source=file: cannot read %s: %s" % (path, to_native(exc)))
            except UnicodeError:
                raise RangeError("source=file: %s is not UTF-8 text" % path)
            return parse_text_source(body, "file %s" % path)
        url = self.get_option("url")
        if not url:
            raise RangeError("source=url needs url")
        return parse_text_source(self._fetch_url(url), "url %s" % url)

    def _spf_entries(self, sites, documented_only):
        txt, addresses = dns_resolver(self.get_option("dns_server"), self.get_option("timeout"))
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

    def _fetch_url(self, url):
        if not url.lower().startswith("https://"):
            raise RangeError("source=url: %s is not an https:// URL" % url)
        ttl = self.get_option("cache_ttl")
        cache_file = None
        if ttl > 0:
            cache_dir = os.path.expanduser(self.get_option("cache_dir"))
            cache_file = os.path.join(cache_dir, hashlib.sha256(url.encode("utf-8")).hexdigest() + ".txt")
            if os.path.exists(cache_file) and time.time() - os.path.getmtime(cache_file) < ttl:
                with open(cache_file, "rb") as handle:
                    return to_text(handle.read())
        try:
            response = open_url(
                url,
                validate_certs=self.get_option("validate_certs"),
                ca_path=self.get_option("ca_path"),
                timeout=self.get_option("timeout"),
                follow_redirects="safe",
            )
            body = response.read()
        except HTTPError as exc:
            raise RangeError("source=url: %s answered HTTP %s" % (url, exc.code))
        except SSLValidationError as exc:
            raise RangeError("source=url: certificate of %s not trusted: %s" % (url, to_native(exc)))
        except (URLError, UrlConnectionError, OSError) as exc:
            raise RangeError("source=url: cannot fetch %s: %s" % (url, to_native(exc)))
        try:
            text = to_text(body, errors="surrogate_or_strict")
        except UnicodeError:
            raise RangeError("source=url: %s did not return UTF-8 text" % url)
        if cache_file:
            os.makedirs(os.path.dirname(cache_file), exist_ok=True)
            with open(cache_file, "wb") as handle:
                handle.write(body)
        return text
