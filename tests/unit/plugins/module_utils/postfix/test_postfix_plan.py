"""Golden tests of the Postfix main.cf edits (plugins/module_utils/postfix/), read and applied
with the real postconf.

Each folder under golden/ is a configuration directory as an administrator left it
(main.cf, master.cf, sometimes our tables) with params.json (site or ranges, state). The test
copies it to a scratch directory, reads it with postconf -n / -x / -M exactly as the module does,
plans, and compares with the case's references:

* expected.plan.ref: findings, messages, warnings, errors, edits, tables (with their text), relay;
* expected.main.cf.ref: main.cf after the real ``postconf -e`` / ``-X`` applied the edits.

``/etc/postfix`` in a case's files stands for the scratch directory, and in the references too.
Then every case that plans a change proves, on the result: a second plan has nothing to do, and
``state=absent`` leaves ``postconf -n`` as it was before the first run (exactly our additions
removed). A mismatch writes ``*.actual`` beside the reference and fails with a diff.
"""
import json
import os

import pytest
from ansible_collections.emailsec.hes.tests.unit.golden_files import golden_mismatch

from ansible_collections.emailsec.hes.plugins.module_utils.postfix import PostfixError, table_paths
from ansible_collections.emailsec.hes.plugins.module_utils.postfix import parse, plan
from ansible_collections.emailsec.hes.plugins.module_utils.postfix.relay import relay_check
from ansible_collections.emailsec.hes.tests.unit.plugins.module_utils.postfix.config_dir import (
    GOLDEN,
    ConfigDir,
    site_ranges,
)

CASES = sorted(d for d in os.listdir(GOLDEN) if os.path.isdir(os.path.join(GOLDEN, d)))
# Cases the plan refuses (their expected.plan.ref holds the reasons, their main.cf stays as it was).
REFUSED = ("mynetworks_open_relay", "parameter_reference")


def case_ranges(params):
    return params.get("ranges") or (site_ranges(params["site"]) if "site" in params else None)


def load_params(case):
    with open(os.path.join(GOLDEN, case, "params.json")) as handle:
        return json.load(handle)


@pytest.mark.parametrize("case", CASES)
def test_golden(case, tmp_path):
    params = load_params(case)
    config = ConfigDir.from_case(case, tmp_path)
    result = config.plan(case_ranges(params), params["state"])
    report = {key: result[key] for key in ("errors", "warnings", "messages", "edits", "findings", "relay")}
    report["tables"] = [{k: t[k] for k in ("name", "path", "action", "changed", "after")} for t in result["tables"]]
    report["commands"] = result["commands"]
    if not result["errors"]:
        config.apply(result)
    mismatches = [m for m in (
        golden_mismatch(os.path.join(GOLDEN, case), "expected.plan",
                        config.portable(json.dumps(report, indent=2, sort_keys=True)) + "\n"),
        golden_mismatch(os.path.join(GOLDEN, case), "expected.main.cf", config.portable(config.main_cf())),
    ) if m]
    if mismatches:
        pytest.fail("\n".join(mismatches))


@pytest.mark.parametrize("case", REFUSED)
def test_a_refused_case_has_reasons(case, tmp_path):
    params = load_params(case)
    assert ConfigDir.from_case(case, tmp_path).plan(case_ranges(params), params["state"])["errors"]


@pytest.mark.parametrize("case", [c for c in CASES if c not in REFUSED])
def test_second_run_has_nothing_to_do_and_absent_removes_exactly_our_additions(case, tmp_path):
    params = load_params(case)
    ranges = case_ranges(params)
    config = ConfigDir.from_case(case, tmp_path)
    before = config.postconf("-n")
    first = config.plan(ranges, params["state"])
    assert first["errors"] == []
    config.apply(first)
    second = config.plan(ranges, params["state"])
    assert (second["edits"], [t for t in second["tables"] if t["changed"]], second["errors"]) == ([], [], [])
    if params["state"] == "present" and not any(f.endswith(".cidr") for f in os.listdir(os.path.join(GOLDEN, case))):
        config.apply(config.plan(None, "absent"))
        assert config.postconf("-n") == before
        assert config.tables() == dict((path, None) for path in table_paths(config.path).values())


def test_the_preview_shows_what_the_real_postconf_writes(tmp_path):
    config = ConfigDir.from_case("postscreen_on", tmp_path)
    result = config.plan(site_ranges("us"))
    config.apply(result)
    reread = config.read()
    for edit in result["edits"]:
        assert reread["main_cf"][edit["parameter"]] == edit["after"]


@pytest.mark.parametrize("value, expected", [
    ("permit_mynetworks, reject_rbl_client zen.example", ["permit_mynetworks", "reject_rbl_client zen.example"]),
    ("permit_mynetworks reject_rbl_client zen.example=127.0.0.[2..11]",
     ["permit_mynetworks", "reject_rbl_client zen.example=127.0.0.[2..11]"]),
    ("check_client_access { cidr:{ {1.2.3.4/32 OK}, {5.6.7.8 REJECT} } }, permit",
     ["check_client_access { cidr:{ {1.2.3.4/32 OK}, {5.6.7.8 REJECT} } }", "permit"]),
    ("check_policy_service unix:private/policy,\n  reject", ["check_policy_service unix:private/policy", "reject"]),
    ("", []),
])
def test_restriction_items_split_like_postfix(value, expected):
    assert [item["text"] for item in parse.restriction_items(value)] == expected


def test_unbalanced_braces_are_named():
    with pytest.raises(PostfixError, match="unbalanced"):
        parse.restriction_items("check_client_access {cidr:{1.2.3.4 OK}")


def test_master_overrides_are_read_in_both_forms():
    services = parse.parse_master(
        "smtpd      pass  -       -       y       -       -       smtpd -o smtpd_client_restrictions=permit "
        "-o { smtpd_recipient_restrictions = permit_mynetworks, reject }\n")
    assert services[0]["command"] == "smtpd"
    assert services[0]["overrides"] == {"smtpd_client_restrictions": "permit",
                                        "smtpd_recipient_restrictions": "permit_mynetworks, reject"}


@pytest.mark.parametrize("config_dir", ["etc/postfix", "/etc/post fix", "/etc/postfix,x", "/etc/{postfix}",
                                        "/etc/../root", ""])
def test_a_config_dir_that_cannot_go_into_a_main_cf_list_is_refused(config_dir):
    with pytest.raises(PostfixError, match="config_dir"):
        table_paths(config_dir)


def test_the_relay_check_refuses_an_ok_before_reject_unauth_destination():
    lists = {"smtpd_relay_restrictions": "",
             "smtpd_recipient_restrictions": "check_client_access cidr:/etc/postfix/tm_hes_smtpd.cidr, "
                                             "reject_rbl_client zen.example, reject_unauth_destination"}
    ranges = ["198.51.100.0/25"]
    ref = "cidr:/etc/postfix/tm_hes_smtpd.cidr"
    safe = relay_check(lists, "127.0.0.0/8", ranges, lambda net: {ref: "permit_auth_destination"})
    assert safe["open"] == []
    unsafe = relay_check(lists, "127.0.0.0/8", ranges, lambda net: {ref: "OK"})
    assert [entry["range"] for entry in unsafe["open"]] == ["198.51.100.0/25"]
    assert "answers OK" in unsafe["open"][0]["permitted_by"][0]
    # the same OK after reject_unauth_destination cannot open anything
    lists["smtpd_recipient_restrictions"] = ("reject_unauth_destination, check_client_access "
                                             "cidr:/etc/postfix/tm_hes_smtpd.cidr")
    assert relay_check(lists, "127.0.0.0/8", ranges, lambda net: {ref: "OK"})["open"] == []
    # warn_if_reject turns the only reject into a log line
    lists["smtpd_recipient_restrictions"] = "warn_if_reject reject_unauth_destination"
    assert relay_check(lists, "127.0.0.0/8", ranges, lambda net: {})["open"] != []


def test_restore_refuses_a_backup_that_names_other_files_or_parameters(tmp_path):
    config = ConfigDir.from_case("postscreen_on", tmp_path)
    model = config.read()
    good = {"format": 1, "config_dir": config.path, "parameters": {"postscreen_access_list": None}, "tables": {}}
    assert plan.plan_restore(model, good, config.tables())["edits"][0]["after"] is None
    for bad, message in (
        (dict(good, config_dir="/etc/postfix-other"), "not '%s'" % config.path),
        (dict(good, parameters={"mynetworks": "0.0.0.0/0"}), "'mynetworks' is not one this role edits"),
        (dict(good, tables={"/etc/passwd": "root::0:0::/:/bin/sh\n"}), "'/etc/passwd' is not one of"),
        (dict(good, parameters={"smtpd_recipient_restrictions": "permit\nmynetworks = 0.0.0.0/0"}), "one-line"),
        ({"format": 2}, "format 1"),
        # Found by test_postfix_inputs_fuzz.py: one line for postconf, two for Python's splitlines()
        # (every later run failed reading postconf -n), or a NUL that no command line can carry.
        (dict(good, parameters={"smtpd_recipient_restrictions": "permit\u2028reject"}), "one-line"),
        (dict(good, parameters={"smtpd_recipient_restrictions": "permit\rmynetworks = 0.0.0.0/0"}), "one-line"),
        (dict(good, parameters={"smtpd_recipient_restrictions": "permit\x00"}), "one-line"),
        # Written by postconf -e, after which postconf -n (and Postfix) stop: "macro processing error".
        (dict(good, parameters={"postscreen_access_list": "$"}), "malformed \\$ reference"),
        (dict(good, parameters={"postscreen_access_list": "permit_mynetworks ${x"}), "malformed \\$ reference"),
        (dict(good, parameters={"smtpd_recipient_restrictions": "permit {"}), "unbalanced"),
        # A table's content was restored as it was: any client could be made to answer OK (relay).
        (dict(good, tables={table_paths(config.path)["smtpd"]: "0.0.0.0/0\tOK\n"}), "is not 'network permit_auth"),
        (dict(good, tables={table_paths(config.path)["smtpd"]: "0.0.0.0/0\tpermit_auth_destination\n"}),
         "0.0.0.0/0 is broader than /8"),
        (dict(good, tables={table_paths(config.path)["postscreen"]: "18.208.22.64/26\tpermit\x85x\n"}),
         "is not a line of text"),
    ):
        with pytest.raises(PostfixError, match=message):
            plan.plan_restore(model, bad, config.tables())


def test_restore_puts_back_exactly_what_the_backup_recorded(tmp_path):
    config = ConfigDir.from_case("postscreen_on", tmp_path)
    original = config.postconf("-n")
    first = config.plan(site_ranges("us"))
    config.apply(first)
    backup = plan.backup_of(first, "")
    config.postconf("-e", "myhostname = changed-since.example.com")
    config.settle()
    restore = plan.plan_restore(config.read(), backup, config.tables())
    assert sorted(e["parameter"] for e in restore["edits"]) == ["postscreen_access_list", "smtpd_recipient_restrictions"]
    config.apply(restore)
    assert config.postconf("-n") == original.replace("myhostname = mx1.example.com",
                                                     "myhostname = changed-since.example.com")
    assert set(config.tables().values()) == {None}
