#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: panos_hes_smtp
author: emailsec.hes maintainers (@emailsec)
version_added: "0.1.0"
short_description: Lock PAN-OS inbound SMTP rules to the Trend Micro HES ranges in one commit
description:
  - Converges, in one connection and one commit, one address object per range, the static
    address group O(group_name) whose members are exactly those objects, and the source of the
    inbound SMTP security rules (named in O(rules), or discovered) set to that group.
  - An SMTP rule is an enabled allow rule from an untrust zone whose match is TCP/25 and nothing
    else (application smtp with service application-default, or a tcp/25 service), from any
    source (or already from O(group_name)). A rule that admits more (application any with service
    any, a service group with DNS beside SMTP, ...) is a broader rule and is never rewritten.
  - Reads the candidate configuration once, plans, applies the plan to a model of the
    configuration and proves it with the policy engine (the gate) before anything is sent. Every
    flow whose verdict changes must be TCP/25 to the mail servers from outside the ranges (allow
    to deny), and afterwards nothing outside the ranges may reach a mail server on TCP/25 while
    SMTP from the ranges does. Otherwise the module fails naming the rule and a witness flow,
    and sends nothing.
  - Applies the edits make-before-break (objects, then the group, then the rule sources, then the
    carve-out rules of O(deny_after_rule), then the deletion of stale objects of ours).
  - Only objects whose name starts with O(object_prefix) B(and) whose description contains
    C(managed by emailsec.hes) are ever edited or deleted; everything else is left alone.
  - Commits only the changes of O(provider.username) (a partial commit by administrator). When
    any administrator already has uncommitted changes, the module refuses before changing
    anything unless O(commit_foreign_changes=true), which then commits everything.
  - When an edit or the commit fails, the candidate is put back as it was (a partial revert of
    our administrator's changes, or the inverse edits) and the error is reported.
  - A run with nothing to change sends no set, edit, delete or commit request.
  - With O(backup), the module restores that backup (the value of RV(backup) of an earlier run)
    instead of converging to O(ranges).
extends_documentation_fragment:
  - emailsec.hes.range_guard
  - emailsec.hes.panos
options:
  ranges:
    description:
      - The allowed source ranges (CIDRs), usually from the C(emailsec.hes.ranges) lookup.
      - One of O(ranges) and O(backup) is required.
    type: list
    elements: str
  backup:
    description: Restore this backup (a previous run's RV(backup)) instead of converging to O(ranges).
    type: dict
  group_name:
    description: Name of the address group the rules' source is set to.
    type: str
    default: TM_HES_IP_RANGE
  object_prefix:
    description: Prefix of the address objects' names (C(TM_HES_18.208.22.64_26)).
    type: str
    default: TM_HES_
  rules:
    description:
      - Names of the security rules whose source becomes O(group_name). Empty means discover
        them (see O(untrust_zones) and O(mail_servers)).
    type: list
    elements: str
    default: []
  untrust_zones:
    description: Zones on the Internet side; discovered rules come from one of them.
    type: list
    elements: str
    default: [untrust]
  mail_servers:
    description:
      - Addresses or address-object names of the mail servers; a discovered rule's destination
        must cover one of them (or be V(any)). Empty accepts any destination.
    type: list
    elements: str
    default: []
  commit:
    description: Commit the changes (a partial commit of O(provider.username)'s changes).
    type: bool
    default: true
  commit_foreign_changes:
    description:
      - Go ahead even though administrators (including O(provider.username) in another
        session) have uncommitted changes, and commit them all with ours.
    type: bool
    default: false
  mail_zones:
    description:
      - The zone(s) of the mail servers. The inbound paths the gate checks are from each of
        O(untrust_zones) to each of these. Empty means the destination zones of the SMTP rules
        found (a rule to zone V(any) stands for every zone but the untrust ones).
    type: list
    elements: str
    default: []
  deny_after_rule:
    description:
      - When a broader allow rule below an SMTP rule keeps TCP/25 open from outside the ranges,
        add a carve-out rule of ours right after the SMTP rule, C(<object_prefix>deny-<rule>), that
        denies TCP/25 (any application, service C(<object_prefix>tcp-25)) to that rule's
        destination from every source outside O(group_name) (negate-source). The gate must
        still pass with it. Without this option such a plan is refused.
    type: bool
    default: false
  expected_requests:
    description:
      - The RV(requests) of a check-mode run of this module with the same options. The module
        plans again on what it reads and sends nothing unless that plan is exactly these
        requests, so what check mode showed is what is pushed.
    type: list
    elements: dict
notes:
  - Supports check mode and diff mode. Check mode reads the device and sends no write request;
    C(--diff) shows our objects, the group, the rules' sources and carve-outs before and after,
    the API edits and the gate's differential ("verdict changes ...; other flows ...").
  - Detects pending changes with the operational command C(show config list admins)
    and configuration locks with C(show config-locks).
seealso:
  - module: emailsec.hes.panos_hes_policy_match
  - name: Trend Micro KB 000199043
    description: Accepting emails coming only from Hosted Email Security (HES) servers.
    link: https://success.trendmicro.com/solution/000199043
"""

EXAMPLES = r"""
- name: Lock inbound SMTP to the HES ranges
  emailsec.hes.panos_hes_smtp:
    provider:
      ip_address: 192.0.2.10
      username: automation
      password: "{{ vault_panos_password }}"
    ranges: "{{ query('emailsec.hes.ranges', site='us') }}"
    untrust_zones: [untrust]
    mail_servers: [203.0.113.25]
  register: hardened

- name: Put back what the first run changed
  emailsec.hes.panos_hes_smtp:
    provider:
      ip_address: 192.0.2.10
      api_key: "{{ vault_panos_api_key }}"
      username: automation
    backup: "{{ hardened.backup }}"
"""

RETURN = r"""
commands:
  description: The API edits (and the commit) as readable, CLI-like lines, in the order sent.
  returned: always
  type: list
  elements: str
  sample: ["set vsys1 address TM_HES_18.208.22.64_26 ip-netmask 18.208.22.64/26 description \"managed by emailsec.hes\"",
           "edit vsys1 rulebase security rules Inbound-SMTP source [ TM_HES_IP_RANGE ]",
           "commit partial admin [ admin ]"]
requests:
  description: The exact XML API requests (action, xpath, element; where and dst for a move) planned or sent.
  returned: always
  type: list
  elements: dict
findings:
  description:
    - What the engine found, with O(ranges) - the SMTP rules (status C(replace) or C(hardened)),
      broader rules, mail servers and zones, the inbound paths, and after the plan the leaks
      (Q1) and blocked sources (Q2) with witness flows.
  returned: when ranges are given
  type: dict
gate:
  description:
    - The plan gate - C(ok), C(differential) (the one sentence of verdict changes), C(refusals)
      and the changed flows with witnesses.
  returned: when ranges are given
  type: dict
errors:
  description: Why the plan was not sent (a refusal names the rule and a witness flow).
  returned: always
  type: list
  elements: str
diff:
  description:
    - What we manage (our objects, the group's members, the rules' sources), before and after,
      and under C(prepared) the API edits as C(--diff) prints them.
  returned: always
  type: dict
backup:
  description: Our objects, the group, the touched rules' sources and our carve-out rules as they were before the run; input of O(backup).
  returned: success
  type: dict
rules:
  description: The security rules whose source is (or already was) O(group_name).
  returned: success
  type: list
  elements: str
destinations:
  description: For each rule, its destination members (the mail servers it protects).
  returned: success
  type: list
  elements: dict
  sample: [{"rule": "Inbound-SMTP", "destination": ["mail-server-public"]}]
pending_admins:
  description: Administrators who had uncommitted changes when the module looked (only checked when there is something to change).
  returned: always
  type: list
  elements: str
commit:
  description: The commit job (id, result, messages), or null when nothing was committed.
  returned: always
  type: dict
warnings_detail:
  description: Objects kept although stale, because something else still refers to them.
  returned: always
  type: list
  elements: str
"""

import xml.etree.ElementTree as ET

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.emailsec.hes.plugins.module_utils.panos import client
from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import RANGE_GUARD_ARGUMENT_SPEC, RangeError, guard_ranges
from ansible_collections.emailsec.hes.plugins.module_utils.panos import plan as panos_plan
from ansible_collections.emailsec.hes.plugins.module_utils.panos.parse import PanosError, parse_config


ADMINS_CMD = "<show><config><list><admins></admins></list></config></show>"
LOCKS_CMD = "<show><config-locks></config-locks></show>"


class Failure(Exception):
    """Stop the run with a message (and the result gathered so far)."""


class Run(object):
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.provider = module.params["provider"]
        self.admin = self.provider["username"]
        self.result = {"changed": False, "commands": [], "requests": [], "diff": {}, "pending_admins": [],
                       "commit": None, "warnings_detail": [], "errors": []}
        try:
            self.fw = client.connect_firewall(self.provider, module.params["vsys"], module.params["timeout"],
                                              warn=module.warn)
        except ValueError as exc:
            module.fail_json(msg=str(exc))

    def call(self, name, *args, **kwargs):
        """``self.fw.<name>(...)``, or ``self.fw.xapi.<name>`` for config actions; errors become Failure
        (naming the keyword ``request``, the readable form of what was sent, when given).

        The attribute is looked up inside the try: ``fw.xapi`` runs keygen on first use.
        """
        request = kwargs.pop("request", None)
        try:
            target = self.fw if name in ("op", "commit") else self.fw.xapi
            return getattr(target, name)(*args, **kwargs)
        except client.PANOS_ERRORS as exc:
            raise Failure(client.describe_error(exc, self.provider, request))

    def op(self, cmd):
        return self.call("op", cmd, cmd_xml=False)

    def read(self):
        self.call("get", "/config")
        config = self.fw.xapi.element_root.find("result/config")
        if config is None:
            raise Failure("%s: the answer to get /config holds no <config>" % client.endpoint(self.provider))
        return config

    def pending(self):
        result = self.op(ADMINS_CMD)
        return sorted({(m.text or "").strip() for m in result.findall("./result/admins/member")})

    def foreign_locks(self):
        result = self.op(LOCKS_CMD)
        return sorted({entry.get("name") for entry in result.findall("./result/config-locks/entry")
                       if entry.get("name") != self.admin})

    def send(self, edit):
        request = "; ".join(edit["commands"]) or "%s %s" % (edit["action"], edit["xpath"])
        if edit["action"] == "move":
            self.call("move", xpath=edit["xpath"], where=edit["where"], dst=edit.get("dst"), request=request)
        elif edit["element"] is None:
            self.call(edit["action"], xpath=edit["xpath"], request=request)
        else:
            self.call(edit["action"], xpath=edit["xpath"], element=edit["element"], request=request)

    def plan(self, config):
        params = self.params
        if params["backup"] is not None:
            return panos_plan.plan_rollback(config, params["backup"])
        return panos_plan.plan_hardening(
            config, params["ranges"], vsys=params["vsys"], group_name=params["group_name"],
            prefix=params["object_prefix"], rules=params["rules"], untrust_zones=params["untrust_zones"],
            mail_servers=params["mail_servers"], mail_zones=params["mail_zones"],
            deny_after_rule=params["deny_after_rule"], device=self.provider["ip_address"])

    def main(self):
        params = self.params
        panos_plan.check_admin(self.admin)
        panos_plan.check_prefix(params["object_prefix"])
        panos_plan.check_name(params["group_name"], "group_name")
        config = self.read()
        planned = self.plan(config)
        group_name = params["backup"]["group_name"] if params["backup"] is not None else params["group_name"]
        self.result.update({
            "requests": planned["requests"],
            "commands": list(planned["commands"]),
            "errors": planned["errors"],
            "diff": {"before": panos_plan.render_view(planned["before"], group_name),
                     "after": panos_plan.render_view(planned["after"], group_name),
                     "before_header": "%s %s (candidate)" % (client.endpoint(self.provider), params["vsys"]),
                     "after_header": "%s %s (planned)" % (client.endpoint(self.provider), params["vsys"])},
            "warnings_detail": planned["warnings"],
        })
        if params["backup"] is None:
            self.result.update({
                "backup": planned["backup"],
                "rules": [rule["name"] for rule in planned["findings"]["rules"]],
                "destinations": [{"rule": rule["name"], "destination": rule["destination"]}
                                 for rule in planned["findings"]["rules"]],
                "findings": planned["findings"],
                "gate": planned["gate"],
            })
        for warning in planned["warnings"]:
            self.module.warn(warning)
        if planned["errors"]:
            raise Failure("%s: refusing the plan, nothing was sent: %s"
                          % (client.endpoint(self.provider), " | ".join(planned["errors"])))
        expected = params["expected_requests"]
        if expected is not None and expected != planned["requests"]:
            raise Failure("%s: the configuration changed since the plan was shown: this run would send %d "
                          "request(s), the plan had %d; nothing was sent; run again to see the new plan"
                          % (client.endpoint(self.provider), len(planned["requests"]), len(expected)))
        if not planned["edits"]:
            return
        self.result["changed"] = True
        pending = self.pending() if params["commit"] else []
        self.result["pending_admins"] = pending
        if pending and not params["commit_foreign_changes"]:
            raise Failure("refusing to change %s: administrator(s) %s have uncommitted changes that a commit "
                          "could take along; commit or revert them first, or set commit_foreign_changes "
                          "(hes_panos_commit_foreign_changes) to commit them with ours; nothing was changed"
                          % (client.endpoint(self.provider), ", ".join(pending)))
        locked_by = self.foreign_locks()
        if locked_by:
            raise Failure("%s: the configuration is locked by %s; nothing was changed"
                          % (client.endpoint(self.provider), ", ".join(locked_by)))
        if params["commit"]:
            self.result["commands"].append(panos_plan.commit_command(self.admin, bool(pending)))
        prepared = "API edits, in order:\n" + "".join("  %s\n" % line for line in self.result["commands"])
        if params["backup"] is None:
            prepared += "gate: %s\n" % planned["gate"]["differential"]
        self.result["diff"]["prepared"] = prepared
        if self.module.check_mode:
            return
        applied = []
        try:
            for edit in planned["edits"]:
                self.send(edit)
                applied.append(edit)
            if params["commit"]:
                self.commit(bool(pending))
        except Failure as failure:
            raise Failure("%s; %s" % (failure, self.undo(config, applied, bool(pending))))

    def commit(self, everyone):
        cmd = ET.Element("commit")
        if not everyone:
            partial = ET.SubElement(ET.SubElement(cmd, "partial"), "admin")
            ET.SubElement(partial, "member").text = self.admin
        outcome = self.call("commit", sync=True, cmd=cmd)
        if outcome is None:
            raise Failure("%s: the commit found no changes to commit" % client.endpoint(self.provider))
        self.result["commit"] = {"jobid": outcome["jobid"], "result": outcome["result"],
                                 "messages": outcome["messages"]}
        if not outcome["success"]:
            raise Failure("%s: commit job %s failed: %s" % (client.endpoint(self.provider), outcome["jobid"],
                                                            " | ".join(outcome["messages"]) or outcome["result"]))

    def undo(self, config, applied, others_pending):
        """Put the candidate back; returns a sentence for the error message."""
        if not applied:
            return "nothing was changed"
        if not others_pending:
            try:
                self.op(panos_plan.revert_command(self.admin))
                return "the candidate configuration was reverted (revert config partial admin %s)" % self.admin
            except Failure:
                pass
        try:
            parsed = parse_config(config, self.params["vsys"])
            group_name = self.params["backup"]["group_name"] if self.params["backup"] else self.params["group_name"]
            for edit in panos_plan.inverse_edits(parsed, applied, group_name, config):
                self.send(edit)
        except Failure as failure:
            return ("undoing our edits failed too (%s): the candidate configuration still holds them; "
                    "revert it on the firewall" % failure)
        return "our edits were undone in the candidate configuration"


def main():
    argument_spec = client.provider_argument_spec()
    argument_spec.update(RANGE_GUARD_ARGUMENT_SPEC)
    argument_spec.update(
        ranges={"type": "list", "elements": "str"},
        backup={"type": "dict"},
        group_name={"type": "str", "default": panos_plan.DEFAULT_GROUP},
        object_prefix={"type": "str", "default": panos_plan.DEFAULT_PREFIX},
        rules={"type": "list", "elements": "str", "default": []},
        untrust_zones={"type": "list", "elements": "str", "default": ["untrust"]},
        mail_servers={"type": "list", "elements": "str", "default": []},
        commit={"type": "bool", "default": True},
        commit_foreign_changes={"type": "bool", "default": False},
        mail_zones={"type": "list", "elements": "str", "default": []},
        deny_after_rule={"type": "bool", "default": False},
        expected_requests={"type": "list", "elements": "dict"},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           mutually_exclusive=[["ranges", "backup"]], required_one_of=[["ranges", "backup"]])
    if module.params["ranges"] is not None:
        # Before the firewall is contacted: the list is checked whoever built it.
        try:
            module.params["ranges"] = guard_ranges(
                module.params["ranges"], "ranges", allow_reserved=module.params["allow_reserved"],
                max_prefix=module.params["max_prefix"], max_prefix_v6=module.params["max_prefix_v6"])
        except RangeError as exc:
            module.fail_json(msg="emailsec.hes.panos_hes_smtp: %s" % exc)
    if not client.HAS_PANOS:
        module.fail_json(msg=missing_required_lib("pan-os-python"))
    run = Run(module)
    try:
        run.main()
    except (Failure, PanosError, RangeError) as exc:
        module.fail_json(msg=str(exc), **run.result)
    module.exit_json(**run.result)


if __name__ == "__main__":
    main()
