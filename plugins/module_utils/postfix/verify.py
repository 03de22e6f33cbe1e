# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Verify the DNSBL exemption of a Postfix instance: positions, table answers, relay safety.

The module ``postfix_hes_verify`` reads the instance (``parse.read_config``), asks
``queries(model, ranges)`` what to look up, runs ``postmap -q`` for them, and hands the answers to
``evaluate``. The placement rules are the plan's own (``plan.postscreen_list``/``smtpd_list``):
a list is in place when planning it again would not change it.

Checks (``status`` pass, fail or n/a):

* ``postscreen_position``: with postscreen in front and DNSBL sites, ``postscreen_access_list``
  holds ``cidr:.../tm_hes_postscreen.cidr`` right after ``permit_mynetworks``;
* ``smtpd_position``: each smtpd list with a client DNSBL check holds
  ``check_client_access cidr:.../tm_hes_smtpd.cidr`` immediately before the first one;
* ``postscreen_table`` / ``smtpd_table``: ``postmap -q`` of the first and last address of every
  range answers the table's action (``permit`` / ``permit_auth_destination``), and of the
  address just outside each range edge (unless it is in another range) answers nothing;
* ``relay_closed``: with the answers postmap gave, no client in a range can relay
  (``relay.relay_check``).

The report has the shape of the verify role's per-host reports (``format`` 1, ``checks``,
``summary``), so the fleet summary lists mail servers beside firewalls; ``queries`` holds each
postmap question and answer.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.emailsec.hes.plugins.module_utils.postfix import TABLE_ACTIONS, table_paths
from ansible_collections.emailsec.hes.plugins.module_utils.postfix.formats import networks
from ansible_collections.emailsec.hes.plugins.module_utils.postfix.plan import (
    POSTSCREEN_LIST,
    detect,
    postscreen_list,
    references,
    restriction_classes,
    smtpd_list,
)
from ansible_collections.emailsec.hes.plugins.module_utils.postfix.relay import RELAY_LISTS, open_relay_reason, relay_check

CHECK_TITLES = {
    "postscreen_position": "postscreen_access_list has tm_hes_postscreen.cidr right after permit_mynetworks",
    "smtpd_position": "check_client_access tm_hes_smtpd.cidr sits immediately before each DNSBL check",
    "postscreen_table": "tm_hes_postscreen.cidr answers permit for every range, nothing outside",
    "smtpd_table": "tm_hes_smtpd.cidr answers permit_auth_destination for every range, nothing outside",
    "relay_closed": "no client in the ranges can relay to a foreign domain",
}
CHECK_IDS = tuple(CHECK_TITLES)


def _check(check_id, status, detail):
    return {"id": check_id, "title": CHECK_TITLES[check_id], "status": status, "detail": detail, "rules": []}


def probe_addresses(ranges):
    """First and last address of each range (inside), and the address just outside each edge
    unless another range holds it (outside)."""
    nets = networks(ranges, "ranges")
    probes, seen = [], set()

    def add(address, kind, net, inside):
        if address is not None and str(address) not in seen:
            seen.add(str(address))
            probes.append({"address": str(address), "kind": kind, "range": str(net), "inside": inside})

    for net in nets:
        add(net.network_address, "first", net, True)
        add(net.broadcast_address, "last", net, True)
        for kind, step in (("below", -1), ("above", 1)):
            edge = net.network_address if step < 0 else net.broadcast_address
            try:
                neighbour = edge + step
            except ValueError:
                neighbour = None
            if neighbour is not None and not any(neighbour in other for other in nets):
                add(neighbour, kind, net, False)
    return probes


def expected_tables(model):
    """Which of our tables must exist and answer (those a DNSBL check needs)."""
    found = detect(model)
    return {"postscreen": found["postscreen"]["needs_exemption"],
            "smtpd": any(entry["client_dnsbl"] for entry in found["smtpd"])}


def queries(model, ranges):
    """{table path: [addresses]} to ask ``postmap -q`` (only the tables a DNSBL check needs)."""
    paths = table_paths(model["config_dir"])
    addresses = [probe["address"] for probe in probe_addresses(ranges)]
    return dict((paths[name], list(addresses)) for name, needed in sorted(expected_tables(model).items()) if needed)


def _position_checks(model):
    found = detect(model)
    refs = references(model["config_dir"])
    effective = model["effective"]
    checks = []
    if not found["postscreen"]["needs_exemption"]:
        checks.append(_check("postscreen_position", "n/a", "postscreen is not in front or checks no DNSBL"))
    else:
        value = effective[POSTSCREEN_LIST]
        ok = refs["postscreen"] in value and postscreen_list(value, refs["postscreen"], True) == value
        checks.append(_check("postscreen_position", "pass" if ok else "fail",
                             "postscreen_access_list = %s%s" % (value, "" if ok else " (expected %s after permit_mynetworks)"
                                                                % refs["postscreen"])))
    classes = restriction_classes(model)
    needing = [entry["parameter"] for entry in found["smtpd"] if entry["client_dnsbl"]]
    if not needing:
        checks.append(_check("smtpd_position", "n/a", "no smtpd_*_restrictions list checks a client DNSBL"))
    else:
        wrong = [name for name in needing
                 if refs["smtpd"] not in effective[name]
                 or smtpd_list(effective[name], refs["smtpd"], classes, True) != effective[name]]
        detail = "; ".join("%s = %s" % (name, effective[name]) for name in (wrong or needing))
        if wrong:
            detail = "not immediately before the first DNSBL check: " + detail
        checks.append(_check("smtpd_position", "fail" if wrong else "pass", detail))
    return checks


def _table_check(check_id, name, path, needed, probes, answer):
    if not needed:
        return _check(check_id, "n/a", "no DNSBL check needs %s" % path), []
    action = TABLE_ACTIONS[name]
    rows = []
    for probe in probes:
        actual = (answer.get("answers") or {}).get(probe["address"])
        expect = action if probe["inside"] else None
        rows.append(dict(probe, table=path, expect=expect, actual=actual, ok=actual == expect))
    if answer.get("error"):
        return _check(check_id, "fail", "postmap -q cidr:%s: %s" % (path, answer["error"])), rows
    bad = [row for row in rows if not row["ok"]]
    detail = "%d of %d addresses as expected" % (len(rows) - len(bad), len(rows))
    if bad:
        detail += "; first wrong: %s (%s of %s) answered %s, expected %s" % (
            bad[0]["address"], bad[0]["kind"], bad[0]["range"], bad[0]["actual"] or "nothing",
            bad[0]["expect"] or "nothing")
    if answer.get("warnings"):
        detail += "; postmap warned: %s" % "; ".join(answer["warnings"])
    return _check(check_id, "fail" if bad or answer.get("warnings") else "pass", detail), rows


def evaluate(model, ranges, answers, host, generated):
    """The per-host report. ``answers``: {table path: {"answers": {address: value}, "error",
    "warnings"}} from ``postmap -q`` of ``queries``."""
    ranges = [str(net) for net in networks(ranges, "ranges")]
    paths = table_paths(model["config_dir"])
    needed = expected_tables(model)
    probes = probe_addresses(ranges)
    checks = _position_checks(model)
    rows = []
    for name in ("postscreen", "smtpd"):
        check, table_rows = _table_check(name + "_table", name, paths[name], needed[name], probes,
                                         answers.get(paths[name], {}))
        checks.append(check)
        rows.extend(table_rows)
    smtpd_answers = answers.get(paths["smtpd"], {}).get("answers") or {}
    ref = references(model["config_dir"])["smtpd"]
    relay = relay_check(dict((n, model["effective"][n]) for n in RELAY_LISTS), model["effective"]["mynetworks"],
                        ranges, lambda net: {ref: smtpd_answers[str(net.network_address)]}
                        if str(net.network_address) in smtpd_answers else {})
    if relay["open"]:
        checks.append(_check("relay_closed", "fail", " | ".join(open_relay_reason(entry) for entry in relay["open"])))
    else:
        checks.append(_check("relay_closed", "pass", "every range is rejected by reject_unauth_destination or "
                                                     "another reject for foreign domains%s"
                             % ("; assumed: " + "; ".join(relay["assumptions"]) if relay["assumptions"] else "")))
    failed = [c for c in checks if c["status"] == "fail"]
    failures = [row for row in rows if not row["ok"]]
    found = detect(model)
    return {
        "format": 1,
        "host": host,
        "vendor": "postfix",
        "generated": generated,
        "status": "fail" if failed else "pass",
        "group_name": "tm_hes_*.cidr",
        "ranges": ranges,
        "mail_servers": [],
        "config_dir": model["config_dir"],
        "findings": found,
        "summary": {"probes": len(rows), "failed_probes": len(failures), "checks": len(checks),
                    "failed_checks": [c["id"] for c in failed]},
        "checks": checks,
        "queries": rows,
        "failures": [],
        "probes": [],
    }


def summary(report):
    return {"status": report["status"], "vendor": report["vendor"],
            "checks": dict((c["id"], c["status"]) for c in report["checks"]),
            "probes": report["summary"]["probes"], "failed_probes": report["summary"]["failed_probes"],
            "failed_checks": report["summary"]["failed_checks"]}


def message(report):
    if report["status"] == "pass":
        return "emailsec.hes.verify: %s (postfix %s) passed %d checks (%d n/a) and %d postmap queries" % (
            report["host"], report["config_dir"], len([c for c in report["checks"] if c["status"] == "pass"]),
            len([c for c in report["checks"] if c["status"] == "n/a"]), report["summary"]["probes"])
    return "emailsec.hes.verify: %s FAILED: %s" % (
        report["host"], " | ".join("%s: %s" % (c["id"], c["detail"]) for c in report["checks"] if c["status"] == "fail"))


def _md(text):
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


def render_markdown(report):
    lines = ["# emailsec.hes verify: %s (postfix): %s" % (report["host"], report["status"].upper()), "",
             "- generated: %s" % report["generated"],
             "- config directory: `%s`" % report["config_dir"],
             "- ranges: %s" % ", ".join("`%s`" % r for r in report["ranges"]),
             "- postmap queries: %d, wrong: %d" % (report["summary"]["probes"], report["summary"]["failed_probes"]),
             "", "## Checks", "", "| check | result | detail |", "|---|---|---|"]
    for check in report["checks"]:
        lines.append("| %s | %s | %s |" % (check["id"], check["status"].upper(), _md(check["detail"])))
    wrong = [row for row in report["queries"] if not row["ok"]]
    lines += ["", "## Wrong answers", ""]
    if not wrong:
        lines.append("None.")
    else:
        lines += ["| table | address | kind | range | expected | postmap said |", "|---|---|---|---|---|---|"]
        for row in wrong:
            lines.append("| %s | %s | %s | %s | %s | %s |" % (
                row["table"], row["address"], row["kind"], row["range"], row["expect"] or "nothing",
                row["actual"] or "nothing"))
    return "\n".join(lines) + "\n"
