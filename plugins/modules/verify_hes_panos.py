#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: verify_hes_panos
author: emailsec.hes maintainers (@emailsec)
version_added: "1.1.0"
short_description: Ask a PAN-OS firewall about the probes that verify its SMTP allow-list, in one task
description:
  - The PAN-OS part of the role C(emailsec.hes.verify) in one task, run by an action plugin on the
    controller (no module process) - the B(running) configuration read once (C(show /config)),
    the probes planned as M(emailsec.hes.verify_hes_probes) plans them for PAN-OS (the engine's
    witnesses and the edges of every range, per zone pair), and one C(test
    security-policy-match) per probe, all over one kept TLS connection, with a keygen only when
    no API key is given.
  - Returns what M(emailsec.hes.verify_hes_probes) returns, and sets the facts
    C(hes_verify_config) (the running configuration, as M(emailsec.hes.verify_hes_panos_config)
    returns it) and C(hes_verify_answers) (as M(emailsec.hes.panos_hes_policy_match) returns its
    results) for M(emailsec.hes.verify_hes_report).
  - Read-only; never reports a change.
extends_documentation_fragment:
  - emailsec.hes.verify_probes
  - emailsec.hes.panos
options:
  zones:
    description: C(from) (default V(untrust)) and C(to) (default the zones of the SMTP rules).
    type: dict
    default: {}
notes:
  - Supports check mode (it only reads).
seealso:
  - module: emailsec.hes.verify_hes_probes
  - module: emailsec.hes.verify_hes_report
"""

EXAMPLES = r"""
- name: Ask the firewall about every probe (the role emailsec.hes.verify does this)
  emailsec.hes.verify_hes_panos:
    provider: "{{ hes_panos_provider }}"
    ranges: "{{ query('emailsec.hes.ranges', site='us') }}"
  register: hes_verify_plan
"""

RETURN = r"""
probes:
  description: As RV(emailsec.hes.verify_hes_probes#module:probes).
  returned: success
  type: list
  elements: dict
mail_servers:
  description: The mail servers probed.
  returned: success
  type: list
  elements: str
zones:
  description: The zones probed.
  returned: success
  type: dict
requests:
  description: Number of policy-match requests sent.
  returned: success
  type: int
ansible_facts:
  description: C(hes_verify_config) and C(hes_verify_answers).
  returned: success
  type: dict
"""
