#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: verify_hes_asa
author: emailsec.hes maintainers (@emailsec)
version_added: "1.1.0"
short_description: Ask a Cisco ASA's packet-tracer about the probes that verify its SMTP allow-list, in one task
description:
  - The ASA part of the role C(emailsec.hes.verify) in one task, run by an action plugin on the
    controller (no module process per host) - one C(show running-config), the probes planned as
    M(emailsec.hes.verify_hes_probes) plans them for O(emailsec.hes.verify_hes_probes#module:vendor=asa) (the engine's witnesses and
    the boundary of every range to each mail server where mail enters, one flow per port of
    O(other_ports)), and one C(packet-tracer) per probe on the same session.
  - Returns what M(emailsec.hes.verify_hes_probes) returns, and sets the facts
    C(hes_verify_config) (the configuration read) and C(hes_verify_answers) (one
    C(packet-tracer) output per probe, in order) for M(emailsec.hes.verify_hes_report).
  - Talks over the task's connection - C(ansible.netcommon.network_cli) (C(ansible_network_os)
    C(cisco.asa.asa)) or the collection's connection C(emailsec.hes.asa_cli).
extends_documentation_fragment:
  - emailsec.hes.verify_probes
options:
  interfaces:
    description: Interfaces (nameif) where mail enters; every probe is traced on each.
    type: list
    elements: str
    default: [outside]
  packet_tracer_xml:
    description: Ask C(packet-tracer) for its xml form instead of text.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Read-only on the device (C(packet-tracer) changes no configuration); runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to show.
  platform:
    platforms: cisco.asa.asa
    support: full
    description: ASA 9.x over network_cli or emailsec.hes.asa_cli.
seealso:
  - module: emailsec.hes.verify_hes_probes
  - module: emailsec.hes.verify_hes_report
  - plugin: emailsec.hes.asa_cli
    plugin_type: connection
"""

EXAMPLES = r"""
- name: Ask the ASA about every probe (the role emailsec.hes.verify does this)
  emailsec.hes.verify_hes_asa:
    ranges: "{{ query('emailsec.hes.ranges', site='us') }}"
    interfaces: [outside]
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
mail_servers_discovered:
  description: Whether the mail servers were discovered in the configuration.
  returned: success
  type: bool
commands:
  description: The C(packet-tracer) commands sent, one per probe.
  returned: success
  type: list
  elements: str
ansible_facts:
  description: C(hes_verify_config) and C(hes_verify_answers).
  returned: success
  type: dict
"""
