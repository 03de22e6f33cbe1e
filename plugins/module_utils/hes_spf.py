# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Flatten an SPF record into the networks it authorises (RFC 7208).

The DNS is reached through two callables so that the flattening is pure and testable:
``txt(name) -> [str]`` and ``addresses(name, version) -> [str]``. `dns_resolver()` builds them
on dnspython, optionally pointed at one server (tests start their own on loopback).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import RangeError

try:
    import dns.exception
    import dns.resolver

    HAS_DNSPYTHON = True
except ImportError:
    HAS_DNSPYTHON = False

# RFC 7208 section 4.6.4: at most 10 terms that cause DNS queries, at most 2 void lookups.
DNS_TERM_LIMIT = 10
VOID_LOOKUP_LIMIT = 2
_DNS_MECHANISMS = ("include", "a", "mx", "ptr", "exists")


class _Walk:
    def __init__(self, txt, addresses):
        self.txt = txt
        self.addresses = addresses
        self.dns_terms = 0
        self.void_lookups = 0
        self.entries = []

    def count_dns_term(self, term, name):
        self.dns_terms += 1
        if self.dns_terms > DNS_TERM_LIMIT:
            raise RangeError("spf: more than %d DNS-querying terms (RFC 7208 4.6.4) at %r in %s"
                             % (DNS_TERM_LIMIT, term, name))

    def void(self, name):
        self.void_lookups += 1
        if self.void_lookups > VOID_LOOKUP_LIMIT:
            raise RangeError("spf: more than %d void lookups (RFC 7208 4.6.4), last at %s"
                             % (VOID_LOOKUP_LIMIT, name))


def spf_record(txt_records, name):
    """The single ``v=spf1`` record among a name's TXT records."""
    records = [r for r in txt_records if r.lower() == "v=spf1" or r.lower().startswith("v=spf1 ")]
    if not records:
        raise RangeError("spf: %s has no v=spf1 TXT record" % name)
    if len(records) > 1:
        raise RangeError("spf: %s has %d v=spf1 records (RFC 7208 4.5 makes that a permerror)"
                         % (name, len(records)))
    return records[0]


def flatten_spf(domain, txt, addresses):
    """(origin, CIDR) pairs that ``domain``'s SPF record authorises, following include and redirect."""
    walk = _Walk(txt, addresses)
    _flatten(walk, domain, chain=())
    return walk.entries


def _split_cidr_suffix(value, default_name):
    """``a:name/24//64`` and ``a/24`` forms: the domain and the v4/v6 prefix lengths."""
    v6_len = 128
    if "//" in value:
        value, v6 = value.split("//", 1)
        v6_len = int(v6)
    v4_len = 32
    if "/" in value:
        value, v4 = value.rsplit("/", 1)
        v4_len = int(v4)
    return (value or default_name), v4_len, v6_len


def _flatten(walk, name, chain):
    if name in chain:
        raise RangeError("spf: include loop %s" % " -> ".join(chain + (name,)))
    chain = chain + (name,)
    record = spf_record(walk.txt(name), name)
    redirect = None
    has_all = False
    for term in record.split()[1:]:
        qualifier = "+"
        if term[0] in "+-~?":
            qualifier, term = term[0], term[1:]
        lowered = term.lower()
        origin = "spf %s: %s%s" % (" -> ".join(chain), "" if qualifier == "+" else qualifier, term)
        if lowered.startswith("redirect="):
            redirect = term.split("=", 1)[1]
            continue
        if "=" in lowered.split(":", 1)[0]:
            continue  # unknown modifier (exp= and others): RFC 7208 6 says ignore
        if lowered == "all":
            has_all = True
            continue
        mechanism = lowered.split(":", 1)[0].split("/", 1)[0]
        if mechanism in _DNS_MECHANISMS:
            walk.count_dns_term(term, name)
        if qualifier != "+":
            continue  # -, ~, ? never authorise a sender
        if mechanism in ("ip4", "ip6"):
            walk.entries.append((origin, term.split(":", 1)[1]))
        elif mechanism == "include":
            _flatten(walk, term.split(":", 1)[1], chain)
        elif mechanism in ("a", "mx"):
            rest = term[len(mechanism):].lstrip(":")
            target, v4_len, v6_len = _split_cidr_suffix(rest, name)
            hosts = [target]
            if mechanism == "mx":
                hosts = walk.addresses(target, "mx")
                if len(hosts) > 10:
                    raise RangeError("spf: %s has more than 10 MX records (RFC 7208 4.6.4)" % target)
            found = 0
            for host in hosts:
                for version, length in ((4, v4_len), (6, v6_len)):
                    for address in walk.addresses(host, version):
                        network = ipaddress.ip_network("%s/%d" % (address, length), strict=False)
                        walk.entries.append((origin, str(network)))
                        found += 1
            if not found:
                walk.void(target)
        else:
            raise RangeError("spf: %s cannot be flattened into address ranges" % origin)
    if redirect and not has_all:
        walk.count_dns_term("redirect=" + redirect, name)
        _flatten(walk, redirect, chain)


def dns_resolver(server=None, timeout=5.0):
    """``(txt, addresses)`` callables on dnspython; ``server`` is ``host`` or ``host:port``."""
    if not HAS_DNSPYTHON:
        raise RangeError("spf: source=spf needs the Python package dnspython on the controller")
    resolver = dns.resolver.Resolver(configure=server is None)
    if server:
        host, port = server.rsplit(":", 1) if server.count(":") == 1 else (server, "")
        resolver.nameservers = [host or server]
        if port:
            resolver.port = int(port)
    resolver.lifetime = timeout
    resolver.timeout = timeout

    def query(name, rdtype):
        try:
            return resolver.resolve(name, rdtype)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.exception.DNSException as exc:
            raise RangeError("spf: DNS query %s %s failed via %s: %s"
                             % (name, rdtype, server or "the system resolver", exc))

    def txt(name):
        return ["".join(part.decode("ascii", "replace") for part in answer.strings)
                for answer in query(name, "TXT")]

    def addresses(name, kind):
        if kind == "mx":
            return [str(answer.exchange).rstrip(".") for answer in query(name, "MX")]
        return [answer.address for answer in query(name, "A" if kind == 4 else "AAAA")]

    return txt, addresses
