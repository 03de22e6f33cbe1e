"""Property-based fuzzing of every input of the PAN-OS planner (plugins/module_utils/panos/plan.py)
other than the ranges: names (group, object prefix, rules, zones), mail servers, the backup a
rollback restores, the administrator name of the revert command, and names the device itself
reports (a rule called ``a'b]/c``).

The property, for any input: either API requests come back, or PanosError names the bad value;
never another exception, and never a request whose XPath or XML a value could reshape. The oracle
is the rule (reference panos-xml-api.md: object names are at most 63 of letters, digits, '_', '-',
'.', space) and the stdlib's own XML parser and XPath subset (ElementTree), not the planner's code:
every XPath is the grammar of absolute steps with ``@name`` predicates naming legal names, every
element parses and holds only the tags and names the plan is about, and an XPath built for a
device's name selects exactly that entry.
"""
import copy
import ipaddress
import os
import re
import xml.etree.ElementTree as ET

from hypothesis import example, given
from hypothesis import strategies as st

from ansible_collections.emailsec.hes.plugins.module_utils.panos import plan as pp
from ansible_collections.emailsec.hes.plugins.module_utils.panos.parse import PanosError
from ansible_collections.emailsec.hes.tests.unit.fuzz_inputs import (
    NASTY_TEXT,
    any_values,
    bounded,
    breaking_characters,
    check_validator,
    mentions,
    names_value,
    with_examples,
    xml_legal,
)

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
NAME_RULE = re.compile(r"[A-Za-z0-9_.\- ]{1,63}")
NAME_ALPHABET = "abXY09_.- "
PLAIN_NAMES = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,40}", fullmatch=True)
RANGES = ["18.208.22.64/26", "150.70.149.0/27"]


def golden_config(case):
    return ET.parse(os.path.join(GOLDEN, case, "config.xml")).getroot()


PLAIN = golden_config("appdefault_smtp")
CARVE_OUT = golden_config("allow_all_below_carve_out")

# --- the oracle -------------------------------------------------------------------------------
LITERAL = r"""(?:'[^']*'|"[^"]*")"""
ENTRY_STEP = r"entry\[@name=%s\]" % LITERAL
XPATH = re.compile(r"(?:/[A-Za-z0-9_\-]+(?:\[@name=%s(?: or @name=%s)*\])?)+" % (LITERAL, LITERAL))
# Tags the planner's elements may hold (an address, group, service, rule, member list).
TAGS = {"entry", "ip-netmask", "description", "static", "member", "source", "destination", "from", "to",
        "source-user", "category", "application", "service", "source-hip", "destination-hip", "negate-source",
        "negate-destination", "rule-type", "action", "log-end", "protocol", "tcp", "port", "fragment",
        "disabled", "schedule", "tag", "profile-setting", "hip-profiles", "log-start", "log-setting", "option",
        "group", "profiles", "virus", "spyware", "vulnerability", "url-filtering", "file-blocking",
        "wildfire-analysis", "data-filtering", "override", "no", "yes", "source-port"}


def legal_name(value):
    return isinstance(value, str) and NAME_RULE.fullmatch(value) is not None


def xpath_names(xpath):
    """The ``@name`` values of an XPath of the planner's grammar: absolute steps, ``@name`` tests."""
    assert XPATH.fullmatch(xpath), "%r is not an XPath of absolute steps with @name predicates" % xpath
    return [a or b for a, b in re.findall(r"""@name=(?:'([^']*)'|"([^"]*)")""", xpath)]


def check_requests(requests, device_names=()):
    """Every request: an action the planner sends, an XPath of the grammar naming legal (or the
    device's own) names, an element that parses and holds only the planner's tags and names."""
    for request in requests:
        assert request["action"] in ("set", "edit", "delete", "move"), request
        for name in xpath_names(request["xpath"]):
            assert legal_name(name) or name in device_names or name == "localhost.localdomain", (
                "%r names %r" % (request["xpath"], name))
        if request["action"] == "move":
            assert request["where"] in ("top", "bottom", "before", "after"), request
            assert request.get("dst") is None or legal_name(request["dst"]) or request["dst"] in device_names
        if request.get("element") is None:
            continue
        root = ET.fromstring("<request>%s</request>" % request["element"])
        for node in root.iter():
            if node is root:
                continue
            assert node.tag in TAGS, "%r holds <%s>" % (request["element"], node.tag)
            assert set(node.attrib) <= {"name", "uuid"}, node.attrib
            if "name" in node.attrib:
                assert legal_name(node.get("name")) or node.get("name") in device_names, node.attrib
            text = (node.text or "").strip()
            if node.tag == "member" and text:
                assert legal_name(text) or text in device_names or _address(text), "member %r" % text
            assert not breaking_characters(text) or node.tag == "description", "%r in <%s>" % (text, node.tag)


def _address(text):
    try:
        ipaddress.ip_network(text)
        return True
    except ValueError:
        return False


# --- names ------------------------------------------------------------------------------------
@bounded(300)
@with_examples("value", ["TM_HES_IP_RANGE\n", "a" * 64, "a'b", 'a"b', "a<b>", "x\u2028y", "", ["TM"], " lead"])
@given(value=st.one_of(any_values(NAME_ALPHABET, 70), PLAIN_NAMES))
def test_fuzz_check_name(value):
    accepted, returned = check_validator(
        lambda v: pp.check_name(v, "group_name"), value, PanosError, "group_name ", legal=legal_name(value),
        plain=isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,62}", value))
    assert returned == (value if accepted else None)


@bounded(200)
@with_examples("value", ["TM_HES_\n", "TM HES_", "a" * 22, "a" * 21, "", "TM_HES_'", None])
@given(value=st.one_of(any_values(NAME_ALPHABET, 30), PLAIN_NAMES))
def test_fuzz_check_prefix(value):
    accepted, returned = check_validator(pp.check_prefix, value, PanosError, "object_prefix ", legal=True)
    if not accepted:
        return
    # Every name built on the prefix is a PAN-OS name.
    for built in (pp.object_name("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", value),
                  pp.object_name("255.255.255.255/32", value), pp.service_name(value),
                  pp.deny_name(value, "Inbound-SMTP")):
        assert legal_name(built), "prefix %r builds %r" % (value, built)


# --- an XPath built for any name the device reports selects exactly that entry ---------------
def device_names():
    return st.one_of(st.sampled_from(NASTY_TEXT), st.text(min_size=1, max_size=20),
                     st.text(alphabet="ab'\"]/[@= ", min_size=1, max_size=8)).filter(
        lambda t: t != "" and xml_legal(t))


@bounded(300)
@example(name="a'b")
@example(name='a"b')
@example(name="a']/../entry[@name='b")
@example(name="a'\"b")
@given(name=device_names())
def test_fuzz_entry_xpath_selects_exactly_the_named_entry(name):
    base = pp.vsys_xpath("vsys1") + "/address"
    try:
        xpath = pp.entry_xpath(base, name)
    except PanosError as exc:
        assert "'" in name and '"' in name, "refused %r: %s" % (name, exc)
        assert names_value(str(exc), name), str(exc)
        return
    config = ET.fromstring("<config><devices><entry name='localhost.localdomain'><vsys><entry name='vsys1'>"
                           "<address/></entry></vsys></entry></devices></config>")
    address = config.find("devices/entry/vsys/entry/address")
    decoys = [name + "x", "x" + name, name.strip() or "x", name.replace("'", '"'), "b", "other"]
    for other in [name] + [d for d in decoys if d != name]:
        ET.SubElement(address, "entry", {"name": other})
    # ElementTree's own XPath subset, on the document as PAN-OS would hold it.
    relative = "./" + xpath[len("/config/"):]
    found = config.findall(relative)
    assert [e.get("name") for e in found] == [name], (xpath, [e.get("name") for e in found])
    # The planner's reader of its own XPaths (apply_edits) agrees.
    assert pp._split_xpath(xpath)[-1] == ("entry", [name])


# --- plan_hardening: every name and server input ----------------------------------------------
def name_or_junk():
    return st.one_of(PLAIN_NAMES, any_values(NAME_ALPHABET, 70))


@st.composite
def plan_arguments(draw):
    return {
        "group_name": draw(st.one_of(st.just("TM_HES_IP_RANGE"), name_or_junk())),
        "prefix": draw(st.one_of(st.just("TM_HES_"), name_or_junk())),
        "rules": draw(st.one_of(st.just([]), st.lists(st.one_of(st.just("Inbound-SMTP"), name_or_junk()), max_size=2))),
        "untrust_zones": draw(st.one_of(st.just(["untrust"]),
                                        st.lists(st.one_of(st.sampled_from(["untrust", "dmz"]), name_or_junk()),
                                                 max_size=2))),
        "mail_zones": draw(st.one_of(st.just([]), st.lists(st.one_of(st.just("dmz"), name_or_junk()), max_size=2))),
        "mail_servers": draw(st.one_of(st.just([]), st.lists(st.one_of(
            st.sampled_from(["203.0.113.25", "mail-server-public", "203.0.113.20-203.0.113.30", "203.0.113.0/24",
                             "203.0.113.25\n", "mail-server-public']", "fe80::1%x'y"]),
            name_or_junk()), max_size=2))),
        "deny_after_rule": draw(st.booleans()),
        "vsys": draw(st.one_of(st.just("vsys1"), st.sampled_from(["vsys1'", "vsys1\n", "vsys2", ""]))),
    }


def given_values(arguments):
    values = [arguments["group_name"], arguments["prefix"], arguments["vsys"]]
    for key in ("rules", "untrust_zones", "mail_zones", "mail_servers"):
        values.extend(arguments[key])
    return values


def invalid(arguments):
    bad = [v for v in (arguments["group_name"],) + tuple(arguments["rules"]) + tuple(arguments["untrust_zones"])
           + tuple(arguments["mail_zones"]) if not legal_name(v)]
    if not (isinstance(arguments["prefix"], str) and re.fullmatch(r"[A-Za-z0-9_.\-]{1,21}", arguments["prefix"])):
        bad.append(arguments["prefix"])
    return bad


@bounded(300)
@example(arguments={"group_name": "TM_HES_IP_RANGE</member><member>any", "prefix": "TM_HES_", "rules": [],
                    "untrust_zones": ["untrust"], "mail_zones": [], "mail_servers": [], "deny_after_rule": False,
                    "vsys": "vsys1"})
@example(arguments={"group_name": "TM_HES_IP_RANGE", "prefix": "TM_HES_", "rules": ["Inbound-SMTP' or @name='x"],
                    "untrust_zones": ["untrust"], "mail_zones": [], "mail_servers": [], "deny_after_rule": True,
                    "vsys": "vsys1"})
@given(arguments=plan_arguments())
def test_fuzz_plan_hardening_inputs(arguments):
    config = CARVE_OUT if arguments["deny_after_rule"] else PLAIN
    try:
        result = pp.plan_hardening(config, RANGES, **arguments)
    except PanosError as exc:
        if invalid(arguments):
            empty = [key for key in ("untrust_zones",) if not arguments[key] and key in str(exc)]
            assert empty or any(names_value(str(exc), value) for value in given_values(arguments)), (
                "the error names none of the values given (%r): %s" % (invalid(arguments), exc))
        return
    assert not invalid(arguments), "invalid names were planned: %r" % (invalid(arguments),)
    check_requests(result["requests"])
    pp.apply_edits(config, result["edits"])


# --- names the device reports -----------------------------------------------------------------
def config_with_rule_named(name):
    config = copy.deepcopy(CARVE_OUT)
    for entry in config.iter("entry"):
        if entry.get("name") == "Inbound-SMTP":
            entry.set("name", name)
    return config


@bounded(150)
@example(name="Inbound'SMTP")
@example(name='Inbound"SMTP')
@example(name="x']/../../../../entry[@name='y")
@example(name="a'\"b")
@example(name="<member>any</member>")
@given(name=device_names())
def test_fuzz_rule_names_from_the_device(name):
    config = config_with_rule_named(name)
    config = ET.fromstring(ET.tostring(config, encoding="unicode"))
    try:
        result = pp.plan_hardening(config, RANGES, deny_after_rule=True)
    except PanosError as exc:
        assert names_value(str(exc), name) or name.strip() != name, str(exc)
        return
    check_requests(result["requests"], device_names=(name, name.strip()))
    rules = config.find("devices/entry/vsys/entry/rulebase/security/rules")
    for request in result["requests"]:
        if name in xpath_names(request["xpath"]):
            step = re.match(ENTRY_STEP, request["xpath"].split("/rulebase/security/rules/", 1)[1]).group(0)
            found = rules.findall("./" + step)
            assert len(found) == 1, (request["xpath"], [e.get("name") for e in found])


# --- rollback: the backup ---------------------------------------------------------------------
HARDENED = pp.plan_hardening(CARVE_OUT, RANGES, deny_after_rule=True, device="fw1")
assert not HARDENED["errors"], HARDENED["errors"]
AFTER = pp.apply_edits(CARVE_OUT, HARDENED["edits"])
# The backup of a second run over a changed range list: objects, group members and carve-outs.
AGAIN = pp.plan_hardening(AFTER, ["18.208.22.64/26", "2a00:1e8::/32"], deny_after_rule=True, device="fw1")
BACKUP = AGAIN["backup"]
assert BACKUP["addresses"] and BACKUP["group"] and BACKUP["denies"], BACKUP
AFTER_AGAIN = pp.apply_edits(AFTER, AGAIN["edits"])
DELETE = object()
FIELDS = [("format",), ("vsys",), ("group_name",), ("prefix",), ("addresses",), ("addresses", "*"),
          ("addresses", "*", "type"), ("addresses", "*", "value"), ("addresses", "@"), ("group",),
          ("group", "static"), ("group", "static", 0), ("rules",), ("rules", "Inbound-SMTP"),
          ("rules", "Inbound-SMTP", 0), ("rules", "@"), ("denies",), ("denies", "*"), ("denies", "@")]


def mutated(field, value):
    """The backup with ``field`` set to ``value``: ``*`` is the first key, ``@`` a new key named ``value``."""
    data = copy.deepcopy(BACKUP)
    target = data
    for key in field[:-1]:
        target = target[sorted(target)[0] if key == "*" else key]
    last = field[-1]
    if last == "@":
        if isinstance(value, str):
            target[value] = copy.deepcopy(target[sorted(target)[0]])
        return data
    last = sorted(target)[0] if last == "*" else last
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return data


@st.composite
def tampered_backups(draw):
    field = draw(st.sampled_from(FIELDS))
    value = draw(st.one_of(
        any_values(NAME_ALPHABET), st.just(DELETE),
        st.tuples(st.sampled_from(["TM_HES_", "TM_HES_18.208.22.64_26", "18.208.22.64/26", "Inbound-SMTP",
                                   "ip-netmask"]), st.sampled_from(NASTY_TEXT)).map("".join),
        st.sampled_from(["fqdn", "ip-range", "ip-netmask><x", "any", "0.0.0.0/0", "10.0.0.0/8",
                         {"type": "ip-netmask", "value": "18.208.22.64/26"}, {"type": "fqdn", "value": "x"},
                         ["any"], [], [None], {}, 2, 1]),
        st.lists(any_values(), max_size=2)))
    return field, value


@bounded(300)
@example(case=(("addresses", "*", "type"), "fqdn"))
@example(case=(("addresses", "*", "type"), "ip-netmask><x"))
@example(case=(("addresses", "*", "value"), "0.0.0.0/0"))
@example(case=(("group", "static", 0), "x</member><member>any"))
@example(case=(("rules", "Inbound-SMTP", 0), "any\n"))
@example(case=(("denies", "@"), "x' or @name='y"))
@example(case=(("group",), ["any"]))
@example(case=(("addresses", "*"), None))
@example(case=(("rules", "Inbound-SMTP"), "any"))
@given(case=tampered_backups())
def test_fuzz_rollback_of_a_tampered_backup(case):
    field, value = case
    backup = mutated(field, value)
    try:
        result = pp.plan_rollback(AFTER_AGAIN, backup)
    except PanosError as exc:
        message = str(exc)
        places = [k for k in field if isinstance(k, str) and k not in "*@"] + ["backup"]
        # The backup's own field or value, or what PAN-OS would refuse about the edits it leads to.
        assert mentions(message, value) or any(p.rstrip("s") in message for p in places) or \
            "Reference count not zero" in message, message
        return
    check_requests(result["requests"])
    for name, obj in backup["addresses"].items():
        net = ipaddress.ip_network(obj["value"])
        assert net.prefixlen >= 8 and obj["type"] == "ip-netmask", (name, obj)


# --- the revert command carries any administrator name as text --------------------------------
@bounded(300)
@with_examples("admin", ["admin", "a<b>&'\"", "</member></admin><admin><member>x", "a]]>b", "ad\nmin", "\x00",
                         "a\u2028b", "a\x85b", "", None, ["admin"], "\udc80", "a\ufffeb"])
@given(admin=any_values())
def test_fuzz_revert_command(admin):
    try:
        text = pp.revert_command(admin)
    except PanosError as exc:
        assert str(exc).startswith("provider.username "), str(exc)
        assert names_value(str(exc), admin), str(exc)
        assert not (isinstance(admin, str) and admin and xml_legal(admin) and not breaking_characters(admin)), (
            "refused %r" % (admin,))
        return
    assert isinstance(admin, str) and admin and xml_legal(admin) and not breaking_characters(admin), admin
    root = ET.fromstring(text)
    assert [node.tag for node in root.iter()] == ["revert", "config", "partial", "admin", "member"], text
    assert all(not node.attrib for node in root.iter()), text
    assert root.find("config/partial/admin/member").text == admin
