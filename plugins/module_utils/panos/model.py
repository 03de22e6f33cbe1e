# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PAN-OS configuration (``panos.parse``) -> the vendor-neutral policy model.

One ``Path`` per ordered pair of zones (``untrust->dmz``), for every zone of the vsys and every
zone a rule names. A path holds, in rulebase order, the security rules that apply to that pair,
then the default rule of the pair:

* zones: the rule's ``from`` holds the source zone or ``any``, its ``to`` the destination zone or
  ``any``; ``rule-type`` intrazone needs both zones equal, interzone needs them different,
  universal (the default) either;
* disabled rules are skipped;
* default rules: ``intrazone-default`` allows, ``interzone-default`` denies, unless the vsys
  overrides their action under ``rulebase/default-security-rules``;
* actions: ``allow`` permits; ``deny``, ``drop``, ``reset-client``, ``reset-server`` and
  ``reset-both`` deny.

A rule's match is exact in every dimension the configuration decides: source and destination
(``any``, literals, address objects of every type, static groups nested, ``negate-source`` /
``negate-destination``), services (tcp/udp/sctp with port lists and ranges and source ports,
service groups nested, the predefined ``service-http``/``service-https``, ``any``) and
applications on the engine's application dimension (``any``, names, application groups).
``application-default`` admits each application on its default ports: custom applications'
``default/port`` from the configuration, predefined ones from ``APP_DEFAULT_PORTS``.

What the configuration cannot decide is uncertain (the rule may match anything of its kind, or
nothing; the engine reads it against us): fqdn objects, dynamic address groups, external dynamic
lists and regions, ip-wildcard objects too scattered to list, application filters,
``application-default`` of an application the table does not know (``application any`` with
``application-default`` is one), ``source-user``, ``category``, HIP profiles and ``schedule``
other than ``any``/none, names that resolve to nothing, and rules lacking a field PAN-OS requires.

Not modelled: NAT (security rules match the pre-NAT addresses and the post-NAT zone, so the mail
servers are given as the addresses the rules name), policy-based forwarding, the zone a route
would choose (the mail servers' zone is given or taken from the SMTP rules), the application
shift of a session after its first packets (App-ID identification is taken as the flow's
application), and other vsys.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.emailsec.hes.plugins.module_utils.panos.parse import (
    PanosError,
    literal_networks,
    port_ranges,
)
from ansible_collections.emailsec.hes.plugins.module_utils.policy.model import SMTP_APP, AppSpace, Path, Policy, Rule
from ansible_collections.emailsec.hes.plugins.module_utils.policy.space import (
    ADDRESS_MAX,
    APP_MAX,
    PORT_MAX,
    PROTO_MAX,
    TCP,
    address_sets,
    addresses_subtract,
    addresses_union,
    any_addresses,
    interval,
    iv_from_pairs,
    match_cubes,
    no_addresses,
    region_overlaps,
    region_union,
    universe,
)

# Default ports of predefined App-ID applications: what ``service application-default`` admits.
# Source: Applipedia (applipedia.paloaltonetworks.com, "Standard Ports") and, for smtp, the
# reference notes (../shared/reference/panos-xml-api.md §4-§5: smtp's default is tcp/25). App-ID
# content updates can change these; an application not listed here is uncertain under
# application-default. docs/panos.md lists the table and how to read a refusal it causes.
APP_DEFAULT_PORTS = {
    "smtp": ("tcp/25",),
    "smtp-base": ("tcp/25",),
    "ssl": ("tcp/443",),
    "web-browsing": ("tcp/80",),
    "ssh": ("tcp/22",),
    "telnet": ("tcp/23",),
    "dns": ("tcp/53", "udp/53"),
    "dns-base": ("tcp/53", "udp/53"),
    "ntp": ("udp/123",),
    "ntp-base": ("udp/123",),
    "ftp": ("tcp/21",),
    "pop3": ("tcp/110",),
    "imap": ("tcp/143",),
    "ldap": ("tcp/389",),
    "ms-rdp": ("tcp/3389",),
    "snmp": ("udp/161",),
    "syslog": ("udp/514",),
}
# PAN-OS ships exactly two predefined services.
PREDEFINED_SERVICES = {
    "service-http": {"protocol": "tcp", "port": "80,8080", "source_port": None},
    "service-https": {"protocol": "tcp", "port": "443", "source_port": None},
}
PROTOCOL_NUMBERS = {"tcp": TCP, "udp": 17, "sctp": 132}
PERMIT_ACTIONS = ("allow",)
DENY_ACTIONS = ("deny", "drop", "reset-client", "reset-server", "reset-both")
RULE_TYPES = ("universal", "intrazone", "interzone")
ALL_PROTOCOLS = interval(0, PROTO_MAX)
ALL_APPS = interval(0, APP_MAX)
# ip-wildcard objects expand to at most this many address intervals; beyond, they are uncertain.
WILDCARD_INTERVALS_MAX = 1024
PROBE_PROTOCOLS = {"tcp": 6, "udp": 17, "icmp": 1, "icmp6": 58, "sctp": 132}
PROBE_KEYS = ("name", "source", "destination", "port", "protocol", "application", "from_zone", "to_zone")


def path_name(from_zone, to_zone):
    return "%s->%s" % (from_zone, to_zone)


class Span(object):
    """What a member stands for: the widest (``high``) and narrowest (``low``) value, equal when
    certain, and the reasons when not."""

    __slots__ = ("low", "high", "doubts")

    def __init__(self, low, high=None, doubts=()):
        self.low = low
        self.high = low if high is None else high
        self.doubts = list(doubts)


class Term(object):
    """One service term: applications (IntervalSet of AppSpace ids), protocols, source and
    destination ports (None: all); ``certain`` False when it may as well match nothing."""

    __slots__ = ("apps", "protocols", "sport", "dport", "certain")

    def __init__(self, apps, protocols, sport=None, dport=None, certain=True):
        self.apps = apps
        self.protocols = protocols
        self.sport = sport
        self.dport = dport
        self.certain = certain


def _doubtful(families=(4, 6)):
    high = no_addresses()
    for family in families:
        high[family] = any_addresses()[family]
    return no_addresses(), high


class Resolver(object):
    """Resolves the names of one configuration, each once."""

    def __init__(self, config, apps):
        self.config = config
        self.apps = apps
        self._addresses = {}
        self._services = {}

    # ------------------------------------------------------------ addresses

    def address(self, name, seen=frozenset()):
        """A source/destination member -> Span of address sets."""
        if name in self._addresses:
            return self._addresses[name]
        span = self._address(name, seen)
        if not seen:
            self._addresses[name] = span
        return span

    def _address(self, name, seen):
        config = self.config
        if name == "any":
            return Span(any_addresses())
        if name in config["addresses"]:
            return self._address_object(config["addresses"][name])
        if name in config["groups"]:
            group = config["groups"][name]
            if name in seen:
                return Span(*_doubtful(), doubts=["address group %s contains itself" % name])
            if group["dynamic"] is not None:
                low, high = _doubtful()
                return Span(low, high, ["dynamic address group %s (filter %s): its members are registered "
                                        "at run time" % (name, group["dynamic"] or "empty")])
            low, high, doubts = no_addresses(), no_addresses(), []
            for member in group["static"]:
                part = self.address(member, seen | {name})
                low, high = addresses_union(low, part.low), addresses_union(high, part.high)
                doubts.extend(d for d in part.doubts if d not in doubts)
            return Span(low, high, doubts)
        if name in config["external_lists"]:
            return Span(*_doubtful(), doubts=["external dynamic list %s: fetched by the firewall at run time" % name])
        if name in config["regions"] or (len(name) == 2 and name.isalpha() and name.isupper()):
            return Span(*_doubtful(), doubts=["region %s: the firewall's geolocation database decides" % name])
        nets = literal_networks(name)
        if nets is not None:
            return Span(address_sets(nets))
        return Span(*_doubtful(), doubts=["address %s is not defined" % name])

    def _address_object(self, obj):
        name, kind, value = obj["name"], obj["type"], obj["value"] or ""
        if kind in ("ip-netmask", "ip-range"):
            nets = literal_networks(value)
            if nets is not None and (kind == "ip-range") == isinstance(nets[0], tuple):
                return Span(address_sets(nets))
        elif kind == "ip-wildcard":
            span = _wildcard(value)
            if span is not None:
                return span if span.doubts else Span(span.low)
        elif kind == "fqdn":
            return Span(*_doubtful(), doubts=["address %s is fqdn %s: resolved by DNS at run time" % (name, value)])
        return Span(*_doubtful(), doubts=["address %s (%s %s) is not understood" % (name, kind, value)])

    def addresses(self, names, negate):
        """A rule's source or destination list -> Span (``negate`` applied)."""
        if not names:
            low, high = _doubtful()
            return Span(low, high, ["the rule has no members here (PAN-OS requires at least any)"])
        low, high, doubts = no_addresses(), no_addresses(), []
        for name in names:
            part = self.address(name)
            low, high = addresses_union(low, part.low), addresses_union(high, part.high)
            doubts.extend(d for d in part.doubts if d not in doubts)
        if negate:
            low, high = addresses_subtract(any_addresses(), high), addresses_subtract(any_addresses(), low)
        return Span(low, high, doubts)

    # ------------------------------------------------------------ applications

    def application_names(self, names, doubts, seen=frozenset()):
        """Application members -> (names, any?) with groups expanded; filters make it any."""
        out, anything = [], False
        for name in names:
            if name == "any":
                anything = True
            elif name in self.config["application_groups"] and name not in seen:
                sub, sub_any = self.application_names(self.config["application_groups"][name]["members"], doubts,
                                                      seen | {name})
                out.extend(sub)
                anything = anything or sub_any
            elif name in self.config["application_filters"]:
                doubts.append("application filter %s: the applications it selects depend on App-ID content" % name)
                anything = True
            else:
                out.append(name)
        return out, anything

    def default_ports(self, app):
        """[(protocol, ports IntervalSet)] for ``application-default``; None when unknown."""
        custom = self.config["applications"].get(app)
        texts = custom["default_ports"] if custom is not None else APP_DEFAULT_PORTS.get(app)
        if not texts:
            return None
        out = []
        for item in texts:
            proto, dummy, ports = item.partition("/")
            pairs = port_ranges(ports)
            if proto not in PROTOCOL_NUMBERS or pairs is None:
                return None
            out.append((PROTOCOL_NUMBERS[proto], iv_from_pairs(pairs)))
        return out

    # ------------------------------------------------------------ services

    def service(self, name, apps, seen=frozenset()):
        """A service member (not application-default) -> [Term] for the application set ``apps``,
        and the doubts."""
        if name == "any":
            return [Term(apps, ALL_PROTOCOLS)], []
        spec = self.config["services"].get(name) or PREDEFINED_SERVICES.get(name)
        if spec is not None:
            protocol = PROTOCOL_NUMBERS.get(spec["protocol"])
            dport = port_ranges(spec["port"])
            sport = port_ranges(spec["source_port"]) if spec["source_port"] else None
            if protocol is None or dport is None or (spec["source_port"] and sport is None):
                return [Term(apps, ALL_PROTOCOLS, certain=False)], [
                    "service %s (%s %s) is not understood" % (name, spec["protocol"], spec["port"])]
            return [Term(apps, interval(protocol, protocol), iv_from_pairs(sport) if sport else None,
                         iv_from_pairs(dport))], []
        group = self.config["service_groups"].get(name)
        if group is not None and name not in seen:
            terms, doubts = [], []
            for member in group["members"]:
                sub, sub_doubts = self.service(member, apps, seen | {name})
                terms.extend(sub)
                doubts.extend(d for d in sub_doubts if d not in doubts)
            return terms, doubts
        reason = "service group %s contains itself" % name if group is not None else "service %s is not defined" % name
        return [Term(apps, ALL_PROTOCOLS, certain=False)], [reason]

    def application_default(self, names, anything, doubts):
        """Terms of ``service application-default`` for the rule's applications."""
        by_ports = {}
        unknown = []
        if anything:
            candidates = [n for n in self.apps.names.values() if n in self.config["applications"]
                          or n in APP_DEFAULT_PORTS]
        else:
            candidates = names
        for app in candidates:
            ports = self.default_ports(app)
            if ports is None:
                unknown.append(app)
            else:
                by_ports.setdefault(tuple(ports), []).append(self.apps.id(app))
        terms = []
        for ports, ids in sorted(by_ports.items()):
            app_ivs = iv_from_pairs((i, i) for i in ids)
            for protocol, dport in ports:
                terms.append(Term(app_ivs, interval(protocol, protocol), dport=dport))
        if anything:
            known = set(i for ids in by_ports.values() for i in ids)
            others = [(i, i) for i in range(len(self.apps.names)) if i not in known] + \
                [(len(self.apps.names), APP_MAX)]
            terms.append(Term(iv_from_pairs(others), ALL_PROTOCOLS, certain=False))
            doubts.append("application any with application-default: the default ports of applications "
                          "other than %s are not known here" % ", ".join(sorted(APP_DEFAULT_PORTS)))
        elif unknown:
            ids = iv_from_pairs((self.apps.id(a), self.apps.id(a)) for a in unknown)
            terms.append(Term(ids, ALL_PROTOCOLS, certain=False))
            doubts.append("application-default of %s: default ports not known here" % ", ".join(unknown))
        return terms


def _wildcard(value):
    """``10.0.0.0/0.0.255.0`` -> Span: exact intervals when few, else uncertain within its hull."""
    base, slash, mask = (value or "").partition("/")
    try:
        address = ipaddress.ip_address(base.strip())
        wild = ipaddress.ip_address(mask.strip())
    except ValueError:
        return None
    if not slash or address.version != wild.version:
        return None
    family, bits = address.version, address.max_prefixlen
    wild_int = int(wild)
    trailing = 0
    while trailing < bits and wild_int >> trailing & 1:
        trailing += 1
    scattered = [b for b in range(trailing, bits) if wild_int >> b & 1]
    fixed = int(address) & ~wild_int & ADDRESS_MAX[family]
    if 2 ** len(scattered) > WILDCARD_INTERVALS_MAX:
        high = no_addresses()
        high[family] = interval(fixed, fixed | wild_int)
        return Span(no_addresses(), high, ["ip-wildcard %s matches too many address stretches to list" % value])
    pairs = []
    for combination in range(2 ** len(scattered)):
        start = fixed
        for index, bit in enumerate(scattered):
            if combination >> index & 1:
                start |= 1 << bit
        pairs.append((start, start | ((1 << trailing) - 1)))
    sets = no_addresses()
    sets[family] = iv_from_pairs(pairs)
    return Span(sets)


# ---------------------------------------------------------------- rules

def _conditions(rule):
    """Reasons the rule matches only some of the time or only some users: each empties its
    narrowest match."""
    out = []
    for key, what in (("source_user", "source-user"), ("category", "URL category"),
                      ("source_hip", "source HIP profile"), ("destination_hip", "destination HIP profile"),
                      ("hip_profiles", "HIP profile")):
        if rule[key] and rule[key] != ["any"]:
            out.append("%s %s: decided at run time" % (what, ", ".join(rule[key])))
    if rule["schedule"]:
        out.append("schedule %s: active only at some times" % rule["schedule"])
    for key in ("from", "to", "source", "destination", "application", "service"):
        if not rule[key]:
            out.append("the rule has no %s (PAN-OS refuses to commit it)" % key)
    if rule["rule_type"] not in RULE_TYPES:
        out.append("rule-type %s is not understood (taken as universal)" % rule["rule_type"])
    if rule["action"] not in PERMIT_ACTIONS + DENY_ACTIONS:
        out.append("action %s is not understood (taken as deny)" % rule["action"])
    return out


def rule_label(rule):
    return "rule %s (index %d)" % (rule["name"], rule["index"])


def rule_model(resolver, rule):
    """A parsed security rule -> Rule (its zones are the path's business, not the match's)."""
    conditional = _conditions(rule)
    doubts = []
    src = resolver.addresses(rule["source"], rule["negate_source"])
    dst = resolver.addresses(rule["destination"], rule["negate_destination"])
    for reason in src.doubts + dst.doubts:
        if reason not in doubts:
            doubts.append(reason)
    filters = []
    names, anything = resolver.application_names(rule["application"] or ["any"], filters)
    conditional.extend(filters)
    app_set = ALL_APPS if anything else iv_from_pairs((resolver.apps.id(n), resolver.apps.id(n)) for n in names)
    terms = []
    for name in rule["service"] or ["any"]:
        if name == "application-default":
            terms.extend(resolver.application_default(names, anything, doubts))
        else:
            sub, sub_doubts = resolver.service(name, app_set)
            terms.extend(sub)
            doubts.extend(d for d in sub_doubts if d not in doubts)
    high, low = [], []
    for term in terms:
        if not term.apps:
            continue
        high.extend(match_cubes(src.high, dst.high, term.protocols, term.sport, term.dport, term.apps))
        if term.certain and not conditional:
            low.extend(match_cubes(src.low, dst.low, term.protocols, term.sport, term.dport, term.apps))
    doubts.extend(conditional)
    action = "permit" if rule["action"] in PERMIT_ACTIONS else "deny"
    return Rule("rule|%s" % rule["name"], rule_label(rule), action, _disjoint(high),
                _disjoint(low) if doubts else None, uncertain=doubts,
                origin={"name": rule["name"], "index": rule["index"], "action": rule["action"]})


def _disjoint(cubes):
    region = []
    for cube in cubes:
        region = region_union(region, [cube])
    return region


def applies(rule, from_zone, to_zone):
    """The rule is considered for flows from ``from_zone`` to ``to_zone``."""
    if rule["disabled"]:
        return False
    if "any" not in rule["from"] and from_zone not in rule["from"]:
        return False
    if "any" not in rule["to"] and to_zone not in rule["to"]:
        return False
    if rule["rule_type"] == "intrazone":
        return from_zone == to_zone
    if rule["rule_type"] == "interzone":
        return from_zone != to_zone
    return True


def zone_names(config):
    """The vsys's zones, then any other zone a rule names, sorted."""
    names = set(config["zones"])
    for rule in config["rules"]:
        names.update(z for z in rule["from"] + rule["to"] if z != "any")
    return sorted(names)


def default_rule(config, name):
    action = config["default_rules"].get(name, {}).get("action") or (
        "allow" if name == "intrazone-default" else "deny")
    label = "%s (default rule, %s)" % (name, action)
    return Rule("default|%s" % name, label, "permit" if action in PERMIT_ACTIONS else "deny", universe(),
                origin={"name": name, "index": None, "action": action})


def app_space(config):
    """Every application the configuration or the default-port table names, in a stable order."""
    names = set(APP_DEFAULT_PORTS) | set(config["applications"])
    for rule in config["rules"]:
        names.update(a for a in rule["application"] if a != "any")
    for group in config["application_groups"].values():
        names.update(group["members"])
    names -= set(config["application_groups"]) | set(config["application_filters"])
    return AppSpace(sorted(names))


# Parts of a configuration a rule's match can depend on, by config key.
OBJECT_KINDS = ("addresses", "groups", "services", "service_groups", "applications", "application_groups",
                "application_filters", "external_lists", "regions", "schedules")
# Rule fields that do not change what the rule matches.
INERT_FIELDS = ("index", "uuid", "description", "tags")


def _definition(item):
    return dict((k, v) for k, v in item.items() if k != "xml") if isinstance(item, dict) else item


def changed_objects(before, after):
    """{(kind, name)} of the objects whose definition differs between two configurations."""
    out = set()
    for kind in OBJECT_KINDS:
        for name in set(before[kind]) | set(after[kind]):
            if _definition(before[kind].get(name)) != _definition(after[kind].get(name)):
                out.add((kind, name))
    return out


def dependencies(config, rule):
    """{(kind, name)} of every object the rule's match depends on, nested members included."""
    out = set()

    def address(name):
        for kind in ("addresses", "groups", "external_lists", "regions"):
            if (kind, name) not in out:
                out.add((kind, name))
                if kind == "groups" and name in config["groups"]:
                    for member in config["groups"][name]["static"]:
                        address(member)

    def service(name):
        for kind in ("services", "service_groups"):
            if (kind, name) not in out:
                out.add((kind, name))
                if kind == "service_groups" and name in config["service_groups"]:
                    for member in config["service_groups"][name]["members"]:
                        service(member)

    def application(name):
        for kind in ("applications", "application_groups", "application_filters"):
            if (kind, name) not in out:
                out.add((kind, name))
                if kind == "application_groups" and name in config["application_groups"]:
                    for member in config["application_groups"][name]["members"]:
                        application(member)

    for name in rule["source"] + rule["destination"]:
        address(name)
    for name in rule["service"]:
        service(name)
    for name in rule["application"]:
        application(name)
    if rule["schedule"]:
        out.add(("schedules", rule["schedule"]))
    return out


def _signature(rule):
    return sorted((k, v) for k, v in rule.items() if k not in INERT_FIELDS)


def _reused(previous, rule):
    """A Rule for ``rule`` sharing the match of the equal rule of an earlier model (so that the
    differential sees them as one), or None."""
    config, models, changed = previous
    old = config["rule_by_name"].get(rule["name"])
    if old is None or _signature(old) != _signature(rule) or rule["name"] not in models:
        return None
    if dependencies(config, old) & changed:
        return None
    model = models[rule["name"]]
    fresh = Rule(model.key, rule_label(rule), model.action, [], uncertain=model.uncertain,
                 origin=dict(model.origin, index=rule["index"]))
    fresh.match = model.match
    fresh.match_min = model.match_min
    return fresh


def build_policy(config, apps=None, previous=None):
    """The policy of every zone pair, as Paths named ``FROM->TO``.

    ``apps``: the AppSpace to number applications in (give the before-policy's one when building
    the policy after a plan, so that both number applications alike). ``previous``: ``(config,
    policy)`` of the configuration this one was derived from; a rule equal there, whose objects
    did not change, keeps its match (computed once, and the differential skips it at once).
    """
    if apps is None:
        apps = app_space(config)
    else:
        for name in sorted(app_space(config).ids):
            apps.id(name)
    resolver = Resolver(config, apps)
    if previous is not None:
        old_config, old_policy = previous
        old_models = dict((rule.origin["name"], rule) for path in old_policy.paths.values()
                          for stage, chain, rule in path.all_rules() if rule.key.startswith("rule|"))
        old_config = dict(old_config, rule_by_name=dict((r["name"], r) for r in old_config["rules"]))
        previous = (old_config, old_models, changed_objects(old_config, config))
    models = []
    for rule in config["rules"]:
        if rule["disabled"]:
            continue
        model = _reused(previous, rule) if previous is not None else None
        models.append((rule, model or rule_model(resolver, rule)))
    zones = zone_names(config)
    paths = []
    defaults = dict((name, default_rule(config, name)) for name in ("intrazone-default", "interzone-default"))
    for from_zone in zones:
        for to_zone in zones:
            rules = [model for rule, model in models if applies(rule, from_zone, to_zone)]
            rules.append(defaults["intrazone-default" if from_zone == to_zone else "interzone-default"])
            name = path_name(from_zone, to_zone)
            paths.append(Path.single(name, rules, "deny", "from zone %s to zone %s" % (from_zone, to_zone)))
    notes = []
    if not zones:
        notes.append("no zone is defined or named by a rule: there is no path to analyse")
    return Policy("panos", paths, apps=apps, notes=notes)


def rule_models(config, apps=None):
    """{rule name: Rule} of every enabled rule."""
    apps = apps or app_space(config)
    resolver = Resolver(config, apps)
    return dict((rule["name"], rule_model(resolver, rule)) for rule in config["rules"] if not rule["disabled"])


def resolve_members(config, names, apps=None):
    """Address members (object names, groups, literals) -> Span."""
    return Resolver(config, apps or app_space(config)).addresses(names, False)


def smtp_app_region(port=25):
    """TCP/``port`` for the application smtp, any addresses: what an SMTP session is."""
    return match_cubes(any_addresses(), any_addresses(), interval(TCP, TCP), None, interval(port, port),
                       interval(SMTP_APP, SMTP_APP))


def rule_admits_smtp(config, rule):
    """The rule may match an SMTP session (application smtp on TCP/25) to some address."""
    apps = app_space(config)
    model = rule_model(Resolver(config, apps), rule)
    return region_overlaps(model.match, smtp_app_region())


# ---------------------------------------------------------------- policy-match probes

def probe_arguments(probe, index):
    """pan-os-python ``test_security_policy_match`` keyword arguments for one probe dict."""
    where = "probes[%d]" % index
    unknown = sorted(set(probe) - set(PROBE_KEYS))
    if unknown:
        raise PanosError("%s: unknown key(s) %s (allowed: %s)" % (where, ", ".join(unknown), ", ".join(PROBE_KEYS)))
    args = {}
    for key in ("source", "destination"):
        value = probe.get(key)
        try:
            ipaddress.ip_address(value)
        except (ValueError, TypeError):
            raise PanosError("%s: %s %r is not an IP address" % (where, key, value))
        args[key] = str(value)
    protocol = str(probe.get("protocol", "tcp")).lower()
    if protocol.isdigit() and 1 <= int(protocol) <= 255:
        args["protocol"] = int(protocol)
    elif protocol in PROBE_PROTOCOLS:
        args["protocol"] = PROBE_PROTOCOLS[protocol]
    else:
        raise PanosError("%s: protocol %r is not one of %s or 1-255"
                         % (where, probe.get("protocol"), ", ".join(sorted(PROBE_PROTOCOLS))))
    port = probe.get("port")
    if port is not None:
        if not str(port).isdigit() or not 0 <= int(port) <= PORT_MAX:
            raise PanosError("%s: port %r is not 0-65535" % (where, port))
        args["port"] = int(port)
    for key in ("application", "from_zone", "to_zone"):
        if probe.get(key):
            args[key] = str(probe[key])
    return args


def probe_result(probe, matches):
    """One row of the module's result: the probe as given plus the first matching rule, or none."""
    first = matches[0] if matches else None
    row = dict(probe)
    row.update({"rule": first["name"] if first else None,
                "index": first["index"] if first else None,
                "action": first["action"] if first else None,
                "allowed": bool(first) and first["action"] == "allow"})
    return row
