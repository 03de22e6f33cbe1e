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
  - Reads the candidate configuration once, plans, then applies the edits make-before-break
    (objects, then the group, then the rule sources, then the deletion of stale objects of ours).
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
notes:
  - Supports check mode and diff mode. Check mode reads the device and sends no write request.
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
  description: The exact XML API requests (action, xpath, element) planned or sent.
  returned: always
  type: list
  elements: dict
diff:
  description:
    - What we manage (our objects, the group's members, the rules' sources), before and after,
      and under C(prepared) the API edits as C(--diff) prints them.
  returned: always
  type: dict
backup:
  description: Our objects, the group and the touched rules' sources as they were before the run; input of O(backup).
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

from ansible_collections.emailsec.hes.plugins.module_utils import hes_panos as hp
from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import RangeError


ADMINS_CMD = "<show><config><list><admins></admins></list></config></show>"
LOCKS_CMD = "<show><config-locks></config-locks></show>"
REVERT_CMD = "<revert><config><partial><admin><member>%s</member></admin></partial></config></revert>"


class Failure(Exception):
    """Stop the run with a message (and the result gathered so far)."""


class Run(object):
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.provider = module.params["provider"]
        self.admin = self.provider["username"]
        self.result = {"changed": False, "commands": [], "requests": [], "diff": {}, "pending_admins": [],
                       "commit": None, "warnings_detail": []}
        try:
            self.fw = hp.connect_firewall(self.provider, module.params["vsys"], module.params["timeout"],
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
        except hp.PANOS_ERRORS as exc:
            raise Failure(hp.describe_error(exc, self.provider, request))

    def op(self, cmd):
        return self.call("op", cmd, cmd_xml=False)

    def read(self):
        self.call("get", "/config")
        config = self.fw.xapi.element_root.find("result/config")
        if config is None:
            raise Failure("%s: the answer to get /config holds no <config>" % hp.endpoint(self.provider))
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
        if edit["element"] is None:
            self.call(edit["action"], xpath=edit["xpath"], request=request)
        else:
            self.call(edit["action"], xpath=edit["xpath"], element=edit["element"], request=request)

    def main(self):
        params = self.params
        hp.check_prefix(params["object_prefix"])
        hp.check_name(params["group_name"], "group_name")
        config = self.read()
        state = hp.read_state(config, params["vsys"])
        if params["backup"] is not None:
            desired = hp.desired_from_backup(params["backup"])
            names = list(desired["rules"])
        else:
            rules = hp.select_rules(state, params["rules"], params["untrust_zones"], params["mail_servers"],
                                    params["group_name"])
            names = [rule["name"] for rule in rules]
            desired = hp.desired_from_ranges(params["ranges"], params["group_name"], names,
                                             params["object_prefix"])
        planned = hp.plan(state, desired, params["group_name"], params["object_prefix"])
        by_name = dict((rule["name"], rule) for rule in state["rules"])
        self.result.update({
            "backup": hp.backup_data(state, params["group_name"], params["object_prefix"], names,
                                     self.provider["ip_address"]),
            "rules": names,
            "destinations": [{"rule": n, "destination": by_name[n]["destination"]} for n in names],
            "requests": [dict((k, e[k]) for k in ("action", "xpath", "element")) for e in planned["edits"]],
            "commands": hp.commands(planned["edits"]),
            "diff": {"before": hp.render_view(planned["before"], params["group_name"]),
                     "after": hp.render_view(planned["after"], params["group_name"]),
                     "before_header": "%s %s (candidate)" % (hp.endpoint(self.provider), params["vsys"]),
                     "after_header": "%s %s (planned)" % (hp.endpoint(self.provider), params["vsys"])},
            "warnings_detail": planned["warnings"],
        })
        for warning in planned["warnings"]:
            self.module.warn(warning)
        if not planned["edits"]:
            return
        self.result["changed"] = True
        pending = self.pending() if params["commit"] else []
        self.result["pending_admins"] = pending
        if pending and not params["commit_foreign_changes"]:
            raise Failure("refusing to change %s: administrator(s) %s have uncommitted changes that a commit "
                          "could take along; commit or revert them first, or set commit_foreign_changes "
                          "(hes_panos_commit_foreign_changes) to commit them with ours; nothing was changed"
                          % (hp.endpoint(self.provider), ", ".join(pending)))
        locked_by = self.foreign_locks()
        if locked_by:
            raise Failure("%s: the configuration is locked by %s; nothing was changed"
                          % (hp.endpoint(self.provider), ", ".join(locked_by)))
        if params["commit"]:
            self.result["commands"].append(hp.commit_command(self.admin, bool(pending)))
        self.result["diff"]["prepared"] = "API edits, in order:\n" + "".join(
            "  %s\n" % line for line in self.result["commands"])
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
            raise Failure("%s; %s" % (failure, self.undo(state, applied, bool(pending))))

    def commit(self, everyone):
        cmd = ET.Element("commit")
        if not everyone:
            partial = ET.SubElement(ET.SubElement(cmd, "partial"), "admin")
            ET.SubElement(partial, "member").text = self.admin
        outcome = self.call("commit", sync=True, cmd=cmd)
        if outcome is None:
            raise Failure("%s: the commit found no changes to commit" % hp.endpoint(self.provider))
        self.result["commit"] = {"jobid": outcome["jobid"], "result": outcome["result"],
                                 "messages": outcome["messages"]}
        if not outcome["success"]:
            raise Failure("%s: commit job %s failed: %s" % (hp.endpoint(self.provider), outcome["jobid"],
                                                            " | ".join(outcome["messages"]) or outcome["result"]))

    def undo(self, state, applied, others_pending):
        """Put the candidate back; returns a sentence for the error message."""
        if not applied:
            return "nothing was changed"
        if not others_pending:
            try:
                self.op(REVERT_CMD % self.admin)
                return "the candidate configuration was reverted (revert config partial admin %s)" % self.admin
            except Failure:
                pass
        try:
            for edit in hp.inverse_edits(state, applied, self.params["group_name"]):
                self.send(edit)
        except Failure as failure:
            return ("undoing our edits failed too (%s): the candidate configuration still holds them; "
                    "revert it on the firewall" % failure)
        return "our edits were undone in the candidate configuration"


def main():
    argument_spec = hp.provider_argument_spec()
    argument_spec.update(
        ranges={"type": "list", "elements": "str"},
        backup={"type": "dict"},
        group_name={"type": "str", "default": hp.DEFAULT_GROUP},
        object_prefix={"type": "str", "default": hp.DEFAULT_PREFIX},
        rules={"type": "list", "elements": "str", "default": []},
        untrust_zones={"type": "list", "elements": "str", "default": ["untrust"]},
        mail_servers={"type": "list", "elements": "str", "default": []},
        commit={"type": "bool", "default": True},
        commit_foreign_changes={"type": "bool", "default": False},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           mutually_exclusive=[["ranges", "backup"]], required_one_of=[["ranges", "backup"]])
    if not hp.HAS_PANOS:
        module.fail_json(msg=missing_required_lib("pan-os-python"))
    run = Run(module)
    try:
        run.main()
    except (Failure, hp.PanosPlanError, RangeError) as exc:
        module.fail_json(msg=str(exc), **run.result)
    module.exit_json(**run.result)


if __name__ == "__main__":
    main()
