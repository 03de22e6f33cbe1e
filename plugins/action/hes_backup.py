# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for emailsec.hes.hes_backup: backups on the controller (see plugins/modules/)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os

from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase

from ansible_collections.emailsec.hes.plugins.module_utils.hes_backup import (
    VENDORS,
    BackupError,
    backup_name,
    check_envelope,
    envelope,
    newest,
    safe_host,
)
from ansible_collections.emailsec.hes.plugins.plugin_utils.files import check_path, private_directory, write_private

ARGUMENT_SPEC = dict(
    state=dict(type="str", choices=["written", "read"], default="written"),
    directory=dict(type="path", required=True),
    host=dict(type="str", required=True),
    vendor=dict(type="str", required=True, choices=list(VENDORS)),
    device=dict(type="dict", default={}),
    plan=dict(type="dict", default={}),
    restore=dict(type="raw"),
    file=dict(type="path"),
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
            check_path(args["directory"], "directory")
            if args["state"] == "written":
                return self._write(result, args)
            return self._read(result, args)
        except (BackupError, ValueError, OSError) as exc:
            result.update(failed=True, msg="emailsec.hes.hes_backup: %s" % to_native(exc))
            return result

    def _write(self, result, args):
        if args["restore"] is None:
            raise BackupError("restore: nothing to back up")
        now = datetime.datetime.now(datetime.timezone.utc)
        name = backup_name(args["host"], args["vendor"], now.strftime("%Y%m%dT%H%M%S%fZ"))
        path = os.path.join(args["directory"], name)
        result.update(path=path, changed=not self._task.check_mode)
        if self._task.check_mode:
            result["msg"] = "would write %s" % path
            return result
        private_directory(args["directory"])
        data = envelope(args["host"], args["vendor"], args["device"], args["plan"], args["restore"],
                        now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        write_private(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
        result["msg"] = "wrote %s" % path
        return result

    def _read(self, result, args):
        if args["file"]:
            path = check_path(args["file"], "file")
        else:
            names = os.listdir(args["directory"]) if os.path.isdir(args["directory"]) else []
            name = newest(names, args["host"], args["vendor"])
            if name is None:
                raise BackupError("no %s backup of host %s in %s (expected %s.%s.<UTC time>.json)"
                                  % (args["vendor"], args["host"], args["directory"], safe_host(args["host"]),
                                     args["vendor"]))
            path = os.path.join(args["directory"], name)
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except ValueError as exc:
            raise BackupError("%s is not JSON: %s" % (path, exc))
        restore = check_envelope(data, args["host"], args["vendor"], args["device"], origin=path)
        result.update(changed=False, path=path, restore=restore, written=data.get("written"),
                      device=data.get("device"), plan=data.get("plan"))
        return result
