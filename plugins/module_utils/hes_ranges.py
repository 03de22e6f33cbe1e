# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure range logic shared by the lookup, the filters and the modules.

The standard library's ``ipaddress``, so that neither the controller nor an execution
environment needs netaddr. Every error names the offending value and where it came from.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json
import re

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.emailsec.hes.plugins.module_utils.hes_dataset import (
    CURRENT_SITES,
    DATASET_VERSION,
    LEGACY_SITES,
    SITES,
)

DEFAULT_MAX_PREFIX = 16
DEFAULT_MAX_PREFIX_V6 = 32
# The guard's options as every module that takes ranges declares them (doc fragment
# emailsec.hes.range_guard).
RANGE_GUARD_ARGUMENT_SPEC = dict(
    allow_reserved=dict(type="bool", default=False),
    max_prefix=dict(type="int", default=DEFAULT_MAX_PREFIX),
    max_prefix_v6=dict(type="int", default=DEFAULT_MAX_PREFIX_V6),
)
# The broadest max_prefix a caller may set. No single organisation holds more than an IPv4 /8 (the
# legacy class A blocks) or an IPv6 /19 (the largest RIR allocations), so a broader guard only
# serves a typo (0, a negative number) that would open the port to much of the internet.
MIN_MAX_PREFIX = 8
MIN_MAX_PREFIX_V6 = 16
FORMATS = ("cidr", "network_netmask", "range")
IP_VERSIONS = ("4", "6", "both")

# The IANA IPv4 and IPv6 Special-Purpose Address Registries (iana-ipv4-special-registry,
# iana-ipv6-special-registry, as of 2025), every entry, including those marked globally
# reachable: they are anycast service prefixes (AS112, AMT, PCP, TURN) or translation and
# tunnelling prefixes (NAT64, 6to4, Teredo) that carry other parties' traffic, never a mail
# provider's own senders. Python's ipaddress misses several (2002::/16, 64:ff9b::/96, 3fff::/20,
# 5f00::/16 are "global" to it), so the guard reads this table instead.
SPECIAL_PURPOSE = (
    ("0.0.0.0/8", '"This network"', "RFC 791"),
    ("10.0.0.0/8", "Private-Use", "RFC 1918"),
    ("100.64.0.0/10", "Shared Address Space", "RFC 6598"),
    ("127.0.0.0/8", "Loopback", "RFC 1122"),
    ("169.254.0.0/16", "Link-Local", "RFC 3927"),
    ("172.16.0.0/12", "Private-Use", "RFC 1918"),
    ("192.0.0.0/24", "IETF Protocol Assignments", "RFC 6890"),
    ("192.0.0.0/29", "IPv4 Service Continuity Prefix", "RFC 7335"),
    ("192.0.0.8/32", "IPv4 dummy address", "RFC 7600"),
    ("192.0.0.9/32", "Port Control Protocol Anycast", "RFC 7723"),
    ("192.0.0.10/32", "Traversal Using Relays around NAT Anycast", "RFC 8155"),
    ("192.0.0.170/32", "NAT64/DNS64 Discovery", "RFC 8880"),
    ("192.0.0.171/32", "NAT64/DNS64 Discovery", "RFC 8880"),
    ("192.0.2.0/24", "Documentation (TEST-NET-1)", "RFC 5737"),
    ("192.31.196.0/24", "AS112-v4", "RFC 7535"),
    ("192.52.193.0/24", "AMT", "RFC 7450"),
    ("192.88.99.0/24", "Deprecated (6to4 Relay Anycast)", "RFC 7526"),
    ("192.168.0.0/16", "Private-Use", "RFC 1918"),
    ("192.175.48.0/24", "Direct Delegation AS112 Service", "RFC 7534"),
    ("198.18.0.0/15", "Benchmarking", "RFC 2544"),
    ("198.51.100.0/24", "Documentation (TEST-NET-2)", "RFC 5737"),
    ("203.0.113.0/24", "Documentation (TEST-NET-3)", "RFC 5737"),
    ("224.0.0.0/4", "Multicast", "RFC 5771"),
    ("240.0.0.0/4", "Reserved", "RFC 1112"),
    ("255.255.255.255/32", "Limited Broadcast", "RFC 919"),
    ("::1/128", "Loopback Address", "RFC 4291"),
    ("::/128", "Unspecified Address", "RFC 4291"),
    ("::ffff:0:0/96", "IPv4-mapped Address", "RFC 4291"),
    ("64:ff9b::/96", "IPv4-IPv6 Translation (NAT64)", "RFC 6052"),
    ("64:ff9b:1::/48", "IPv4-IPv6 Translation (local-use NAT64)", "RFC 8215"),
    ("100::/64", "Discard-Only Address Block", "RFC 6666"),
    ("100:0:0:1::/64", "Dummy IPv6 Prefix", "RFC 9780"),
    ("2001::/23", "IETF Protocol Assignments", "RFC 2928"),
    ("2001::/32", "TEREDO", "RFC 4380"),
    ("2001:1::1/128", "Port Control Protocol Anycast", "RFC 7723"),
    ("2001:1::2/128", "Traversal Using Relays around NAT Anycast", "RFC 8155"),
    ("2001:1::3/128", "DNS-SD Service Registration Protocol Anycast", "RFC 9665"),
    ("2001:2::/48", "Benchmarking", "RFC 5180"),
    ("2001:3::/32", "AMT", "RFC 7450"),
    ("2001:4:112::/48", "AS112-v6", "RFC 7535"),
    ("2001:10::/28", "Deprecated (previously ORCHID)", "RFC 4843"),
    ("2001:20::/28", "ORCHIDv2", "RFC 7343"),
    ("2001:30::/28", "Drone Remote ID Protocol Entity Tags (DETs)", "RFC 9374"),
    ("2001:db8::/32", "Documentation", "RFC 3849"),
    ("2002::/16", "6to4", "RFC 3056"),
    ("2620:4f:8000::/48", "Direct Delegation AS112 Service", "RFC 7534"),
    ("3fff::/20", "Documentation", "RFC 9637"),
    ("5f00::/16", "Segment Routing (SRv6) SIDs", "RFC 9602"),
    ("fc00::/7", "Unique-Local", "RFC 4193"),
    ("fe80::/10", "Link-Local Unicast", "RFC 4291"),
    ("ff00::/8", "Multicast", "RFC 4291"),
)

# Sources that no TCP connection can come from (RFC 1122 3.2.1.3, RFC 4291 2.5.2, 2.5.5.2 and
# 2.7): allowing them is always a mistake, so allow_reserved does not open them.
NEVER_A_SOURCE = ("0.0.0.0/8", "224.0.0.0/4", "255.255.255.255/32", "::/128", "::ffff:0:0/96", "ff00::/8")

# IANA allocates IPv6 global unicast from 2000::/3 only (iana-ipv6-address-space).
IPV6_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")


class RangeError(ValueError):
    """A range, a site or a source that cannot be trusted; the message names the culprit."""


class _Block(object):
    __slots__ = ("network", "first", "last", "label", "never_a_source")

    def __init__(self, cidr, name, reference):
        self.network = ipaddress.ip_network(cidr)
        self.first = int(self.network.network_address)
        self.last = int(self.network.broadcast_address)
        self.label = "%s %s (%s)" % (name, cidr, reference)
        self.never_a_source = cidr in NEVER_A_SOURCE


_BLOCKS = {4: [], 6: []}
for _row in SPECIAL_PURPOSE:
    _block = _Block(*_row)
    _BLOCKS[_block.network.version].append(_block)


def _special_block(net):
    """The registry entry that ``net`` overlaps: the narrowest one containing it, else the broadest inside it."""
    first, last = int(net.network_address), int(net.broadcast_address)
    hits = [b for b in _BLOCKS[net.version] if b.first <= last and first <= b.last]
    containing = [b for b in hits if b.first <= first and last <= b.last]
    if containing:
        return max(containing, key=lambda b: b.network.prefixlen)
    if hits:
        return min(hits, key=lambda b: b.network.prefixlen)
    return None


def reserved_reason(net, allow_reserved=False):
    """Why ``net`` may not be allowed, or None: special-purpose space (unless ``allow_reserved``),
    IPv6 outside global unicast (likewise), or a block no connection can come from (always).

    Overlap is enough: a range that merely contains special-purpose space admits it too.
    """
    never = [b for b in _BLOCKS[net.version] if b.never_a_source and b.first <= int(net.broadcast_address)
             and int(net.network_address) <= b.last]
    if never:
        return ("overlaps %s, which no SMTP connection can come from; allow_reserved does not change that"
                % never[0].label)
    if allow_reserved:
        return None
    block = _special_block(net)
    if block is not None:
        reason = "overlaps %s, IANA special-purpose address space" % block.label
    elif net.version == 6 and not net.subnet_of(IPV6_GLOBAL_UNICAST):
        reason = "is outside 2000::/3, the only IPv6 space IANA allocates for global unicast"
    else:
        return None
    return reason + "; set allow_reserved (hes_allow_reserved) only for a lab or a relay in private space"


def parse_networks(values, option, error=None):
    """``parse_network`` of each item of an option's list (``None`` is empty), each named
    ``option[index]``; a planner passes its own ``error`` class to raise instead of RangeError."""
    networks = []
    for index, item in enumerate(values or []):
        try:
            networks.append(parse_network(item, "%s[%d]" % (option, index)))
        except RangeError as exc:
            if error is None:
                raise
            raise error(str(exc))
    return networks


def parse_network(entry, origin):
    """Parse one entry: ``A.B.C.D/len``, ``A.B.C.D MASK``, ``host A.B.C.D``, an address, or IPv6.

    Host bits set are an error, not silently cleared: ``18.208.22.65/26`` is most likely a typo.
    An IPv6 zone index (``fe80::1%eth0``) is refused: ipaddress keeps any text after ``%``,
    newlines included, and would hand it on to device commands.
    """
    if isinstance(entry, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        entry = str(entry)
    if not isinstance(entry, str):
        raise RangeError("%s: %r is not a string" % (origin, entry))
    text = " ".join(entry.strip().split())
    if not text:
        raise RangeError("%s: empty entry %r" % (origin, entry))
    if "%" in text:
        raise RangeError("%s: %r has an IPv6 zone index (%%...); a range has none" % (origin, entry))
    words = text.split(" ")
    if len(words) == 2 and words[0].lower() == "host":
        text = words[1]
        if "/" in text:
            raise RangeError("%s: malformed entry %r ('host' takes one address)" % (origin, entry))
    elif len(words) == 2:
        try:
            mask = ipaddress.IPv4Address(words[1])
        except ValueError:
            raise RangeError("%s: malformed entry %r (expected CIDR or 'address netmask')" % (origin, entry))
        prefix = _netmask_prefix(mask)
        if prefix is None:
            raise RangeError("%s: %r has a non-contiguous netmask %s" % (origin, entry, words[1]))
        if "/" in words[0]:
            raise RangeError("%s: malformed entry %r (a prefix length and a netmask)" % (origin, entry))
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


def _prefix_option(option, value, floor, bits):
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,3}", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RangeError("%s: %r is not a prefix length (an integer)" % (option, value))
    if value < floor:
        raise RangeError("%s: /%d is below the floor /%d: a guard that broad would let a typo open "
                         "SMTP to a large part of the internet (see docs/ranges.md)" % (option, value, floor))
    if value > bits:
        raise RangeError("%s: /%d is longer than an IPv%d address (/%d)" % (option, value, 4 if bits == 32 else 6, bits))
    return value


def check_guard_options(max_prefix=DEFAULT_MAX_PREFIX, max_prefix_v6=DEFAULT_MAX_PREFIX_V6, allow_reserved=False):
    """The guard's own options, validated: ``(max_prefix, max_prefix_v6, allow_reserved)``.

    A prefix length may be an int or a string of digits; ``allow_reserved`` a bool or an Ansible
    boolean string (``"false"``, ``"yes"``...). Anything else is refused, so that a stray
    ``"false"`` string can never switch a guard off by being truthy.
    """
    max_prefix = _prefix_option("max_prefix", max_prefix, MIN_MAX_PREFIX, 32)
    max_prefix_v6 = _prefix_option("max_prefix_v6", max_prefix_v6, MIN_MAX_PREFIX_V6, 128)
    try:
        allow_reserved = boolean(allow_reserved, strict=True)
    except TypeError:
        raise RangeError("allow_reserved: %r is not a boolean" % (allow_reserved,))
    return max_prefix, max_prefix_v6, allow_reserved


def check_network(net, origin, max_prefix=DEFAULT_MAX_PREFIX, max_prefix_v6=DEFAULT_MAX_PREFIX_V6,
                  allow_reserved=False):
    """Refuse a network broader than the guard, or outside public unicast space.

    The options must have been through `check_guard_options`.
    """
    limit = max_prefix if net.version == 4 else max_prefix_v6
    if net.prefixlen < limit:
        raise RangeError("%s: %s is broader than /%d (the max_prefix%s guard); a range that wide "
                         "would admit far more than Trend's senders"
                         % (origin, net, limit, "" if net.version == 4 else "_v6"))
    reason = reserved_reason(net, allow_reserved)
    if reason:
        raise RangeError("%s: %s %s" % (origin, net, reason))
    return net


def guard_restored(entry, origin):
    """A range read back from a backup: parsed strictly and held to the loosest guard any run may
    set (max_prefix 8, max_prefix_v6 16, reserved space allowed), since a backup does not record
    the options of the run that wrote it. Broader ranges and never-a-source space are refused."""
    return check_network(parse_network(entry, origin), origin, max_prefix=MIN_MAX_PREFIX,
                         max_prefix_v6=MIN_MAX_PREFIX_V6, allow_reserved=True)


def guard_ranges(entries, origin, allow_reserved=False, max_prefix=DEFAULT_MAX_PREFIX,
                 max_prefix_v6=DEFAULT_MAX_PREFIX_V6, ip_version="both", aggregate=True):
    """The one range guard: every module that takes ranges calls it, and the lookup runs the same checks.

    ``entries`` is a list (or tuple) of strings, each ``A.B.C.D/len``, ``A.B.C.D MASK``,
    ``host A.B.C.D``, a bare address, or an IPv6 CIDR or address (``ipaddress`` network objects
    are accepted too). ``origin`` names where the list came from (an option or variable name such
    as ``"ranges"`` or ``"hes_ranges"``); entry ``i`` is called ``origin[i]`` in errors.

    Returns the CIDR strings in canonical form (``ipaddress``'s), IPv4 before IPv6, sorted,
    deduplicated and, unless ``aggregate`` is false, collapsed. Never empty.

    Raises `RangeError` (a ValueError) whose message starts with ``origin`` or ``origin[i]``
    and quotes the offending value, and nothing else, when:

    * ``entries`` is not a list or tuple, or an entry is not a string or is malformed (host bits
      set, a non-contiguous netmask, an IPv6 zone index, anything ``ipaddress`` refuses);
    * a range is broader than ``/max_prefix`` (IPv4) or ``/max_prefix_v6`` (IPv6);
    * a range overlaps an IANA special-purpose block (`SPECIAL_PURPOSE`: private, shared,
      documentation, benchmarking, 6to4, Teredo, NAT64, ORCHID...) or, for IPv6, lies outside
      2000::/3, unless ``allow_reserved`` is true;
    * a range overlaps multicast, broadcast, "this network", the unspecified or an IPv4-mapped
      address (`NEVER_A_SOURCE`), whatever ``allow_reserved`` says;
    * ``max_prefix`` is not an integer from 8 to 32, ``max_prefix_v6`` not from 16 to 128,
      ``allow_reserved`` not a boolean, ``ip_version`` not ``4``, ``6`` or ``both``;
    * nothing is left (an empty list, or no range of the requested ``ip_version``).
    """
    if not isinstance(entries, (list, tuple)):
        raise RangeError("%s: expected a list of ranges, got %s %r"
                         % (origin, "the string" if isinstance(entries, str) else type(entries).__name__, entries))
    pairs = [("%s[%d]" % (origin, index), entry) for index, entry in enumerate(entries)]
    networks = collect_ranges(pairs, ip_version=ip_version, aggregate=aggregate, max_prefix=max_prefix,
                              max_prefix_v6=max_prefix_v6, allow_reserved=allow_reserved, source_name=origin)
    return [str(n) for n in networks]


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


def parse_text_source(text, origin):
    """Entries from a file or URL body: a JSON list, ``{"ranges": [...]}``, or one entry per line (``#`` comments).

    Lines are counted at ``\\n`` only, as an editor numbers them; a leading byte order mark is dropped.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    stripped = text.strip()
    if stripped.startswith("[") or stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except ValueError as exc:
            raise RangeError("%s: unparseable JSON (%s)" % (origin, exc))
        except RecursionError:
            raise RangeError("%s: unparseable JSON (nested too deeply)" % origin)
        if isinstance(data, dict):
            data = data.get("ranges")
        if not isinstance(data, list):
            raise RangeError("%s: JSON must be a list of ranges or an object with a 'ranges' list" % origin)
        return [("%s item %d" % (origin, i + 1), item) for i, item in enumerate(data)]
    entries = []
    for number, line in enumerate(text.split("\n"), start=1):
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


def _entry_list(value, origin):
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise RangeError("%s: expected a list of ranges, got %s %r"
                         % (origin, "the string" if isinstance(value, str) else type(value).__name__, value))
    return value


def collect_ranges(source_entries, extra=None, exclude=None, ip_version="both", aggregate=True,
                   max_prefix=DEFAULT_MAX_PREFIX, max_prefix_v6=DEFAULT_MAX_PREFIX_V6, allow_reserved=False,
                   source_name="source"):
    """The whole pipeline after a source has produced (origin, entry) pairs: guard, add, exclude, aggregate.

    The lookup calls it with per-entry origins (file line, URL item, SPF term); `guard_ranges`
    calls it for a plain list, so both run the same checks.
    """
    max_prefix, max_prefix_v6, allow_reserved = check_guard_options(max_prefix, max_prefix_v6, allow_reserved)
    try:
        aggregate = boolean(aggregate, strict=True)
    except TypeError:
        raise RangeError("aggregate: %r is not a boolean" % (aggregate,))
    pairs = list(source_entries) + [("extra[%d]" % i, e) for i, e in enumerate(_entry_list(extra, "extra"))]
    networks = []
    for origin, entry in pairs:
        net = parse_network(entry, origin)
        networks.append(check_network(net, origin, max_prefix, max_prefix_v6, allow_reserved))
    excludes = [("exclude[%d]" % i, parse_network(e, "exclude[%d]" % i))
                for i, e in enumerate(_entry_list(exclude, "exclude"))]
    networks = filter_ip_version(networks, ip_version)
    if excludes:
        networks = exclude_networks(aggregate_networks(networks), excludes)
    networks = aggregate_networks(networks) if aggregate else sort_networks(networks)
    if not networks:
        raise RangeError("%s gave no ranges (ip_version=%s); refusing an empty allow-list"
                         % (source_name, ip_version))
    for net in networks:
        limit = max_prefix if net.version == 4 else max_prefix_v6
        if net.prefixlen < limit:
            raise RangeError("%s: its ranges aggregate to %s, broader than /%d (the max_prefix%s guard); "
                             "so many adjacent ranges admit far more than Trend's senders"
                             % (source_name, net, limit, "" if net.version == 4 else "_v6"))
    return networks
