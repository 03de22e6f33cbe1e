"""Property-based fuzzing of every input of the pfSense planner (plugins/module_utils/pfsense/plan.py)
other than the ranges' guard: the alias name, the interface, the mail servers, the provenance of
the lookup's ``format=detail`` ranges (it becomes the alias's ``detail``), the user stamped into
the rules, and the restore data a rollback brings back.

The property, for any input: either edits come back, or PfsensePlanError names the bad value;
never another exception, and never an edit that leaves config.xml ill-formed. The oracles are the
rules (reference pfsense.md: alias names under 32 of [A-Za-z0-9_], not only digits or underscores;
the XML 1.0 Char production; pfSense's '||' detail separator) and expat, the XML parser pfSense's
own PHP uses: after the edits, config.xml is written as pfSense writes it and read back equal.
"""
import copy
import hashlib
import json
import os
import re

from hypothesis import example, given
from hypothesis import strategies as st

from ansible_collections.emailsec.hes.plugins.module_utils.pfsense import parse, plan
from ansible_collections.emailsec.hes.tests.unit.fuzz_inputs import (
    NASTY_TEXT,
    any_values,
    bounded,
    breaking_characters,
    check_validator,
    mentions,
    with_examples,
    xml_legal,
)

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
with open(os.path.join(GOLDEN, "tables.json"), encoding="utf-8") as handle:
    TABLES = json.load(handle)


def golden_text(case):
    with open(os.path.join(GOLDEN, case, "config.xml"), encoding="utf-8") as handle:
        return handle.read()


CONFIG_TEXT = golden_text("plain_wan_rule")
CONFIG = parse.parse_config(CONFIG_TEXT)
RANGES = ["18.208.22.64/26", "150.70.149.0/27"]
ALIAS_RULE = re.compile(r"[A-Za-z0-9_]{1,31}")
# What the planner edits: an alias, a rule or port forward (or one element of it), the separators.
EDITED_PATH = re.compile(r"(?:aliases/alias|filter/rule|nat/rule)(?:/[0-9]+(?:/[a-z_-]+)?)?|filter/separator/[a-z0-9_]+")


def text_is_carried(value):
    """A string config.xml can hold and give back: XML characters, one line."""
    return xml_legal(value) and not breaking_characters(value)


def strings(value):
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k] + strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return [value]


# --- names ------------------------------------------------------------------------------------
@bounded(300)
@with_examples("value", ["TM_HES_IP_RANGE\n", "a" * 31, "a" * 32, "123", "___", "port", "TM-HES", "", None,
                         ["TM_HES_IP_RANGE"], "T\u0131M", "x\u2028"])
@given(value=st.one_of(any_values("abXY09_", 40), st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,30}", fullmatch=True)))
def test_fuzz_check_alias_name(value):
    accepted, returned = check_validator(
        plan.check_alias_name, value, plan.PfsensePlanError, "hes_group_name: ",
        legal=isinstance(value, str) and ALIAS_RULE.fullmatch(value) and not re.fullmatch(r"[0-9_]+", value),
        plain=value == "TM_HES_IP_RANGE")
    assert returned == (value if accepted else None)


@bounded(200)
@with_examples("value", ["wan", "lan", "opt1", "opt9", "WAN", "wan\n", "wan ", "", None, ["wan"], "interfaces"])
@given(value=st.one_of(any_values("wanopt1", 12), st.sampled_from(["wan", "lan", "opt1", "opt2"])))
def test_fuzz_check_interface(value):
    interfaces = CONFIG["interfaces"]
    accepted, returned = check_validator(
        lambda v: plan.check_interface(CONFIG, v), value, plan.PfsensePlanError, "hes_pfsense_interface: ",
        legal=isinstance(value, str) and value in interfaces and "enable" in interfaces[value],
        plain=value == "wan")
    assert returned == (value if accepted else None)


# --- the whole plan: names, servers, provenance, user -----------------------------------------
def detail_entries():
    """The lookup's ``format=detail`` shape, with hostile provenance now and then."""
    text = st.one_of(st.sampled_from(["us", "eu", "2025.03.1", "2025-03-01"]), st.sampled_from(NASTY_TEXT),
                     st.text(max_size=10))
    item = st.fixed_dictionaries({"site": text, "date": st.one_of(text, st.none())})
    return st.fixed_dictionaries({
        "cidr": st.sampled_from(RANGES),
        "entries": st.one_of(st.lists(item, min_size=1, max_size=2), st.sampled_from(["us", ["us"], [None], 5])),
        "dataset_version": st.one_of(text, st.none(), st.integers()),
    })


@st.composite
def plan_arguments(draw):
    ranges = draw(st.one_of(st.just(RANGES), st.lists(st.one_of(st.sampled_from(RANGES), detail_entries()),
                                                      min_size=1, max_size=3)))
    return {
        "ranges": ranges,
        "interface": draw(st.one_of(st.just("wan"), st.sampled_from(["lan", "opt1", "wan\n"]), any_values("wan"))),
        "alias_name": draw(st.one_of(st.just("TM_HES_IP_RANGE"), any_values("abXY09_"),
                                     st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,30}", fullmatch=True))),
        "mail_servers": draw(st.one_of(st.none(), st.lists(st.one_of(
            st.sampled_from(["203.0.113.25", "203.0.113.0/24", "203.0.113.25\n", "host 203.0.113.25"]),
            any_values("0123456789./")), max_size=2))),
        "user": draw(st.one_of(st.just("emailsec.hes"), any_values("admin@. ()"))),
        "deny_after_permit": draw(st.booleans()),
    }


def check_edits(config, edits):
    """The edits apply, touch only what the planner edits, and config.xml written after them (as
    pfSense writes it) is read back by expat as the same configuration."""
    for edit in edits:
        assert EDITED_PATH.fullmatch(edit["path"]), edit["path"]
        for text in strings(edit.get("value")) + strings(edit.get("expect") or {}):
            if isinstance(text, str):
                assert text_is_carried(text), "%r in %s" % (text, edit["path"])
    after = parse.apply_edits(config, edits)
    written = parse.dump_config(after)
    assert parse.parse_config(written) == after, "config.xml does not read back as written"
    for alias in parse.as_list(after.get("aliases", {}).get("alias") if isinstance(after.get("aliases"), dict)
                               else None):
        if isinstance(alias, dict) and alias.get("detail"):
            details = alias["detail"].split("||")
            assert len(details) == len(alias["address"].split()), (alias["detail"], alias["address"])


@bounded(250)
@example(arguments={"ranges": [{"cidr": "18.208.22.64/26", "entries": [{"site": "us\ufffe", "date": None}],
                                "dataset_version": "1"}], "interface": "wan", "alias_name": "TM_HES_IP_RANGE",
                    "mail_servers": None, "user": "emailsec.hes", "deny_after_permit": False})
@example(arguments={"ranges": [{"cidr": "18.208.22.64/26", "entries": ["us"], "dataset_version": "1"}],
                    "interface": "wan", "alias_name": "TM_HES_IP_RANGE", "mail_servers": None,
                    "user": "emailsec.hes", "deny_after_permit": False})
@example(arguments={"ranges": [{"cidr": "18.208.22.64/26", "entries": [{"site": "us||x"}], "dataset_version": "1"}],
                    "interface": "wan", "alias_name": "TM_HES_IP_RANGE", "mail_servers": None,
                    "user": "emailsec.hes", "deny_after_permit": False})
@example(arguments={"ranges": RANGES, "interface": "wan", "alias_name": "TM_HES_IP_RANGE", "mail_servers": None,
                    "user": "x</username><username>root", "deny_after_permit": False})
@given(arguments=plan_arguments())
def test_fuzz_plan_hardening_inputs(arguments):
    try:
        result = plan.plan_hardening(CONFIG, tables=TABLES, now=1732950000, **arguments)
    except plan.PfsensePlanError as exc:
        message = str(exc)
        assert re.match(r"(hes_group_name|hes_pfsense_interface|user|ranges\[[0-9]+\]|hes_pfsense_mail_servers"
                        r"\[[0-9]+\]): ", message), message
        assert mentions(message, arguments) or "the source text" in message, message
        return
    check_edits(CONFIG, result["edits"])
    assert text_is_carried(result["description"]), result["description"]


# --- restoring the saved revision -------------------------------------------------------------
HARDENED = plan.plan_hardening(CONFIG, RANGES, tables=TABLES, now=1732950000)
assert not HARDENED["errors"], HARDENED["errors"]
WRITTEN = parse.dump_config(parse.apply_edits(CONFIG, HARDENED["edits"]))
GOOD = plan.backup_restore_data(CONFIG_TEXT, parse.config_sha256(CONFIG_TEXT), HARDENED["edits"])
DELETE = object()


def sha(text):
    return hashlib.sha256(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else b"").hexdigest()


@st.composite
def restore_data(draw):
    data = copy.deepcopy(GOOD)
    key = draw(st.sampled_from(["config_xml", "config_sha256", "edits", "edit", None]))
    if key == "config_xml":
        text = draw(st.one_of(
            st.sampled_from([CONFIG_TEXT.replace("<hostname>", "<hostname>other-"), "<pfsense></pfsense>",
                             "<pfsense><system><hostname>x</hostname></system>", "<notpfsense/>", "",
                             CONFIG_TEXT.replace("</pfsense>", "<x>\udc80</x></pfsense>"),
                             CONFIG_TEXT.replace("</pfsense>", "<x>&#1;</x></pfsense>"),
                             '<?xml version="1.0"?><!DOCTYPE pfsense [<!ENTITY a "aaaa">]><pfsense>&a;</pfsense>']),
            any_values()))
        data["config_xml"] = text
        # Mostly with the matching SHA-256, as someone who tampered with the file would write it.
        data["config_sha256"] = sha(text) if draw(st.integers(0, 3)) else data["config_sha256"]
    elif key == "config_sha256":
        data["config_sha256"] = draw(st.one_of(any_values("0123456789abcdef", 70), st.just(DELETE)))
    elif key == "edits":
        data["edits"] = draw(st.one_of(st.just(DELETE), any_values(), st.lists(any_values(), max_size=2)))
    elif key == "edit":
        edit = copy.deepcopy(data["edits"][0])
        field = draw(st.sampled_from(["op", "path", "value", "expect", "index"]))
        edit[field] = draw(st.one_of(any_values("aliases/0"), st.sampled_from([{"a": 1}, ["x"], -1, 10 ** 6])))
        data["edits"] = [edit] + data["edits"][1:]
    for name, value in list(data.items()):
        if value is DELETE:
            del data[name]
    return data if draw(st.integers(0, 20)) else draw(any_values())


@bounded(200)
@example(data=dict(GOOD, edits=[{"op": "set", "path": 5, "value": "x"}]))
@example(data=dict(GOOD, edits=[{"op": "set", "path": "aliases/alias/0", "value": "x", "expect": ["x"]}]))
@example(data=dict(GOOD, edits=["x"]))
@example(data=dict(GOOD, config_xml="<pfsense>\udc80</pfsense>", config_sha256=sha("<pfsense>\udc80</pfsense>")))
@given(data=restore_data())
def test_fuzz_restore_data(data):
    try:
        result = plan.plan_restore(WRITTEN, data)
    except plan.PfsensePlanError as exc:
        assert str(exc).startswith("backup"), str(exc)
        return
    assert isinstance(data, dict) and sha(data["config_xml"]) == data["config_sha256"]
    saved = parse.parse_config(data["config_xml"])
    assert plan.device_identity(saved) == plan.device_identity(CONFIG)
    assert set(result) >= {"changed", "errors", "warnings", "preview"}
    for item in result["preview"]:
        for side in ("before", "after"):
            assert xml_legal(item[side]), item[side]
