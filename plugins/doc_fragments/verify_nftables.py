# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """Where mail enters an nftables host, for the modules that plan or judge its probes
    (verify_hes_probes, verify_hes_report; hes_verify.NFTABLES_ARGUMENT_SPEC)."""

    DOCUMENTATION = r"""
options:
  hook:
    description: nftables hook where mail enters (V(input) for the mail host, V(forward) for a router).
    type: str
    default: input
    choices: [input, forward]
  inbound_interface:
    description:
      - nftables - the interface mail arrives on; rules that match an interface name are then
        decided, instead of counting as uncertain.
    type: str
  outbound_interface:
    description: nftables, V(forward) hook - the interface mail leaves by, likewise.
    type: str
  internal_sources:
    description:
      - nftables - internal relays that may reach the mail servers besides the ranges (the
        role's C(hes_nftables_internal_sources)); not reported as leaks.
    type: list
    elements: str
    default: []
"""
