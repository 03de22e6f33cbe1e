"""Property-based fuzzing of every input of the ASA planner (plugins/module_utils/asa/plan.py) other
than the ranges (tests/unit/plugins/lookup/test_ranges_fuzz.py fuzzes those): the names the role
passes (object group, ACL, interfaces), the mail servers, and the backup a rollback restores.

The property, for any input: either commands come back, or AsaPlanError names the bad value;
never another exception, and never a command that is not one line of the forms the planner sends,
with names that are ASA names. The oracle is written from the rule ("an ASA object name is 1-64
of letters, digits, '_', '.', '-'; a command is one line of printable ASCII"), not from the code.
"""
import copy
import ipaddress
import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ansible_collections.emailsec.hes.plugins.module_utils.asa import parse, plan
from ansible_collections.emailsec.hes.tests.unit.fuzz_inputs import (
    NASTY_TEXT,
    any_values,
    bounded,
    check_validator,
    is_one_line,
    names_value,
    with_examples,
)

NAME_RULE = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
PLAIN_NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,40}", fullmatch=True)
NAME_ALPHABET = "abcXYZ019_.-"
RANGES = ["18.208.22.64/26", "150.70.149.0/27", "2a00:1e8:0:3::/64"]
MAIL = "203.0.113.25"
CONFIG_TEXT = (
    "interface GigabitEthernet0/0\n nameif outside\n security-level 0\n ip address 198.51.100.1 255.255.255.0\n!\n"
    "interface GigabitEthernet0/1\n nameif inside\n security-level 100\n ip address 10.10.1.1 255.255.255.0\n!\n"
    "access-list OUTSIDE_IN extended permit tcp any host 203.0.113.25 eq smtp\n"
    "access-list OUTSIDE_IN extended permit tcp any host 203.0.113.80 eq www\n"
    "access-list GLOBAL_IN extended permit tcp any host 203.0.113.26 eq smtp\n"
    "access-group OUTSIDE_IN in interface outside\n"
    "access-group GLOBAL_IN global\n")
CONFIG = parse.parse_running_config(CONFIG_TEXT)
ACLS = ("OUTSIDE_IN", "GLOBAL_IN")

# --- the oracle: the commands the planner may send ------------------------------------------
ADDRESS = r"(?:host [0-9a-f.:]+|[0-9.]+ [0-9.]+|[0-9a-f:]+/[0-9]{1,3})"
OPERAND = r"(?:any|any4|any6|object-group \S+|object \S+|interface \S+|%s)" % ADDRESS
COMMANDS = [
    re.compile(r"object-group network (?P<group>\S+)"),
    re.compile(r"no object-group network (?P<group>\S+)"),
    re.compile(r"(?:no )?network-object (?P<member>%s|object \S+)" % ADDRESS),
    re.compile(r"(?:no )?group-object (?P<nested>\S+)"),
    # A restored ACE is the device's own text: its protocol and ports are whatever the rule had.
    re.compile(r"(?:no )?access-list (?P<acl>\S+)(?: line [1-9][0-9]*)? extended (?:permit|deny) \S+ "
               r"%s(?: \S+)*" % OPERAND),
]


def check_commands(commands, group_name, acls, ranges=None):
    """Each command one printable ASCII line of a form the planner sends, every name an ASA name."""
    for command in commands:
        assert isinstance(command, str) and re.fullmatch(r"[\x21-\x7e][\x20-\x7e]*", command), (
            "%r is not one printable line" % (command,))
        match = next((m for m in (c.fullmatch(command) for c in COMMANDS) if m), None)
        assert match, "%r is not a command the planner sends" % command
        names = dict((k, v) for k, v in match.groupdict().items() if v is not None)
        for key in ("group", "acl", "nested"):
            if key in names:
                assert NAME_RULE.fullmatch(names[key]), "%r names %r" % (command, names[key])
        if "group" in names:
            assert names["group"] == group_name, command
        if "acl" in names:
            assert names["acl"] in acls, command
        if "member" in names and ranges is not None and not names["member"].startswith("object "):
            words = names["member"].split()
            text = words[1] if words[0] == "host" else " ".join(words)
            net = ipaddress.ip_network(text if " " not in text else "%s/%s" % tuple(text.split()))
            assert str(net) in ranges, "%r is not one of the ranges" % command
        for ref in re.findall(r"object-group (\S+)", command):
            assert NAME_RULE.fullmatch(ref), command


# --- names ------------------------------------------------------------------------------------
@bounded(300)
@with_examples("value", ["TM_HES_IP_RANGE\n", "TM HES", "x" * 65, "", ["TM_HES_IP_RANGE"], "out;side", "x\u2028y"])
@given(value=st.one_of(any_values(NAME_ALPHABET), PLAIN_NAMES))
def test_fuzz_check_name(value):
    accepted, returned = check_validator(
        lambda v: plan.check_name(v, "hes_group_name"), value, plan.AsaPlanError, "hes_group_name: ",
        legal=isinstance(value, str) and NAME_RULE.fullmatch(value),
        plain=isinstance(value, str) and re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,63}", value))
    assert returned == (value if accepted else None)


def name_or_junk():
    return st.one_of(PLAIN_NAMES, any_values(NAME_ALPHABET))


@st.composite
def plan_arguments(draw):
    interfaces = draw(st.one_of(
        st.lists(st.one_of(st.sampled_from(["outside", "inside", "dmz"]), name_or_junk()), max_size=3),
        st.just(["outside"]), st.sampled_from(["outside", None, ("outside",)])))
    return {
        "group_name": draw(st.one_of(st.just("TM_HES_IP_RANGE"), name_or_junk())),
        "acl_name": draw(st.one_of(st.none(), st.sampled_from(ACLS), name_or_junk())),
        "interfaces": interfaces,
        "use_global_acl": draw(st.booleans()),
        "mail_servers": draw(st.one_of(st.none(), st.lists(st.one_of(
            st.sampled_from([MAIL, "203.0.113.26", "2001:db8::25", "203.0.113.0/28"]),
            st.sampled_from(["203.0.113.25\n", "203.0.113.25\nwrite erase", "fe80::1%x\ny", "host 203.0.113.25",
                             "203.0.113.25 255.255.255.255", "mail.example.com"]),
            any_values("0123456789./: ")), max_size=3))),
        "add_ace_when_missing": draw(st.booleans()),
        "deny_after_permit": draw(st.booleans()),
    }


def invalid_names(arguments):
    """The name arguments the rule refuses (what the error must name)."""
    bad = []
    for key in ("group_name", "acl_name"):
        value = arguments[key]
        if key == "acl_name" and not value:
            continue
        if not (isinstance(value, str) and NAME_RULE.fullmatch(value)):
            bad.append(value)
    interfaces = arguments["interfaces"]
    if isinstance(interfaces, (list, tuple)):
        bad.extend(i for i in interfaces if not (isinstance(i, str) and NAME_RULE.fullmatch(i)))
    return bad


@bounded(400)
@example(arguments={"group_name": "TM_HES_IP_RANGE\n", "acl_name": None, "interfaces": ["outside"],
                    "use_global_acl": False, "mail_servers": None, "add_ace_when_missing": False,
                    "deny_after_permit": False})
@example(arguments={"group_name": "TM_HES_IP_RANGE", "acl_name": "OUTSIDE_IN\nwrite erase", "interfaces": ["outside"],
                    "use_global_acl": False, "mail_servers": None, "add_ace_when_missing": False,
                    "deny_after_permit": False})
@example(arguments={"group_name": "TM_HES_IP_RANGE", "acl_name": None, "interfaces": ["outside"],
                    "use_global_acl": False, "mail_servers": ["203.0.113.30\nwrite erase"],
                    "add_ace_when_missing": True, "deny_after_permit": False})
@given(arguments=plan_arguments())
def test_fuzz_plan_hardening_names_and_servers(arguments):
    try:
        result = plan.plan_hardening(CONFIG, RANGES, **arguments)
    except plan.AsaPlanError as exc:
        message = str(exc)
        if invalid_names(arguments):
            given = [arguments["group_name"]] + ([arguments["acl_name"]] if arguments["acl_name"] else [])
            given += list(arguments["mail_servers"] or [])
            if isinstance(arguments["interfaces"], (list, tuple)):
                given.extend(arguments["interfaces"])
            assert any(names_value(message, value) for value in given), (
                "the error names none of the values given (%r): %s" % (invalid_names(arguments), message))
        return
    assert not invalid_names(arguments), "invalid names were planned: %r" % (invalid_names(arguments),)
    for server in arguments["mail_servers"] or []:
        # Whitespace around an address is dropped, as the range guard does; the address is what is used.
        assert is_one_line(server.strip()), "mail server %r was accepted" % (server,)
    check_commands(result["commands"], arguments["group_name"], ACLS, RANGES)
    # What the device does with them, in order: no command it would refuse.
    plan.apply_commands(CONFIG, result["commands"])


# --- rollback: the backup ---------------------------------------------------------------------
HARDENED = plan.plan_hardening(CONFIG, RANGES, interfaces=["outside"], use_global_acl=True, deny_after_permit=True,
                               mail_servers=[MAIL, "203.0.113.26"])
AFTER = plan.apply_commands(CONFIG, HARDENED["commands"])
BACKUP = HARDENED["backup"]
# A backup of a group that existed, with members of every form.
EXISTING = parse.parse_running_config(
    CONFIG_TEXT + "object-group network TM_HES_IP_RANGE\n network-object host 18.208.22.70\n"
    " network-object 150.70.149.0 255.255.255.224\n network-object 2a00:1e8:0:3::/64\n")
BACKUP_EXISTED = plan.plan_hardening(EXISTING, RANGES)["backup"]
ACE = "extended permit tcp any host 203.0.113.25 eq smtp"

FIELDS = [("format",), ("group",), ("group", "name"), ("group", "existed"), ("group", "members"),
          ("group", "members", 0), ("rules",), ("rules", 0), ("rules", 0, "acl"), ("rules", 0, "line"),
          ("rules", 0, "action"), ("rules", 0, "before"), ("rules", 0, "after"), ("rules", 0, "deny")]


def mutated(backup, field, value):
    """``backup`` with ``field`` set to ``value`` (or removed, for the marker ``DELETE``)."""
    data = copy.deepcopy(backup)
    target = data
    for key in field[:-1]:
        target = target[key]
    if isinstance(target, list) and field[-1] >= len(target):
        target.append(None)
    if value is DELETE:
        del target[field[-1]]
    else:
        target[field[-1]] = value
    return data


DELETE = object()


def places(field):
    """How an error may say where in the backup the bad value is."""
    words = {"rules": "rule", "members": "member", "format": "format", "group": "group"}
    out = [words.get(key, key) for key in field if isinstance(key, str)]
    out += ["%s %d" % ("change" if "rules" in field else "member", key) for key in field if isinstance(key, int)]
    return out


@st.composite
def tampered_backups(draw):
    base = draw(st.sampled_from(["created", "existed"]))
    field = draw(st.sampled_from(FIELDS))
    value = draw(st.one_of(
        any_values(NAME_ALPHABET), st.just(DELETE),
        st.tuples(st.sampled_from([ACE, "network-object host 18.208.22.70", "TM_HES_IP_RANGE", "OUTSIDE_IN"]),
                  st.sampled_from(NASTY_TEXT)).map("".join),
        st.sampled_from([ACE, ACE + "\nwrite erase", ACE + "\x85no access-list OUTSIDE_IN " + ACE, "remark x",
                         "network-object", "network-object host", "group-object", "network-object object",
                         "network-object 0.0.0.0 0.0.0.0", "network-object ::/0", "network-object 224.0.0.0 240.0.0.0",
                         "network-object 300.1.1.1 255.255.255.0", "extended permit", 0, 1, 10 ** 30, -1, True,
                         [None], [ACE], {"acl": "OUTSIDE_IN"}, ["network-object\nwrite erase"]]),
        st.lists(any_values(), max_size=2)))
    return base, field, value


@bounded(400)
@example(case=("created", ("rules", 0, "before"), ACE + "\nwrite erase"))
@example(case=("created", ("rules", 0, "deny"), "extended deny tcp any host 203.0.113.25 eq smtp\r\nwrite erase"))
@example(case=("existed", ("group", "members", 0), "network-object host 18.208.22.70\u2028write erase"))
@example(case=("existed", ("group", "members", 0), "network-object"))
@example(case=("created", ("group", "existed"), DELETE))
@example(case=("created", ("rules",), None))
@example(case=("created", ("rules",), 5))
@given(case=tampered_backups())
def test_fuzz_rollback_of_a_tampered_backup(case):
    base, field, value = case
    backup = mutated(BACKUP if base == "created" else BACKUP_EXISTED, field, value)
    config = AFTER if base == "created" else EXISTING
    group_name = backup.get("group", {}).get("name") if isinstance(backup.get("group"), dict) else None
    try:
        result = plan.plan_rollback(config, backup)
    except plan.AsaPlanError as exc:
        message = str(exc)
        assert message.startswith("backup"), message
        assert names_value(message, value) or any(where in message for where in places(field)), (
            "the error names neither %r nor the field %s: %s" % (value, "/".join(map(str, field)), message))
        return
    check_commands(result["commands"], group_name, ACLS)
    for command in result["commands"]:
        words = command.split()
        if words[0] == "network-object" and words[1] != "object":
            net = ipaddress.ip_network(words[2] if words[1] == "host" else "/".join(words[1:]))
            # No backup may restore a range broader than the loosest guard (/8, /16) or multicast.
            assert net.prefixlen >= (8 if net.version == 4 else 16) and not net.is_multicast, command
        if " extended " in command:
            text = command.split(" extended ", 1)[1]
            assert parse.parse_ace("extended " + text, config)["action"] in ("permit", "deny"), command


@pytest.mark.parametrize("value", [ACE + "\nwrite erase", ACE + "\r", ACE + "\x85", ACE + "\u2028write erase",
                                   "\x00" + ACE])
def test_a_saved_ace_with_a_line_break_never_becomes_two_commands(value):
    with pytest.raises(plan.AsaPlanError, match=r"backup rule change 0 before: .* is not a single printable"):
        plan.plan_rollback(AFTER, mutated(BACKUP, ("rules", 0, "before"), value))
