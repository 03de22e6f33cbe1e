# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for emailsec.hes.hes_backup: backups on the controller (see plugins/modules/)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase

from ansible_collections.emailsec.hes.plugins.module_utils.hes_backup import VENDORS, BackupError
from ansible_collections.emailsec.hes.plugins.plugin_utils.backups import backup_path, read_backup, write_backup
from ansible_collections.emailsec.hes.plugins.plugin_utils.files import check_path

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
        path = backup_path(args["directory"], args["host"], args["vendor"])[0]
        result.update(path=path, changed=not self._task.check_mode)
        if self._task.check_mode:
            result["msg"] = "would write %s" % path
            return result
        path = write_backup(args["directory"], args["host"], args["vendor"], args["device"], args["plan"],
                            args["restore"])
        result.update(path=path, msg="wrote %s" % path)
        return result

    def _read(self, result, args):
        path, data = read_backup(args["directory"], args["host"], args["vendor"], args["device"], args["file"])
        result.update(changed=False, path=path, restore=data["restore"], written=data.get("written"),
                      device=data.get("device"), plan=data.get("plan"))
        return result
