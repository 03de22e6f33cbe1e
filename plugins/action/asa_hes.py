# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for emailsec.hes.asa_hes: the ASA role's whole conversation in one task
(documentation in plugins/modules/).

One task per host instead of a read task, a plan task, backup tasks, a push task and fact
tasks: every task costs the controller a forked worker, templating and result handling, which
was most of the role's CPU. The device conversation is the same: one ``show running-config``,
and only when the plan changes something, ``configure terminal``, the planned lines, ``end``
and ``write mem``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.connection import ConnectionError as RpcConnectionError
from ansible.plugins.action import ActionBase

from ansible_collections.emailsec.hes.plugins.module_utils.asa.parse import device_identity, parse_running_config
from ansible_collections.emailsec.hes.plugins.module_utils.asa.plan import AsaPlanError, plan_rollback
from ansible_collections.emailsec.hes.plugins.module_utils.hes_backup import BackupError
from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import RangeError, guard_ranges
from ansible_collections.emailsec.hes.plugins.plugin_utils.asa_actions import (
    PLAN_OPTIONS,
    device_cli,
    findings_report,
    hardening_plan,
    plan_diff,
    ranges_given,
    release,
)
from ansible_collections.emailsec.hes.plugins.plugin_utils.backups import read_backup, write_backup


ARGUMENT_SPEC = dict(
    PLAN_OPTIONS,
    state=dict(type="str", choices=["hardened", "restored"], default="hardened"),
    save=dict(type="bool", default=True),
    backup_dir=dict(type="path", required=True),
    backup_file=dict(type="path"),
)
DEVICE_ERRORS = (AnsibleConnectionFailure, RpcConnectionError)
NAME = "emailsec.hes.asa_hes"


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        del validation
        host = task_vars["inventory_hostname"]
        cli = device_cli(self._connection, NAME)
        try:
            if args["state"] == "hardened":
                # Before the device is contacted: the list is checked whoever built it.
                args["ranges"] = guard_ranges(ranges_given(args), "ranges", max_prefix=args["max_prefix"],
                                              allow_reserved=args["allow_reserved"], aggregate=False)
            try:
                text = cli.get(command="show running-config")
            except DEVICE_ERRORS as exc:
                raise AnsibleError("%s: reading the configuration of %s failed: %s" % (NAME, host, to_native(exc)))
            if args["state"] == "restored":
                return self._restore(result, args, cli, host, text)
            return self._harden(result, args, cli, host, text)
        except (AsaPlanError, RangeError, BackupError, ValueError, OSError) as exc:
            result.update(failed=True, msg="%s: nothing sent to %s; %s" % (NAME, host, to_native(exc)),
                          commands=[])
            return result
        finally:
            release(cli)

    # ------------------------------------------------------------------ harden
    def _harden(self, result, args, cli, host, text):
        plan = hardening_plan(parse_running_config(text), args)
        commands = plan["commands"]
        report = findings_report(plan, args["group_name"])
        outcome = {"vendor": "asa", "changed": bool(commands), "check_mode": bool(self._task.check_mode),
                   "commands": commands, "findings": plan["findings"],
                   "differential": plan["gate"]["differential"], "backup": None, "ranges": args["ranges"],
                   "changes": plan["changes"], "saved": False}
        result.update(changed=bool(commands), commands=commands, report=report, findings=plan["findings"],
                      changes=plan["changes"], gate=plan["gate"], backup=None, saved=False)
        if self._task.diff and commands:
            result["diff"] = plan_diff(plan, args["group_name"])
        if plan["errors"]:
            result.update(failed=True, errors=plan["errors"],
                          msg="%s: nothing sent to %s; %s" % (NAME, host, " | ".join(plan["errors"])))
            return result
        if commands and not self._task.check_mode:
            outcome["backup"] = result["backup"] = write_backup(
                args["backup_dir"], host, "asa", device_identity(text),
                {"commands": commands, "differential": plan["gate"]["differential"]}, plan["backup"])
            failure = self._push(cli, commands, args["save"])
            if failure:
                result.update(failed=True, msg=(
                    "%s: the push to %s failed: %s. The commands are ordered make-before-break, so SMTP "
                    "from the ranges stays permitted; the device may hold part of the change (nothing was "
                    "saved). Re-run the role to converge, or restore %s with the playbook emailsec.hes.rollback_asa."
                    % (NAME, host, failure, outcome["backup"])))
                return result
            outcome["saved"] = result["saved"] = args["save"]
        result["ansible_facts"] = {"hes_result": outcome}
        return result

    @staticmethod
    def _push(cli, commands, save):
        """One configuration session, then one save; the device's error, or None. A refused line
        ends the session there (nothing saved)."""
        try:
            cli.edit_config(candidate=commands)
            if save:
                cli.get(command="write mem")
        except DEVICE_ERRORS as exc:
            return to_native(exc)
        return None

    # ------------------------------------------------------------------ rollback
    def _restore(self, result, args, cli, host, text):
        path, data = read_backup(args["backup_dir"], host, "asa", device_identity(text), args["backup_file"])
        plan = plan_rollback(parse_running_config(text), data["restore"])
        commands = plan["commands"]
        outcome = {"vendor": "asa", "changed": bool(commands), "check_mode": bool(self._task.check_mode),
                   "commands": commands, "findings": {"restored_from": path, "warnings": plan["warnings"]},
                   "differential": "", "backup": path, "ranges": [], "saved": False}
        result.update(changed=bool(commands), commands=commands, backup=path, warnings=list(plan["warnings"]),
                      saved=False)
        if self._task.diff and commands:
            result["diff"] = plan_diff(plan, data["restore"]["group"]["name"])
        if commands and not self._task.check_mode:
            failure = self._push(cli, commands, args["save"])
            if failure:
                result.update(failed=True, msg="%s: restoring %s on %s failed: %s. Re-run the rollback to converge."
                              % (NAME, path, host, failure))
                return result
            outcome["saved"] = result["saved"] = args["save"]
        result["ansible_facts"] = {"hes_result": outcome}
        return result
