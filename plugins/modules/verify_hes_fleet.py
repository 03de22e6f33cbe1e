#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: verify_hes_fleet
author: emailsec.hes maintainers (@emailsec)
version_added: "0.1.0"
short_description: Write the fleet summary (hosts x checks) of the verify reports in a directory
description:
  - Runs on the controller (an action plugin). Reads every C(*.verify.json) report in
    O(report_dir), whoever wrote it, and writes C(fleet-summary.md) there - one row per host,
    one column per check, then why each failing host failed.
  - Works the same when AWX slices the inventory - each slice's run aggregates what is in the
    directory at that moment.
options:
  report_dir:
    description: Directory holding the per-host reports of M(emailsec.hes.verify_hes_report).
    type: path
    required: true
notes:
  - Supports check mode; the summary is written in check mode too.
seealso:
  - module: emailsec.hes.verify_hes_report
"""

EXAMPLES = r"""
- name: Fleet summary
  emailsec.hes.verify_hes_fleet:
    report_dir: "{{ lookup('emailsec.hes.state_dir') }}/reports"
"""

RETURN = r"""
path:
  description: The summary file written; null (with a warning) when O(report_dir) does not exist.
  returned: success
  type: str
hosts:
  description: Number of host reports aggregated.
  returned: success
  type: int
failing:
  description: Hosts whose report failed.
  returned: success
  type: list
  elements: str
table:
  description: Host name to V(pass) or V(fail).
  returned: success
  type: dict
"""
