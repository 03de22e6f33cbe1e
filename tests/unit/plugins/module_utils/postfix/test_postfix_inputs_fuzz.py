"""Property-based fuzzing of every input of the Postfix planner (plugins/module_utils/postfix/)
other than the ranges: the config directory (it becomes our tables' paths and goes into main.cf
lists) and the backup a restore puts back (main.cf values and the tables' contents).

The property, for any input: either a plan comes back, or PostfixError names the bad value; never
another exception, and never a value that adds a main.cf line, a table path outside the config
directory, or a table line that answers anything but the table's own action for a range the
guards allow. The oracles are the rules (Postfix list syntax, cidr_table(5), Unicode line
breaks) and the real postconf: restored values written with ``postconf -e`` leave main.cf with
the same parameters, one line each.
"""
import copy
import ipaddress
import os
import posixpath
import re
import shutil

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st

from ansible_collections.emailsec.hes.plugins.module_utils.postfix import (
    TABLE_ACTIONS,
    PostfixError,
    config_dir_path,
    table_paths,
)
from ansible_collections.emailsec.hes.plugins.module_utils.postfix import parse, plan
from ansible_collections.emailsec.hes.plugins.module_utils.postfix.parse import EFFECTIVE_PARAMETERS
from ansible_collections.emailsec.hes.tests.unit.fuzz_inputs import (
    NASTY_TEXT,
    any_values,
    bounded,
    breaking_characters,
    check_validator,
    mentions,
    names_value,
    text_values,
    with_examples,
)
from ansible_collections.emailsec.hes.tests.unit.plugins.module_utils.postfix.config_dir import ConfigDir

RANGES = ["18.208.22.64/26", "150.70.149.0/27", "2a00:1e8::/32"]
DIR_ALPHABET = "/etcpostfix._+@-"


# --- the config directory ---------------------------------------------------------------------
def dir_rule(value):
    """An absolute path of characters no main.cf list gives meaning to (whitespace, commas and
    braces separate or group, '$' expands, '#' comments), without '..' components."""
    return (isinstance(value, str) and value.startswith("/") and re.fullmatch(r"[A-Za-z0-9._/+@-]+", value)
            and ".." not in value.split("/"))


DIRECTORIES = st.from_regex(r"/[a-z0-9._-]{1,12}(/[a-z0-9_-]{1,8}){0,2}", fullmatch=True)


@bounded(300)
@with_examples("value", ["/etc/postfix", "/etc/postfix/", "/etc/postfix-out", "/etc/post fix", "/etc/postfix,x",
                         "/etc/{postfix}", "/etc/$x", "/etc/postfix\n", "/etc/../x", "/..", "etc/postfix", "",
                         "/etc/postfix#x", "/etc/p\u00f6stfix", None, ["/etc/postfix"], b"/etc/postfix", "//etc"])
@given(value=st.one_of(any_values(DIR_ALPHABET, 40), DIRECTORIES))
def test_fuzz_config_dir(value):
    accepted, directory = check_validator(config_dir_path, value, PostfixError, "config_dir ", legal=dir_rule(value),
                                          plain=value == "/etc/postfix")
    if not accepted:
        return
    assert directory == posixpath.normpath(value)
    for name, path in table_paths(value).items():
        assert posixpath.dirname(path) == directory and posixpath.basename(path) == "tm_hes_%s.cidr" % name
    for reference in plan.references(value).values():
        # One token of a main.cf list, whatever separator the list uses.
        assert [t for t, start, end in parse.split_list(reference)] == [reference]
        assert not breaking_characters(reference) and not set(reference) & set("${}#, \t")


# --- the plan with any config directory -------------------------------------------------------
@pytest.fixture(scope="module")
def postconf_outputs(tmp_path_factory):
    config = ConfigDir.from_case("postscreen_on", tmp_path_factory.mktemp("postfix"))
    return config.postconf("-n"), config.postconf("-x", *EFFECTIVE_PARAMETERS), config.postconf("-M")


@bounded(100)
@example(config_dir="/etc/postfix out")
@example(config_dir="/etc/postfix\nmynetworks = 0.0.0.0/0")
@example(config_dir="/etc/postfix, permit")
@given(config_dir=st.one_of(any_values(DIR_ALPHABET, 30), st.from_regex(r"/[a-z0-9._-]{1,12}", fullmatch=True)))
def test_fuzz_plan_with_any_config_dir(postconf_outputs, config_dir):
    try:
        model = parse.read_config(*postconf_outputs, config_dir=config_dir)
        result = plan.plan(model, RANGES, {})
    except PostfixError as exc:
        assert names_value(str(exc), config_dir), str(exc)
        return
    assert dir_rule(config_dir), "%r was accepted" % (config_dir,)
    references = plan.references(config_dir)
    for edit in result["edits"]:
        value = edit["after"]
        if value is None:
            continue
        assert not breaking_characters(value), "%s = %r" % (edit["parameter"], value)
        tokens = [t for t, start, end in parse.split_list(value)]
        ours = [t for t in tokens if t in references.values()]
        assert len(ours) == 1, (edit["parameter"], value)
    for command in result["commands"]:
        assert not breaking_characters(command), command


# --- restore: the backup ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def restore_case(tmp_path_factory):
    """A configuration directory hardened once: the backup of that run, its model and tables."""
    config = ConfigDir.from_case("postscreen_on", tmp_path_factory.mktemp("postfix"))
    first = config.plan(RANGES)
    config.apply(first)
    backup = plan.backup_of(first, config.main_cf())
    # The tables as a second run with other ranges records them: the "before" of a restore.
    second = config.plan(["18.208.22.64/26"])
    backup = dict(backup, tables=dict((t["path"], t["before"]) for t in second["tables"]))
    return config, backup, config.read(), config.tables()


DELETE = object()
TABLE_LINES = ["18.208.22.64/26\tpermit", "18.208.22.64/26\tpermit_auth_destination", "0.0.0.0/0\tpermit",
               "0.0.0.0/0\tpermit_auth_destination", "18.208.22.64/26\tOK", "18.208.22.64/26 permit",
               "# a comment", "", "2a00:1e8::/32\tpermit_auth_destination", "::/0\tpermit",
               "18.208.22.65/26\tpermit", "18.208.22.64/26\tpermit\r", "18.208.22.64/26\tpermit_auth_destination x"]


@st.composite
def tampered_backups(draw, kinds=("parameter", "parameter", "table", "table", "config_dir", "format", "shape")):
    kind = draw(st.sampled_from(kinds))
    if kind == "parameter":
        name = draw(st.sampled_from(["postscreen_access_list", "smtpd_recipient_restrictions", "mynetworks"]))
        value = draw(st.one_of(
            st.tuples(st.sampled_from(["permit_mynetworks", "reject_unauth_destination"]), st.sampled_from(NASTY_TEXT),
                      st.sampled_from(["", "mynetworks = 0.0.0.0/0", "permit"])).map("".join),
            any_values(), st.none()))
        return kind, name, value
    if kind == "table":
        which = draw(st.sampled_from(["postscreen", "smtpd", "other"]))
        lines = draw(st.lists(st.one_of(st.sampled_from(TABLE_LINES), text_values()), max_size=4))
        value = draw(st.one_of(st.just("\n".join(lines) + "\n"), st.none(), st.sampled_from([5, ["x"], b"x"])))
        return kind, which, value
    if kind == "config_dir":
        return kind, "config_dir", draw(any_values(DIR_ALPHABET))
    if kind == "format":
        return kind, "format", draw(st.one_of(st.just(DELETE), any_values(), st.just(2)))
    return kind, draw(st.sampled_from(["parameters", "tables"])), draw(st.one_of(st.just(DELETE), any_values()))


def tampered(backup, config, case):
    kind, name, value = case
    data = copy.deepcopy(backup)
    if kind == "parameter":
        data["parameters"][name] = value
    elif kind == "table":
        path = table_paths(config.path)[name] if name != "other" else os.path.join(config.path, "main.cf")
        data["tables"][path] = value
    elif value is DELETE:
        del data[name]
    else:
        data[name] = value
    return data


def table_line_ok(line, action):
    """cidr_table(5) as this role writes it: a network the loosest guard allows, then the action."""
    words = line.split()
    if not words or words[0].startswith("#"):
        return True
    if len(words) != 2 or words[1] != action or not re.fullmatch(r"[0-9a-f.:]+(?:/[0-9]{1,3})?", words[0]):
        return False
    net = ipaddress.ip_network(words[0], strict=True)
    return net.prefixlen >= (8 if net.version == 4 else 16) and not net.is_multicast and not net.is_unspecified


@bounded(300)
@example(case=("parameter", "smtpd_recipient_restrictions", "permit_mynetworks\u2028mynetworks = 0.0.0.0/0"))
@example(case=("parameter", "smtpd_recipient_restrictions", "permit_mynetworks\x00"))
@example(case=("parameter", "smtpd_recipient_restrictions", "permit_mynetworks\rmynetworks = 0.0.0.0/0"))
@example(case=("parameter", "postscreen_access_list", "$"))
@example(case=("parameter", "postscreen_access_list", "permit_mynetworks ${x"))
@example(case=("parameter", "smtpd_recipient_restrictions", "permit {"))
@example(case=("table", "smtpd", "0.0.0.0/0\tOK\n"))
@example(case=("table", "smtpd", "0.0.0.0/0\tpermit_auth_destination\n"))
@example(case=("table", "postscreen", "18.208.22.64/26\tpermit_auth_destination\n"))
@example(case=("shape", "tables", ["x"]))
@given(case=tampered_backups())
def test_fuzz_restore_of_a_tampered_backup(restore_case, case):
    config, backup, model, tables = restore_case
    data = tampered(backup, config, case)
    try:
        result = plan.plan_restore(model, data, tables)
    except PostfixError as exc:
        message = str(exc)
        assert message.startswith("restore: "), message
        kind, name, value = case
        where = [name, "not text", "format", "is not one of this config directory's tables"]
        assert mentions(message, value) or any(w in message for w in where), message
        return
    actions = dict((path, TABLE_ACTIONS[name]) for name, path in table_paths(config.path).items())
    for edit in result["edits"]:
        assert edit["after"] is None or not breaking_characters(edit["after"].replace("\t", " ")), edit
    for table in result["tables"]:
        assert table["path"] in actions
        if table["after"] is not None:
            for line in table["after"].split("\n"):
                assert not breaking_characters(line.replace("\t", " ")), line
                assert table_line_ok(line, actions[table["path"]]), "%s: %r" % (table["path"], line)


@bounded(25)
@example(case=("parameter", "postscreen_access_list", "$"))
@given(case=tampered_backups(kinds=("parameter",)))
def test_fuzz_restored_values_never_add_a_main_cf_line(restore_case, case, tmp_path_factory):
    """The real postconf: whatever a restore accepts, ``postconf -e`` writes as one parameter."""
    config, backup, model, tables = restore_case
    data = tampered(backup, config, case)
    try:
        result = plan.plan_restore(model, data, tables)
    except PostfixError:
        event("refused")
        return
    event("written with postconf -e")
    scratch = ConfigDir(tmp_path_factory.mktemp("postconf"))
    for name in ("main.cf", "master.cf"):
        shutil.copy(os.path.join(config.path, name), os.path.join(scratch.path, name))
    scratch.settle()
    before = parse.parse_parameters(scratch.postconf("-n"))
    scratch.apply(dict(result, tables=[]))
    with open(os.path.join(scratch.path, "main.cf")) as handle:
        text = handle.read()
    after = parse.parse_parameters(scratch.postconf("-n"))
    edited = set(e["parameter"] for e in result["edits"])
    assert set(after) - edited == set(before) - edited, "postconf -e added parameters: %r" % (
        sorted(set(after) ^ set(before)),)
    for edit in result["edits"]:
        if edit["after"] is not None:
            assert after.get(edit["parameter"]) == " ".join(edit["after"].split()) or \
                after.get(edit["parameter"]) == edit["after"].strip(), (edit, after.get(edit["parameter"]))
    assert len(text.splitlines()) == len(text.split("\n")) - (1 if text.endswith("\n") else 0)
