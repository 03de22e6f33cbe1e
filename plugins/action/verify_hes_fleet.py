# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for emailsec.hes.verify_hes_fleet (documentation in plugins/modules/)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase

from ansible_collections.emailsec.hes.plugins.action.verify_hes_report import now, write_fleet

ARGUMENT_SPEC = dict(report_dir=dict(type="path", required=True))


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        del validation
        report_dir = args["report_dir"]
        if not os.path.isdir(report_dir):
            result.update(changed=False, path=None, hosts=0, failing=[], table={})
            result.setdefault("warnings", []).append(
                "emailsec.hes.verify_hes_fleet: %s does not exist: no host wrote a report there" % report_dir)
            return result
        try:
            path, reports = write_fleet(report_dir, now())
        except OSError as exc:
            result.update(failed=True, msg="emailsec.hes.verify_hes_fleet: %s" % to_native(exc))
            return result
        failing = sorted(r["host"] for r in reports if r["status"] != "pass")
        result.update(changed=False, path=path, hosts=len(reports), failing=failing,
                      table=dict((r["host"], r["status"]) for r in reports))
        return result
