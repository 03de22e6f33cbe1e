# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The probe options shared by the modules that plan verification probes
    (verify_hes_probes, verify_hes_asa, verify_hes_panos; hes_verify.plan)."""

    DOCUMENTATION = r"""
options:
  ranges:
    description: The allowed ranges (CIDRs), usually from the C(emailsec.hes.ranges) lookup.
    type: list
    elements: str
    required: true
  group_name:
    description: Name of the group holding the ranges (ASA object-group, PAN-OS address group).
    type: str
    default: TM_HES_IP_RANGE
  mail_servers:
    description: Mail server addresses; empty means discover them in the device's configuration.
    type: list
    elements: str
    default: []
  other_ports:
    description:
      - Other TCP ports probed from inside the ranges, each with the verdict expected
        (V(allow) or V(deny)). Unset means 587, 465, 2525, 22, 80 and 443, all V(deny).
    type: dict
"""
