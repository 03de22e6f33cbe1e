"""Verify logic for Postfix (plugins/module_utils/postfix/verify.py) on golden configuration
directories, with the real postconf and postmap answering, as postfix_hes_verify runs them."""
import ipaddress
import os
import shutil
import subprocess

import pytest

from ansible_collections.emailsec.hes.plugins.module_utils.postfix import table_paths
from ansible_collections.emailsec.hes.plugins.module_utils.postfix.verify import (
    CHECK_IDS,
    evaluate,
    message,
    probe_addresses,
    queries,
    render_markdown,
)
from ansible_collections.emailsec.hes.tests.unit.plugins.module_utils.postfix.config_dir import ConfigDir, site_ranges

POSTMAP = shutil.which("postmap", path=os.environ.get("PATH", "") + ":/usr/sbin")
US = site_ranges("us")


def ask_postmap(config, ranges):
    answers = {}
    for path, addresses in queries(config.read(), ranges).items():
        proc = subprocess.run([POSTMAP, "-c", config.path, "-q", "-", "cidr:" + path], input="\n".join(addresses),
                              capture_output=True, text=True, check=False)
        errors = [line for line in proc.stderr.splitlines() if "fatal:" in line]
        answers[path] = {"answers": dict(line.split("\t", 1) for line in proc.stdout.splitlines()),
                         "error": "; ".join(errors) or None,
                         "warnings": [line for line in proc.stderr.splitlines() if "warning:" in line]}
    return answers


def verify(config, ranges=US):
    report = evaluate(config.read(), ranges, ask_postmap(config, ranges), "mx1", "2025-01-01T00:00:00Z")
    return report, dict((check["id"], check["status"]) for check in report["checks"])


def hardened(case, tmp_path, ranges=US):
    config = ConfigDir.from_case(case, tmp_path)
    config.apply(config.plan(ranges))
    return config


def test_probe_addresses_are_the_edges_of_each_range_and_just_outside():
    probes = probe_addresses(["198.51.100.0/25", "198.51.100.128/26", "203.0.113.7/32"])
    # the two adjacent ranges: no "outside" probe between them; a /32 is its own first and last
    assert [(p["address"], p["kind"], p["inside"]) for p in probes] == [
        ("198.51.100.0", "first", True), ("198.51.100.127", "last", True), ("198.51.99.255", "below", False),
        ("198.51.100.128", "first", True), ("198.51.100.191", "last", True), ("198.51.100.192", "above", False),
        ("203.0.113.7", "first", True), ("203.0.113.6", "below", False), ("203.0.113.8", "above", False)]


def test_a_hardened_server_passes_every_check(tmp_path):
    report, status = verify(hardened("postscreen_on", tmp_path))
    assert status == dict((check_id, "pass") for check_id in CHECK_IDS), report["checks"]
    assert report["status"] == "pass" and report["summary"]["probes"] == 2 * len(probe_addresses(US))
    assert {row["actual"] for row in report["queries"] if row["inside"]} == {"permit", "permit_auth_destination"}
    assert {row["actual"] for row in report["queries"] if not row["inside"]} == {None}
    assert message(report).startswith("emailsec.hes.verify: mx1 (postfix ")
    assert "| relay_closed | PASS |" in render_markdown(report)


def test_before_the_role_ran_positions_and_tables_fail(tmp_path):
    report, status = verify(ConfigDir.from_case("postscreen_on", tmp_path))
    assert status == {"postscreen_position": "fail", "smtpd_position": "fail", "postscreen_table": "fail",
                      "smtpd_table": "fail", "relay_closed": "pass"}
    table_check = next(c for c in report["checks"] if c["id"] == "smtpd_table")
    assert "No such file or directory" in table_check["detail"]
    assert "FAILED" in message(report)


def test_a_table_line_with_host_bits_is_skipped_by_postfix_and_named(tmp_path):
    config = hardened("postscreen_on", tmp_path)
    path = table_paths(config.path)["postscreen"]
    first = ipaddress.ip_network(US[0])
    with open(path) as handle:
        text = handle.read()
    with open(path, "w") as handle:
        handle.write(text.replace("%s\t" % first, "%s/%d\t" % (first.network_address + 1, first.prefixlen)))
    config.settle()
    report, status = verify(config)
    assert status["postscreen_table"] == "fail" and status["smtpd_table"] == "pass"
    detail = next(c for c in report["checks"] if c["id"] == "postscreen_table")["detail"]
    assert "first wrong: %s (first of %s) answered nothing, expected permit" % (first.network_address, first) in detail
    assert "non-null host address bits" in detail


def test_an_smtpd_table_answering_ok_before_reject_unauth_destination_is_an_open_relay(tmp_path):
    config = hardened("recipient_before_unauth", tmp_path)
    path = table_paths(config.path)["smtpd"]
    with open(path) as handle:
        text = handle.read()
    with open(path, "w") as handle:
        handle.write(text.replace("permit_auth_destination", "OK"))
    config.settle()
    report, status = verify(config)
    assert status["relay_closed"] == "fail" and status["smtpd_table"] == "fail"
    detail = next(c for c in report["checks"] if c["id"] == "relay_closed")["detail"]
    assert "could relay mail to any domain" in detail and "answers OK" in detail


def test_a_moved_reference_fails_its_position_check(tmp_path):
    config = hardened("postscreen_on", tmp_path)
    value = config.read()["main_cf"]["smtpd_recipient_restrictions"]
    moved = value.replace("check_client_access cidr:%s/tm_hes_smtpd.cidr, " % config.path, "") + \
        ", check_client_access cidr:%s/tm_hes_smtpd.cidr" % config.path
    config.postconf("-e", "smtpd_recipient_restrictions = " + moved)
    config.settle()
    report, status = verify(config)
    assert status["smtpd_position"] == "fail" and status["postscreen_position"] == "pass"
    assert "not immediately before the first DNSBL check" in report["checks"][1]["detail"]


def test_a_server_without_dnsbl_checks_has_nothing_to_verify(tmp_path):
    report, status = verify(ConfigDir.from_case("no_rbl", tmp_path))
    assert status == {"postscreen_position": "n/a", "smtpd_position": "n/a", "postscreen_table": "n/a",
                      "smtpd_table": "n/a", "relay_closed": "pass"}
    assert report["status"] == "pass" and report["queries"] == []


def test_other_ranges_than_the_tables_hold_fail(tmp_path):
    config = hardened("postscreen_on", tmp_path)
    report, status = verify(config, US + ["203.0.113.0/26"])
    assert status["postscreen_table"] == "fail" and status["smtpd_table"] == "fail"
    assert any(row["address"] == "203.0.113.0" and row["actual"] is None for row in report["queries"])


@pytest.fixture(autouse=True)
def postmap_installed():
    if not POSTMAP:
        pytest.fail("postmap is not installed: run make setup as root (it installs Debian's postfix)")
