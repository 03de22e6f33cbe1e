# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for emailsec.hes.verify_hes_report: judges on the controller and writes the
reports there (see plugins/modules/ for the documentation)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os

from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase

from ansible_collections.emailsec.hes.plugins.module_utils import hes_verify as hv
from ansible_collections.emailsec.hes.plugins.module_utils.hes_backup import safe_host
from ansible_collections.emailsec.hes.plugins.plugin_utils.files import check_path, private_directory, write_private
from ansible_collections.emailsec.hes.plugins.module_utils.nftables.parse import NftablesError

ARGUMENT_SPEC = dict(hv.PROBE_ARGUMENT_SPEC)
ARGUMENT_SPEC.update(hv.NFTABLES_ARGUMENT_SPEC)
ARGUMENT_SPEC.update(
    vendor=dict(type="str", required=True, choices=list(hv.VENDORS + hv.ON_HOST_VENDORS)),
    host=dict(type="str", required=True),
    config=dict(type="raw"),
    answers=dict(type="list", elements="raw", default=[]),
    probes=dict(type="list", elements="dict", default=[]),
    mail_servers_discovered=dict(type="bool", default=False),
    interfaces=dict(type="list", elements="str", default=["outside"]),
    zones=dict(type="dict", default={}),
    report_dir=dict(type="path"),
    planned=dict(type="dict"),
    report=dict(type="dict"),
    markdown=dict(type="str"),
)


def load_reports(report_dir):
    """Every per-host JSON report in the directory (the fleet summary's input)."""
    reports = []
    for name in sorted(os.listdir(report_dir)):
        if not name.endswith(".verify.json"):
            continue
        with open(os.path.join(report_dir, name)) as stream:
            try:
                data = json.load(stream)
            except ValueError:
                continue
        if isinstance(data, dict) and data.get("format") == 1 and "checks" in data:
            reports.append(data)
    return reports


def write_fleet(report_dir, generated):
    reports = load_reports(report_dir)
    path = os.path.join(report_dir, "fleet-summary.md")
    write_private(path, hv.render_fleet_markdown(reports, generated))
    return path, reports


def checked_report(report, vendor, host):
    """A report judged on the host (pfSense, Postfix), written as it arrived: only its shape and
    its names are checked, so a report of another host or vendor cannot take this one's place."""
    missing = [key for key in ("format", "host", "vendor", "status", "checks", "probes", "failures", "summary")
               if key not in report]
    if missing or report["format"] != 1 or report["status"] not in ("pass", "fail"):
        what = ", ".join(missing) or "a valid format or status"
        raise hv.VerifyError("the report is not a verify report (format 1): missing %s" % what)
    if report["host"] != host or report["vendor"] != vendor:
        raise hv.VerifyError("the report is of %s (%s), not of %s (%s)"
                             % (report["host"], report["vendor"], host, vendor))
    return report


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        del validation
        generated = now()
        try:
            if args["report"] and args["planned"]:
                raise hv.VerifyError("report and planned are mutually exclusive")
            if args["report"]:
                report = checked_report(args["report"], args["vendor"], args["host"])
            elif args["planned"]:
                report = hv.evaluate_planned(args["vendor"], args["planned"], args["ranges"], args["group_name"],
                                             args["host"], generated)
            elif args["vendor"] in hv.ON_HOST_VENDORS:
                raise hv.VerifyError("%s is judged on the host: give the report of its verify module"
                                     % args["vendor"])
            elif args["config"] is None:
                raise hv.VerifyError("config is required to judge the device's answers")
            else:
                report = hv.evaluate(args["vendor"], args["config"], args["answers"], args["probes"], args["ranges"],
                                     args["group_name"], args["mail_servers"], args["host"], generated,
                                     interfaces=args["interfaces"], zones=args["zones"], hook=args["hook"],
                                     other_ports=args["other_ports"], discovered=args["mail_servers_discovered"],
                                     iifname=args["inbound_interface"], oifname=args["outbound_interface"],
                                     internal_sources=args["internal_sources"])
        except (hv.VerifyError, NftablesError) as exc:
            result.update(failed=True, msg="emailsec.hes.verify_hes_report: %s" % to_native(exc))
            return result
        files = {}
        if args["report_dir"]:
            try:
                private_directory(check_path(args["report_dir"], "report_dir"))
                base = os.path.join(args["report_dir"], safe_host(args["host"]))
                for suffix, text in ((".verify.json", json.dumps(report, indent=2, sort_keys=True) + "\n"),
                                     (".verify.md", args["markdown"] or hv.render_markdown(report)),
                                     (".verify.junit.xml", hv.render_junit(report))):
                    write_private(base + suffix, text)
                    files[suffix.split(".", 2)[2]] = base + suffix
                files["fleet"] = write_fleet(args["report_dir"], generated)[0]
            except (OSError, ValueError) as exc:
                result.update(failed=True, msg="emailsec.hes.verify_hes_report: cannot write the reports to %s: %s"
                              % (args["report_dir"], to_native(exc)))
                return result
        result.update(changed=False, status=report["status"], passed=report["status"] == "pass",
                      summary=hv.summary(report), checks=report["checks"], failures=report["failures"],
                      files=files, message=hv.failure_message(report) if report["status"] != "pass" else
                      "emailsec.hes.verify: %s passed %d checks (%d n/a) and %d probes%s" % (
                          args["host"], len([c for c in report["checks"] if c["status"] == "pass"]),
                          len([c for c in report["checks"] if c["status"] == "n/a"]), report["summary"]["probes"],
                          " (check mode: the planned configuration was judged, the device was not asked)"
                          if args["planned"] else ""))
        return result
