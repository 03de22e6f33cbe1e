"""The PAN-OS model on the engine (plugins/module_utils/panos/{parse,model}.py): what each rule
field means for a concrete flow, exactly or as an uncertainty the engine reads against us."""
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.emailsec.hes.plugins.module_utils.panos.model import (
    APP_DEFAULT_PORTS,
    build_policy,
    rule_admits_smtp,
)
from ansible_collections.emailsec.hes.plugins.module_utils.panos.parse import PanosError, parse_config
from ansible_collections.emailsec.hes.plugins.module_utils.policy.engine import evaluate_flow
from ansible_collections.emailsec.hes.plugins.module_utils.policy.space import make_flow

MAIL = "203.0.113.25"


def config(rules, objects="", shared="", defaults="", zones=("untrust", "dmz", "trust")):
    zone_xml = "".join("<entry name='%s'><network><layer3/></network></entry>" % z for z in zones)
    return ET.fromstring(
        "<config><shared>%s</shared><devices><entry name='localhost.localdomain'><vsys><entry name='vsys1'>"
        "<zone>%s</zone>%s<rulebase><security><rules>%s</rules></security>%s</rulebase>"
        "</entry></vsys></entry></devices></config>" % (shared, zone_xml, objects, rules, defaults))


def rule(name, frm="untrust", to="dmz", src="any", dst="any", app="any", svc="any", action="allow", extra=""):
    def members(tag, value):
        values = value if isinstance(value, (list, tuple)) else [value]
        return "<%s>%s</%s>" % (tag, "".join("<member>%s</member>" % v for v in values), tag)
    return "<entry name='%s'>%s%s%s%s%s%s<action>%s</action>%s</entry>" % (
        name, members("from", frm), members("to", to), members("source", src), members("destination", dst),
        members("application", app), members("service", svc), action, extra)


def decide(cfg, source="198.51.100.7", destination=MAIL, proto=6, dport=25, sport=40000, app="smtp",
           path="untrust->dmz"):
    """(verdict, deciding rule label) of one flow on one path."""
    policy = build_policy(parse_config(cfg, "vsys1"))
    flow = make_flow(source, destination, proto, sport, dport, policy.apps.id(app))
    answer = evaluate_flow(policy.paths[path], flow)
    if answer["verdict"] == "uncertain":
        return "uncertain", None
    trail = answer["may"].trail
    return answer["verdict"], trail[-1].origin["name"]


# ---------------------------------------------------------------- zones, rule types, defaults

def test_paths_for_every_zone_pair_with_default_rules():
    cfg = config(rule("R", frm="trust", to="dmz"))
    policy = build_policy(parse_config(cfg, "vsys1"))
    assert sorted(policy.paths) == sorted("%s->%s" % (a, b) for a in ("dmz", "trust", "untrust")
                                          for b in ("dmz", "trust", "untrust"))
    assert decide(cfg) == ("deny", "interzone-default")
    assert decide(cfg, path="untrust->untrust") == ("permit", "intrazone-default")
    assert decide(cfg, path="trust->dmz") == ("permit", "R")


def test_default_rules_can_be_overridden():
    defaults = ("<default-security-rules><rules><entry name='interzone-default'><action>allow</action></entry>"
                "<entry name='intrazone-default'><action>deny</action></entry></rules></default-security-rules>")
    cfg = config("", defaults=defaults)
    assert decide(cfg) == ("permit", "interzone-default")
    assert decide(cfg, path="dmz->dmz") == ("deny", "intrazone-default")


@pytest.mark.parametrize("rule_type,path,hit", [
    ("intrazone", "untrust->untrust", True), ("intrazone", "untrust->dmz", False),
    ("interzone", "untrust->dmz", True), ("interzone", "dmz->dmz", False),
    ("universal", "dmz->dmz", True), ("universal", "untrust->dmz", True),
])
def test_rule_types(rule_type, path, hit):
    cfg = config(rule("R", frm="any", to="any", action="deny", extra="<rule-type>%s</rule-type>" % rule_type))
    assert (decide(cfg, path=path)[1] == "R") == hit


def test_zone_lists_and_disabled_rules():
    cfg = config(rule("Off", frm="any", to="any", action="deny", extra="<disabled>yes</disabled>")
                 + rule("Two", frm=["trust", "untrust"], to="dmz", action="deny"))
    assert decide(cfg) == ("deny", "Two")
    assert decide(cfg, path="dmz->trust") == ("deny", "interzone-default")


@pytest.mark.parametrize("action,verdict", [("allow", "permit"), ("deny", "deny"), ("drop", "deny"),
                                            ("reset-client", "deny"), ("reset-server", "deny"), ("reset-both", "deny")])
def test_actions(action, verdict):
    assert decide(config(rule("R", action=action))) == (verdict, "R")


# ---------------------------------------------------------------- addresses

OBJECTS = """
<address>
  <entry name='net'><ip-netmask>198.51.100.0/24</ip-netmask></entry>
  <entry name='host'><ip-netmask>198.51.100.7</ip-netmask></entry>
  <entry name='range'><ip-range>192.0.2.10-192.0.2.20</ip-range></entry>
  <entry name='wild'><ip-wildcard>10.0.0.5/0.0.255.0</ip-wildcard></entry>
  <entry name='wide-wild'><ip-wildcard>10.0.0.0/0.255.255.254</ip-wildcard></entry>
  <entry name='name'><fqdn>mx.example.net</fqdn></entry>
  <entry name='v6'><ip-netmask>2001:db8::/64</ip-netmask></entry>
</address>
<address-group>
  <entry name='inner'><static><member>range</member></static></entry>
  <entry name='outer'><static><member>inner</member><member>host</member></static></entry>
  <entry name='loop'><static><member>loop</member></static></entry>
  <entry name='dag'><dynamic><filter>'x'</filter></dynamic></entry>
</address-group>
"""


@pytest.mark.parametrize("member,source,verdict", [
    ("net", "198.51.100.200", "permit"), ("net", "198.51.101.1", "deny"),
    ("host", "198.51.100.7", "permit"), ("host", "198.51.100.8", "deny"),
    ("range", "192.0.2.20", "permit"), ("range", "192.0.2.21", "deny"),
    ("outer", "192.0.2.15", "permit"), ("outer", "198.51.100.7", "permit"), ("outer", "198.51.100.9", "deny"),
    ("wild", "10.0.77.5", "permit"), ("wild", "10.1.0.5", "deny"), ("wild", "10.0.0.6", "deny"),
    ("wide-wild", "10.0.0.7", "uncertain"), ("wide-wild", "11.0.0.0", "deny"),
    ("name", "198.51.100.7", "uncertain"), ("dag", "198.51.100.7", "uncertain"), ("loop", "198.51.100.7", "uncertain"),
    ("nothing-by-that-name", "198.51.100.7", "uncertain"), ("US", "198.51.100.7", "uncertain"),
    ("198.51.100.0/25", "198.51.100.127", "permit"), ("198.51.100.1-198.51.100.3", "198.51.100.4", "deny"),
    ("v6", "2001:db8::1", "permit"),
])
def test_address_members(member, source, verdict):
    destination = "2001:db8:1::25" if ":" in source else MAIL
    assert decide(config(rule("R", src=member), OBJECTS), source=source, destination=destination)[0] == verdict


def test_negate_source_and_destination():
    cfg = config(rule("R", src="net", dst="host", extra="<negate-source>yes</negate-source>"
                      "<negate-destination>yes</negate-destination>"), OBJECTS)
    assert decide(cfg, source="192.0.2.1", destination=MAIL)[1] == "R"
    assert decide(cfg, source="198.51.100.1", destination=MAIL)[1] == "interzone-default"
    assert decide(cfg, source="192.0.2.1", destination="198.51.100.7")[1] == "interzone-default"
    negated_fqdn = config(rule("R", src="name", extra="<negate-source>yes</negate-source>"), OBJECTS)
    assert decide(negated_fqdn)[0] == "uncertain"


def test_vsys_objects_shadow_shared_ones():
    shared = "<address><entry name='mx'><ip-netmask>192.0.2.99/32</ip-netmask></entry>" \
             "<entry name='only-shared'><ip-netmask>203.0.113.0/24</ip-netmask></entry></address>"
    vsys = "<address><entry name='mx'><ip-netmask>203.0.113.25/32</ip-netmask></entry></address>"
    cfg = config(rule("R", dst="mx") + rule("S", dst="only-shared", action="deny"), vsys, shared=shared)
    assert decide(cfg) == ("permit", "R")
    assert decide(cfg, destination="203.0.113.26") == ("deny", "S")
    assert decide(cfg, destination="192.0.2.99") == ("deny", "interzone-default")


def test_missing_vsys_is_named():
    with pytest.raises(PanosError, match="vsys 'vsys9'"):
        parse_config(config(""), "vsys9")


# ---------------------------------------------------------------- services and applications

SERVICES = """
<service>
  <entry name='tcp-25'><protocol><tcp><port>25</port></tcp></protocol></entry>
  <entry name='mail'><protocol><tcp><port>25,465,587</port></tcp></protocol></entry>
  <entry name='high'><protocol><tcp><port>1024-65535</port></tcp></protocol></entry>
  <entry name='dns'><protocol><udp><port>53</port></udp></protocol></entry>
  <entry name='from-53'><protocol><udp><port>53</port><source-port>53</source-port></udp></protocol></entry>
  <entry name='broken'><protocol><tcp><port>twenty-five</port></tcp></protocol></entry>
</service>
<service-group>
  <entry name='mail-dns'><members><member>tcp-25</member><member>dns</member></members></entry>
  <entry name='outer'><members><member>mail-dns</member><member>service-https</member></members></entry>
</service-group>
<application>
  <entry name='my-smtp'><default><port><member>tcp/2525</member></port></default></entry>
</application>
<application-group>
  <entry name='mail-apps'><members><member>smtp</member><member>imap</member></members></entry>
</application-group>
<application-filter><entry name='email-filter'/></application-filter>
"""


@pytest.mark.parametrize("svc,proto,dport,sport,verdict", [
    ("tcp-25", 6, 25, 40000, "permit"), ("tcp-25", 6, 26, 40000, "deny"), ("tcp-25", 17, 25, 40000, "deny"),
    ("mail", 6, 465, 40000, "permit"), ("mail", 6, 466, 40000, "deny"),
    ("high", 6, 1024, 40000, "permit"), ("high", 6, 1023, 40000, "deny"),
    ("from-53", 17, 53, 53, "permit"), ("from-53", 17, 53, 40000, "deny"),
    ("outer", 17, 53, 40000, "permit"), ("outer", 6, 443, 40000, "permit"), ("outer", 6, 80, 40000, "deny"),
    ("service-http", 6, 8080, 40000, "permit"), ("any", 1, 8, 0, "permit"),
    ("broken", 6, 25, 40000, "uncertain"), ("no-such-service", 6, 25, 40000, "uncertain"),
])
def test_services(svc, proto, dport, sport, verdict):
    cfg = config(rule("R", app="any", svc=svc), SERVICES)
    assert decide(cfg, proto=proto, dport=dport, sport=sport, app="smtp")[0] == verdict


@pytest.mark.parametrize("apps,app,dport,proto,verdict", [
    ("smtp", "smtp", 25, 6, "permit"), ("smtp", "smtp", 587, 6, "deny"), ("smtp", "smtp", 25, 17, "deny"),
    ("smtp", "ssl", 25, 6, "deny"), ("dns", "dns", 53, 17, "permit"), ("dns", "dns", 53, 6, "permit"),
    ("my-smtp", "my-smtp", 2525, 6, "permit"), ("my-smtp", "my-smtp", 25, 6, "deny"),
    ("mail-apps", "imap", 143, 6, "permit"), ("mail-apps", "imap", 25, 6, "deny"),
    ("unheard-of-app", "unheard-of-app", 25, 6, "uncertain"),
    ("any", "smtp", 25, 6, "permit"), ("any", "ssl", 25, 6, "deny"),
    ("any", "(any other application)", 25, 6, "uncertain"),
])
def test_application_default(apps, app, dport, proto, verdict):
    cfg = config(rule("R", app=apps, svc="application-default"), SERVICES)
    assert decide(cfg, app=app, dport=dport, proto=proto)[0] == verdict


def test_applications_are_their_own_dimension():
    cfg = config(rule("R", app=["smtp", "ssl"], svc="tcp-25"), SERVICES)
    assert decide(cfg, app="ssl") == ("permit", "R")
    assert decide(cfg, app="web-browsing") == ("deny", "interzone-default")
    assert decide(config(rule("R", app="email-filter", svc="tcp-25"), SERVICES))[0] == "uncertain"


@pytest.mark.parametrize("extra", [
    "<source-user><member>corp\\alice</member></source-user>", "<category><member>adult</member></category>",
    "<source-hip><member>managed</member></source-hip>", "<schedule>office-hours</schedule>",
    "<rule-type>sideways</rule-type>",
])
def test_run_time_conditions_are_uncertain(extra):
    assert decide(config(rule("R", extra=extra)))[0] == "uncertain"
    # A deny with a run-time condition is read against us as well: it may not stop anything.
    assert decide(config(rule("D", action="deny", extra=extra) + rule("A")))[0] == "uncertain"


def test_rule_admits_smtp_for_verify():
    parsed = parse_config(config(rule("A", app="ssl") + rule("B", app="smtp", svc="application-default")
                                 + rule("C", app="any", svc="dns"), SERVICES), "vsys1")
    assert [rule_admits_smtp(parsed, r) for r in parsed["rules"]] == [False, True, False]


def test_default_port_table_is_well_formed():
    for app, ports in APP_DEFAULT_PORTS.items():
        for item in ports:
            proto, port = item.split("/")
            assert proto in ("tcp", "udp") and all(p.isdigit() for p in port.replace("-", ",").split(","))
    assert APP_DEFAULT_PORTS["smtp"] == ("tcp/25",)
