# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Probe sources for verification, built from the allowed ranges.

Inside each range: first, middle and last address. Just outside each edge, unless that address
lies in another allowed range. Deterministic samples from the complement (the same ranges give
the same probes on every run and every controller, so reports can be compared).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import ipaddress

from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import parse_network


def _inside(address, networks):
    return any(address.version == n.version and address in n for n in networks)


def _complement_samples(networks, count, seed, version):
    """``count`` public addresses outside every range, picked by hashing ``seed`` (no randomness)."""
    bits = 32 if version == 4 else 128
    samples = []
    counter = 0
    while len(samples) < count and counter < count * 1000:
        digest = hashlib.sha256(("%s:%d:%d" % (seed, version, counter)).encode()).digest()
        counter += 1
        value = int.from_bytes(digest, "big") % (2 ** bits)
        if version == 6:
            value = (0x2000 << 112) | (value & ((1 << 125) - 1))  # stay in 2000::/3, global unicast
        address = ipaddress.ip_address(value)
        if not address.is_global or address.is_multicast or _inside(address, networks):
            continue
        samples.append(address)
    return samples


def build_probes(ranges, complement_samples=8, seed="emailsec.hes"):
    """Probe sources with the verdict expected for TCP/25: a list of dicts.

    Each dict has ``source``, ``expect`` (``allow`` | ``deny``), ``kind`` and ``range`` (the
    allowed range it was derived from, or None for complement samples).
    """
    networks = [parse_network(r, "ranges") if isinstance(r, str) else r for r in ranges]
    probes = []
    seen = set()

    def add(address, expect, kind, net):
        if address in seen:
            return
        seen.add(address)
        probes.append({"source": str(address), "expect": expect, "kind": kind,
                       "range": str(net) if net is not None else None})

    for net in networks:
        first, last = net.network_address, net.broadcast_address
        add(first, "allow", "inside-first", net)
        add(ipaddress.ip_address(int(first) + (int(last) - int(first)) // 2), "allow", "inside-middle", net)
        add(last, "allow", "inside-last", net)
    for net in networks:
        first, last = int(net.network_address), int(net.broadcast_address)
        top = 2 ** net.max_prefixlen - 1
        for value, kind in ((first - 1, "edge-below"), (last + 1, "edge-above")):
            if value < 0 or value > top:
                continue
            address = ipaddress.ip_address(value) if net.version == 4 else ipaddress.IPv6Address(value)
            if not _inside(address, networks):
                add(address, "deny", kind, net)
    for version in sorted({n.version for n in networks}):
        for address in _complement_samples(networks, complement_samples, seed, version):
            add(address, "deny", "complement", None)
    return probes
