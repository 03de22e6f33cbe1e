#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: asa_hes_plan
author: emailsec.hes maintainers (@emailsec)
version_added: "0.1.0"
short_description: Plan, and prove, the Cisco ASA commands that restrict inbound SMTP to the HES ranges
description:
  - Runs on the controller (action plugin) and never talks to the device. It takes the output of
    C(show running-config) and the desired state, and returns the exact commands that make object
    group O(group_name) hold exactly O(ranges) and replace the C(any) source of the inbound SMTP
    permits with that group.
  - "Make-before-break: group members are added before stale ones are removed (a referenced
    group is never emptied); each new ACE is inserted with C(line N) at the line of the ACE it
    replaces, before that ACE is removed (an ACL is never emptied, so its access-group binding
    is never lost)."
  - Target rules are the active C(permit) ACEs of the ACLs bound inbound to O(interfaces) (and
    the global ACL with O(use_global_acl)) whose match is TCP/25 and nothing else, judged by the
    exact policy engine over every operand (objects, object-groups of every type, C(name)
    aliases, port operators and groups) and whose sources are every address (C(any),
    C(any4), C(any6), C(0.0.0.0 0.0.0.0), a group holding everything). A rule that admits more
    than TCP/25 is never rewritten.
  - "The gate: the commands are applied to the configuration as the device applies them and
    both configurations go through the engine. The plan is refused (C(errors), the module fails)
    unless the only verdicts that change are TCP/25 to the mail servers from outside the ranges
    (allow to deny) and TCP/25 from the ranges (deny to allow) on the inbound interfaces, nothing
    changes on any other interface, and afterwards nothing outside the ranges reaches a mail
    server on TCP/25 while everything in the ranges does. A refusal names the rule and a
    witness flow."
  - With O(deny_after_permit), a rule broader than TCP/25 that keeps SMTP open below our permit
    is answered by C(deny tcp any <mail server> eq smtp) right after our permit; the gate still
    holds. With O(restore), plans the restoration of a backup returned by an earlier run instead.
  - Reports C(changed) when the device differs from the desired state, so that C(--check
    --diff) shows the commands and the verdict changes; the module itself changes nothing.
extends_documentation_fragment:
  - emailsec.hes.asa_plan
options:
  running_config:
    description:
      - Output of C(show running-config). Sections alone (C(show running-config object-group),
        C(... access-list), ...) concatenated work too; the C(show access-list) form is accepted
        for ACLs.
    type: str
    required: true
  restore:
    description:
      - A backup (the RV(backup) of an earlier run). Plans the rollback instead of the
        hardening; O(ranges) and the discovery options are then ignored. Every line in it is
        validated before it can reach a command.
    type: dict
attributes:
  check_mode:
    support: full
    description: The module never changes anything; it reports what would change.
  diff_mode:
    support: full
    description: Shows the group's members and each touched ACL before and after, the commands, and the verdict changes.
  platform:
    platforms: cisco.asa.asa
    support: full
    description: Works with the output of any ASA 9.x; runs on the controller.
notes:
  - The engine's model and what it does not cover (NAT, outbound ACLs, routing) are in
    docs/safety.md. Whatever it cannot resolve from the configuration (fqdn objects,
    time-ranges, identity matches) counts against the plan.
seealso:
  - name: Role emailsec.hes.asa
    description: Reads the device once, calls this module, backs up, pushes once, saves once.
    link: https://example.invalid/emailsec/hes/docs/asa.md
"""

EXAMPLES = r"""
- name: Read the device once
  cisco.asa.asa_command:
    commands:
      - show running-config
  register: asa_show

- name: Plan
  emailsec.hes.asa_hes_plan:
    running_config: "{{ asa_show.stdout[0] }}"
    ranges: "{{ query('emailsec.hes.ranges', site='us') }}"
    mail_servers: [203.0.113.25]
  register: asa_plan

- name: Push exactly the planned commands
  cisco.asa.asa_config:
    lines: "{{ asa_plan.commands }}"
    match: none
  when: asa_plan.commands | length > 0

- name: Plan the rollback of a backup
  emailsec.hes.asa_hes_plan:
    running_config: "{{ asa_show.stdout[0] }}"
    restore: "{{ (lookup('file', 'backup.json') | from_json).backup }}"
  register: asa_rollback
"""

RETURN = r"""
commands:
  description: The configuration commands to send, in order (no C(configure terminal)/C(end)).
  returned: always
  type: list
  elements: str
  sample:
    - object-group network TM_HES_IP_RANGE
    - network-object 18.208.22.64 255.255.255.192
    - access-list outside_in line 2 extended permit tcp object-group TM_HES_IP_RANGE host 203.0.113.25 eq smtp
    - no access-list outside_in extended permit tcp any host 203.0.113.25 eq smtp
changes:
  description:
    - C(group) (C(name), C(created), C(added), C(removed), C(before) members) and C(rules), one
      entry per touched ACE with C(acl), C(line) (original line), C(action)
      (C(replaced), C(added), C(deny_added), C(removed_duplicate)), C(before), C(after) and
      C(deny) texts.
  returned: when planning the hardening
  type: dict
findings:
  description:
    - "What was found before any change: C(acls) in scope with their bindings, C(unbound)
      interfaces, C(rules) (C(status) C(replace) or C(hardened)), C(mail_servers), the C(group)
      as it is; and after the plan, the engine's C(leaks) (flows outside the ranges that reach a
      mail server on TCP/25) and C(blocked) (flows from the ranges that do not), each with the
      deciding rule and a witness, and C(notes) on what the model does not cover."
  returned: when planning the hardening
  type: dict
gate:
  description:
    - "The gate's verdict: C(ok), C(differential) (one sentence: the verdict changes the plan
      makes), C(refusals) and C(changes) (each with a witness flow and the deciding rules
      before and after)."
  returned: when planning the hardening
  type: dict
  sample:
    ok: true
    differential: "verdict changes: TCP/25 from outside the ranges to 203.0.113.25: allow -> deny; other flows: none"
backup:
  description:
    - "Everything the change touches, for M(emailsec.hes.asa_hes_plan) O(restore): the group's
      original members (and whether it existed) and every ACE change with its original line."
  returned: when planning the hardening
  type: dict
errors:
  description: Reasons not to push (the module fails when there are any).
  returned: always
  type: list
  elements: str
warnings:
  description: With O(restore), what could not be restored (for example a group still in use).
  returned: when restoring
  type: list
  elements: str
"""
