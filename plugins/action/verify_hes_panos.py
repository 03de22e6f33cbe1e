# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for emailsec.hes.verify_hes_panos: the verify role's PAN-OS conversation in one
task (documentation in plugins/modules/): the running configuration read once, the engine's
probes (``hes_verify.plan``), and one ``test security-policy-match`` per probe, over one kept TLS
connection and at most one keygen, in the task's own process."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase

from ansible_collections.emailsec.hes.plugins.module_utils import hes_verify as hv
from ansible_collections.emailsec.hes.plugins.module_utils.panos import client
from ansible_collections.emailsec.hes.plugins.module_utils.panos.model import probe_arguments, probe_result
from ansible_collections.emailsec.hes.plugins.module_utils.panos.parse import PanosError, verification_state

NAME = "emailsec.hes.verify_hes_panos"


def argument_spec():
    spec = client.provider_argument_spec()
    spec.update(hv.PROBE_ARGUMENT_SPEC)
    spec.update(zones=dict(type="dict", default={}))
    return spec


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        validation, args = self.validate_argument_spec(argument_spec=argument_spec())
        del validation
        if not client.HAS_PANOS:
            return dict(result, failed=True, msg="%s needs the Python package pan-os-python on the controller" % NAME)
        provider = args["provider"]
        warnings = []
        step = "reading the running configuration"
        answers = []
        try:
            firewall = client.connect_firewall(provider, args["vsys"], args["timeout"], warn=warnings.append)
        except ValueError as exc:
            return dict(result, failed=True, msg="%s: %s" % (NAME, to_native(exc)))
        try:
            state = verification_state(client.read_config(firewall, provider, "show"), args["vsys"])
            step = "planning the probes"
            planned = hv.plan("panos", state, args["ranges"], args["group_name"], mail_servers=args["mail_servers"],
                              other_ports=args["other_ports"], zones=args["zones"])
            probes = planned["policy_match_probes"]
            arguments = [probe_arguments(probe, index) for index, probe in enumerate(probes)]
            step = "asking test security-policy-match about %d probes" % len(probes)
            for probe, kwargs in zip(probes, arguments):
                answers.append(probe_result(probe, firewall.test_security_policy_match(**kwargs)))
        except client.PANOS_ERRORS as exc:
            return dict(result, failed=True, msg="%s: %s failed (after %d answers): %s"
                        % (NAME, step, len(answers), client.describe_error(exc, provider)))
        except (hv.VerifyError, PanosError, ValueError) as exc:
            return dict(result, failed=True, msg="%s: %s failed: %s" % (NAME, step, to_native(exc)))
        finally:
            client.close_firewall(firewall)
        result.update(planned, changed=False, requests=len(answers),
                      ansible_facts={"hes_verify_config": state, "hes_verify_answers": answers})
        if warnings:
            result["warnings"] = warnings
        return result
