# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The header space of a new inbound flow, and exact set algebra over it.

A flow is a point in seven integer dimensions (``DIMENSIONS``):

* ``family``: 4 or 6;
* ``src`` and ``dst``: the address as an integer (0 .. 2**32-1 for IPv4, 0 .. 2**128-1 for IPv6);
* ``proto``: the IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, ...);
* ``sport`` and ``dport``: the ports (for ICMP: ``dport`` holds the type and ``sport`` the code);
* ``app``: an application identity (PAN-OS App-ID) as a number from an ``AppSpace``; for
  vendors without applications every rule matches all of it.

A ``Cube`` is a product of one ``IntervalSet`` per dimension; a ``Region`` is a list of pairwise
disjoint cubes. Every operation is exact (no sampling): a region is empty, or ``witness`` gives a
concrete flow inside it. Addresses of one family never mix with the other's: a cube's ``family``
is a single value whenever it carries addresses (``make_cube`` enforces this).

Why boxes rather than BDDs: this code must run wherever a module runs (AnsiballZ on the
controller, pfSense's own Python on the firewall) with the standard library only, and the
questions we ask are narrow (TCP/25 to a few mail servers), so the cube counts stay small.
docs/safety.md gives the measured figures.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

DIMENSIONS = ("family", "src", "dst", "proto", "sport", "dport", "app")
FAMILY, SRC, DST, PROTO, SPORT, DPORT, APP = range(7)
# Dimensions in the order that most often proves two cubes disjoint at the first look.
_PROBE_ORDER = (DPORT, PROTO, DST, SRC, SPORT, APP, FAMILY)

ADDRESS_MAX = {4: (1 << 32) - 1, 6: (1 << 128) - 1}
PORT_MAX = 65535
PROTO_MAX = 255
APP_MAX = (1 << 20) - 1

TCP = 6
UDP = 17
ICMP = 1
ICMP6 = 58


# ---------------------------------------------------------------- interval sets
# An IntervalSet is a tuple of (low, high) pairs, sorted, disjoint and not adjacent; () is empty.

def interval(low, high):
    return ((low, high),) if low <= high else ()


def iv_from_pairs(pairs):
    """Normalize any iterable of (low, high) pairs (overlapping, unsorted) into an IntervalSet."""
    merged = []
    for low, high in sorted(p for p in pairs if p[0] <= p[1]):
        if merged and low <= merged[-1][1] + 1:
            if high > merged[-1][1]:
                merged[-1] = (merged[-1][0], high)
        else:
            merged.append((low, high))
    return tuple(merged)


def iv_intersect(a, b):
    if len(a) == 1 and len(b) == 1:
        low = a[0][0] if a[0][0] > b[0][0] else b[0][0]
        high = a[0][1] if a[0][1] < b[0][1] else b[0][1]
        return ((low, high),) if low <= high else ()
    out = []
    i = j = 0
    while i < len(a) and j < len(b):
        low = max(a[i][0], b[j][0])
        high = min(a[i][1], b[j][1])
        if low <= high:
            out.append((low, high))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def iv_overlaps(a, b):
    i = j = 0
    while i < len(a) and j < len(b):
        if a[i][0] <= b[j][1] and b[j][0] <= a[i][1]:
            return True
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return False


def iv_subtract(a, b):
    out = []
    j = 0
    for low, high in a:
        while j < len(b) and b[j][1] < low:
            j += 1
        k = j
        current = low
        while k < len(b) and b[k][0] <= high:
            if b[k][0] > current:
                out.append((current, b[k][0] - 1))
            current = max(current, b[k][1] + 1)
            k += 1
        if current <= high:
            out.append((current, high))
    return tuple(out)


def iv_union(a, b):
    return iv_from_pairs(a + b)


def iv_covers(outer, inner):
    """Every value of ``inner`` is in ``outer``."""
    return not iv_subtract(inner, outer)


def iv_size(a):
    return sum(high - low + 1 for low, high in a)


# ---------------------------------------------------------------- cubes and regions

class Cube(tuple):
    """One IntervalSet per dimension, in ``DIMENSIONS`` order."""

    __slots__ = ()

    def __new__(cls, sets):
        return tuple.__new__(cls, sets)

    def replace(self, dimension, values):
        items = list(self)
        items[dimension] = values
        return Cube(items)


def full_sets(family):
    """The IntervalSets of every flow of one family (``family`` 4 or 6)."""
    top = ADDRESS_MAX[family]
    return [interval(family, family), interval(0, top), interval(0, top), interval(0, PROTO_MAX),
            interval(0, PORT_MAX), interval(0, PORT_MAX), interval(0, APP_MAX)]


def make_cube(family, **constraints):
    """The cube of one family with the given dimensions constrained (IntervalSets by name);
    None when a constraint is empty."""
    sets = full_sets(family)
    for name, values in constraints.items():
        index = DIMENSIONS.index(name)
        values = iv_intersect(sets[index], values)
        if not values:
            return None
        sets[index] = values
    return Cube(sets)


def universe(families=(4, 6)):
    """Every flow, as a region (one cube per family)."""
    return [Cube(full_sets(family)) for family in families]


def cube_intersect(a, b):
    for d in _PROBE_ORDER:
        if not iv_overlaps(a[d], b[d]):
            return None
    return Cube(iv_intersect(a[d], b[d]) for d in range(7))


def cube_overlaps(a, b):
    for d in _PROBE_ORDER:
        if not iv_overlaps(a[d], b[d]):
            return False
    return True


def cube_subtract(a, b):
    """``a`` minus ``b`` as a list of disjoint cubes (at most seven)."""
    if not cube_overlaps(a, b):
        return [a]
    out = []
    current = list(a)
    for d in _PROBE_ORDER:
        rest = iv_subtract(current[d], b[d])
        if rest:
            piece = list(current)
            piece[d] = rest
            out.append(Cube(piece))
            current[d] = iv_intersect(current[d], b[d])
    return out


def region_intersect(region, other):
    out = []
    for a in region:
        for b in other:
            c = cube_intersect(a, b)
            if c is not None:
                out.append(c)
    return out


def region_overlaps(region, other):
    return any(cube_overlaps(a, b) for a in region for b in other)


def region_subtract(region, other):
    pieces = list(region)
    for b in other:
        nxt = []
        for a in pieces:
            if cube_overlaps(a, b):
                nxt.extend(cube_subtract(a, b))
            else:
                nxt.append(a)
        pieces = nxt
        if not pieces:
            break
    return pieces


def region_union(kept, added):
    """Disjoint union: ``added``'s cubes are trimmed by ``kept`` first."""
    return list(kept) + region_subtract(added, kept)


def region_is_empty(region):
    return not region


def region_covers(outer, inner):
    """Every flow of ``inner`` is in ``outer``."""
    return not region_subtract(inner, outer)


def region_equal(a, b):
    return region_covers(a, b) and region_covers(b, a)


def region_size(region):
    """How many flows (exact integer): only to compare or report, never to decide."""
    total = 0
    for cube in region:
        count = 1
        for values in cube:
            count *= iv_size(values)
        total += count
    return total


# ---------------------------------------------------------------- concrete flows

class Flow(tuple):
    """A concrete flow: (family, src, dst, proto, sport, dport, app) integers."""

    __slots__ = ()

    def __new__(cls, values):
        return tuple.__new__(cls, values)

    @property
    def source(self):
        return ip_text(self[FAMILY], self[SRC])

    @property
    def destination(self):
        return ip_text(self[FAMILY], self[DST])


def flow_in_cube(flow, cube):
    for d in range(7):
        value = flow[d]
        if not any(low <= value <= high for low, high in cube[d]):
            return False
    return True


def flow_in_region(flow, region):
    return any(flow_in_cube(flow, cube) for cube in region)


def make_flow(source, destination, proto=TCP, sport=40000, dport=25, app=0):
    src = ipaddress.ip_address(source)
    dst = ipaddress.ip_address(destination)
    if src.version != dst.version:
        raise ValueError("flow %s -> %s mixes IPv4 and IPv6" % (source, destination))
    return Flow((src.version, int(src), int(dst), proto, sport, dport, app))


def ip_text(family, value):
    return str(ipaddress.IPv4Address(value) if family == 4 else ipaddress.IPv6Address(value))


# Addresses a witness should rather not use: packet tracers and logs treat them specially.
_UNREMARKABLE = {
    4: ("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/3"),
    6: ("::/8", "fc00::/7", "fe80::/10", "ff00::/8"),
}
_AVOID = dict((family, iv_from_pairs((int(n.network_address), int(n.broadcast_address))
                                     for n in (ipaddress.ip_network(t) for t in texts)))
              for family, texts in _UNREMARKABLE.items())
# smtp's application number is 1 (policy.model.SMTP_APP).
_PREFERRED = {SPORT: (40000, 1024), DPORT: (25,), PROTO: (TCP,), APP: (1,)}


def _pick(values, dimension, family):
    if dimension in (SRC, DST):
        nice = iv_subtract(values, _AVOID[family])
        chosen = nice or values
        low, high = chosen[0]
        # An address a little inside the stretch reads better in a report than its edge (x.x.x.0).
        return low + 7 if high - low > 16 else low
    for preferred in _PREFERRED.get(dimension, ()):
        if any(low <= preferred <= high for low, high in values):
            return preferred
    low, high = values[0]
    # Port 0 is legal but a tracer may refuse it; any other value of the set proves the same.
    return low + 1 if low == 0 and high > 0 and dimension in (SPORT, DPORT) else low


def witness(region):
    """A concrete, readable flow inside a non-empty region (deterministic), else None."""
    if not region:
        return None
    cube = min(region, key=_cube_order)
    family = cube[FAMILY][0][0]
    return Flow(_pick(cube[d], d, family) if d != FAMILY else family for d in range(7))


def _cube_order(cube):
    return tuple(cube[d][0][0] for d in (FAMILY, PROTO, DPORT, DST, SRC, SPORT, APP))


# ---------------------------------------------------------------- building address sets

def address_sets(networks):
    """``{4: IntervalSet, 6: IntervalSet}`` for an iterable of ipaddress networks, addresses or
    ``(first, last)`` address pairs."""
    pairs = {4: [], 6: []}
    for item in networks:
        if isinstance(item, tuple):
            first, last = item
            pairs[first.version].append((int(first), int(last)))
        elif isinstance(item, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
            pairs[item.version].append((int(item), int(item)))
        else:
            pairs[item.version].append((int(item.network_address), int(item.broadcast_address)))
    return dict((family, iv_from_pairs(p)) for family, p in pairs.items())


def any_addresses():
    return {4: interval(0, ADDRESS_MAX[4]), 6: interval(0, ADDRESS_MAX[6])}


def no_addresses():
    return {4: (), 6: ()}


def addresses_subtract(a, b):
    return dict((family, iv_subtract(a[family], b[family])) for family in (4, 6))


def addresses_union(a, b):
    return dict((family, iv_union(a[family], b[family])) for family in (4, 6))


def addresses_intersect(a, b):
    return dict((family, iv_intersect(a[family], b[family])) for family in (4, 6))


def addresses_are_any(a):
    return all(iv_covers(a[family], interval(0, ADDRESS_MAX[family])) for family in (4, 6))


def address_intervals_text(family, values, limit=4):
    """``198.51.100.0/24, 203.0.113.7`` for an IntervalSet (CIDRs; ``...`` past ``limit``)."""
    cls = ipaddress.IPv4Address if family == 4 else ipaddress.IPv6Address
    parts = []
    for low, high in values:
        for net in ipaddress.summarize_address_range(cls(low), cls(high)):
            parts.append(str(net.network_address) if net.num_addresses == 1 else str(net))
            if len(parts) > limit:
                return ", ".join(parts[:limit]) + ", ..."
    return ", ".join(parts)


def match_cubes(sources, destinations, protocols=None, sport=None, dport=None, apps=None):
    """The cubes of a rule clause: source and destination address sets (``{4: .., 6: ..}``),
    protocol, port and application IntervalSets (None: all). One cube per family that both
    address sets have; [] when the clause matches nothing."""
    cubes = []
    for family in (4, 6):
        constraints = {"src": sources[family], "dst": destinations[family]}
        for name, values in (("proto", protocols), ("sport", sport), ("dport", dport), ("app", apps)):
            if values is not None:
                constraints[name] = values
        cube = make_cube(family, **constraints)
        if cube is not None:
            cubes.append(cube)
    return cubes
