# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The planning options shared by emailsec.hes.asa_hes and emailsec.hes.asa_hes_plan
    (plugin_utils/asa_actions.py PLAN_OPTIONS)."""

    DOCUMENTATION = r"""
options:
  ranges:
    description:
      - The allowed SMTP sources as CIDRs, usually C(query('emailsec.hes.ranges', ...)). They
        are checked again here with the lookup's guards. Required when hardening.
    type: list
    elements: str
  allow_reserved:
    description: Accept private and reserved ranges (the lab; a relay in private space).
    type: bool
    default: false
  max_prefix:
    description: The broadest IPv4 prefix length accepted in O(ranges) (the lookup's guard).
    type: int
    default: 16
  group_name:
    description: Name of the network object group holding the ranges.
    type: str
    default: TM_HES_IP_RANGE
  interfaces:
    description:
      - Interfaces (nameif) where mail enters; their inbound ACL is hardened. Empty with
        O(use_global_acl) means every interface.
    type: list
    elements: str
    default: [outside]
  use_global_acl:
    description: SMTP rules in the ACL bound with C(access-group NAME global) may be rewritten too.
    type: bool
    default: false
  acl_name:
    description: Only this ACL (it must be bound inbound to one of O(interfaces) or global).
    type: str
  mail_servers:
    description:
      - Mail server addresses or networks. Limits the rules touched to those whose destination
        reaches them, and is where O(add_ace_when_missing) points new ACEs. Empty means the
        destinations of the SMTP rules found.
    type: list
    elements: str
    default: []
  add_ace_when_missing:
    description:
      - When a mail server of O(mail_servers) has no SMTP rule, add
        C(permit tcp object-group GROUP host MAIL eq smtp) to the (single) ACL in scope, above the
        first entry that touches TCP/25 to it, instead of failing.
    type: bool
    default: false
  deny_after_permit:
    description:
      - When a rule broader than TCP/25 keeps SMTP open below our permit, insert
        C(deny tcp any <mail server> eq smtp) right after our permit instead of failing.
    type: bool
    default: false
"""
