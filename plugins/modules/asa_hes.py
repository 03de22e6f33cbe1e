#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: asa_hes
author: emailsec.hes maintainers (@emailsec)
version_added: "1.1.0"
short_description: Restrict inbound SMTP on a Cisco ASA to the HES ranges in one task - read, plan, prove, back up, push, save
description:
  - The whole conversation of the role C(emailsec.hes.asa) in one task, run by an action plugin on
    the controller (no module process per host).
  - "With O(state=hardened): one C(show running-config); the plan of M(emailsec.hes.asa_hes_plan)
    (the same code: make-before-break, target rules found by what they match, the gate that
    refuses any plan whose verdict changes are not exactly TCP/25 from outside the ranges being
    denied); when the plan changes something, a backup written on the controller through the
    collection's one backup format (C(O(backup_dir)/<host>.asa.<UTC time>.json), with the
    device's hostname and serial), then C(configure terminal), the planned lines, C(end) and,
    with O(save), C(write mem). A refused line ends the session there and nothing is saved; the
    error names the backup to restore."
  - "With O(state=restored): one C(show running-config), the newest backup of the host (or
    O(backup_file)) read and refused when it was written for another host or on a device whose
    hostname or serial differs, the restoration planned, pushed and saved the same way."
  - "Talks over the task's connection: C(ansible.netcommon.network_cli) with C(ansible_network_os)
    C(cisco.asa.asa) (through its persistent connection and cisco.asa's cliconf plugin), or the
    collection's connection C(emailsec.hes.asa_cli) (the role's C(hes_asa_transport=ssh))."
  - Sets the fact C(hes_result), the shape every vendor role of the collection returns
    (docs/state.md).
extends_documentation_fragment:
  - emailsec.hes.asa_plan
options:
  state:
    description: V(hardened) applies the plan; V(restored) rolls back from a backup.
    type: str
    choices: [hardened, restored]
    default: hardened
  save:
    description: C(write mem) once after a change.
    type: bool
    default: true
  backup_dir:
    description: Controller directory of the backups (created 0700; files 0600).
    type: path
    required: true
  backup_file:
    description: With O(state=restored), this backup instead of the newest of the host (still checked).
    type: path
attributes:
  check_mode:
    support: full
    description: Reads and plans, writes no backup and sends nothing; reports the commands it would send.
  diff_mode:
    support: full
    description: The group's members and each touched ACL before and after, the commands, and the verdict changes.
  platform:
    platforms: cisco.asa.asa
    support: full
    description: ASA 9.x over network_cli or emailsec.hes.asa_cli.
notes:
  - The engine's model and what it does not cover are in docs/safety.md; the costs of the two
    connections in docs/performance.md.
seealso:
  - module: emailsec.hes.asa_hes_plan
  - module: emailsec.hes.hes_backup
  - plugin: emailsec.hes.asa_cli
    plugin_type: connection
"""

EXAMPLES = r"""
- name: Harden (the role emailsec.hes.asa does this)
  emailsec.hes.asa_hes:
    ranges: "{{ query('emailsec.hes.ranges', site='us') }}"
    mail_servers: [203.0.113.25]
    backup_dir: /var/lib/emailsec-hes/backups
  register: asa

- name: Roll back from the newest backup
  emailsec.hes.asa_hes:
    state: restored
    backup_dir: /var/lib/emailsec-hes/backups
"""

RETURN = r"""
commands:
  description: The configuration commands sent (or, in check mode, that would be sent), in order.
  returned: always
  type: list
  elements: str
  sample:
    - object-group network TM_HES_IP_RANGE
    - network-object 18.208.22.64 255.255.255.192
    - access-list outside_in line 1 extended permit tcp object-group TM_HES_IP_RANGE host 203.0.113.25 eq smtp
    - no access-list outside_in extended permit tcp any host 203.0.113.25 eq smtp
report:
  description: What was found, as lines of text (the role prints them).
  returned: when hardening
  type: list
  elements: str
findings:
  description: As RV(emailsec.hes.asa_hes_plan#module:findings).
  returned: when hardening
  type: dict
changes:
  description: As RV(emailsec.hes.asa_hes_plan#module:changes).
  returned: when hardening
  type: dict
gate:
  description: As RV(emailsec.hes.asa_hes_plan#module:gate).
  returned: when hardening
  type: dict
errors:
  description: Why the plan was refused (nothing was sent).
  returned: when the plan is refused
  type: list
  elements: str
backup:
  description: The backup written (hardened) or restored (restored); null when nothing was written.
  returned: always
  type: str
saved:
  description: Whether C(write mem) ran.
  returned: always
  type: bool
ansible_facts:
  description: C(hes_result) (vendor, changed, check_mode, commands, findings, differential, backup, ranges, changes, saved).
  returned: on success
  type: dict
"""
