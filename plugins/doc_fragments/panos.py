# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """Connection options shared by the PAN-OS modules (hes_panos.provider_argument_spec)."""

    DOCUMENTATION = r"""
requirements:
  - pan-os-python >= 1.8 (with pan-python)
options:
  provider:
    description:
      - How to reach the firewall, shaped like the C(provider) of C(paloaltonetworks.panos).
    type: dict
    required: true
    suboptions:
      ip_address:
        description: Address or name of the firewall's management interface.
        type: str
        required: true
      username:
        description:
          - Administrator to authenticate as when O(provider.password) is used, and the
            administrator whose changes are committed (set it to the API key's owner).
        type: str
        default: admin
      password:
        description:
          - Password of O(provider.username); one of this or O(provider.api_key) is required.
          - An empty string counts as not given.
        type: str
      api_key:
        description:
          - API key; used instead of O(provider.password) when given.
          - An empty string counts as not given.
        type: str
      port:
        description: HTTPS port of the XML API.
        type: int
        default: 443
  vsys:
    description: Virtual system holding the objects and rules.
    type: str
    default: vsys1
  timeout:
    description: Seconds to wait for each API answer (and for a commit job).
    type: int
    default: 60
"""
