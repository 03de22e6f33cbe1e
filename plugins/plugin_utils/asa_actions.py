# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the ASA actions share: their planning options, the plan, the device's CLI, and what a
plan shows (the findings as lines of text, and the ``--diff``)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleError
from ansible.module_utils.connection import Connection, ConnectionError as RpcConnectionError

from ansible_collections.emailsec.hes.plugins.module_utils.asa.plan import AsaPlanError, plan_hardening
from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import guard_ranges

# The controller's main process imports action plugins before it forks a worker per host and
# task; what is loaded here is then loaded once per run instead of once per host and task: the
# ranges lookup that the role's task arguments call, and the connection plugins (with their
# option definitions) that Ansible sets up in every worker of an ASA host, whether the task
# talks to the device or not.
from ansible.plugins.loader import cliconf_loader, connection_loader, terminal_loader  # noqa: E402

from ansible_collections.emailsec.hes.plugins.lookup import ranges  # noqa: F401,E402 pylint: disable=unused-import

for _loader, _name in ((connection_loader, "paramiko"), (connection_loader, "ansible.netcommon.network_cli"),
                       (connection_loader, "emailsec.hes.asa_cli"), (terminal_loader, "cisco.asa.asa"),
                       (cliconf_loader, "cisco.asa.asa")):
    _loader.get(_name, class_only=True)

PLAN_OPTIONS = dict(
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
)
ASA_CLI = "emailsec.hes.asa_cli"


def ranges_given(args):
    """The ranges option, required when hardening (the rollback takes none)."""
    if args["ranges"] is None:
        raise AsaPlanError("ranges is required")
    return args["ranges"]


def hardening_plan(config, args):
    """The plan for a parsed configuration and the planning options (PLAN_OPTIONS); the ranges
    pass the lookup's guards again first (defence in depth: whatever reached the action).
    Raises AsaPlanError or RangeError."""
    ranges = guard_ranges(ranges_given(args), "ranges", max_prefix=args["max_prefix"],
                          allow_reserved=args["allow_reserved"], aggregate=False)
    return plan_hardening(
        config, ranges, group_name=args["group_name"], interfaces=args["interfaces"],
        use_global_acl=args["use_global_acl"], acl_name=args["acl_name"], mail_servers=args["mail_servers"],
        add_ace_when_missing=args["add_ace_when_missing"], deny_after_permit=args["deny_after_permit"])


def device_cli(connection, action):
    """The ASA CLI behind the task's connection, with ``get``, ``run_commands`` and
    ``edit_config``: network_cli's persistent connection (through its socket: the cisco.asa
    cliconf plugin answers), or the connection ``emailsec.hes.asa_cli`` itself."""
    if getattr(connection, "transport", None) == ASA_CLI:
        return connection
    socket_path = getattr(connection, "socket_path", None) or getattr(connection, "_socket_path", None)
    if socket_path:
        return Connection(socket_path)
    raise AnsibleError("%s talks to a Cisco ASA over ansible_connection ansible.netcommon.network_cli "
                       "(ansible_network_os cisco.asa.asa) or %s, not %s"
                       % (action, ASA_CLI, getattr(connection, "transport", connection)))


def findings_report(plan, group_name):
    """The lines the role prints: ACLs in scope, the SMTP rules, what the plan leaves open or
    blocks, the mail servers, the group, the commands and the gate's sentence."""
    findings = plan.get("findings") or {}
    if not findings:
        return ["planning failed: %s" % "; ".join(plan.get("errors") or [])]
    changes = plan.get("changes") or {}
    bindings = [b for acl in findings["acls"] for b in acl["bindings"]]
    lines = ["ACLs in scope: %s" % ("; ".join(bindings) if findings["acls"] else "none")]
    if findings["unbound"]:
        lines.append("no inbound ACL on: %s" % ", ".join(findings["unbound"]))
    for rule in findings["rules"]:
        state = "already uses %s" % group_name if rule["status"] == "hardened" else "source any: to replace"
        lines.append("SMTP rule %s line %s: %s [%s]" % (rule["acl"], rule["line"], rule["text"], state))
    if not findings["rules"]:
        lines.append("SMTP rules: none found")
    for leak in findings.get("leaks") or []:
        lines.append("STILL OPEN after the plan: %s admits TCP/25 from %s, e.g. %s"
                     % (leak["rule"], leak["sources"], leak["witness_text"]))
    for blocked in findings.get("blocked") or []:
        lines.append("BLOCKED after the plan: %s blocks TCP/25 from %s, e.g. %s"
                     % (blocked["rule"], blocked["sources"], blocked["witness_text"]))
    lines += ["note: %s" % note for note in findings.get("notes") or []]
    lines.append("mail servers: %s" % (", ".join(findings["mail_servers"]) or "none"))
    group = findings["group"]
    group_changes = changes.get("group") or {"added": [], "removed": []}
    lines.append("group %s: %s; to add %d, to remove %d" % (
        group["name"], "%d members" % len(group["members"]) if group["exists"] else "absent",
        len(group_changes["added"]), len(group_changes["removed"])))
    lines.append("commands planned: %d" % len(plan.get("commands") or []))
    if plan.get("gate"):
        lines.append(plan["gate"]["differential"])
    return lines


def plan_diff(plan, group_name):
    """``--diff``: the group and each ACL before and after, then the commands and the gate."""
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


def release(cli):
    """End network_cli's persistent-connection process of this host once the role's one task is
    done with it, instead of at the end of the play or after its idle timeout: otherwise a play
    over N ASAs keeps N such processes (about 60 MB each) alive until it ends. A later task that
    needs the connection starts a new one."""
    if isinstance(cli, Connection):
        try:
            cli.close()
        except RpcConnectionError:
            pass
