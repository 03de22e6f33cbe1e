# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Verification of an SMTP allow-list: probes, the device's verdicts, configuration checks, reports.

All pure (standard library plus the collection's other module_utils):

* probes: ``expand_probes`` turns the probe sources of ``hes_probes.build_probes`` into flows
  (source x mail server x port x ingress) with the verdict each should get;
* verdicts: ``asa_packet_tracer_commands`` / ``parse_packet_tracer`` (text and xml, 9.x and
  9.14+), ``panos_policy_match_probes`` / ``panos_actuals``, ``nftables_actuals``; each gives one
  ``{verdict, rule, detail}`` per probe, and ``compare`` pairs them with the expectations;
* configuration checks: ``asa_config_checks``, ``panos_config_checks``, ``nftables_config_checks``
  (the group holds exactly the ranges, our rule is there and active where it must be, no other
  permit admits TCP/25 to a mail server from a source outside the ranges) and the mail server
  discovery used in an audit (``asa_mail_servers``, ``panos_mail_servers``);
* reports: ``build_report`` and its renderings ``render_markdown``, ``render_junit``, plus the
  fleet table ``render_fleet_markdown``.

Check ids are the same on every vendor, so that the fleet table has one column per check:
``group_members``, ``smtp_rule``, ``no_broader_permit``, ``probes_smtp``, ``probes_other_ports``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re
from xml.sax.saxutils import escape, quoteattr

from ansible_collections.emailsec.hes.plugins.module_utils.asa import verify as asa_verify
from ansible_collections.emailsec.hes.plugins.module_utils.asa.model import build_policy as asa_policy
from ansible_collections.emailsec.hes.plugins.module_utils.asa.parse import parse_running_config
from ansible_collections.emailsec.hes.plugins.module_utils.policy import verify as engine_verify
from ansible_collections.emailsec.hes.plugins.module_utils.policy.space import address_sets
from ansible_collections.emailsec.hes.plugins.module_utils.nftables.model import build_policy, flow_verdict
from ansible_collections.emailsec.hes.plugins.module_utils.nftables.parse import (
    TABLE_FAMILY,
    TABLE_NAME,
    table_model_from_json,
)
from ansible_collections.emailsec.hes.plugins.module_utils.nftables.render import (
    SET_DST_V4,
    SET_DST_V6,
    SET_V4,
    SET_V6,
)
from ansible_collections.emailsec.hes.plugins.module_utils.hes_probes import build_probes
from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import RangeError, parse_network
from ansible_collections.emailsec.hes.plugins.module_utils.panos.model import rule_admits_smtp
from ansible_collections.emailsec.hes.plugins.module_utils.panos.parse import literal_networks

SMTP_PORT = 25
DEFAULT_OTHER_PORTS = {587: "deny", 465: "deny", 2525: "deny", 22: "deny", 80: "deny", 443: "deny"}
VERDICTS = ("allow", "deny")
SOURCE_PORT = 40000
CHECK_IDS = ("group_members", "smtp_rule", "no_broader_permit", "probes_smtp", "probes_other_ports")
CHECK_TITLES = {
    "group_members": "group holds exactly the ranges",
    "smtp_rule": "SMTP rule from the group is active where traffic enters",
    "no_broader_permit": "no other permit admits TCP/25 from outside the ranges",
    "probes_smtp": "TCP/25 probes: allow from the ranges, deny from elsewhere",
    "probes_other_ports": "other ports from the ranges get the expected verdict",
}
# PAN-OS asks for an application; these are what a mail server's ports carry.
PANOS_APPLICATIONS = {25: "smtp", 465: "smtp", 587: "smtp", 2525: "smtp", 22: "ssh", 80: "web-browsing",
                      443: "ssl"}
PANOS_DEFAULT_APPLICATION = "unknown-tcp"


VerifyError = engine_verify.VerifyError


# ------------------------------------------------------------------------------------ probes
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


def expand_probes(ranges, mail_servers, other_ports=None, complement_samples=8, seed="emailsec.hes",
                  ingress=(None,)):
    """Every flow to ask the device about, with the verdict it should get.

    Sources come from ``build_probes``; each is paired with every mail server of its address
    family, on TCP/25 (expected as ``build_probes`` says) and, for sources inside the ranges, on
    each other port (expected as ``other_ports`` says, default deny). ``ingress`` repeats the
    set per entry point (ASA interface, PAN-OS zone pair); ``None`` means the device decides.
    Returns dicts with ``id`` (``p0001``...), ``ingress``, ``source``, ``destination``,
    ``protocol``, ``port``, ``expect``, ``kind`` and ``range``.
    """
    if not ranges:
        raise VerifyError("ranges: empty list; nothing to verify against")
    servers = parse_mail_servers(mail_servers)
    if not servers:
        raise VerifyError("hes_verify_mail_servers: no mail server given and none found in the "
                          "device's configuration; name the mail servers to verify")
    ports = normalize_other_ports(other_ports)
    try:
        sources = build_probes(ranges, complement_samples=int(complement_samples), seed=seed)
    except RangeError as exc:
        raise VerifyError(str(exc))
    probes = []
    for where in ingress or [None]:
        for server in servers:
            family = [s for s in sources if ipaddress.ip_address(s["source"]).version == server.version]
            flows = [(s, SMTP_PORT, s["expect"]) for s in family]
            for port in sorted(ports):
                flows.extend((s, port, ports[port]) for s in family if s["expect"] == "allow")
            for source, port, expect in flows:
                probes.append({"id": "p%04d" % (len(probes) + 1), "ingress": where,
                               "source": source["source"], "destination": str(server), "protocol": "tcp",
                               "port": port, "expect": expect, "kind": source["kind"],
                               "range": source["range"]})
    if not probes:
        raise VerifyError("no probe: the ranges (%s) and the mail servers (%s) share no address family"
                          % (", ".join(ranges), ", ".join(str(s) for s in servers)))
    return probes


def compare(probes, actuals):
    """Pair each probe with its actual ``{verdict, rule, detail}``; adds ``actual`` and ``ok``."""
    if len(probes) != len(actuals):
        raise VerifyError("got %d verdicts for %d probes" % (len(actuals), len(probes)))
    results = []
    for probe, actual in zip(probes, actuals):
        row = dict(probe)
        row.update(actual=actual["verdict"], rule=actual.get("rule"), detail=actual.get("detail"),
                   ok=actual["verdict"] == probe["expect"])
        results.append(row)
    return results


def _host_of(net):
    if net.num_addresses == 1:
        return net.network_address
    return net.network_address + 1


def _networks(ranges):
    return [parse_network(r, "ranges") if isinstance(r, str) else r for r in ranges]


def _within(nets, allowed):
    return all(any(n.version == a.version and n.subnet_of(a) for a in allowed) for n in nets)


def _check(check_id, ok, detail, rules=None, status=None):
    return {"id": check_id, "title": CHECK_TITLES[check_id], "status": status or ("pass" if ok else "fail"),
            "detail": detail, "rules": rules or []}


def _members_check(members, resolve, expected, group_label):
    """Compare a group's members (each resolved to networks) with the expected ranges."""
    covered = []
    extra = []
    for member in members:
        nets = resolve(member)
        if nets is None:
            extra.append("%s (cannot be resolved)" % member)
            continue
        covered.extend(nets)
        if not _within(nets, expected):
            extra.append(member)
    missing = [str(net) for net in expected if not _within([net], covered)]
    problems = []
    if missing:
        problems.append("missing range(s) %s" % ", ".join(missing))
    if extra:
        problems.append("member(s) outside the ranges: %s" % "; ".join(extra))
    if problems:
        return _check("group_members", False, "%s: %s" % (group_label, "; ".join(problems)))
    return _check("group_members", True, "%s holds exactly the %d range(s)" % (group_label, len(expected)))


# ------------------------------------------------------------------------------------ PAN-OS
def panos_policy_match_probes(probes):
    """Probe dicts shaped for ``emailsec.hes.panos_hes_policy_match``."""
    out = []
    for probe in probes:
        zones = probe["ingress"] or {}
        item = {"name": probe["id"], "source": probe["source"], "destination": probe["destination"],
                "port": probe["port"], "protocol": probe["protocol"],
                "application": PANOS_APPLICATIONS.get(probe["port"], PANOS_DEFAULT_APPLICATION)}
        if zones.get("from"):
            item["from_zone"] = zones["from"]
        if zones.get("to"):
            item["to_zone"] = zones["to"]
        out.append(item)
    return out


def panos_actuals(results):
    """``panos_hes_policy_match`` results -> ``{verdict, rule, detail}`` per probe."""
    actuals = []
    for row in results:
        if row.get("rule"):
            rule = "%s (index %s, %s)" % (row["rule"], row.get("index"), row.get("action"))
        else:
            rule = "no rule matched (default deny)"
        actuals.append({"verdict": "allow" if row.get("allowed") else "deny", "rule": rule,
                        "detail": "application %s" % row.get("application") if row.get("application") else None})
    return actuals


def panos_rule_networks(state, members):
    """The networks of a rule's source/destination members (ranges summarised), or None when a
    member cannot be resolved (FQDN, dynamic group, unknown name)."""
    nets = []
    for member in members:
        if member == "any":
            return [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
        resolved = _panos_member(state, member, set())
        if resolved is None:
            return None
        nets.extend(resolved)
    return nets


def _panos_member(state, member, seen):
    if member in seen:
        return []
    seen.add(member)
    literal = literal_networks(member)
    if literal is None and member in state["addresses"]:
        literal = literal_networks(state["addresses"][member]["value"] or "")
    if literal is not None:
        nets = []
        for item in literal:
            if isinstance(item, tuple):
                nets.extend(ipaddress.summarize_address_range(item[0], item[1]))
            else:
                nets.append(item)
        return nets
    group = state["groups"].get(member)
    if group is None or group.get("dynamic"):
        return None
    nets = []
    for child in group["static"]:
        resolved = _panos_member(state, child, seen)
        if resolved is None:
            return None
        nets.extend(resolved)
    return nets


def _zone_ok(members, zone):
    return not zone or "any" in members or zone in members


def _panos_rule_reaches(state, rule, server):
    if "any" in rule["destination"]:
        return True
    nets = panos_rule_networks(state, rule["destination"])
    if nets is None:
        return True
    hit = any(n.version == server.version and server in n for n in nets)
    return hit != rule["negate_destination"]


def panos_mail_servers(state, zones, group_name):
    """Audit discovery: destinations of the enabled allow rules admitting SMTP from the untrust
    zone with source any or the group (a subnet gives its first host); when there are none, of
    such rules whatever their zone or state (a broken rule still says where mail should go)."""

    def collect(strict):
        servers = []
        for rule in state["rules"]:
            if rule["action"] != "allow" or rule["source"] not in (["any"], [group_name]):
                continue
            if strict and (rule["disabled"] or not _zone_ok(rule["from"], zones.get("from"))):
                continue
            if "any" in rule["destination"] or not rule_admits_smtp(state, rule):
                continue
            for net in panos_rule_networks(state, rule["destination"]) or []:
                host = str(_host_of(net))
                if host not in servers:
                    servers.append(host)
        return servers

    return collect(True) or collect(False)


def panos_to_zone(state, zones, group_name):
    """The destination zone to probe: given, else the one of the SMTP rule (group or any source)."""
    if zones.get("to"):
        return zones["to"]
    for rule in state["rules"]:
        if rule["action"] == "allow" and rule["source"] in ([group_name], ["any"]) and \
                _zone_ok(rule["from"], zones.get("from")) and rule_admits_smtp(state, rule) and \
                len(rule["to"]) == 1 and rule["to"][0] != "any":
            return rule["to"][0]
    return None


def _panos_label(rule):
    return "rule %s (index %d)" % (rule["name"], rule["index"])


def panos_config_checks(state, ranges, group_name, zones, mail_servers):
    """The configuration checks on a PAN-OS running configuration read by ``panos.parse.parse_config``."""
    expected = _networks(ranges)
    servers = parse_mail_servers(mail_servers)
    from_zone, to_zone = zones.get("from"), zones.get("to")
    checks = []
    group = state["groups"].get(group_name)
    if group is None:
        checks.append(_check("group_members", False, "address group %s does not exist" % group_name))
    elif group.get("dynamic"):
        checks.append(_check("group_members", False, "address group %s is dynamic (%s); expected a static "
                             "group of the ranges" % (group_name, group["dynamic"])))
    else:
        checks.append(_members_check(group["static"], lambda m: _panos_member(state, m, set()), expected,
                                     "address group %s" % group_name))

    problems, labels, ours = [], [], {}
    for server in servers:
        found, near = None, []
        for rule in state["rules"]:
            if rule["source"] != [group_name] or rule["action"] != "allow" or not rule_admits_smtp(state, rule):
                continue
            if not _panos_rule_reaches(state, rule, server):
                continue
            wrong = []
            if rule["disabled"]:
                wrong.append("is disabled")
            if rule["negate_source"]:
                wrong.append("negates its source")
            if not _zone_ok(rule["from"], from_zone):
                wrong.append("is from zone %s, not %s" % (", ".join(rule["from"]), from_zone))
            if not _zone_ok(rule["to"], to_zone):
                wrong.append("is to zone %s, not %s" % (", ".join(rule["to"]), to_zone))
            if wrong:
                near.append("%s %s" % (_panos_label(rule), " and ".join(wrong)))
                continue
            found = rule
            break
        if found:
            ours[str(server)] = found
            labels.append(_panos_label(found))
        else:
            text = "no enabled allow rule from address group %s admits SMTP to %s%s" % (
                group_name, server, " from zone %s" % from_zone if from_zone else "")
            if near:
                text += " (%s)" % "; ".join(near)
            problems.append(text)
    if problems:
        checks.append(_check("smtp_rule", False, "; ".join(problems), labels))
    else:
        checks.append(_check("smtp_rule", True, "; ".join(sorted(set(labels))), labels))

    broader = []
    for rule in state["rules"]:
        if rule["action"] != "allow" or rule["disabled"] or (rule["source"] == [group_name] and not rule["negate_source"]):
            continue
        if not _zone_ok(rule["from"], from_zone) or not _zone_ok(rule["to"], to_zone):
            continue
        if not rule_admits_smtp(state, rule):
            continue
        source = panos_rule_networks(state, rule["source"])
        if source is not None and not rule["negate_source"] and _within(source, expected):
            continue
        hit = [s for s in servers if _panos_rule_reaches(state, rule, s)]
        if not hit:
            continue
        kind = "allow-all" if rule["source"] == ["any"] and "any" in rule["destination"] and \
            "any" in (rule["application"] or ["any"]) and "any" in (rule["service"] or []) else \
            "source %s" % ", ".join(rule["source"])
        mine = [ours[str(s)]["index"] for s in hit if str(s) in ours]
        position = ""
        if mine and rule["index"] < min(mine):
            position = ", above our rule (index %d), shadowing it" % min(mine)
        servers_hit = ", ".join(str(s) for s in hit)
        broader.append("%s (%s) admits SMTP to %s%s" % (_panos_label(rule), kind, servers_hit, position))
    if broader:
        checks.append(_check("no_broader_permit", False, "; ".join(broader), [b.split(" (")[0] for b in broader]))
    else:
        checks.append(_check("no_broader_permit", True, "no enabled allow rule other than the group's admits "
                             "SMTP to %s" % ", ".join(str(s) for s in servers)))
    return checks


# ---------------------------------------------------------------------------------- nftables
def nftables_actuals(policy, probes, hook):
    """Decide every probe with the policy engine on the model of ``nft -j list ruleset`` output
    (``policy``: that model, or the JSON itself)."""
    if not hasattr(policy, "paths"):
        policy = build_policy(policy)
    actuals = []
    for probe in probes:
        decided = flow_verdict(policy, hook, probe["source"], probe["destination"], probe["port"],
                               sport=probe.get("source_port", SOURCE_PORT))
        verdict = {"accept": "allow", "drop": "deny", "reject": "deny"}.get(decided["verdict"], "undecided")
        actuals.append({"verdict": verdict, "rule": decided["rule"], "detail": "; ".join(decided["uncertain"]) or None})
    return actuals


def nftables_mail_servers(ruleset_json):
    """Audit discovery: the destinations our table restricts (its destination sets, or the
    literal ``daddr`` of its rules)."""
    model = table_model_from_json(ruleset_json) or {"sets": {}, "chains": {}}
    found = []
    for name in (SET_DST_V4, SET_DST_V6):
        found.extend(model["sets"].get(name, {}).get("elements", []))
    for chain in model["chains"].values():
        for rule in chain["rules"]:
            for operand in re.findall(r"daddr\s+(\{[^}]*\}|[^@\s]\S*)", rule):
                found.extend(token.strip() for token in operand.strip("{} ").split(","))
    servers = []
    for token in found:
        try:
            host = str(_host_of(ipaddress.ip_network(token, strict=False)))
        except ValueError:
            continue
        if host not in servers:
            servers.append(host)
    return servers


def nftables_config_checks(ruleset_json, ranges, hook):
    """Our table exists with its chain at ``hook`` and its sets hold exactly the ranges. Other
    rules are judged by the probes: the evaluator walks every base chain of every table."""
    expected = _networks(ranges)
    checks = []
    model = table_model_from_json(ruleset_json)
    if model is None:
        checks.append(_check("group_members", False, "table %s %s does not exist" % (TABLE_FAMILY, TABLE_NAME)))
        checks.append(_check("smtp_rule", False, "table %s %s does not exist" % (TABLE_FAMILY, TABLE_NAME)))
    else:
        elements = []
        for name in (SET_V4, SET_V6):
            elements.extend(model["sets"].get(name, {}).get("elements", []))
        checks.append(_members_check(elements, lambda m: [ipaddress.ip_network(m, strict=False)], expected,
                                     "sets %s/%s of table %s %s" % (SET_V4, SET_V6, TABLE_FAMILY, TABLE_NAME)))
        chains = model["chains"]
        at_hook = [n for n, c in sorted(chains.items()) if c.get("hook") == hook]
        if at_hook:
            checks.append(_check("smtp_rule", True, "chain %s at hook %s: %s" % (
                at_hook[0], hook, "; ".join(chains[at_hook[0]]["rules"])), ["chain %s" % at_hook[0]]))
        else:
            checks.append(_check("smtp_rule", False, "table %s %s has no chain at hook %s (chains: %s)" % (
                TABLE_FAMILY, TABLE_NAME, hook, ", ".join("%s at %s" % (n, c.get("hook")) for n, c in
                                                          sorted(chains.items())) or "none")))
    checks.append(_check("no_broader_permit", True, "judged by the probes: the evaluator walks every base "
                         "chain at hook %s in every table" % hook, status="n/a"))
    return checks


# ----------------------------------------------------------------------------------- reports
def probe_checks(results):
    """The two probe checks from compared results."""
    checks = []
    for check_id, selected in (("probes_smtp", [r for r in results if r["port"] == SMTP_PORT]),
                               ("probes_other_ports", [r for r in results if r["port"] != SMTP_PORT])):
        failed = [r for r in selected if not r["ok"]]
        if not selected:
            checks.append(_check(check_id, True, "no probe", status="n/a"))
            continue
        detail = "%d of %d probes as expected" % (len(selected) - len(failed), len(selected))
        if failed:
            detail += "; first failure: %s" % describe_probe(failed[0])
        checks.append(_check(check_id, not failed, detail, sorted(set(r["rule"] for r in failed if r["rule"]))))
    return checks


def describe_probe(row):
    where = " on %s" % _ingress_text(row["ingress"]) if row.get("ingress") else ""
    return "tcp %s -> %s:%d%s expected %s, got %s (by %s)" % (
        row["source"], row["destination"], row["port"], where, row["expect"], row["actual"], row.get("rule") or "?")


def _ingress_text(ingress):
    if isinstance(ingress, dict):
        return "%s -> %s" % (ingress.get("from") or "any", ingress.get("to") or "any")
    return str(ingress) if ingress is not None else ""


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
                row["id"], _md(_ingress_text(row["ingress"])), row["source"], row["destination"], row["port"],
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
            " on %s" % _ingress_text(row["ingress"]) if row.get("ingress") else "", row["kind"], row["expect"])
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


# ------------------------------------------------------------------- one vendor, end to end
VENDORS = ("asa", "panos", "nftables")


def _range_nets(ranges):
    try:
        return [parse_network(r, "ranges[%d]" % i) if isinstance(r, str) else r for i, r in enumerate(ranges)]
    except RangeError as exc:
        raise VerifyError(str(exc))


def _asa_plan(config_text, ranges, group_name, mail_servers, other_ports, interfaces):
    """The engine's answers and the probes for one ASA (``config_text``: ``show running-config``)."""
    interfaces = list(interfaces or [])
    if not interfaces:
        raise VerifyError("hes_verify_interfaces: empty; name the interfaces where mail enters (e.g. outside)")
    config = parse_running_config(config_text)
    unknown = [i for i in interfaces if i not in config["interfaces"]]
    if unknown and config["interfaces"]:
        raise VerifyError("hes_verify_interfaces: %s not found on the device (interfaces: %s)"
                          % (", ".join(unknown), ", ".join(sorted(config["interfaces"]))))
    found, served = asa_verify.discover_mail_servers(config, interfaces, group_name)
    if mail_servers:
        given = address_sets(parse_mail_servers(mail_servers))
        servers = given
        for name in interfaces:
            mine = engine_verify.intersect_sets(served.get(name), given)
            served[name] = mine if any(mine.values()) else given
    else:
        servers = found
    policy = asa_policy(config, interfaces)
    planned = engine_verify.plan_verification(policy, interfaces, _range_nets(ranges), servers, served,
                                              normalize_other_ports(other_ports))
    return config, policy, planned


def _nftables_plan(ruleset_json, ranges, mail_servers, other_ports, hook, iifname=None, oifname=None,
                   internal_sources=None):
    """The engine's answers and the probes for one nftables host (``nft -j list ruleset``)."""
    if hook not in ("input", "forward"):
        raise VerifyError("hook %r is not one of input, forward" % (hook,))
    policy = build_policy(ruleset_json, iifname=iifname or None, oifname=oifname or None)
    servers = list(mail_servers or nftables_mail_servers(ruleset_json))
    if not servers:
        raise VerifyError("hes_verify_mail_servers: no mail server given and our table restricts no destination; "
                          "name the mail servers to verify")
    server_sets = address_sets(parse_mail_servers(servers))
    internal = None
    if internal_sources:
        try:
            internal = address_sets([ipaddress.ip_network(str(n), strict=False) for n in internal_sources])
        except ValueError as exc:
            raise VerifyError("hes_verify_internal_sources: %s" % exc)
    planned = engine_verify.plan_verification(policy, [hook], _range_nets(ranges), server_sets, None,
                                              normalize_other_ports(other_ports), also_allowed=internal)
    return policy, planned, servers


def plan(vendor, config, ranges, group_name, mail_servers=None, other_ports=None, complement_samples=8,
         seed="emailsec.hes", interfaces=("outside",), zones=None, packet_tracer_xml=False, hook="input",
         iifname=None, oifname=None, internal_sources=None):
    """What to ask the device: mail servers (given, else discovered in ``config``), the probes and,
    for ASA, the ``packet-tracer`` commands; for PAN-OS, the policy-match probe dicts.

    ``config`` is, per vendor: ASA the output of ``show running-config`` (a one-item list is
    accepted), PAN-OS the state of ``panos.parse.parse_config`` on the running configuration,
    nftables ``nft -j list ruleset``.
    """
    if vendor not in VENDORS:
        raise VerifyError("vendor %r is not one of %s (set hes_vendor)" % (vendor, ", ".join(VENDORS)))
    zones = dict(zones or {})
    discovered = not mail_servers
    if vendor == "asa":
        config_text = config[0] if isinstance(config, (list, tuple)) else config
        parsed, policy, planned = _asa_plan(config_text, ranges, group_name, mail_servers, other_ports, interfaces)
        servers = engine_verify.representatives(_all_served(planned, mail_servers, parsed, interfaces, group_name))
        return {"vendor": vendor, "mail_servers": [str(s) for s in servers], "mail_servers_discovered": discovered,
                "probes": planned["probes"], "zones": zones,
                "commands": asa_verify.packet_tracer_commands(planned["probes"], packet_tracer_xml)}
    if vendor == "nftables":
        policy, planned, servers = _nftables_plan(config, ranges, mail_servers, other_ports, hook, iifname, oifname,
                                                  internal_sources)
        return {"vendor": vendor, "mail_servers": [str(s) for s in parse_mail_servers(servers)],
                "mail_servers_discovered": discovered, "probes": planned["probes"], "zones": zones}
    zones["from"] = zones.get("from") or "untrust"
    zones["to"] = panos_to_zone(config, zones, group_name)
    servers = list(mail_servers or panos_mail_servers(config, zones, group_name))
    probes = expand_probes(ranges, servers, other_ports, complement_samples, seed, [zones])
    return {"vendor": vendor, "mail_servers": [str(s) for s in parse_mail_servers(servers)],
            "mail_servers_discovered": discovered, "probes": probes, "zones": zones,
            "policy_match_probes": panos_policy_match_probes(probes)}


def _all_served(planned, mail_servers, config, interfaces, group_name):
    if mail_servers:
        return address_sets(parse_mail_servers(mail_servers))
    return asa_verify.discover_mail_servers(config, interfaces, group_name)[0]


def evaluate(vendor, config, answers, probes, ranges, group_name, mail_servers, host, generated,
             interfaces=("outside",), zones=None, hook="input", other_ports=None, discovered=False,
             iifname=None, oifname=None, internal_sources=None):
    """The per-host report from the device's answers (ASA: ``packet-tracer`` outputs in probe
    order; PAN-OS: ``panos_hes_policy_match`` results; nftables: ignored, ``config`` is the
    ruleset the evaluator walks) and the configuration checks."""
    if vendor == "asa":
        config_text = config[0] if isinstance(config, (list, tuple)) else config
        # An audit asks about the servers discovered in the configuration, as the plan did.
        given = None if discovered else mail_servers
        parsed, policy, planned = _asa_plan(config_text, ranges, group_name, given, other_ports, interfaces)
        rows = engine_verify.compare(probes, asa_verify.device_answers(answers))
        ok, detail = asa_verify.group_check(parsed, group_name, address_sets(_range_nets(ranges)))
        checks = [_check("group_members", ok, detail)]
        checks += engine_verify.engine_checks(planned, _check)
        hints = asa_verify.dormant_rules(parsed, list(interfaces), group_name)
        for check in checks:
            if check["id"] == "smtp_rule" and check["status"] == "fail" and hints:
                check["detail"] += " (%s)" % "; ".join(hints)
        checks += engine_verify.probe_checks(rows, _check)
        extra = {"interfaces": list(interfaces), "engine": {"leaks": planned["answers"]["leaks"],
                                                            "blocked": planned["answers"]["blocked"],
                                                            "notes": policy.notes}}
        return build_report(host, vendor, rows, checks, ranges, mail_servers, group_name, generated, extra)
    if vendor == "panos":
        actuals = panos_actuals(answers)
        checks = panos_config_checks(config, ranges, group_name, zones or {}, mail_servers)
        extra = {"zones": zones or {}}
    elif vendor == "nftables":
        policy, planned, servers = _nftables_plan(config, ranges, None if discovered else mail_servers, other_ports,
                                                  hook, iifname, oifname, internal_sources)
        # No device evaluator in the field: the engine answers the probes (the namespace lab's
        # tests put real packets to the kernel instead).
        rows = engine_verify.compare(probes, nftables_actuals(policy, probes, hook))
        checks = nftables_config_checks(config, ranges, hook)[:1]
        checks += engine_verify.engine_checks(planned, _check)
        checks += engine_verify.probe_checks(rows, _check)
        extra = {"hook": hook, "engine": {"leaks": planned["answers"]["leaks"],
                                          "blocked": planned["answers"]["blocked"], "notes": policy.notes}}
        return build_report(host, vendor, rows, checks, ranges, mail_servers, group_name, generated, extra)
    else:
        raise VerifyError("vendor %r is not one of %s" % (vendor, ", ".join(VENDORS)))
    results = compare(probes, actuals)
    return build_report(host, vendor, results, checks + probe_checks(results), ranges, mail_servers, group_name,
                        generated, extra)


def failure_message(report, max_probes=5):
    """Why a host failed, in one paragraph for the play output."""
    parts = ["%s: %s" % (c["id"], c["detail"]) for c in report["checks"] if c["status"] == "fail"]
    for row in report["failures"][:max_probes]:
        parts.append("probe %s: %s" % (row["id"], describe_probe(row)))
    if len(report["failures"]) > max_probes:
        parts.append("%d more failing probes in the report" % (len(report["failures"]) - max_probes))
    return "emailsec.hes.verify: %s FAILED: %s" % (report["host"], " | ".join(parts))
