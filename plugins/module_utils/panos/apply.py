# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A run of emailsec.hes.panos_hes_smtp against a firewall: read, plan (``panos/plan.py``),
refuse or write, commit, and undo on failure. The module and its action plugin both call it; all
requests of a run go over one kept TLS connection (``client.Transport``), a keygen is sent only
when no API key is given, and the edits go in one ``multi-config`` request.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import xml.etree.ElementTree as ET

from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import RANGE_GUARD_ARGUMENT_SPEC
from ansible_collections.emailsec.hes.plugins.module_utils.panos import client
from ansible_collections.emailsec.hes.plugins.module_utils.panos import plan as panos_plan
from ansible_collections.emailsec.hes.plugins.module_utils.panos.parse import parse_config

ADMINS_CMD = "<show><config><list><admins></admins></list></config></show>"
LOCKS_CMD = "<show><config-locks></config-locks></show>"


class Failure(Exception):
    """Stop the run with a message (and the result gathered so far)."""


class Run(object):
    """One run of emailsec.hes.panos_hes_smtp: ``params`` as ``argument_spec()`` gives them, ``warn``
    hears what the caller should show as a warning. Raises Failure (or ValueError for unusable
    provider options) with ``result`` holding what was gathered so far."""

    def __init__(self, params, check_mode, warn):
        self.params = params
        self.check_mode = check_mode
        self.warn = warn
        self.provider = params["provider"]
        self.admin = self.provider["username"]
        self.result = {"changed": False, "commands": [], "requests": [], "diff": {}, "pending_admins": [],
                       "commit": None, "warnings_detail": [], "errors": []}
        self.fw = client.connect_firewall(self.provider, params["vsys"], params["timeout"], warn=warn)

    def call(self, name, *args, **kwargs):
        """``self.fw.<name>(...)``, or ``self.fw.xapi.<name>`` for config actions; errors become Failure
        (naming the keyword ``request``, the readable form of what was sent, when given).

        The attribute is looked up inside the try: ``fw.xapi`` runs keygen on first use.
        """
        request = kwargs.pop("request", None)
        try:
            target = self.fw if name in ("op", "commit") else self.fw.xapi
            return getattr(target, name)(*args, **kwargs)
        except client.PANOS_ERRORS as exc:
            raise Failure(client.describe_error(exc, self.provider, request))

    def op(self, cmd):
        return self.call("op", cmd, cmd_xml=False)

    def read(self):
        try:
            return client.read_config(self.fw, self.provider)
        except client.PANOS_ERRORS as exc:
            raise Failure(client.describe_error(exc, self.provider))
        except ValueError as exc:
            raise Failure(str(exc))

    def pending(self):
        result = self.op(ADMINS_CMD)
        return sorted({(m.text or "").strip() for m in result.findall("./result/admins/member")})

    def foreign_locks(self):
        result = self.op(LOCKS_CMD)
        return sorted({entry.get("name") for entry in result.findall("./result/config-locks/entry")
                       if entry.get("name") != self.admin})

    def send(self, edit):
        request = describe(edit)
        if edit["action"] == "move":
            self.call("move", xpath=edit["xpath"], where=edit["where"], dst=edit.get("dst"), request=request)
        elif edit["element"] is None:
            self.call(edit["action"], xpath=edit["xpath"], request=request)
        else:
            self.call(edit["action"], xpath=edit["xpath"], element=edit["element"], request=request)

    def send_all(self, edits, applied):
        """Every edit in as few requests as the API allows: each run of set, edit and delete in one
        multi-config request, a move on its own. ``applied`` receives each edit the firewall may
        hold, also when a request fails (then the undo puts them back)."""
        for batch in batches(edits):
            if len(batch) == 1:
                applied.append(batch[0])
                self.send(batch[0])
                continue
            applied.extend(batch)
            try:
                self.fw.xapi.multi_config(multi_config_element(batch))
            except client.PANOS_ERRORS as exc:
                raise Failure(client.describe_error(exc, self.provider, multi_config_failure(self.fw.xapi, batch)))

    def plan(self, config):
        params = self.params
        if params["backup"] is not None:
            return panos_plan.plan_rollback(config, params["backup"])
        return panos_plan.plan_hardening(
            config, params["ranges"], vsys=params["vsys"], group_name=params["group_name"],
            prefix=params["object_prefix"], rules=params["rules"], untrust_zones=params["untrust_zones"],
            mail_servers=params["mail_servers"], mail_zones=params["mail_zones"],
            deny_after_rule=params["deny_after_rule"], device=self.provider["ip_address"])

    def main(self, before_writes=None):
        """Read, plan, gate and (unless in check mode) write and commit; ``before_writes(planned)``
        runs after the last read and before the first write (the action plugin's backup)."""
        try:
            self._main(before_writes)
        finally:
            client.close_firewall(self.fw)

    def _main(self, before_writes):
        params = self.params
        panos_plan.check_admin(self.admin)
        panos_plan.check_prefix(params["object_prefix"])
        panos_plan.check_name(params["group_name"], "group_name")
        config = self.read()
        planned = self.plan(config)
        group_name = params["backup"]["group_name"] if params["backup"] is not None else params["group_name"]
        self.result.update({
            "requests": planned["requests"],
            "commands": list(planned["commands"]),
            "errors": planned["errors"],
            "diff": {"before": panos_plan.render_view(planned["before"], group_name),
                     "after": panos_plan.render_view(planned["after"], group_name),
                     "before_header": "%s %s (candidate)" % (client.endpoint(self.provider), params["vsys"]),
                     "after_header": "%s %s (planned)" % (client.endpoint(self.provider), params["vsys"])},
            "warnings_detail": planned["warnings"],
        })
        if params["backup"] is None:
            self.result.update({
                "backup": planned["backup"],
                "rules": [rule["name"] for rule in planned["findings"]["rules"]],
                "destinations": [{"rule": rule["name"], "destination": rule["destination"]}
                                 for rule in planned["findings"]["rules"]],
                "findings": planned["findings"],
                "gate": planned["gate"],
            })
        for warning in planned["warnings"]:
            self.warn(warning)
        if planned["errors"]:
            raise Failure("%s: refusing the plan, nothing was sent: %s"
                          % (client.endpoint(self.provider), " | ".join(planned["errors"])))
        expected = params["expected_requests"]
        if expected is not None and expected != planned["requests"]:
            raise Failure("%s: the configuration changed since the plan was shown: this run would send %d "
                          "request(s), the plan had %d; nothing was sent; run again to see the new plan"
                          % (client.endpoint(self.provider), len(planned["requests"]), len(expected)))
        if not planned["edits"]:
            return
        self.result["changed"] = True
        pending = self.pending() if params["commit"] else []
        self.result["pending_admins"] = pending
        if pending and not params["commit_foreign_changes"]:
            raise Failure("refusing to change %s: administrator(s) %s have uncommitted changes that a commit "
                          "could take along; commit or revert them first, or set commit_foreign_changes "
                          "(hes_panos_commit_foreign_changes) to commit them with ours; nothing was changed"
                          % (client.endpoint(self.provider), ", ".join(pending)))
        locked_by = self.foreign_locks()
        if locked_by:
            raise Failure("%s: the configuration is locked by %s; nothing was changed"
                          % (client.endpoint(self.provider), ", ".join(locked_by)))
        if params["commit"]:
            self.result["commands"].append(panos_plan.commit_command(self.admin, bool(pending)))
        prepared = "API edits, in order:\n" + "".join("  %s\n" % line for line in self.result["commands"])
        if params["backup"] is None:
            prepared += "gate: %s\n" % planned["gate"]["differential"]
        self.result["diff"]["prepared"] = prepared
        if self.check_mode:
            return
        if before_writes is not None:
            before_writes(planned)
        applied = []
        try:
            self.send_all(planned["edits"], applied)
            if params["commit"]:
                self.commit(bool(pending))
        except Failure as failure:
            raise Failure("%s; %s" % (failure, self.undo(config, applied, bool(pending))))

    def commit(self, everyone):
        cmd = ET.Element("commit")
        if not everyone:
            partial = ET.SubElement(ET.SubElement(cmd, "partial"), "admin")
            ET.SubElement(partial, "member").text = self.admin
        outcome = self.call("commit", sync=True, cmd=cmd)
        if outcome is None:
            raise Failure("%s: the commit found no changes to commit" % client.endpoint(self.provider))
        self.result["commit"] = {"jobid": outcome["jobid"], "result": outcome["result"],
                                 "messages": outcome["messages"]}
        if not outcome["success"]:
            raise Failure("%s: commit job %s failed: %s" % (client.endpoint(self.provider), outcome["jobid"],
                                                            " | ".join(outcome["messages"]) or outcome["result"]))

    def undo(self, config, applied, others_pending):
        """Put the candidate back; returns a sentence for the error message."""
        if not applied:
            return "nothing was changed"
        if not others_pending:
            try:
                self.op(panos_plan.revert_command(self.admin))
                return "the candidate configuration was reverted (revert config partial admin %s)" % self.admin
            except Failure:
                pass
        try:
            parsed = parse_config(config, self.params["vsys"])
            group_name = self.params["backup"]["group_name"] if self.params["backup"] else self.params["group_name"]
            for edit in panos_plan.inverse_edits(parsed, applied, group_name, config):
                self.send(edit)
        except Failure as failure:
            return ("undoing our edits failed too (%s): the candidate configuration still holds them; "
                    "revert it on the firewall" % failure)
        return "our edits were undone in the candidate configuration"


def argument_spec():
    """The options of emailsec.hes.panos_hes_smtp, module and action plugin alike."""
    spec = client.provider_argument_spec()
    spec.update(RANGE_GUARD_ARGUMENT_SPEC)
    spec.update(
        ranges={"type": "list", "elements": "str"},
        backup={"type": "dict"},
        group_name={"type": "str", "default": panos_plan.DEFAULT_GROUP},
        object_prefix={"type": "str", "default": panos_plan.DEFAULT_PREFIX},
        rules={"type": "list", "elements": "str", "default": []},
        untrust_zones={"type": "list", "elements": "str", "default": ["untrust"]},
        mail_servers={"type": "list", "elements": "str", "default": []},
        commit={"type": "bool", "default": True},
        commit_foreign_changes={"type": "bool", "default": False},
        mail_zones={"type": "list", "elements": "str", "default": []},
        deny_after_rule={"type": "bool", "default": False},
        expected_requests={"type": "list", "elements": "dict"},
        backup_dir={"type": "path"},
    )
    return spec


MUTUALLY_EXCLUSIVE = [["ranges", "backup"]]
REQUIRED_ONE_OF = [["ranges", "backup"]]
BATCHED_ACTIONS = ("set", "edit", "delete")


def describe(edit):
    return "; ".join(edit["commands"]) or "%s %s" % (edit["action"], edit["xpath"])


def batches(edits):
    """Consecutive set/edit/delete edits together, in order; anything else alone."""
    groups = []
    for edit in edits:
        if edit["action"] in BATCHED_ACTIONS and groups and groups[-1][0]["action"] in BATCHED_ACTIONS:
            groups[-1].append(edit)
        else:
            groups.append([edit])
    return groups


def multi_config_element(edits):
    """``<multi-configure-request>``: one child per edit, numbered in order."""
    request = ET.Element("multi-configure-request")
    for number, edit in enumerate(edits, 1):
        child = ET.SubElement(request, edit["action"], {"id": str(number), "xpath": edit["xpath"]})
        if edit["element"] is not None:
            # An element may be several sibling elements (the children of an edited node).
            child.extend(list(ET.fromstring("<element>%s</element>" % edit["element"])))
    return ET.tostring(request, encoding="unicode")


def multi_config_failure(xapi, edits):
    """The edit a failed multi-config names (its answer carries the failing edit's id), in the
    readable form, else the whole batch."""
    root = getattr(xapi, "element_root", None)
    for answer in (root.findall("response") if root is not None else []):
        if answer.get("status") == "error" and (answer.get("id") or "").isdigit():
            number = int(answer.get("id"))
            if 1 <= number <= len(edits):
                said = " ".join(" ".join(line.text.split()) for line in answer.iter("line") if line.text)
                return "multi-config edit %d (%s)%s" % (number, describe(edits[number - 1]),
                                                        " - %s" % said if said else "")
    return "multi-config of %d edits (%s)" % (len(edits), " | ".join(describe(e) for e in edits))
