# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for emailsec.hes.verify_hes_probes: pure, on the controller (see plugins/modules/)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase

from ansible_collections.emailsec.hes.plugins.module_utils import hes_verify as hv
from ansible_collections.emailsec.hes.plugins.module_utils.nftables.parse import NftablesError

ARGUMENT_SPEC = dict(hv.PROBE_ARGUMENT_SPEC)
ARGUMENT_SPEC.update(hv.NFTABLES_ARGUMENT_SPEC)
ARGUMENT_SPEC.update(
    vendor=dict(type="str", required=True, choices=list(hv.VENDORS)),
    config=dict(type="raw", required=True),
    interfaces=dict(type="list", elements="str", default=["outside"]),
    zones=dict(type="dict", default={}),
    packet_tracer_xml=dict(type="bool", default=False),
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        del validation
        try:
            planned = hv.plan(args["vendor"], args["config"], args["ranges"], args["group_name"],
                              mail_servers=args["mail_servers"], other_ports=args["other_ports"],
                              interfaces=args["interfaces"], zones=args["zones"],
                              packet_tracer_xml=args["packet_tracer_xml"], hook=args["hook"],
                              iifname=args["inbound_interface"], oifname=args["outbound_interface"],
                              internal_sources=args["internal_sources"])
        except (hv.VerifyError, NftablesError) as exc:
            result.update(failed=True, msg="emailsec.hes.verify_hes_probes: %s" % to_native(exc))
            return result
        result.update(planned)
        result["changed"] = False
        return result
