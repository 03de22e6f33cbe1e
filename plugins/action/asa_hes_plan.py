# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for emailsec.hes.asa_hes_plan: pure planning on the controller, from a
configuration text (documentation in plugins/modules/). The role itself uses emailsec.hes.asa_hes,
which reads, plans, backs up and pushes in one task; this one plans from any saved
``show running-config`` without a device."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase

from ansible_collections.emailsec.hes.plugins.module_utils.asa.parse import parse_running_config
from ansible_collections.emailsec.hes.plugins.module_utils.asa.plan import AsaPlanError, plan_rollback
from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import RangeError
from ansible_collections.emailsec.hes.plugins.plugin_utils.asa_actions import (
    PLAN_OPTIONS,
    hardening_plan,
    plan_diff,
)

ARGUMENT_SPEC = dict(PLAN_OPTIONS, running_config=dict(type="str", required=True), restore=dict(type="dict"))


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        del validation
        state = parse_running_config(args["running_config"])
        try:
            if args["restore"] is not None:
                plan = plan_rollback(state, args["restore"])
                plan["errors"] = []
            else:
                plan = hardening_plan(state, args)
        except (AsaPlanError, RangeError) as exc:
            result.update(failed=True, msg="emailsec.hes.asa_hes_plan: %s" % to_native(exc),
                          commands=[], errors=[to_native(exc)])
            return result
        result.update(plan)
        result.pop("preview", None)
        result["changed"] = bool(plan["commands"])
        if self._task.diff and plan["commands"]:
            result["diff"] = plan_diff(plan, args["restore"]["group"]["name"] if args["restore"]
                                       else args["group_name"])
        if plan["errors"]:
            result["failed"] = True
            result["msg"] = "emailsec.hes.asa_hes_plan: nothing sent; " + " | ".join(plan["errors"])
        return result
