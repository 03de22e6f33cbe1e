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
    carve-out rules of O(deny_after_rule), then the deletion of stale objects of ours), in one
    C(multi-config) request (a C(move) of a carve-out rule goes on its own, in its place).
  - "Every request of a run goes over one kept-alive TLS connection, and a C(keygen) is sent only
    when no O(provider.api_key) is given. Under Ansible it runs as an action plugin, in the task's
    own process on the controller."
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
  backup_dir:
    description:
      - Controller directory (the role's C(hes_backup_dir)) where the backup is written, through
        the collection's one backup format (C(<host>.panos.<UTC time>.json), docs/state.md), after
        the last read and before the first write. Only when hardening and something changes; not in
        check mode. Run as the collection's action plugin (under Ansible, always).
    type: path
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
backup_file:
  description: The backup written (with O(backup_dir)), or null when nothing was written.
  returned: with O(backup_dir), when hardening
  type: str
ansible_facts:
  description:
    - C(hes_result), the result every vendor role of the collection sets (docs/state.md) - vendor,
      changed, check_mode, commands, findings (with C(rules) and C(commit)), differential, backup,
      ranges.
  returned: when hardening succeeds
  type: dict
warnings_detail:
  description: Objects kept although stale, because something else still refers to them.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import RangeError, guard_ranges
from ansible_collections.emailsec.hes.plugins.module_utils.panos import apply, client
from ansible_collections.emailsec.hes.plugins.module_utils.panos.parse import PanosError


def main():
    # Under Ansible the action plugin of the same name runs instead (plugins/action/panos_hes_smtp.py).
    module = AnsibleModule(argument_spec=apply.argument_spec(), supports_check_mode=True,
                           mutually_exclusive=apply.MUTUALLY_EXCLUSIVE, required_one_of=apply.REQUIRED_ONE_OF)
    if module.params["ranges"] is not None:
        # Before the firewall is contacted: the list is checked whoever built it.
        try:
            module.params["ranges"] = guard_ranges(
                module.params["ranges"], "ranges", allow_reserved=module.params["allow_reserved"],
                max_prefix=module.params["max_prefix"], max_prefix_v6=module.params["max_prefix_v6"])
        except RangeError as exc:
            module.fail_json(msg="emailsec.hes.panos_hes_smtp: %s" % exc)
    if module.params["backup_dir"]:
        module.fail_json(msg="emailsec.hes.panos_hes_smtp: backup_dir is written by the action plugin of the same "
                             "name, on the controller; run the module through Ansible")
    if not client.HAS_PANOS:
        module.fail_json(msg=missing_required_lib("pan-os-python"))
    try:
        run = apply.Run(module.params, module.check_mode, module.warn)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    try:
        run.main()
    except (apply.Failure, PanosError, RangeError) as exc:
        module.fail_json(msg=str(exc), **run.result)
    module.exit_json(**run.result)


if __name__ == "__main__":
    main()
