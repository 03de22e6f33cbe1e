# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over HES ranges; the logic is in module_utils, shared with the lookup and the modules."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.emailsec.hes.plugins.module_utils.hes_probes import build_probes
from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import (
    RangeError,
    asa_network_object,
)


def asa_network_objects(ranges):
    """CIDR list -> ASA ``network-object`` arguments."""
    if isinstance(ranges, str):
        ranges = [ranges]
    try:
        return [asa_network_object(r) for r in ranges]
    except RangeError as exc:
        raise AnsibleFilterError("emailsec.hes.asa_network_objects: %s" % to_native(exc))


def hes_probes(ranges, complement_samples=8, seed="emailsec.hes"):
    """CIDR list -> probe sources with the expected TCP/25 verdict."""
    try:
        return build_probes(ranges, complement_samples=int(complement_samples), seed=seed)
    except RangeError as exc:
        raise AnsibleFilterError("emailsec.hes.hes_probes: %s" % to_native(exc))


class FilterModule(object):
    def filters(self):
        return {
            "asa_network_objects": asa_network_objects,
            "hes_probes": hes_probes,
        }
