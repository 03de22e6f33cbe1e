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
import re
import time

from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import RangeError, parse_network

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
    """(origin, CIDR) pairs that ``domain``'s SPF record authorises, following include and redirect.

    Any term that is not valid RFC 7208 syntax, or that cannot be flattened into networks
    (``ptr``, ``exists``, macros, ``+all``), raises `RangeError` naming the domain and the term.
    """
    walk = _Walk(txt, addresses)
    _flatten(walk, check_domain(domain, "spf: domain"), chain=())
    return walk.entries


# RFC 7208 4.6.1 / 5.6: a mechanism name, then ":value" and/or "/len" or "//len".
_TERM_RE = re.compile(r"([A-Za-z][A-Za-z0-9_.-]*)(.*)", re.DOTALL)
_MODIFIER_RE = re.compile(r"([A-Za-z][A-Za-z0-9_.-]*)=(.*)", re.DOTALL)
_DUAL_CIDR_RE = re.compile(r"(?P<domain>[^/]*)(?:/(?P<v4>0|[1-9][0-9]?))?(?://(?P<v6>0|[1-9][0-9]{0,2}))?")
_LABEL_RE = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")


def check_domain(name, origin):
    """A DNS name as SPF uses it (underscore labels allowed, no macros); returns it without a trailing dot."""
    if not isinstance(name, str) or not name:
        raise RangeError("%s: empty domain" % origin)
    if "%" in name:
        raise RangeError("%s: %r uses SPF macros, which depend on the sender and cannot be flattened"
                         % (origin, name))
    bare = name[:-1] if name.endswith(".") else name
    if len(bare) > 253 or not all(_LABEL_RE.fullmatch(label) for label in bare.split(".")):
        raise RangeError("%s: %r is not a valid domain name" % (origin, name))
    return bare


def _dual_cidr(rest, origin, default_name):
    """``:name/24//64``, ``/24``, ``//64`` or nothing: (domain, v4 length, v6 length)."""
    if rest.startswith(":"):
        rest = rest[1:]
        if not rest or rest.startswith("/"):
            raise RangeError("%s: empty domain after ':'" % origin)
    elif rest and not rest.startswith("/"):
        raise RangeError("%s: unknown mechanism" % origin)
    match = _DUAL_CIDR_RE.fullmatch(rest)
    if not match:
        raise RangeError("%s: malformed prefix length (RFC 7208: /0-/32 for IPv4, //0-//128 for IPv6)" % origin)
    v4_len = int(match.group("v4") or 32)
    v6_len = int(match.group("v6") or 128)
    if v4_len > 32 or v6_len > 128:
        raise RangeError("%s: prefix length out of range (RFC 7208: /0-/32 for IPv4, //0-//128 for IPv6)" % origin)
    target = match.group("domain")
    return (check_domain(target, origin) if target else default_name), v4_len, v6_len


def _ip_mechanism(mechanism, rest, origin):
    """``ip4:`` / ``ip6:`` value as a canonical CIDR of the right family."""
    if not rest.startswith(":") or len(rest) == 1:
        raise RangeError("%s: %s needs ':address[/length]'" % (origin, mechanism))
    net = parse_network(rest[1:], origin)
    if net.version != int(mechanism[-1]):
        raise RangeError("%s: %s is an IPv%d network under %s" % (origin, net, net.version, mechanism))
    return str(net)


def _flatten(walk, name, chain):
    if name.lower() in (n.lower() for n in chain):
        raise RangeError("spf: include loop %s" % " -> ".join(chain + (name,)))
    chain = chain + (name,)
    record = spf_record(walk.txt(name), name)
    redirect = None
    has_all = False
    for term in record.split()[1:]:
        origin = "spf %s: %r" % (" -> ".join(chain), term)
        modifier = _MODIFIER_RE.fullmatch(term)
        if modifier:
            if modifier.group(1).lower() == "redirect":
                redirect = check_domain(modifier.group(2), origin)
            continue  # exp= and unknown modifiers: RFC 7208 6 says ignore
        qualifier = "+"
        if term[0] in "+-~?":
            qualifier, term = term[0], term[1:]
        match = _TERM_RE.fullmatch(term)
        if not match:
            raise RangeError("%s: not an SPF mechanism" % origin)
        mechanism, rest = match.group(1).lower(), match.group(2)
        if mechanism == "all":
            if rest:
                raise RangeError("%s: 'all' takes no value" % origin)
            if qualifier == "+":
                raise RangeError("%s: +all authorises every address on the internet; refusing to flatten it"
                                 % origin)
            has_all = True
            continue
        if mechanism in ("ip4", "ip6"):
            cidr = _ip_mechanism(mechanism, rest, origin)
            if qualifier == "+":
                walk.entries.append((origin, cidr))
            continue
        if mechanism not in _DNS_MECHANISMS:
            raise RangeError("%s: unknown mechanism %r (RFC 7208 5)" % (origin, mechanism))
        walk.count_dns_term(term, name)
        if mechanism in ("include", "exists"):
            if not rest.startswith(":"):
                raise RangeError("%s: %s needs ':domain'" % (origin, mechanism))
            target = check_domain(rest[1:], origin)
        else:
            target, v4_len, v6_len = _dual_cidr(rest, origin, name)
        if qualifier != "+":
            continue  # -, ~, ? never authorise a sender
        if mechanism == "include":
            _flatten(walk, target, chain)
        elif mechanism in ("a", "mx"):
            _flatten_host(walk, mechanism, target, v4_len, v6_len, origin)
        else:
            raise RangeError("%s: %s depends on the sender and cannot be flattened into address ranges"
                             % (origin, mechanism))
    if redirect and not has_all:
        walk.count_dns_term("redirect=" + redirect, name)
        _flatten(walk, redirect, chain)


def _flatten_host(walk, mechanism, target, v4_len, v6_len, origin):
    hosts = [target]
    if mechanism == "mx":
        # A null MX (RFC 7505, exchange ".") names no host.
        hosts = [host for host in walk.addresses(target, "mx") if host]
        if len(hosts) > 10:
            raise RangeError("spf: %s has more than 10 MX records (RFC 7208 4.6.4)" % target)
    found = 0
    for host in hosts:
        for version, length in ((4, v4_len), (6, v6_len)):
            for address in walk.addresses(host, version):
                try:
                    network = ipaddress.ip_network("%s/%d" % (address, length), strict=False)
                except ValueError:
                    raise RangeError("%s: the DNS answered %r for %s, not an IPv%d address"
                                     % (origin, address, host, version))
                walk.entries.append((origin, str(network)))
                found += 1
    if not found:
        walk.void(target)


def parse_dns_server(server):
    """``dns_server``: ``IP``, ``IPv4:port``, ``[IPv6]:port`` or a bare IPv6 address -> (host, port or None)."""
    if not isinstance(server, str):
        raise RangeError("dns_server: %r is not a string" % (server,))
    text = server
    bracketed = re.fullmatch(r"\[([^\]]*)\](?::([^:]*))?", text)
    if bracketed:
        host, port = bracketed.group(1), bracketed.group(2)
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, None
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise RangeError("dns_server: %r: %r is not an IP address (give the resolver's address, "
                         "optionally with :port)" % (server, host))
    if "%" in host:
        raise RangeError("dns_server: %r: a zone index is not supported" % (server,))
    if port is not None:
        if not re.fullmatch(r"[0-9]{1,5}", port) or not 0 < int(port) < 65536:
            raise RangeError("dns_server: %r: %r is not a port (1-65535)" % (server, port))
        port = int(port)
    return host, port


def dns_resolver(server=None, timeout=5.0):
    """``(txt, addresses)`` callables on dnspython; ``server`` as `parse_dns_server` takes it.

    ``timeout`` bounds the whole resolution, every query of every include together, not each query.
    """
    # Imported here, not with the module: importing dnspython costs more than a whole lookup
    # (about 50 ms), and every process that templates the ranges lookup imports this module,
    # while only source=spf needs it.
    try:
        import dns.exception
        import dns.resolver
    except ImportError:
        raise RangeError("spf: source=spf needs the Python package dnspython on the controller")
    host, port = parse_dns_server(server) if server else (None, None)
    resolver = dns.resolver.Resolver(configure=host is None)
    if host:
        resolver.nameservers = [host]
        if port:
            resolver.port = port
    deadline = time.monotonic() + timeout

    def past_deadline(name, rdtype):
        return RangeError("spf: the SPF resolution took longer than its %s s deadline (timeout); stopped at "
                          "%s %s via %s" % (timeout, name, rdtype, server or "the system resolver"))

    def query(name, rdtype):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise past_deadline(name, rdtype)
        resolver.lifetime = remaining
        resolver.timeout = remaining
        try:
            return resolver.resolve(name, rdtype)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.exception.Timeout:
            if time.monotonic() >= deadline:
                raise past_deadline(name, rdtype)
            raise RangeError("spf: DNS query %s %s timed out via %s" % (name, rdtype, server or "the system resolver"))
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
