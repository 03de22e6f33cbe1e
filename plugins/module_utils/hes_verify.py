# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Verification of an SMTP allow-list, for every vendor: the plan, the judgement, the reports.

All pure. The engine answers first, exactly (``policy.verify``: Q1, who outside the ranges
reaches a mail server on TCP/25; Q2, who in the ranges does not; and the probes: its witnesses
and the edge of every range); then the device's own evaluator is asked about the probes, and a
probe fails where the device disagrees with the engine or with the intent. Each vendor brings an
adapter with the same parts (``asa.verify``, ``panos.verify``, ``nftables.verify``): the inbound
paths and mail servers of an audit, the probes as the device takes them, the device's answers,
and the check that our group holds exactly the ranges.

* ``plan(vendor, config, ...)``: what to ask the device (ASA ``packet-tracer`` commands, PAN-OS
  policy-match probe dicts; nftables: nothing, the engine answers in the field);
* ``evaluate(vendor, config, answers, probes, ...)``: the per-host report;
* reports: ``build_report``, ``render_markdown``, ``render_junit``, ``render_fleet_markdown``.

Check ids are the same on every vendor, so that the fleet table has one column per check:
``group_members``, ``smtp_rule``, ``no_broader_permit``, ``probes_smtp``, ``probes_other_ports``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
from xml.sax.saxutils import escape, quoteattr

from ansible_collections.emailsec.hes.plugins.module_utils.asa import verify as asa_verify
from ansible_collections.emailsec.hes.plugins.module_utils.asa.model import build_policy as asa_policy
from ansible_collections.emailsec.hes.plugins.module_utils.asa.parse import parse_running_config
from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import RangeError, parse_network
from ansible_collections.emailsec.hes.plugins.module_utils.nftables import verify as nft_verify
from ansible_collections.emailsec.hes.plugins.module_utils.nftables.model import build_policy as nft_policy
from ansible_collections.emailsec.hes.plugins.module_utils.panos import verify as panos_verify
from ansible_collections.emailsec.hes.plugins.module_utils.postfix.verify import CHECK_TITLES as POSTFIX_CHECK_TITLES
from ansible_collections.emailsec.hes.plugins.module_utils.policy import verify as engine_verify
from ansible_collections.emailsec.hes.plugins.module_utils.policy.space import address_sets

SMTP_PORT = 25
DEFAULT_OTHER_PORTS = {587: "deny", 465: "deny", 2525: "deny", 22: "deny", 80: "deny", 443: "deny"}
VERDICTS = ("allow", "deny")
VENDORS = ("asa", "panos", "nftables")
# Judged on the host itself by their own modules (pfsense_hes_verify, postfix_hes_verify): the
# report arrives whole; only its planned form (check mode) is built here.
ON_HOST_VENDORS = ("pfsense", "postfix")

# The options of every module that plans probes (doc fragment emailsec.hes.verify_probes).
PROBE_ARGUMENT_SPEC = dict(
    ranges=dict(type="list", elements="str", required=True),
    group_name=dict(type="str", default="TM_HES_IP_RANGE"),
    mail_servers=dict(type="list", elements="str", default=[]),
    other_ports=dict(type="dict"),
)
# Where mail enters an nftables host (doc fragment emailsec.hes.verify_nftables).
NFTABLES_ARGUMENT_SPEC = dict(
    hook=dict(type="str", default="input", choices=["input", "forward"]),
    inbound_interface=dict(type="str"),
    outbound_interface=dict(type="str"),
    internal_sources=dict(type="list", elements="str", default=[]),
)
CHECK_IDS = ("group_members", "smtp_rule", "no_broader_permit", "probes_smtp", "probes_other_ports")
CHECK_TITLES = {
    "group_members": "group holds exactly the ranges",
    "smtp_rule": "the ranges reach every mail server on TCP/25 where mail enters",
    "no_broader_permit": "nothing outside the ranges reaches a mail server on TCP/25",
    "probes_smtp": "TCP/25 probes: the device agrees with the engine and with the intent",
    "probes_other_ports": "other ports from the ranges get the expected verdict",
}

VerifyError = engine_verify.VerifyError


# ------------------------------------------------------------------------------- input
def normalize_other_ports(other_ports):
    """``{port: verdict}`` with int ports 1-65535 (YAML may give strings) and verdicts allow/deny."""
    if other_ports is None:
        return dict(DEFAULT_OTHER_PORTS)
    if not isinstance(other_ports, dict):
        raise VerifyError("hes_verify_other_ports: %r is not a dict of port -> allow|deny" % (other_ports,))
    result = {}
    for key, verdict in other_ports.items():
        text = str(key).strip()
        if not text.isdigit() or not 1 <= int(text) <= 65535:
            raise VerifyError("hes_verify_other_ports: port %r is not 1-65535" % (key,))
        if int(text) == SMTP_PORT:
            raise VerifyError("hes_verify_other_ports: port 25 is always probed (allow from the ranges, "
                              "deny from elsewhere); remove it from the other ports")
        if verdict not in VERDICTS:
            raise VerifyError("hes_verify_other_ports: verdict %r for port %s is not allow or deny"
                              % (verdict, text))
        result[int(text)] = verdict
    return result


def parse_mail_servers(mail_servers, option="hes_verify_mail_servers"):
    """Mail server addresses (a host CIDR such as ``/32`` is accepted) as ``ipaddress`` objects."""
    servers = []
    for index, item in enumerate(mail_servers or []):
        try:
            net = ipaddress.ip_network(str(item).strip(), strict=True)
        except ValueError:
            raise VerifyError("%s[%d]: %r is not an IP address" % (option, index, item))
        if net.num_addresses != 1:
            raise VerifyError("%s[%d]: %r is a network; give the mail server's address" % (option, index, item))
        if net.network_address not in servers:
            servers.append(net.network_address)
    return servers


def _range_nets(ranges):
    try:
        return [parse_network(r, "ranges[%d]" % i) if isinstance(r, str) else r for i, r in enumerate(ranges)]
    except RangeError as exc:
        raise VerifyError(str(exc))


def _check(check_id, ok, detail, rules=None, status=None):
    return {"id": check_id, "title": CHECK_TITLES[check_id], "status": status or ("pass" if ok else "fail"),
            "detail": detail, "rules": rules or []}


# ------------------------------------------------------------------------------- vendors
def _asa(config, ranges, group_name, mail_servers, other_ports, options):
    """(parsed config, policy, plan of the engine, mail servers) for one ASA."""
    interfaces = list(options.get("interfaces") or [])
    if not interfaces:
        raise VerifyError("hes_verify_interfaces: empty; name the interfaces where mail enters (e.g. outside)")
    text = config[0] if isinstance(config, (list, tuple)) else config
    parsed = parse_running_config(text)
    unknown = [i for i in interfaces if i not in parsed["interfaces"]]
    if unknown and parsed["interfaces"]:
        raise VerifyError("hes_verify_interfaces: %s not found on the device (interfaces: %s)"
                          % (", ".join(unknown), ", ".join(sorted(parsed["interfaces"]))))
    found, served = asa_verify.discover_mail_servers(parsed, interfaces, group_name)
    servers = found
    if mail_servers:
        servers = address_sets(parse_mail_servers(mail_servers))
        for name in interfaces:
            mine = engine_verify.intersect_sets(served.get(name), servers)
            served[name] = mine if any(mine.values()) else servers
    policy = asa_policy(parsed, interfaces)
    planned = engine_verify.plan_verification(policy, interfaces, _range_nets(ranges), servers, served,
                                              normalize_other_ports(other_ports))
    return parsed, policy, planned, servers


def _panos(config, ranges, group_name, mail_servers, other_ports, options):
    given = address_sets(parse_mail_servers(mail_servers)) if mail_servers else None
    policy, paths, servers, served = panos_verify.inbound(config, group_name, dict(options.get("zones") or {}), given)
    planned = engine_verify.plan_verification(
        policy, paths, _range_nets(ranges), servers, served, normalize_other_ports(other_ports),
        smtp_apps=panos_verify.SMTP_APPS, app_name=lambda number: panos_verify.application_name(policy.apps, number))
    return config, policy, planned, servers


def _nftables(config, ranges, group_name, mail_servers, other_ports, options):
    hook = options.get("hook") or "input"
    if hook not in ("input", "forward"):
        raise VerifyError("hook %r is not one of input, forward" % (hook,))
    policy = nft_policy(config, iifname=options.get("iifname") or None, oifname=options.get("oifname") or None)
    servers = list(mail_servers or nft_verify.mail_servers(config))
    if not servers:
        raise VerifyError("hes_verify_mail_servers: no mail server given and our table restricts no destination; "
                          "name the mail servers to verify")
    server_sets = address_sets(parse_mail_servers(servers))
    internal = None
    if options.get("internal_sources"):
        try:
            internal = address_sets([ipaddress.ip_network(str(n), strict=False) for n in options["internal_sources"]])
        except ValueError as exc:
            raise VerifyError("hes_verify_internal_sources: %s" % exc)
    planned = engine_verify.plan_verification(policy, [hook], _range_nets(ranges), server_sets, None,
                                              normalize_other_ports(other_ports), also_allowed=internal)
    return config, policy, planned, server_sets


ADAPTERS = {"asa": _asa, "panos": _panos, "nftables": _nftables}


def _adapter(vendor):
    if vendor not in ADAPTERS:
        raise VerifyError("vendor %r is not one of %s (set hes_vendor)" % (vendor, ", ".join(VENDORS)))
    return ADAPTERS[vendor]


def plan(vendor, config, ranges, group_name, mail_servers=None, other_ports=None, **options):
    """What to ask the device: the engine's probes and, per vendor, the device's form of them.

    ``config`` is, per vendor: ASA the output of ``show running-config`` (a one-item list is
    accepted), PAN-OS the dict of ``emailsec.hes.verify_hes_panos_config`` (the running
    configuration), nftables ``nft -j list ruleset``. ``options``: ``interfaces`` (ASA),
    ``zones`` (PAN-OS), ``hook``, ``iifname``, ``oifname``, ``internal_sources`` (nftables),
    ``packet_tracer_xml`` (ASA).
    """
    parsed, policy, planned, servers = _adapter(vendor)(config, ranges, group_name, mail_servers, other_ports, options)
    result = {"vendor": vendor, "mail_servers": [str(s) for s in engine_verify.representatives(servers)],
              "mail_servers_discovered": not mail_servers, "probes": planned["probes"],
              "zones": options.get("zones") or {}}
    if vendor == "asa":
        result["commands"] = asa_verify.packet_tracer_commands(planned["probes"], options.get("packet_tracer_xml"))
    elif vendor == "panos":
        result["policy_match_probes"] = panos_verify.policy_match_probes(planned["probes"])
    return result


def evaluate(vendor, config, answers, probes, ranges, group_name, mail_servers, host, generated, discovered=False,
             other_ports=None, **options):
    """The per-host report from the device's answers (ASA: ``packet-tracer`` outputs in probe
    order; PAN-OS: ``panos_hes_policy_match`` results; nftables: unused, the engine answers) and
    the engine's exact checks. An audit (``discovered``) asks about the mail servers found in the
    configuration, as the plan did."""
    given = None if discovered else mail_servers
    parsed, policy, planned, servers = _adapter(vendor)(config, ranges, group_name, given, other_ports, options)
    range_sets = address_sets(_range_nets(ranges))
    if vendor == "asa":
        device = asa_verify.device_answers(answers)
        ok, detail = asa_verify.group_check(parsed, group_name, range_sets)
    elif vendor == "panos":
        device = panos_verify.device_answers(answers)
        ok, detail = panos_verify.group_check(parsed, group_name, range_sets)
    else:
        device = nft_verify.engine_answers(policy, probes, options.get("hook") or "input")
        ok, detail = nft_verify.group_check(config, range_sets)
    rows = engine_verify.compare(probes, device)
    checks = [_check("group_members", ok, detail)]
    checks += engine_verify.engine_checks(planned, _check)
    if vendor == "asa":
        hints = asa_verify.dormant_rules(parsed, list(options.get("interfaces") or []), group_name)
        for check in checks:
            if check["id"] == "smtp_rule" and check["status"] == "fail" and hints:
                check["detail"] += " (%s)" % "; ".join(hints)
    checks += engine_verify.probe_checks(rows, _check)
    extra = dict((key, value) for key, value in options.items() if key in ("interfaces", "zones", "hook"))
    extra["engine"] = {"leaks": planned["answers"]["leaks"], "blocked": planned["answers"]["blocked"],
                       "notes": policy.notes}
    return build_report(host, vendor, rows, checks, ranges, mail_servers, group_name, generated, extra)


def evaluate_planned(vendor, planned, ranges, group_name, host, generated):
    """The report in check mode after a hardening role: the device still holds the old
    configuration, so the planned one is judged, from the plan gate's answers on it (``planned``
    is the role's ``hes_result``), and no probe is put to the device."""
    findings = planned.get("findings") or {}
    if vendor == "postfix":
        return _postfix_planned(planned, ranges, host, generated)
    leaks, blocked = findings.get("leaks") or [], findings.get("blocked") or []
    note = "check mode: the planned configuration is judged (the plan gate's answers); the device still " \
        "holds the old one and was not asked"
    checks = [_check("group_members", True, "%s: the plan makes %s hold exactly the ranges" % (note, group_name))]
    checks.append(_check("smtp_rule", not blocked, "; ".join(
        "on %s, %s blocks TCP/25 from %s, e.g. %s" % (b["path"], b["rule"], b["sources"], b["witness_text"])
        for b in blocked) or "%s: every address of the ranges reaches every mail server on TCP/25" % note,
        sorted(set(b["rule"] for b in blocked))))
    checks.append(_check("no_broader_permit", not leaks, "; ".join(
        "on %s, %s admits TCP/25 from %s, e.g. %s" % (b["path"], b["rule"], b["sources"], b["witness_text"])
        for b in leaks) or "%s: nothing outside the ranges reaches a mail server on TCP/25" % note,
        sorted(set(b["rule"] for b in leaks))))
    for check_id in ("probes_smtp", "probes_other_ports"):
        checks.append(_check(check_id, True, "check mode: the device still holds the old configuration", status="n/a"))
    extra = {"planned": True, "differential": planned.get("differential", "")}
    return build_report(host, vendor, [], checks, ranges, findings.get("mail_servers") or [], group_name, generated,
                        extra)


def _postfix_planned(planned, ranges, host, generated):
    """Postfix in check mode: the role's plan refuses every main.cf it cannot bring to pass these
    checks (a table out of place, a range it cannot express, an open relay), so a plan that
    stands is judged by its edits."""
    edits = "; ".join(planned.get("commands") or []) or "none"
    note = "check mode: the planned edits are judged (%s); the server still holds the old configuration" % edits
    checks = [{"id": check_id, "title": title, "status": "pass", "detail": note, "rules": []}
              for check_id, title in POSTFIX_CHECK_TITLES.items()]
    return build_report(host, "postfix", [], checks, ranges, [], "tm_hes_*.cidr", generated,
                        {"planned": True, "differential": planned.get("differential", "")})


# ------------------------------------------------------------------------------- reports
def describe_probe(row):
    where = " on %s" % row["ingress"] if row.get("ingress") else ""
    return "%s%s expected %s, device %s (by %s), engine %s (by %s)" % (
        row.get("flow") or "tcp %s -> %s:%d" % (row["source"], row["destination"], row["port"]), where,
        row["expect"], row["actual"], row.get("rule") or "?", row.get("engine", "?"), row.get("engine_rule") or "?")


def build_report(host, vendor, results, checks, ranges, mail_servers, group_name, generated, extra=None):
    """The per-host report: ``status`` is ``fail`` when a check fails."""
    all_checks = list(checks)
    order = dict((cid, i) for i, cid in enumerate(CHECK_IDS))
    all_checks.sort(key=lambda c: order.get(c["id"], len(order)))
    failed = [c for c in all_checks if c["status"] == "fail"]
    failures = [r for r in results if not r["ok"]]
    report = {
        "format": 1,
        "host": host,
        "vendor": vendor,
        "generated": generated,
        "status": "fail" if failed else "pass",
        "group_name": group_name,
        "ranges": list(ranges),
        "mail_servers": [str(s) for s in mail_servers],
        "summary": {"probes": len(results), "failed_probes": len(failures), "checks": len(all_checks),
                    "failed_checks": [c["id"] for c in failed]},
        "checks": all_checks,
        "failures": failures,
        "probes": results,
    }
    if extra:
        report.update(extra)
    return report


def summary(report):
    """The short form for ``set_stats`` and the play output."""
    return {"status": report["status"], "vendor": report["vendor"],
            "checks": dict((c["id"], c["status"]) for c in report["checks"]),
            "probes": report["summary"]["probes"], "failed_probes": report["summary"]["failed_probes"],
            "failed_checks": report["summary"]["failed_checks"]}


def _md(text):
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


def render_markdown(report, max_rows=50):
    """A per-host report in Markdown: the checks, then the failing probes, then probe counts."""
    lines = ["# emailsec.hes verify: %s (%s): %s" % (report["host"], report["vendor"], report["status"].upper()),
             "",
             "- generated: %s" % report["generated"],
             "- group: `%s`" % report["group_name"],
             "- ranges: %s" % ", ".join("`%s`" % r for r in report["ranges"]),
             "- mail servers: %s" % (", ".join("`%s`" % s for s in report["mail_servers"]) or "none"),
             "- probes: %d, failed: %d" % (report["summary"]["probes"], report["summary"]["failed_probes"]),
             "", "## Checks", "", "| check | result | detail |", "|---|---|---|"]
    for check in report["checks"]:
        lines.append("| %s | %s | %s |" % (check["id"], check["status"].upper(), _md(check["detail"])))
    failures = report["failures"]
    lines += ["", "## Failing probes", ""]
    if not failures:
        lines.append("None.")
    else:
        lines += ["| probe | ingress | source | destination | port | kind | expected | engine | device | "
                  "decided by (device) | decided by (engine) |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for row in failures[:max_rows]:
            lines.append("| %s | %s | %s | %s | %d | %s | %s | %s | %s | %s | %s |" % (
                row["id"], _md(row["ingress"]), row["source"], row["destination"], row["port"],
                row["kind"], row["expect"], row.get("engine", "-"), row["actual"].upper(), _md(row.get("rule")),
                _md(row.get("engine_rule", "-"))))
        if len(failures) > max_rows:
            lines.append("")
            lines.append("%d more failing probes in the JSON report." % (len(failures) - max_rows))
    lines += ["", "## Probes by port", "", "| port | probes | as expected | failed |", "|---|---|---|---|"]
    for port in sorted(set(r["port"] for r in report["probes"])):
        rows = [r for r in report["probes"] if r["port"] == port]
        bad = len([r for r in rows if not r["ok"]])
        lines.append("| %d | %d | %d | %d |" % (port, len(rows), len(rows) - bad, bad))
    return "\n".join(lines) + "\n"


def render_junit(report):
    """JUnit XML: one test suite per host, one test case per check and per probe."""
    host = report["host"]
    cases = []
    for check in report["checks"]:
        body = ""
        if check["status"] == "fail":
            body = "<failure message=%s type=\"check\">%s</failure>" % (
                quoteattr(check["detail"]), escape(check["detail"]))
        elif check["status"] == "n/a":
            body = "<skipped message=%s/>" % quoteattr(check["detail"])
        cases.append("    <testcase classname=%s name=%s>%s</testcase>" % (
            quoteattr("emailsec.hes.verify.%s.checks" % host), quoteattr(check["id"]), body))
    for row in report["probes"]:
        name = "%s tcp/%d %s -> %s%s (%s) expect %s" % (
            row["id"], row["port"], row["source"], row["destination"],
            " on %s" % row["ingress"] if row.get("ingress") else "", row["kind"], row["expect"])
        body = ""
        if not row["ok"]:
            message = "expected %s, got %s by %s" % (row["expect"], row["actual"], row.get("rule"))
            body = "<failure message=%s type=\"probe\">%s</failure>" % (quoteattr(message), escape(message))
        cases.append("    <testcase classname=%s name=%s>%s</testcase>" % (
            quoteattr("emailsec.hes.verify.%s.probes" % host), quoteattr(name), body))
    failures = len([c for c in report["checks"] if c["status"] == "fail"]) + report["summary"]["failed_probes"]
    skipped = len([c for c in report["checks"] if c["status"] == "n/a"])
    return "\n".join([
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<testsuites>",
        "  <testsuite name=%s tests=\"%d\" failures=\"%d\" errors=\"0\" skipped=\"%d\" timestamp=%s>" % (
            quoteattr("emailsec.hes.verify %s" % host), len(cases), failures, skipped,
            quoteattr(report["generated"])),
    ] + cases + ["  </testsuite>", "</testsuites>"]) + "\n"


def render_fleet_markdown(reports, generated):
    """Hosts x checks, one row per host report, sorted by host."""
    lines = ["# emailsec.hes verify: fleet summary", "", "- generated: %s" % generated,
             "- hosts: %d, failing: %d" % (len(reports), len([r for r in reports if r["status"] != "pass"])),
             "", "| host | vendor | result | %s | probes | failed probes |" % " | ".join(CHECK_IDS),
             "|---|---|---|%s---|---|" % ("---|" * len(CHECK_IDS))]
    for report in sorted(reports, key=lambda r: r["host"]):
        status = dict((c["id"], c["status"].upper()) for c in report["checks"])
        lines.append("| %s | %s | %s | %s | %d | %d |" % (
            _md(report["host"]), report["vendor"], report["status"].upper(),
            " | ".join(status.get(cid, "-") for cid in CHECK_IDS),
            report["summary"]["probes"], report["summary"]["failed_probes"]))
    failing = [r for r in sorted(reports, key=lambda r: r["host"]) if r["status"] != "pass"]
    if failing:
        lines += ["", "## Why", ""]
        for report in failing:
            for check in report["checks"]:
                if check["status"] == "fail":
                    lines.append("- **%s** %s: %s" % (_md(report["host"]), check["id"], _md(check["detail"])))
    return "\n".join(lines) + "\n"


def failure_message(report, max_probes=5):
    """Why a host failed, in one paragraph for the play output."""
    parts = ["%s: %s" % (c["id"], c["detail"]) for c in report["checks"] if c["status"] == "fail"]
    for row in report["failures"][:max_probes]:
        parts.append("probe %s: %s" % (row["id"], describe_probe(row)))
    if len(report["failures"]) > max_probes:
        parts.append("%d more failing probes in the report" % (len(report["failures"]) - max_probes))
    return "emailsec.hes.verify: %s FAILED: %s" % (report["host"], " | ".join(parts))
