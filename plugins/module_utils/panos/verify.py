# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PAN-OS side of verify: the inbound zone pairs and mail servers of an audit (the planner's own
discovery), the probes as ``test security-policy-match`` takes them, its answers, and whether our
address group holds exactly the ranges. The judging is vendor-neutral (``policy.verify``), on the
model the planner uses (``panos.model``)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.emailsec.hes.plugins.module_utils.panos.model import (
    Resolver,
    app_space,
    build_policy,
    path_name,
    zone_names,
)
from ansible_collections.emailsec.hes.plugins.module_utils.panos.plan import (
    PanosPlanError,
    find_mail_zones,
    find_smtp_rules,
    served_servers,
)
from ansible_collections.emailsec.hes.plugins.module_utils.policy.model import SMTP_APP, UNKNOWN_APP
from ansible_collections.emailsec.hes.plugins.module_utils.policy.space import (
    addresses_union,
    interval,
    no_addresses,
)
from ansible_collections.emailsec.hes.plugins.module_utils.policy.verify import VerifyError, membership_problems

# What the device is asked for an application the configuration never names (the engine's app 0).
OTHER_APPLICATION = "unknown-tcp"
SMTP_APPS = interval(SMTP_APP, SMTP_APP)


def inbound(config, group_name, zones, mail_servers=None):
    """(policy, inbound path names, mail servers, served) for an audit or a check of the
    configuration: ``zones`` ``{"from": zone or list, "to": zone or list}`` as the role's
    ``hes_verify_zones`` (from defaults to untrust, to to the zones of the SMTP rules)."""
    untrust = zones.get("from") or ["untrust"]
    untrust = [untrust] if isinstance(untrust, str) else list(untrust)
    wanted = zones.get("to") or []
    wanted = [wanted] if isinstance(wanted, str) else list(wanted)
    known = zone_names(config)
    unknown = [z for z in untrust + wanted if z not in known]
    if unknown:
        raise VerifyError("hes_verify_zones: zone(s) %s not found (zones: %s)" % (", ".join(unknown), ", ".join(known)))
    policy = build_policy(config, apps=app_space(config))
    models = dict((rule.origin["name"], rule) for path in policy.paths.values()
                  for stage, chain, rule in path.all_rules() if rule.key.startswith("rule|"))
    found = find_smtp_rules(config, models, untrust, group_name, mail_servers, policy.apps)[0]
    if not found and mail_servers is None:
        # A broken rule still says where mail should go (a disabled SMTP rule, one from another
        # zone): its servers and zones are verified, and the engine proves they get no mail.
        everywhere = dict(config, rules=[dict(rule, disabled=False) for rule in config["rules"]])
        relaxed = build_policy(everywhere, apps=policy.apps)
        all_models = dict((rule.origin["name"], rule) for path in relaxed.paths.values()
                          for stage, chain, rule in path.all_rules() if rule.key.startswith("rule|"))
        found = find_smtp_rules(everywhere, all_models, known, group_name, None, policy.apps)[0]
        for item in found:
            item["rule"] = dict(item["rule"], **{"from": untrust})
    servers = mail_servers
    if servers is None:
        servers = no_addresses()
        for item in found:
            servers = addresses_union(servers, item["destinations"])
    try:
        to_zones = find_mail_zones(config, found, untrust, wanted)[0]
    except PanosPlanError as exc:
        raise VerifyError(str(exc))
    paths = [path_name(u, t) for u in untrust for t in to_zones]
    served = served_servers(paths, found, servers, config)
    for name in paths:
        if mail_servers is not None and not any(served[name].values()):
            served[name] = servers
    return policy, paths, servers, served


def policy_match_probes(probes):
    """Probe dicts shaped for ``emailsec.hes.panos_hes_policy_match``: zones from the path, the
    application the engine evaluated."""
    out = []
    for probe in probes:
        from_zone, to_zone = probe["ingress"].split("->", 1)
        out.append({"name": probe["id"], "source": probe["source"], "destination": probe["destination"],
                    "port": probe["port"], "protocol": probe["protocol"],
                    "application": probe.get("application") or OTHER_APPLICATION,
                    "from_zone": from_zone, "to_zone": to_zone})
    return out


def application_name(apps, number):
    """The name the device is asked about for an application number of the engine's space."""
    if number == UNKNOWN_APP:
        return OTHER_APPLICATION
    return apps.name(number)


def device_answers(results):
    """``panos_hes_policy_match`` results -> ``{verdict, rule, detail}`` per probe."""
    answers = []
    for row in results:
        if row.get("rule"):
            rule = "%s (index %s, %s)" % (row["rule"], row.get("index"), row.get("action"))
        else:
            rule = "no rule matched (default deny)"
        answers.append({"verdict": "allow" if row.get("allowed") else "deny", "rule": rule,
                        "detail": "application %s" % row.get("application") if row.get("application") else None})
    return answers


def group_check(config, group_name, range_sets):
    """(ok, detail): the address group holds exactly the ranges (every member resolved)."""
    if group_name not in config["groups"]:
        return False, "address group %s does not exist" % group_name
    span = Resolver(config, app_space(config)).addresses([group_name], False)
    if span.doubts:
        return False, "address group %s: %s" % (group_name, "; ".join(span.doubts))
    problems = membership_problems(span.high, range_sets)
    if problems:
        return False, "address group %s: %s" % (group_name, "; ".join(problems))
    return True, "address group %s holds exactly the ranges (%d members)" % (
        group_name, len(config["groups"][group_name]["static"]))
