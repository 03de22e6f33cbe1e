# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for emailsec.hes.asa_hes_plan: pure planning on the controller.

An action plugin rather than a module: the play's connection is network_cli, and planning needs
neither the device nor a module process per host (documentation in plugins/modules/).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase

from ansible_collections.emailsec.hes.plugins.module_utils.asa.parse import parse_running_config
from ansible_collections.emailsec.hes.plugins.module_utils.asa.plan import (
    AsaPlanError,
    plan_hardening,
    plan_rollback,
)
from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import RangeError, guard_ranges

ARGUMENT_SPEC = dict(
    running_config=dict(type="str", required=True),
    ranges=dict(type="list", elements="str"),
    allow_reserved=dict(type="bool", default=False),
    max_prefix=dict(type="int", default=16),
    group_name=dict(type="str", default="TM_HES_IP_RANGE"),
    interfaces=dict(type="list", elements="str", default=["outside"]),
    use_global_acl=dict(type="bool", default=False),
    acl_name=dict(type="str"),
    mail_servers=dict(type="list", elements="str", default=[]),
    add_ace_when_missing=dict(type="bool", default=False),
    deny_after_permit=dict(type="bool", default=False),
    restore=dict(type="dict"),
)


def _diff(plan, group_name):
    diffs = []
    preview = plan.get("preview", {})
    group = preview.get("group")
    if group and group["before"] != group["after"]:
        diffs.append({
            "before_header": "object-group network %s" % group_name,
            "after_header": "object-group network %s" % group_name,
            "before": "".join(" %s\n" % m for m in group["before"]),
            "after": "".join(" %s\n" % m for m in group["after"]),
        })
    for name, acl in sorted(preview.get("acls", {}).items()):
        diffs.append({
            "before_header": "access-list %s" % name,
            "after_header": "access-list %s" % name,
            "before": "".join("access-list %s %s\n" % (name, t) for t in acl["before"]),
            "after": "".join("access-list %s %s\n" % (name, t) for t in acl["after"]),
        })
    prepared = "commands:\n" + "".join("  %s\n" % c for c in plan["commands"])
    if plan.get("gate"):
        prepared += plan["gate"]["differential"] + "\n"
    diffs.append({"prepared": prepared})
    return diffs


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        state = parse_running_config(args["running_config"])
        try:
            if args["restore"] is not None:
                plan = plan_rollback(state, args["restore"])
                plan["errors"] = []
            else:
                if args["ranges"] is None:
                    raise AsaPlanError("ranges is required unless restore is given")
                # Defence in depth: the lookup's guards again, on whatever reached the module.
                ranges = guard_ranges(args["ranges"], "ranges", max_prefix=args["max_prefix"],
                                      allow_reserved=args["allow_reserved"], aggregate=False)
                plan = plan_hardening(
                    state, ranges, group_name=args["group_name"],
                    interfaces=args["interfaces"], use_global_acl=args["use_global_acl"],
                    acl_name=args["acl_name"], mail_servers=args["mail_servers"],
                    add_ace_when_missing=args["add_ace_when_missing"],
                    deny_after_permit=args["deny_after_permit"])
        except (AsaPlanError, RangeError) as exc:
            result.update(failed=True, msg="emailsec.hes.asa_hes_plan: %s" % to_native(exc),
                          commands=[], errors=[to_native(exc)])
            return result
        result.update(plan)
        result.pop("preview", None)
        result["changed"] = bool(plan["commands"])
        if self._task.diff and plan["commands"]:
            result["diff"] = _diff(plan, args["restore"]["group"]["name"] if args["restore"]
                                   else args["group_name"])
        if plan["errors"]:
            result["failed"] = True
            result["msg"] = "emailsec.hes.asa_hes_plan: nothing sent; " + " | ".join(plan["errors"])
        return result
