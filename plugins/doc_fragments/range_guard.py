# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The range guard's options, shared by every module that takes ranges
    (hes_ranges.RANGE_GUARD_ARGUMENT_SPEC, checked by hes_ranges.guard_ranges)."""

    DOCUMENTATION = r"""
options:
  allow_reserved:
    description:
      - Accept ranges in IANA special-purpose space (private, documentation such as RFC 5737,
        6to4, NAT64...), as the C(emailsec.hes.ranges) lookup's option of the same name does.
        Only for a lab or a relay in private space. Multicast, broadcast and unspecified
        addresses are refused even then.
    type: bool
    default: false
  max_prefix:
    description: Refuse any IPv4 range broader than this prefix length (V(8) to V(32)).
    type: int
    default: 16
  max_prefix_v6:
    description: Refuse any IPv6 range broader than this prefix length (V(16) to V(128)).
    type: int
    default: 32
notes:
  - The ranges are checked again here by the lookup's own guard, whoever built the list.
"""
