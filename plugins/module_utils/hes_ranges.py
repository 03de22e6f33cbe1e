# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure range logic shared by the lookup, the filters and the modules.

Standard library only (``ipaddress``), so that neither the controller nor an execution
environment needs netaddr. Every error names the offending value and where it came from.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json

from ansible_collections.emailsec.hes.plugins.module_utils.hes_dataset import (
    CURRENT_SITES,
    DATASET_VERSION,
    LEGACY_SITES,
    SITES,
)

DEFAULT_MAX_PREFIX = 16
DEFAULT_MAX_PREFIX_V6 = 32
FORMATS = ("cidr", "network_netmask", "range")
IP_VERSIONS = ("4", "6", "both")


class RangeError(ValueError):
    """A range, a site or a source that cannot be trusted; the message names the culprit."""


def parse_network(entry, origin):
    """Parse one entry: ``A.B.C.D/len``, ``A.B.C.D MASK``, ``host A.B.C.D``, an address, or IPv6.

    Host bits set are an error, not silently cleared: ``18.208.22.65/26`` is most likely a typo.
    """
    if not isinstance(entry, str):
        raise RangeError("%s: %r is not a string" % (origin, entry))
    text = " ".join(entry.strip().split())
    if not text:
        raise RangeError("%s: empty entry" % origin)
    words = text.split(" ")
    if len(words) == 2 and words[0] == "host":
        text = words[1]
    elif len(words) == 2:
        try:
            mask = ipaddress.IPv4Address(words[1])
        except ValueError:
            raise RangeError("%s: malformed entry %r (expected CIDR or 'address netmask')" % (origin, entry))
        prefix = _netmask_prefix(mask)
        if prefix is None:
            raise RangeError("%s: %r has a non-contiguous netmask %s" % (origin, entry, words[1]))
        text = "%s/%d" % (words[0], prefix)
    elif len(words) != 1:
        raise RangeError("%s: malformed entry %r" % (origin, entry))
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        if "has host bits set" in str(exc):
            raise RangeError("%s: %r has host bits set (did you mean %s?)"
                             % (origin, entry, ipaddress.ip_network(text, strict=False)))
        raise RangeError("%s: malformed entry %r (%s)" % (origin, entry, exc))


def _netmask_prefix(mask):
    bits = int(mask)
    inverted = (~bits) & 0xFFFFFFFF
    if inverted & (inverted + 1):
        return None
    return 32 - inverted.bit_length()


def reserved_reason(net):
    """Why ``net`` is not public unicast space, or None when it is."""
    if net.is_loopback:
        return "loopback"
    if net.is_link_local:
        return "link-local"
    if net.is_multicast:
        return "multicast"
    if net.is_unspecified:
        return "unspecified"
    if net.is_reserved:
        return "reserved"
    if net.is_private:
        return "private/documentation"
    if not net.is_global:
        return "not globally routable"
    return None


def check_network(net, origin, max_prefix=DEFAULT_MAX_PREFIX, max_prefix_v6=DEFAULT_MAX_PREFIX_V6,
                  allow_reserved=False):
    """Refuse a network broader than the guard, or outside public unicast space."""
    limit = max_prefix if net.version == 4 else max_prefix_v6
    if net.prefixlen < limit:
        raise RangeError("%s: %s is broader than /%d (the max_prefix guard); a range that wide "
                         "would admit far more than Trend's senders" % (origin, net, limit))
    if not allow_reserved:
        reason = reserved_reason(net)
        if reason:
            raise RangeError("%s: %s is %s address space; set allow_reserved "
                             "(hes_allow_reserved) only for a lab or a relay in private space"
                             % (origin, net, reason))
    return net


def aggregate_networks(networks):
    """Sorted, deduplicated and collapsed; IPv4 first, then IPv6, never mixed."""
    v4 = [n for n in networks if n.version == 4]
    v6 = [n for n in networks if n.version == 6]
    return list(ipaddress.collapse_addresses(v4)) + list(ipaddress.collapse_addresses(v6))


def sort_networks(networks):
    unique = set(networks)
    return sorted(unique, key=lambda n: (n.version, n.network_address, n.prefixlen))


def exclude_networks(networks, excludes):
    """Remove every excluded network (splitting ranges as needed); an exclude that matches nothing is an error."""
    result = list(networks)
    for origin, excluded in excludes:
        if not any(excluded.version == n.version and excluded.overlaps(n) for n in result):
            raise RangeError("%s: %s does not overlap any range, nothing to exclude" % (origin, excluded))
        remaining = []
        for net in result:
            if net.version != excluded.version or not net.overlaps(excluded):
                remaining.append(net)
            elif excluded.supernet_of(net):
                continue
            else:
                remaining.extend(net.address_exclude(excluded))
        result = remaining
    return result


def filter_ip_version(networks, ip_version):
    ip_version = str(ip_version)
    if ip_version not in IP_VERSIONS:
        raise RangeError("ip_version: %r is not one of %s" % (ip_version, ", ".join(IP_VERSIONS)))
    if ip_version == "both":
        return list(networks)
    return [n for n in networks if n.version == int(ip_version)]


def parse_entries(entries, origin, max_prefix=DEFAULT_MAX_PREFIX, max_prefix_v6=DEFAULT_MAX_PREFIX_V6,
                  allow_reserved=False):
    """Parse and guard a list of entries; ``origin`` says where they came from."""
    if isinstance(entries, str):
        raise RangeError("%s: expected a list of ranges, got the string %r" % (origin, entries))
    networks = []
    for index, entry in enumerate(entries):
        where = "%s[%d]" % (origin, index)
        net = parse_network(entry, where)
        networks.append(check_network(net, where, max_prefix, max_prefix_v6, allow_reserved))
    return networks


def normalize_ranges(entries, origin, max_prefix=DEFAULT_MAX_PREFIX, allow_reserved=False, aggregate=True,
                     ip_version="both", max_prefix_v6=DEFAULT_MAX_PREFIX_V6):
    """Validate an explicit list (``hes_ranges``) and return CIDR strings, refusing an empty result."""
    networks = filter_ip_version(
        parse_entries(entries, origin, max_prefix, max_prefix_v6, allow_reserved), ip_version)
    networks = aggregate_networks(networks) if aggregate else sort_networks(networks)
    if not networks:
        raise RangeError("%s: no ranges (ip_version=%s); refusing an empty allow-list" % (origin, ip_version))
    return [str(n) for n in networks]


def parse_text_source(text, origin):
    """Entries from a file or URL body: a JSON list, ``{"ranges": [...]}``, or one entry per line (``#`` comments)."""
    stripped = text.strip()
    if stripped.startswith("[") or stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except ValueError as exc:
            raise RangeError("%s: unparseable JSON (%s)" % (origin, exc))
        if isinstance(data, dict):
            data = data.get("ranges")
        if not isinstance(data, list):
            raise RangeError("%s: JSON must be a list of ranges or an object with a 'ranges' list" % origin)
        return [("%s item %d" % (origin, i + 1), item) for i, item in enumerate(data)]
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.split("#", 1)[0].strip()
        if content:
            entries.append(("%s line %d" % (origin, number), content))
    return entries


def resolve_sites(site):
    """``site`` is a name, a list of names, or ``all``; unknown names are an error."""
    names = [site] if isinstance(site, str) else list(site or [])
    if not names:
        raise RangeError("site: no site given; choose one of %s" % ", ".join(known_sites()))
    resolved = []
    for name in names:
        if name == "all":
            resolved.extend(known_sites())
        elif name in SITES:
            resolved.append(name)
        else:
            raise RangeError("site: unknown site %r; known sites: %s, or all" % (name, ", ".join(known_sites())))
    return sorted(set(resolved), key=known_sites().index)


def known_sites():
    return list(CURRENT_SITES) + list(LEGACY_SITES)


def bundled_entries(sites, documented_only=False):
    """(origin, cidr) pairs of the bundled dataset for the given sites."""
    entries = []
    for site in sites:
        for item in SITES[site]:
            if documented_only and not item["documented"]:
                continue
            entries.append(("bundled dataset %s site %s" % (DATASET_VERSION, site), item["cidr"]))
    return entries


def provenance(networks, sites):
    """For each network, the bundled entries (with source/date/confidence) that it covers."""
    details = []
    for net in networks:
        covered = []
        for site in sites:
            for item in SITES[site]:
                member = ipaddress.ip_network(item["cidr"])
                if member.version == net.version and member.subnet_of(net):
                    covered.append(dict(item, site=site))
        details.append({"cidr": str(net), "dataset_version": DATASET_VERSION, "entries": covered})
    return details


def compare_networks(found, reference):
    """Addresses in ``found`` but not in ``reference`` and the reverse, as collapsed CIDR strings."""
    def minus(left, right):
        return [str(n) for n in aggregate_networks(exclude_quietly(left, right))]
    return {"extra": minus(found, reference), "missing": minus(reference, found)}


def exclude_quietly(networks, removals):
    result = list(networks)
    for removal in removals:
        nxt = []
        for net in result:
            if net.version != removal.version or not net.overlaps(removal):
                nxt.append(net)
            elif not removal.supernet_of(net):
                nxt.extend(net.address_exclude(removal))
        result = nxt
    return result


def format_network(net, fmt="cidr"):
    """A network as text: ``cidr``, ``network_netmask`` (as an ASA writes it), or ``range``."""
    net = ipaddress.ip_network(net) if isinstance(net, str) else net
    if fmt == "cidr":
        return str(net)
    if fmt == "network_netmask":
        if net.version == 6:
            return str(net)
        return "%s %s" % (net.network_address, net.netmask)
    if fmt == "range":
        return "%s-%s" % (net.network_address, net.broadcast_address)
    raise RangeError("format: %r is not one of %s" % (fmt, ", ".join(FORMATS)))


def asa_network_object(cidr):
    """The argument of an ASA ``network-object`` line for one range: ``host A``, ``A MASK`` or ``X::/len``."""
    net = parse_network(cidr, "asa_network_object") if isinstance(cidr, str) else cidr
    if net.version == 6:
        return "host %s" % net.network_address if net.prefixlen == 128 else str(net)
    if net.prefixlen == 32:
        return "host %s" % net.network_address
    return "%s %s" % (net.network_address, net.netmask)


def collect_ranges(source_entries, extra=None, exclude=None, ip_version="both", aggregate=True,
                   max_prefix=DEFAULT_MAX_PREFIX, max_prefix_v6=DEFAULT_MAX_PREFIX_V6, allow_reserved=False,
                   source_name="source"):
    """The whole pipeline after a source has produced (origin, entry) pairs: guard, add, exclude, aggregate."""
    networks = []
    for origin, entry in source_entries:
        net = parse_network(entry, origin)
        networks.append(check_network(net, origin, max_prefix, max_prefix_v6, allow_reserved))
    for index, entry in enumerate(extra or []):
        origin = "extra[%d]" % index
        net = parse_network(entry, origin)
        networks.append(check_network(net, origin, max_prefix, max_prefix_v6, allow_reserved))
    excludes = [("exclude[%d]" % i, parse_network(e, "exclude[%d]" % i)) for i, e in enumerate(exclude or [])]
    networks = filter_ip_version(networks, ip_version)
    if excludes:
        networks = exclude_networks(aggregate_networks(networks), excludes)
    networks = aggregate_networks(networks) if aggregate else sort_networks(networks)
    if not networks:
        raise RangeError("%s gave no ranges (ip_version=%s); refusing an empty allow-list"
                         % (source_name, ip_version))
    return networks
