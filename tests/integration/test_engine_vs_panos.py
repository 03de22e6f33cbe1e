"""Property test: random PAN-OS rulebases and random flows, the engine's answer
(``engine.evaluate_flow`` on the model of ``panos.model``) against the PAN-OS emulator's
``test security-policy-match`` asked through pan-os-python. One emulator serves the whole test;
each example pushes its vsys (one ``edit`` of the vsys entry, then a commit) and asks about its
flows.

What the query cannot express is left out of the generator: source ports (the query has none)
and run-time conditions (users, categories, HIP, schedules). fqdn objects do appear: the emulator
resolves them to nothing (reference notes §5), which the engine cannot know, so each flow is
checked twice: the engine on the rulebase as pushed must give the emulator's verdict and rule
whenever it says it is certain, and the engine on the rulebase with every fqdn object replaced by
an address no flow uses (what the emulator does) must give the emulator's rule every time. A
disagreement is a bug in one of them; the two the test found in the emulator (ip-wildcard objects
and application groups never matched) are kept below as regression cases, each with the engine's
answer to the same case asserted beside it.
"""
import ipaddress
import os
import xml.etree.ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.emailsec.hes.plugins.module_utils.panos.model import build_policy, path_name
from ansible_collections.emailsec.hes.plugins.module_utils.panos.parse import parse_config
from ansible_collections.emailsec.hes.plugins.module_utils.policy.engine import evaluate_flow
from ansible_collections.emailsec.hes.plugins.module_utils.policy.space import make_flow

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BOOT_CONFIG = os.path.join(REPO, "tests", "lab", "panos_configs", "fw-appdefault-smtp.xml")
VSYS = "/config/devices/entry[@name='localhost.localdomain']/vsys/entry[@name='vsys1']"
ZONES = ("untrust", "trust", "dmz")
# Applications whose default ports the engine's table and the emulator's agree on.
APPS = ("smtp", "smtp-base", "ssl", "web-browsing", "dns", "ssh")
NETS = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]
PORT_SPECS = ("25", "25,587", "20-30", "53", "443", "80,8080", "1-1024")
PORTS = (22, 25, 26, 53, 80, 443, 587, 8080)
# Outside every net the flows use: an fqdn object the emulator resolves to nothing stands for it.
UNUSED_ADDRESS = "0.0.0.1"
# The pushes replace the vsys; the shared objects stay those the emulator booted with.
SHARED = ET.tostring(ET.parse(BOOT_CONFIG).getroot().find("shared"), encoding="unicode")

pytestmark = pytest.mark.slow


def addresses_in(net):
    return st.integers(0, net.num_addresses - 1).map(lambda i: net.network_address + i)


any_address = st.sampled_from(NETS).flatmap(addresses_in)

APP_GROUPS = [("mail-apps", ["smtp", "smtp-base"]), ("web-apps", ["ssl", "web-browsing"]),
              ("nested-apps", ["web-apps", "smtp"])]


@st.composite
def address_object(draw):
    kind = draw(st.sampled_from(["ip-netmask", "ip-netmask", "ip-range", "ip-wildcard", "fqdn"]))
    if kind == "fqdn":
        return kind, "mx%d.example.net" % draw(st.integers(1, 9))
    first = draw(any_address)
    if kind == "ip-wildcard":
        # Scattered bits in the last octet: the flows' edges land on and between its stretches.
        return kind, "%s/0.0.0.%d" % (first, draw(st.integers(0, 255)))
    if kind == "ip-netmask":
        prefix = draw(st.integers(24, 32))
        return kind, str(ipaddress.ip_network("%s/%d" % (first, prefix), strict=False))
    last = first + draw(st.integers(0, 40))
    last = min(last, ipaddress.ip_network("%s/24" % first, strict=False).broadcast_address)
    return kind, "%s-%s" % (first, last)


@st.composite
def rulebase(draw):
    objects = draw(st.lists(address_object(), min_size=2, max_size=4))
    names = ["a%d" % i for i in range(len(objects))]
    inner = draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True))
    outer = draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True))
    services = draw(st.lists(st.tuples(st.sampled_from(["tcp", "udp"]), st.sampled_from(PORT_SPECS)),
                             min_size=1, max_size=3))
    service_names = ["s%d" % i for i in range(len(services))]
    member = st.one_of(st.just("any"), st.sampled_from(names + ["g-inner", "g-outer", "ntp-servers-shared"]),
                       any_address.map(str), st.sampled_from(NETS).map(str),
                       any_address.map(lambda a: "%s-%s" % (a, a + 3)))
    rule = st.fixed_dictionaries({
        "from": st.sampled_from([["any"], ["untrust"], ["trust"], ["untrust", "trust"], ["dmz"]]),
        "to": st.sampled_from([["any"], ["dmz"], ["trust"], ["dmz", "untrust"]]),
        "source": member.map(lambda m: [m]), "destination": member.map(lambda m: [m]),
        "negate_source": st.booleans(), "negate_destination": st.booleans(),
        "application": st.sampled_from([["any"], ["smtp"], ["ssl", "web-browsing"], ["dns"], ["smtp", "ssl"],
                                        ["mail-apps"], ["web-apps", "dns"], ["nested-apps"]]),
        "service": st.sampled_from([["any"], ["application-default"], ["g-services"], ["service-http"]]
                                   + [[s] for s in service_names]),
        "action": st.sampled_from(["allow", "allow", "deny", "drop"]),
        "disabled": st.integers(0, 9).map(lambda n: n == 0),
        "rule_type": st.sampled_from(["universal", "universal", "intrazone", "interzone"]),
    })
    rules = draw(st.lists(rule, min_size=1, max_size=8))
    return {"objects": list(zip(names, objects)), "inner": inner, "outer": outer,
            "services": list(zip(service_names, services)), "rules": rules, "app_groups": APP_GROUPS}


def edges(base):
    """Addresses at and just outside the edges of every address the rulebase names."""
    texts = [value for name, (kind, value) in base["objects"] if kind in ("ip-netmask", "ip-range")]
    texts += [m for rule in base["rules"] for m in rule["source"] + rule["destination"] if m[0].isdigit()]
    out = []
    for value in (value for name, (kind, value) in base["objects"] if kind == "ip-wildcard"):
        address, mask = (int(ipaddress.ip_address(p)) for p in value.split("/"))
        lowest_fixed_bit = (~mask & 0xFF) & -(~mask & 0xFF)
        out.extend(ipaddress.ip_address(a) for a in (address & ~mask, address | mask, address ^ lowest_fixed_bit))
    for text in texts:
        if "-" in text:
            first, last = (ipaddress.ip_address(p) for p in text.split("-"))
        else:
            net = ipaddress.ip_network(text, strict=False)
            first, last = net.network_address, net.broadcast_address
        out.extend(a for a in (first - 1, first, last, last + 1) if any(a in n for n in NETS))
    return out or [NETS[0].network_address]


def flows(base):
    address = st.one_of(any_address, st.sampled_from(edges(base)))
    return st.lists(st.fixed_dictionaries({
        "source": address, "destination": address, "protocol": st.sampled_from([6, 17]),
        "port": st.sampled_from(PORTS), "application": st.sampled_from(APPS),
        "from_zone": st.sampled_from(ZONES), "to_zone": st.sampled_from(ZONES),
    }), min_size=6, max_size=12)


def members(tag, values):
    return "<%s>%s</%s>" % (tag, "".join("<member>%s</member>" % v for v in values), tag)


def vsys_xml(base):
    rules = []
    for index, rule in enumerate(base["rules"]):
        # PAN-OS refuses to commit a negated 'any'.
        negatable = {"negate_source": rule["source"] != ["any"], "negate_destination": rule["destination"] != ["any"],
                     "disabled": True}
        extra = "".join("<%s>yes</%s>" % (tag, tag) for key, tag in (
            ("negate_source", "negate-source"), ("negate_destination", "negate-destination"),
            ("disabled", "disabled")) if rule[key] and negatable[key])
        if rule["rule_type"] != "universal":
            extra += "<rule-type>%s</rule-type>" % rule["rule_type"]
        rules.append("<entry name='r%d'>%s%s%s%s%s%s<action>%s</action>%s</entry>" % (
            index, members("from", rule["from"]), members("to", rule["to"]), members("source", rule["source"]),
            members("destination", rule["destination"]), members("application", rule["application"]),
            members("service", rule["service"]), rule["action"], extra))
    return (
        "<entry name='vsys1'><zone>%s</zone>%s<address>%s</address><address-group>"
        "<entry name='g-inner'>%s</entry><entry name='g-outer'>%s</entry></address-group>"
        "<service>%s</service><service-group><entry name='g-services'>%s</entry></service-group>"
        "<rulebase><security><rules>%s</rules></security></rulebase></entry>" % (
            "".join("<entry name='%s'><network><layer3/></network></entry>" % z for z in ZONES),
            "<application-group>%s</application-group>" % "".join(
                "<entry name='%s'>%s</entry>" % (n, members("members", apps)) for n, apps in base.get("app_groups", [])),
            "".join("<entry name='%s'><%s>%s</%s></entry>" % (n, k, v, k) for n, (k, v) in base["objects"]),
            members("static", base["inner"]), members("static", base["outer"] + ["g-inner"]),
            "".join("<entry name='%s'><protocol><%s><port>%s</port></%s></protocol></entry>" % (n, p, s, p)
                    for n, (p, s) in base["services"]),
            members("members", [n for n, spec in base["services"]]), "".join(rules)))


def engine_policy(base, fqdn_resolves_to=None):
    """The engine's policy of a rulebase; ``fqdn_resolves_to``: an address every fqdn object
    stands for instead (None: fqdn objects stay fqdn, uncertain)."""
    if fqdn_resolves_to is not None:
        base = dict(base, objects=[(name, ("ip-netmask", fqdn_resolves_to) if kind == "fqdn" else (kind, value))
                                   for name, (kind, value) in base["objects"]])
    config = ET.fromstring("<config>%s<devices><entry name='localhost.localdomain'><vsys>%s</vsys></entry></devices>"
                           "</config>" % (SHARED, vsys_xml(base)))
    return build_policy(parse_config(config, "vsys1"))


def deciders(policy, query):
    """The engine's verdict (permit, deny or uncertain) and the names of the rules (None: a
    default rule) that decide the flow in its may and must readings."""
    path = policy.paths[path_name(query["from_zone"], query["to_zone"])]
    answer = evaluate_flow(path, make_flow(str(query["source"]), str(query["destination"]), query["protocol"],
                                           40000, query["port"], policy.apps.id(query["application"])))
    names = set()
    for reading in ("may", "must"):
        rule = answer[reading].trail[-1]
        names.add(rule.origin["name"] if rule.key.startswith("rule|") else None)
    return answer["verdict"], names


@pytest.fixture(scope="module")
def emulator():
    from lab_fixtures import start_lab
    from panos.firewall import Firewall

    lab = start_lab("panos", "--config", BOOT_CONFIG, "--port", 0, "--commit-seconds", 0)
    try:
        yield Firewall("127.0.0.1", "admin", "admin", port=lab.port, vsys="vsys1")
    finally:
        lab.stop()


def push(firewall, base):
    firewall.xapi.edit(xpath=VSYS, element=vsys_xml(base))
    outcome = firewall.commit(sync=True)
    if outcome is not None and not outcome["success"]:
        raise RuntimeError("the emulator refused the rulebase: %s" % outcome["messages"])


def emulator_decider(firewall, query):
    """The emulator's verdict and first matching rule (None: no rule, so the default rule of the
    zone pair decides: intrazone allows, interzone denies)."""
    found = firewall.test_security_policy_match(
        str(query["source"]), str(query["destination"]), query["protocol"], application=query["application"],
        port=query["port"], from_zone=query["from_zone"], to_zone=query["to_zone"])
    if found:
        return ("permit" if found[0]["action"] == "allow" else "deny"), found[0]["name"]
    return ("permit" if query["from_zone"] == query["to_zone"] else "deny"), None


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(base=rulebase(), data=st.data())
def test_engine_agrees_with_the_emulator(emulator, base, data):
    queries = data.draw(flows(base))
    push(emulator, base)
    policy = engine_policy(base)
    twin = engine_policy(base, fqdn_resolves_to=UNUSED_ADDRESS)
    for query in queries:
        device = emulator_decider(emulator, query)
        verdict, names = deciders(policy, query)
        if verdict != "uncertain":
            assert verdict == device[0], "engine %s (%s), emulator %s for %s" % (verdict, names, device, query)
            if len(names) == 1:
                assert names == {device[1]}, "engine %s (%s), emulator %s for %s" % (verdict, names, device, query)
        verdict, names = deciders(twin, query)
        assert (verdict, names) == (device[0], {device[1]}), \
            "fqdn as nothing: engine %s (%s), emulator %s for %s" % (verdict, names, device, query)


WILDCARD_CASE = {
    "objects": [("w", ("ip-wildcard", "198.51.100.5/0.0.0.240"))], "inner": ["w"], "outer": ["w"],
    "services": [("s0", ("tcp", "25"))],
    "rules": [{"from": ["any"], "to": ["any"], "source": ["w"], "destination": ["any"], "negate_source": False,
               "negate_destination": False, "application": ["any"], "service": ["any"], "action": "deny",
               "disabled": False, "rule_type": "universal"}],
}
WILDCARD_QUERY = {"source": "198.51.100.21", "destination": "203.0.113.25", "protocol": 6, "port": 25,
                  "application": "smtp", "from_zone": "untrust", "to_zone": "dmz"}


def test_ip_wildcard_objects_match(emulator):
    """198.51.100.5/0.0.0.240 stands for 198.51.100.5, .21, .37, ... .245 (the engine agrees with
    test_panos_model.py)."""
    push(emulator, WILDCARD_CASE)
    assert emulator_decider(emulator, WILDCARD_QUERY) == ("deny", "r0")


def test_ip_wildcard_case_on_the_engine():
    assert deciders(engine_policy(WILDCARD_CASE), WILDCARD_QUERY) == ("deny", {"r0"})


APP_GROUP_CASE = dict(WILDCARD_CASE, objects=[("a0", ("ip-netmask", "198.51.100.0/24"))], inner=["a0"], outer=["a0"],
                      app_groups=[("mail-apps", ["smtp"])],
                      rules=[dict(WILDCARD_CASE["rules"][0], source=["any"], application=["mail-apps"])])


def test_application_groups_match(emulator):
    push(emulator, APP_GROUP_CASE)
    assert emulator_decider(emulator, WILDCARD_QUERY) == ("deny", "r0")


def test_application_group_case_on_the_engine():
    assert deciders(engine_policy(APP_GROUP_CASE), WILDCARD_QUERY) == ("deny", {"r0"})
