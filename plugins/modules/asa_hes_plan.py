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
short_description: Plan the Cisco ASA commands that restrict inbound SMTP to the HES ranges
description:
  - Runs on the controller (action plugin) and never talks to the device. It takes the outputs
    of C(show running-config object-group), C(show running-config object),
    C(show running-config access-list) and C(show running-config access-group), and the
    desired state, and returns the exact commands that make object group O(group_name) hold
    exactly O(ranges) and replace the C(any) source of the inbound SMTP permits with that group.
  - "Make-before-break: group members are added before stale ones are removed (a referenced
    group is never emptied); each new ACE is inserted with C(line N) at the line of the ACE it
    replaces, before that ACE is removed (an ACL is never emptied, so its access-group binding
    is never lost)."
  - Target rules are the active C(permit) ACEs of the ACLs bound inbound to O(interfaces) (and
    the global ACL with O(use_global_acl)) whose service is TCP/25 alone (C(eq smtp),
    C(eq 25), a port or service object group holding only tcp/25) and whose source is C(any),
    C(any4), C(any6) or C(0.0.0.0 0.0.0.0). A rule already sourced from the group needs no
    change.
  - Fails, after reporting its findings, when no rule is found (unless
    O(add_ace_when_missing)), or when a broader permit (C(permit ip any host MAIL), a port
    range or multi-port group containing 25, C(permit tcp any any)) admits TCP/25 from anywhere
    to a mail server (unless O(deny_after_permit), which inserts
    C(deny tcp any <mail server> eq smtp) right after the group's permit).
  - With O(restore), plans the restoration of a backup returned by an earlier run instead.
  - Reports C(changed) when the device differs from the desired state, so that C(--check
    --diff) shows the commands; the module itself changes nothing.
options:
  object_groups:
    description: Output of C(show running-config object-group).
    type: str
    default: ""
  objects:
    description: Output of C(show running-config object) (network and service objects).
    type: str
    default: ""
  access_lists:
    description:
      - Output of C(show running-config access-list). The C(show access-list) form (with
        C(line N), hit counters and expansions) is accepted as well.
    type: str
    default: ""
  access_groups:
    description: Output of C(show running-config access-group).
    type: str
    default: ""
  ranges:
    description:
      - The allowed SMTP sources as CIDRs, usually
        C(query('emailsec.hes.ranges', ...)). Required unless O(restore) is given.
    type: list
    elements: str
  group_name:
    description: Name of the network object group holding the ranges.
    type: str
    default: TM_HES_IP_RANGE
  interfaces:
    description: Interfaces (nameif) whose inbound ACL is hardened.
    type: list
    elements: str
    default: [outside]
  use_global_acl:
    description: Also harden the ACL bound with C(access-group NAME global).
    type: bool
    default: false
  acl_name:
    description: Only this ACL (it must be bound inbound to one of O(interfaces) or global).
    type: str
  mail_servers:
    description:
      - Mail server addresses or networks. Limits the rules touched to those whose destination
        lies within them, and is where O(add_ace_when_missing) points new ACEs.
    type: list
    elements: str
    default: []
  add_ace_when_missing:
    description:
      - When a mail server of O(mail_servers) has no SMTP rule, add
        C(permit tcp object-group GROUP host MAIL eq smtp) to the (single) ACL in scope instead
        of failing.
    type: bool
    default: false
  deny_after_permit:
    description:
      - When broader permits admit TCP/25 from anywhere to a mail server, insert
        C(deny tcp any <mail server> eq smtp) right after the group's SMTP permit instead of
        failing.
    type: bool
    default: false
  restore:
    description:
      - A backup (the RV(backup) of an earlier run). Plans the rollback instead of the
        hardening; O(ranges) and the discovery options are then ignored.
    type: dict
attributes:
  check_mode:
    support: full
    description: The module never changes anything; it reports what would change.
  diff_mode:
    support: full
    description: Shows the group's members and each touched ACL before and after, and the commands.
  platform:
    platforms: cisco.asa.asa
    support: full
    description: Works with the outputs of any ASA 9.x; runs on the controller.
notes:
  - Network objects used as destinations are resolved from O(objects); C(name) aliases are
    not, so a rule to C(host NAME) is found but its mail server is not compared with
    O(mail_servers).
  - Source-port restrictions are ignored when classifying broader permits (conservative).
seealso:
  - name: Role emailsec.hes.asa
    description: Reads the device once, calls this module, backs up, pushes once, saves once.
    link: https://example.invalid/emailsec/hes/docs/asa.md
"""

EXAMPLES = r"""
- name: Read the device once
  cisco.asa.asa_command:
    commands:
      - show running-config object-group
      - show running-config object
      - show running-config access-list
      - show running-config access-group
  register: asa_show

- name: Plan
  emailsec.hes.asa_hes_plan:
    object_groups: "{{ asa_show.stdout[0] }}"
    objects: "{{ asa_show.stdout[1] }}"
    access_lists: "{{ asa_show.stdout[2] }}"
    access_groups: "{{ asa_show.stdout[3] }}"
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
    object_groups: "{{ asa_show.stdout[0] }}"
    access_lists: "{{ asa_show.stdout[2] }}"
    access_groups: "{{ asa_show.stdout[3] }}"
    restore: "{{ lookup('file', 'backups/asa1-asa-20250301T120000Z.json') | from_json }}"
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
      interfaces, C(rules) (C(status) C(replace) or C(hardened)), C(broader_permits),
      C(mail_servers) and the C(group) as it is."
  returned: when planning the hardening
  type: dict
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
