#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: verify_hes_report
author: emailsec.hes maintainers (@emailsec)
version_added: "0.1.0"
short_description: Judge a firewall's answers to the verification probes and write the reports
description:
  - Runs on the controller (an action plugin).
  - "ASA: the checks are the engine's exact answers (C(smtp_rule): every address of the ranges
    reaches every mail server on TCP/25 where mail enters; C(no_broader_permit): nothing outside
    the ranges does; each failure names the rule and a witness flow), and a probe fails when the
    device's verdict differs from the engine's or from the intent; the report shows both."
  - Compares each probe's expected verdict with the device's own (ASA C(packet-tracer) outputs,
    PAN-OS C(test security-policy-match) results, or for nftables the ruleset evaluator walking
    C(nft -j list ruleset)), and runs the configuration checks - the group holds exactly the
    ranges, an active rule from the group admits TCP/25 where mail enters, and no other permit
    admits TCP/25 to a mail server from a source outside the ranges (naming the rule).
  - With O(report_dir), writes C(HOST.verify.json), C(HOST.verify.md) and
    C(HOST.verify.junit.xml) there, and refreshes C(fleet-summary.md) from every report in the
    directory. The files are written in check mode too - they are the verification's output,
    not a change to the device.
  - Never fails because verification failed; the result says so (RV(passed)) and the role decides.
  - pfSense and Postfix are judged on the host by M(emailsec.hes.pfsense_hes_verify) and
    M(emailsec.hes.postfix_hes_verify); their report is given in O(report) and written here like
    the others (one file naming scheme, mode 0600 in a 0700 directory).
extends_documentation_fragment:
  - emailsec.hes.verify_nftables
options:
  vendor:
    description: The device family.
    type: str
    required: true
    choices: [asa, panos, nftables, pfsense, postfix]
  host:
    description: Name of the host in the reports (and of the report files).
    type: str
    required: true
  config:
    description: The device's configuration, as for M(emailsec.hes.verify_hes_probes) O(emailsec.hes.verify_hes_probes#module:config).
    type: raw
  answers:
    description:
      - The device's answers in probe order - ASA the C(stdout) list of the C(packet-tracer)
        task, PAN-OS the RV(emailsec.hes.panos_hes_policy_match#module:results); unused for nftables.
    type: list
    elements: raw
    default: []
  probes:
    description: RV(emailsec.hes.verify_hes_probes#module:probes).
    type: list
    elements: dict
    default: []
  ranges:
    description: The allowed ranges (CIDRs).
    type: list
    elements: str
    required: true
  group_name:
    description: Name of the object/address group holding the ranges.
    type: str
    default: TM_HES_IP_RANGE
  mail_servers:
    description: The mail servers probed.
    type: list
    elements: str
    default: []
  mail_servers_discovered:
    description:
      - The mail servers were discovered in the configuration (an audit), not given; the judge
        then asks the engine about the discovered destinations, as the probe plan did.
    type: bool
    default: false
  other_ports:
    description: As O(emailsec.hes.verify_hes_probes#module:other_ports).
    type: dict
  interfaces:
    description: ASA interfaces where mail enters.
    type: list
    elements: str
    default: [outside]
  zones:
    description: PAN-OS zones (C(from), C(to)).
    type: dict
    default: {}
  planned:
    description:
      - In check mode after a hardening role, that role's C(hes_result) - the planned configuration
        is judged from the plan gate's answers on it instead of the device (which still holds the
        old configuration), and the report says so. O(config), O(answers) and O(probes) are then
        unused.
    type: dict
  report:
    description:
      - A report judged on the host (RV(emailsec.hes.pfsense_hes_verify#module:report),
        RV(emailsec.hes.postfix_hes_verify#module:report)), written as it is. Its C(host) and
        C(vendor) must be O(host) and O(vendor). Mutually exclusive with O(planned).
    type: dict
  markdown:
    description: The Markdown form of O(report) its module rendered; without it the common rendering is used.
    type: str
  report_dir:
    description: Controller directory for the reports; not given means nothing is written.
    type: path
notes:
  - Supports check mode.
  - O(config) is required to judge answers (O(vendor) asa, panos, nftables without O(planned)).
seealso:
  - module: emailsec.hes.verify_hes_probes
  - module: emailsec.hes.verify_hes_fleet
"""

EXAMPLES = r"""
- name: Judge and write the reports
  emailsec.hes.verify_hes_report:
    vendor: asa
    host: "{{ inventory_hostname }}"
    config: "{{ asa_show.stdout }}"
    answers: "{{ traces.stdout }}"
    probes: "{{ plan.probes }}"
    ranges: "{{ ranges }}"
    mail_servers: "{{ plan.mail_servers }}"
    report_dir: "{{ hes_state_dir }}/reports"
  register: verdict

- name: Write the report pfSense judged on the firewall
  emailsec.hes.verify_hes_report:
    vendor: pfsense
    host: "{{ inventory_hostname }}"
    ranges: "{{ ranges }}"
    report: "{{ on_box.report }}"
    markdown: "{{ on_box.markdown }}"
    report_dir: "{{ hes_state_dir }}/reports"
"""

RETURN = r"""
status:
  description: V(pass) or V(fail).
  returned: success
  type: str
passed:
  description: True when every check passed.
  returned: success
  type: bool
summary:
  description: Status, vendor, each check's status, probe counts and the failed checks (what C(set_stats) carries).
  returned: success
  type: dict
checks:
  description:
    - One dict per check - C(id) (group_members, smtp_rule, no_broader_permit, probes_smtp,
      probes_other_ports), C(title), C(status) (pass, fail, n/a), C(detail) (naming the rules at fault) and C(rules).
  returned: success
  type: list
  elements: dict
failures:
  description: The failing probes, each with C(expect), C(actual) and C(rule) (the rule that decided).
  returned: success
  type: list
  elements: dict
message:
  description: One paragraph saying why the host failed (or that it passed).
  returned: success
  type: str
files:
  description: Paths written (C(json), C(md), C(junit.xml), C(fleet)); empty without O(report_dir).
  returned: success
  type: dict
"""
