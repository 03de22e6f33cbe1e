# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for emailsec.hes.verify_hes_asa: the verify role's ASA conversation in one task
(documentation in plugins/modules/): one ``show running-config``, the engine's probes
(``hes_verify.plan``: its witnesses and every range's edges), and one ``packet-tracer`` per
probe, all on the task's one session."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleConnectionFailure
from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.connection import ConnectionError as RpcConnectionError
from ansible.plugins.action import ActionBase

from ansible_collections.emailsec.hes.plugins.module_utils import hes_verify as hv
from ansible_collections.emailsec.hes.plugins.plugin_utils.asa_actions import device_cli, release


ARGUMENT_SPEC = dict(
    hv.PROBE_ARGUMENT_SPEC,
    interfaces=dict(type="list", elements="str", default=["outside"]),
    packet_tracer_xml=dict(type="bool", default=False),
)
NAME = "emailsec.hes.verify_hes_asa"


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        del validation
        host = task_vars["inventory_hostname"]
        step = "reading the configuration"
        cli = device_cli(self._connection, NAME)
        try:
            config = cli.get(command="show running-config")
            step = "planning the probes"
            planned = hv.plan("asa", config, args["ranges"], args["group_name"], mail_servers=args["mail_servers"],
                              other_ports=args["other_ports"], interfaces=args["interfaces"],
                              packet_tracer_xml=args["packet_tracer_xml"])
            step = "tracing %d probes" % len(planned["commands"])
            answers = cli.run_commands(commands=planned["commands"], check_rc=True)
        except (hv.VerifyError, AnsibleConnectionFailure, RpcConnectionError) as exc:
            result.update(failed=True, msg="%s: %s on %s failed: %s" % (NAME, step, host, to_native(exc)))
            return result
        finally:
            release(cli)
        result.update(planned, changed=False,
                      ansible_facts={"hes_verify_config": config, "hes_verify_answers": answers})
        return result
