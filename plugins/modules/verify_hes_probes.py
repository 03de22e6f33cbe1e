#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: verify_hes_probes
author: emailsec.hes maintainers (@emailsec)
version_added: "0.1.0"
short_description: Plan the probes that verify an SMTP allow-list on a firewall
description:
  - Runs on the controller (an action plugin; it needs no connection to the device).
  - "The exact policy engine first answers over the whole header space who outside the
    ranges reaches a mail server on TCP/25 and who in the ranges does not, with witness flows.
    The probes for the device are those witnesses plus the boundary of every range (its first
    and last address, and the addresses just outside each edge) to each mail server where mail
    enters, plus one flow per port of O(other_ports); each probe carries the engine's verdict
    and the rule that decides it."
  - "PAN-OS asks C(test security-policy-match) the same probes (application smtp on TCP/25);
    nftables has no evaluator on the device in the field: the engine answers its probes."
  - Without O(mail_servers) the mail servers are discovered in O(config) (an audit of a firewall
    this collection never touched) - ASA the destinations of the inbound rules whose match is
    TCP/25 and nothing else, from any or from O(group_name) (the planner's own discovery);
    PAN-OS those of the enabled allow rules admitting SMTP from the O(zones) C(from) zone;
    nftables the C(daddr) of the rules of our table.
  - Returns the probes and, for ASA, one C(packet-tracer) command per probe (to send in one
    C(cisco.asa.asa_command) task), for PAN-OS the probe dicts of
    M(emailsec.hes.panos_hes_policy_match).
extends_documentation_fragment:
  - emailsec.hes.verify_nftables
  - emailsec.hes.verify_probes
options:
  vendor:
    description: The device family.
    type: str
    required: true
    choices: [asa, panos, nftables]
  config:
    description:
      - The device's configuration, used for the discovery of the mail servers and the PAN-OS
        destination zone. ASA - the output of C(show running-config); PAN-OS - RV(emailsec.hes.verify_hes_panos_config#module:state);
        nftables - the output of C(nft -j list ruleset).
    type: raw
    required: true
  interfaces:
    description: ASA interfaces (nameif) where mail enters; every probe is traced on each.
    type: list
    elements: str
    default: [outside]
  zones:
    description:
      - PAN-OS zones, C(from) (default V(untrust)) and C(to) (default the destination zone of
        the SMTP rule).
    type: dict
    default: {}
  packet_tracer_xml:
    description: Ask ASA C(packet-tracer) for its xml form instead of text.
    type: bool
    default: false
notes:
  - Never changes anything; supports check mode.
seealso:
  - module: emailsec.hes.verify_hes_report
"""

EXAMPLES = r"""
- name: Plan the probes of an ASA
  emailsec.hes.verify_hes_probes:
    vendor: asa
    config: "{{ asa_show.stdout }}"
    ranges: "{{ query('emailsec.hes.ranges', site='us') }}"
    interfaces: [outside]
  register: plan

- name: Ask packet-tracer about all of them in one session
  cisco.asa.asa_command:
    commands: "{{ plan.commands }}"
  register: traces
"""

RETURN = r"""
probes:
  description:
    - One dict per flow - C(id), C(ingress) (ASA interface, PAN-OS zones), C(source),
      C(destination), C(protocol), C(port), C(expect) (V(allow) or V(deny)), C(kind)
      (inside-first, inside-middle, inside-last, edge-below, edge-above, complement) and C(range).
  returned: success
  type: list
  elements: dict
mail_servers:
  description: The mail servers probed.
  returned: success
  type: list
  elements: str
mail_servers_discovered:
  description: True when the mail servers were found in the configuration rather than given.
  returned: success
  type: bool
zones:
  description: PAN-OS zones used (C(from), C(to)).
  returned: success
  type: dict
commands:
  description: ASA - the C(packet-tracer) commands, one per probe, in probe order.
  returned: when O(vendor=asa)
  type: list
  elements: str
  sample: ["packet-tracer input outside tcp 18.208.22.64 40000 203.0.113.25 25"]
policy_match_probes:
  description: PAN-OS - the probes shaped for M(emailsec.hes.panos_hes_policy_match).
  returned: when O(vendor=panos)
  type: list
  elements: dict
"""
