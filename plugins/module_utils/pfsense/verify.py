# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pfSense side of verify: the engine's exact answers on config.xml, and what pf loaded.

``test_addresses(...)`` says what to ask ``pfctl`` on the firewall; ``evaluate(...)`` turns the answers
into the verify role's per-host report (``hes_verify.build_report``, the same check ids as every
vendor):

* ``group_members``: the alias in config.xml holds exactly the ranges, and so does the table pf
  loaded (``pfctl -t TM_HES_IP_RANGE -T show``);
* ``smtp_rule``: the engine proves every address of the ranges reaches every mail server on TCP/25
  (Q2), and every SMTP rule from the alias is in the loaded ruleset (``pfctl -sr`` shows
  ``from <TM_HES_IP_RANGE>`` with the rule's ``ridentifier``; a ``rdr pass`` in ``pfctl -sn``);
* ``no_broader_permit``: the engine proves nothing outside the ranges reaches a mail server on
  TCP/25 (Q1), with a witness flow when something does;
* ``probes_smtp``: every range's first and last address and the addresses just outside its edges,
  to each mail server: the engine's verdict on config.xml beside pf's own answer on the loaded
  table (``pfctl -t TM_HES_IP_RANGE -T test ADDRESS``, with the rule loaded);
* ``probes_other_ports``: the engine's verdict for the other ports, from the ranges, exactly.

The mail servers are those given, else the destinations of the SMTP rules (from any or from the
alias) on the interface, found by the planner's own rule finder.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.emailsec.hes.plugins.module_utils.hes_verify import (
    _check,
    build_report,
    normalize_other_ports,
    parse_mail_servers,
)
from ansible_collections.emailsec.hes.plugins.module_utils.pfsense.model import build_policy
from ansible_collections.emailsec.hes.plugins.module_utils.pfsense.plan import find_alias, find_smtp_rules
from ansible_collections.emailsec.hes.plugins.module_utils.policy import verify as engine_verify
from ansible_collections.emailsec.hes.plugins.module_utils.policy.space import (
    address_sets,
    no_addresses,
)


def discover(config, policy, interface, alias_name, mail_servers=None):
    """(mail server address sets, SMTP rules found)."""
    rules = find_smtp_rules(config, policy, interface, alias_name)
    if mail_servers:
        return address_sets(parse_mail_servers(mail_servers)), rules
    return engine_verify.merge_sets(no_addresses(), *[r["destinations"] for r in rules]), rules


def _sets_of(entries):
    nets = []
    for entry in entries:
        try:
            nets.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            pass
    return address_sets(nets)


def alias_check(config, alias_name, range_sets, table_show):
    """(ok, detail): config.xml's alias and pf's loaded table both hold exactly the ranges."""
    index, alias = find_alias(config, alias_name)
    if alias is None:
        return False, "alias %s does not exist in config.xml" % alias_name
    if alias.get("type") != "network":
        return False, "alias %s is a %s alias, not a network alias" % (alias_name, alias.get("type"))
    in_config = _sets_of((alias.get("address") or "").split())
    problems = ["config.xml: %s" % p for p in engine_verify.membership_problems(in_config, range_sets)]
    if table_show["rc"] != 0:
        problems.append("pf has no table <%s> loaded (%s)" % (alias_name, (table_show["stderr"] or "").strip()))
    else:
        loaded = _sets_of(table_show["stdout"].split())
        problems += ["loaded table: %s" % p for p in engine_verify.membership_problems(loaded, range_sets)]
    if problems:
        return False, "alias %s: %s" % (alias_name, "; ".join(problems))
    return True, "alias %s and pf's table <%s> hold exactly the ranges (%d entries)" % (
        alias_name, alias_name, len((alias.get("address") or "").split()))


def loaded_rules(rules, alias_name, filter_rules_text, nat_rules_text):
    """The SMTP rules from the alias that pf has not loaded: [label]."""
    source = "from <%s>" % alias_name
    missing = []
    for item in rules:
        if item["status"] != "hardened":
            continue
        if item["section"] == "filter":
            tracker = item["element"].get("tracker")
            pattern = re.compile(r"\bridentifier %s\b" % re.escape(str(tracker)))
            found = [line for line in filter_rules_text.splitlines()
                     if line.startswith("pass") and source in line and pattern.search(line)]
        else:
            found = [line for line in nat_rules_text.splitlines() if line.startswith("rdr pass") and source in line]
        if not found:
            missing.append(item["rule"].label)
    return missing


def test_addresses(ranges):
    """The addresses to put to ``pfctl -T test``: every range's first and last address and the
    addresses just outside its edges (the probes' sources)."""
    out = []
    for address, kind, net in engine_verify._edges([ipaddress.ip_network(r, strict=False) for r in ranges]):
        if str(address) not in out:
            out.append(str(address))
    return out


def evaluate(config, ranges, interface, alias_name, pf, host, generated, mail_servers=None, other_ports=None,
             tables=None):
    """The per-host report. ``pf``: ``{"rules": text of pfctl -sr, "nat": text of pfctl -sn,
    "table": {rc, stdout, stderr} of -T show, "tests": {address: rc of -T test}}``."""
    policy = build_policy(config, tables)
    if interface not in policy.paths:
        raise engine_verify.VerifyError("hes_pfsense_interface: %s is not an enabled interface (interfaces: %s)"
                                        % (interface, ", ".join(sorted(policy.paths))))
    nets = [ipaddress.ip_network(r, strict=False) for r in ranges]
    range_sets = address_sets(nets)
    servers, rules = discover(config, policy, interface, alias_name, mail_servers)
    others = normalize_other_ports(other_ports)
    planned = engine_verify.plan_verification(policy, [interface], nets, servers, None, others)
    ok, detail = alias_check(config, alias_name, range_sets, pf["table"])
    checks = [_check("group_members", ok, detail)]
    engine = engine_verify.engine_checks(planned, _check)
    missing = loaded_rules(rules, alias_name, pf["rules"], pf["nat"])
    hardened = [r for r in rules if r["status"] == "hardened"]
    for check in engine:
        if check["id"] == "smtp_rule":
            if missing:
                check.update(status="fail", detail=check["detail"] + "; pf has not loaded %s from <%s>"
                             % (", ".join(missing), alias_name))
            elif not hardened:
                check.update(status="fail", detail=check["detail"] + "; no SMTP rule has alias %s as its source"
                             % alias_name)
            else:
                check["detail"] += "; pf loaded %s from <%s>" % (", ".join(r["rule"].label for r in hardened), alias_name)
    checks += engine
    rows = []
    rule_loaded = bool(hardened) and not missing
    for probe in planned["probes"]:
        if probe["kind"] not in ("range-first", "range-last", "below-range", "above-range"):
            continue
        member = pf["tests"].get(probe["source"]) == 0
        row = dict(probe)
        answer = "match" if member else "no match"
        row.update(rule="pfctl -t %s -T test %s: %s" % (alias_name, probe["source"], answer))
        if rule_loaded:
            # The loaded SMTP rule passes exactly the table's members: the table test is pf's verdict.
            row.update(actual="allow" if member else "deny", detail=None)
            row["agree"] = probe["engine"] == "uncertain" or row["actual"] == probe["engine"]
        else:
            # Without our rule loaded, a table test says nothing about what pf does with the flow.
            row.update(actual="not asked", agree=True,
                       detail="the SMTP rule from <%s> is not loaded, so pf's verdict is unknown" % alias_name)
        row["ok"] = row["agree"] and row["actual"] == probe["expect"]
        rows.append(row)
    checks += [c for c in engine_verify.probe_checks(rows, _check) if c["id"] == "probes_smtp"]
    bad = [o for o in planned["other_ports"] if not o["ok"]]
    if not planned["other_ports"]:
        checks.append(_check("probes_other_ports", True, "no other port asked", status="n/a"))
    else:
        detail = "; ".join("TCP/%d from the ranges to %s: engine says %s, expected %s"
                           % (o["port"], o["destination"], "/".join(o["engine"]), o["expect"]) for o in bad)
        checks.append(_check("probes_other_ports", not bad, detail or (
            "the engine proves TCP/%s from the ranges to every mail server gets the expected verdict"
            % ", ".join(str(p) for p in sorted(others)))))
    extra = {"interface": interface,
             "engine": {"leaks": planned["answers"]["leaks"], "blocked": planned["answers"]["blocked"],
                        "notes": policy.notes, "other_ports": planned["other_ports"]},
             "loaded": {"table": pf["table"]["stdout"].split() if pf["table"]["rc"] == 0 else None,
                        "rules_missing": missing}}
    server_list = [str(a) for a in engine_verify.representatives(servers)]
    return build_report(host, "pfsense", rows, checks, [str(n) for n in nets], server_list, alias_name, generated, extra)
