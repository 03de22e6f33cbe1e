#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: hes_backup
author: emailsec.hes maintainers (@emailsec)
version_added: "0.1.0"
short_description: Write or read an emailsec.hes backup on the controller
description:
  - Runs on the controller (an action plugin). Every vendor role writes its backup through it
    before a change, and reads it back for a rollback, so that every vendor has one format and
    one name scheme.
  - "A backup is C(DIRECTORY/HOST.VENDOR.YYYYMMDDTHHMMSSffffffZ.json), mode 0600 in a 0700
    directory, holding the host, the vendor, the device's identity, what was sent and the
    vendor's restore data. A host name with characters other than letters, digits, C(-) and
    C(_) is made safe (and given a hash of the real name), so it can never leave the directory."
  - With O(state=read) the newest backup of the host and vendor is found by its exact name
    pattern (C(fw1) never takes C(fw1-dr)'s file), and refused when it was written for another
    host or vendor, or on a device whose identity differs from O(device).
options:
  state:
    description: V(written) writes a new backup; V(read) reads the newest one (or O(file)).
    type: str
    choices: [written, read]
    default: written
  directory:
    description: The backup directory (the roles' C(hes_backup_dir)); created 0700 when missing.
    type: path
    required: true
  host:
    description: The inventory host name the backup belongs to.
    type: str
    required: true
  vendor:
    description: The role that wrote it.
    type: str
    required: true
    choices: [asa, panos, nftables, pfsense, postfix]
  device:
    description:
      - What the device says it is (for example C(hostname), C(serial)). Stored when writing;
        when reading, every field both the backup and this dict know must agree.
    type: dict
    default: {}
  plan:
    description: What is about to be sent (commands or edits, and the plan gate's differential).
    type: dict
    default: {}
  restore:
    description: The vendor's restore data. Required with O(state=written).
    type: raw
  file:
    description: With O(state=read), this file instead of the newest backup (still checked).
    type: path
attributes:
  check_mode:
    support: full
    description: Writes nothing in check mode and says which file it would write.
  diff_mode:
    support: none
    description: A backup is a new file or a read of one; there is nothing before to compare with.
  platform:
    support: full
    description: Runs on the controller (the action plugin writes and reads there); the managed host is not contacted.
    platforms: all
notes:
  - The state directory and what lives in it are described in the collection's docs/state.md.
seealso:
  - module: emailsec.hes.asa_hes_plan
"""

EXAMPLES = r"""
- name: Back up before the push
  emailsec.hes.hes_backup:
    directory: "{{ hes_backup_dir }}"
    host: "{{ inventory_hostname }}"
    vendor: asa
    device: {hostname: edge-fw}
    plan: {commands: "{{ plan.commands }}", differential: "{{ plan.gate.differential }}"}
    restore: "{{ plan.backup }}"

- name: The newest backup of this host, for a rollback
  emailsec.hes.hes_backup:
    state: read
    directory: "{{ hes_backup_dir }}"
    host: "{{ inventory_hostname }}"
    vendor: asa
  register: backup
"""

RETURN = r"""
path:
  description: The backup file written or read.
  returned: always
  type: str
  sample: /var/lib/emailsec-hes/backups/fw1.asa.20261130T120000123456Z.json
restore:
  description: The vendor's restore data.
  returned: when reading
  type: raw
written:
  description: When the backup was written (UTC).
  returned: when reading
  type: str
device:
  description: The device identity stored in the backup.
  returned: when reading
  type: dict
plan:
  description: What was sent when the backup was written.
  returned: when reading
  type: dict
"""
