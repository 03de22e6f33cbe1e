# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for emailsec.hes.panos_hes_smtp (documentation in plugins/modules/): the same
run (``module_utils/panos/apply.py``) in the task's own process on the controller, instead of a
module process per host, so that the role is one task.

With ``backup_dir`` it writes the backup (the collection's one format) after the last read and
before the first write, over the same TLS connection as everything else, and sets ``hes_result``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase

from ansible_collections.emailsec.hes.plugins.module_utils.hes_backup import BackupError
from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import RangeError, guard_ranges
from ansible_collections.emailsec.hes.plugins.module_utils.panos import apply, client
from ansible_collections.emailsec.hes.plugins.module_utils.panos.parse import PanosError
from ansible_collections.emailsec.hes.plugins.plugin_utils.backups import write_backup

NAME = "emailsec.hes.panos_hes_smtp"


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        validation, args = self.validate_argument_spec(
            argument_spec=apply.argument_spec(), mutually_exclusive=apply.MUTUALLY_EXCLUSIVE,
            required_one_of=apply.REQUIRED_ONE_OF)
        del validation
        host = task_vars["inventory_hostname"]
        if not client.HAS_PANOS:
            return dict(result, failed=True, msg="%s needs the Python package pan-os-python on the controller" % NAME)
        try:
            if args["ranges"] is not None:
                # Before the firewall is contacted: the list is checked whoever built it.
                args["ranges"] = guard_ranges(args["ranges"], "ranges", allow_reserved=args["allow_reserved"],
                                              max_prefix=args["max_prefix"], max_prefix_v6=args["max_prefix_v6"])
            warnings = []
            run = apply.Run(args, self._task.check_mode, warnings.append)
        except (RangeError, ValueError) as exc:
            return dict(result, failed=True, msg="%s: %s" % (NAME, to_native(exc)))
        written = {}

        def back_up(planned):
            written["path"] = write_backup(
                args["backup_dir"], host, "panos",
                {"address": args["provider"]["ip_address"], "vsys": args["vsys"]},
                {"commands": planned["commands"], "differential": planned["gate"]["differential"]},
                planned["backup"])

        hardening = args["backup"] is None
        try:
            run.main(back_up if args["backup_dir"] and hardening else None)
        except (apply.Failure, PanosError, RangeError, BackupError, OSError) as exc:
            result.update(run.result)
            result.update(failed=True, msg=to_native(exc))
        else:
            result.update(run.result)
        if warnings:
            result["warnings"] = warnings
        if args["backup_dir"] and hardening:
            result["backup_file"] = written.get("path")
        if hardening and not result.get("failed"):
            findings = dict(run.result.get("findings") or {}, rules=run.result.get("rules", []),
                            commit=run.result.get("commit"))
            result["ansible_facts"] = {"hes_result": {
                "vendor": "panos", "changed": run.result["changed"], "check_mode": bool(self._task.check_mode),
                "commands": run.result["commands"], "findings": findings,
                "differential": (run.result.get("gate") or {}).get("differential", ""),
                "backup": written.get("path"), "ranges": args["ranges"]}}
        return result
