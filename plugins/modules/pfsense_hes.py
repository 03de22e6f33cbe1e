#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: pfsense_hes
author: emailsec.hes maintainers (@emailsec)
version_added: "0.1.0"
short_description: Lock inbound SMTP on pfSense to the HES ranges through pfSense's own config machinery
description:
  - Runs on the firewall, with pfSense's own Python (C(/usr/local/bin/python3.11)), as root. Nothing
    is installed on the box and no REST package is needed.
  - Reads C(/cf/conf/config.xml) read-only and plans in pure Python on the collection's policy
    engine - the alias C(TM_HES_IP_RANGE) (type network, the ranges normalized and sorted, one
    detail per address naming its source), and the source of every SMTP rule on the inbound path of
    O(interface) set to it (a pass whose match is TCP/25 and nothing else, from any source, found
    in pf's first-match order - floating rules, interface groups, the interface); a filter rule
    linked to a NAT port forward changes together with the port forward, a C(rdr pass) port forward
    on itself. The plan is sent only when the engine proves that the one change in verdicts is
    TCP/25 to the mail servers from outside the ranges, allow to deny.
  - Writes through pfSense's PHP (C(/usr/local/bin/php)) - the edits with C(config_set_path()),
    C(write_config("emailsec.hes ...")) (pfSense's lock, configuration history, log and HA sync),
    C(filter_configure_sync()), then the dirty flags cleared. Refuses when config.xml changed
    between the read and the write. When the new ruleset does not load, pfSense's previous revision
    is restored at once and the task fails.
  - A second run with the same input finds nothing to do, runs no PHP and reloads nothing.
  - With O(restore), brings back the revision a hardening saved, with pfSense's C(config_restore()).
  - The role emailsec.hes.pfsense runs it twice - in check mode to plan, then, after the backup, with
    O(expect_sha256) and the same O(now), so that the second run writes exactly the edits planned
    and backed up.
extends_documentation_fragment:
  - emailsec.hes.range_guard
options:
  ranges:
    description:
      - The allowed ranges - CIDR strings, or the C(emailsec.hes.ranges) lookup's C(format=detail)
        dicts (whose provenance becomes each address's detail). Validated again here.
      - Required unless O(restore) is given.
    type: list
    elements: raw
  interface:
    description: The pfSense interface (C(wan), C(opt1), ...) where mail from the internet enters.
    type: str
    default: wan
  alias_name:
    description: The network alias holding the ranges.
    type: str
    default: TM_HES_IP_RANGE
  mail_servers:
    description:
      - Only SMTP rules to these addresses are touched (translated addresses for port forwards); a
        listed server without a rule is an error. Empty - every SMTP rule found.
    type: list
    elements: str
    default: []
  deny_after_permit:
    description:
      - When a broader pass on the interface (all ports, a port range or alias with 25, tcp/udp) admits
        SMTP from outside the ranges, add C(block tcp any -> <mail server> port 25) right after the
        SMTP rule instead of refusing.
    type: bool
    default: false
  expect_sha256:
    description:
      - The C(config_sha256) of an earlier run in check mode; when config.xml is no longer that file,
        the module refuses and writes nothing (the role plans, backs up, then writes with it).
    type: str
  root:
    description:
      - Where the firewall's file system starts. V(/) on a pfSense box; the directory of a
        C(hes-lab pfsense) box in the lab.
    type: path
    default: /
  now:
    description:
      - The time (seconds since the epoch) stamped into the C(updated) and C(created) elements of the
        rules the plan edits, as the GUI stamps them. Default - the time of the run.
    type: int
  restore:
    description:
      - The restore data of a backup written by the role (the C(restore) part of an
        C(emailsec.hes.hes_backup) file - C(config_xml), C(config_sha256), C(edits)). With it the
        module brings that revision back instead of hardening. It holds config.xml, secrets
        included, so it is never logged.
    type: dict
  force:
    description:
      - With O(restore), restore even when config.xml is no longer what the hardening wrote (that
        later change is then undone too).
    type: bool
    default: false
requirements:
  - pfSense CE 2.7 or later, or pfSense Plus 23.01 or later (C(config_get_path)/C(config_set_path)).
  - root on the firewall (the C(root) account, or C(sudo) from the pfSense-pkg-sudo package).
attributes:
  check_mode:
    support: full
    description: Plans, gates and shows the XML that would change; runs no PHP and writes nothing.
  diff_mode:
    support: full
    description: Each alias, rule and port forward element as it is and as it will be written.
  platform:
    support: full
    description: pfSense.
    platforms: posix
notes:
  - pf itself, CARP/XMLRPC sync and the GUI's input validation are pfSense's; the module calls the
    functions the GUI calls and checks the result by reading config.xml back.
seealso:
  - name: pfSense config.lib.inc
    description: write_config(), config_restore(), backup_config().
    link: https://github.com/pfsense/pfsense/blob/master/src/etc/inc/config.lib.inc
"""

EXAMPLES = r"""
- name: Lock inbound SMTP on WAN to the HES ranges
  emailsec.hes.pfsense_hes:
    ranges: "{{ query('emailsec.hes.ranges', site='eu', format='detail') }}"
  register: hes_pfsense

- name: Only the rule to the DMZ relay, with a carve-out below a broader rule
  emailsec.hes.pfsense_hes:
    ranges: "{{ query('emailsec.hes.ranges', site='us') }}"
    mail_servers: [198.51.100.25]
    deny_after_permit: true

- name: The newest backup of this firewall
  emailsec.hes.hes_backup:
    state: read
    directory: "{{ hes_backup_dir }}"
    host: "{{ inventory_hostname }}"
    vendor: pfsense
  register: saved
  no_log: true

- name: Bring back the revision that backup saved
  emailsec.hes.pfsense_hes:
    restore: "{{ saved.restore }}"
"""

RETURN = r"""
edits:
  description: The planned edits of pfSense's configuration array, in order (op, path, value, expect).
  returned: always
  type: list
  elements: dict
description:
  description: The write_config() description (what the configuration history shows).
  returned: when hardening
  type: str
changes:
  description: The alias (created, addresses before and after) and each rule or port forward changed.
  returned: when hardening
  type: dict
findings:
  description:
    - The SMTP rules found (label, status, category, linked port forward), the mail servers, the alias as
      found, the leaks and blocked flows after the plan, and the model's notes.
  returned: when hardening
  type: dict
differential:
  description: The gate's one-paragraph summary of every verdict the plan changes.
  returned: when hardening
  type: str
errors:
  description: Why the plan is refused (the task fails with them).
  returned: always
  type: list
  elements: str
revision_before:
  description: The configuration revision read (time, description, username).
  returned: always
  type: dict
revision_after:
  description: The revision write_config() or config_restore() stamped.
  returned: when changed and not in check mode
  type: dict
saved:
  description: The revision saved in pfSense's history before the write - path on the firewall, sha256 (equal to config_sha256).
  returned: when changed and not in check mode
  type: dict
config_sha256:
  description: SHA-256 of config.xml as read.
  returned: always
  type: str
device:
  description: The firewall's identity from config.xml (C(hostname) - host name and domain), for the backup.
  returned: always
  type: dict
commands:
  description: The lines of config.xml that change (C(-) as it is, C(+) as it will be written), element by element.
  returned: when hardening
  type: list
  elements: str
written_sha256:
  description: SHA-256 of config.xml as written.
  returned: when changed and not in check mode
  type: str
filter_loaded:
  description: Whether filter_configure_sync() loaded the new ruleset.
  returned: when changed and not in check mode
  type: bool
"""

import difflib
import os
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import RANGE_GUARD_ARGUMENT_SPEC, RangeError, guard_ranges
from ansible_collections.emailsec.hes.plugins.module_utils.pfsense import php
from ansible_collections.emailsec.hes.plugins.module_utils.pfsense.box import CONFIG, PHP, box_path, read_bytes, read_tables
from ansible_collections.emailsec.hes.plugins.module_utils.pfsense.parse import (
    ConfigError,
    config_sha256,
    parse_config,
    revision,
    revision_text,
)
from ansible_collections.emailsec.hes.plugins.module_utils.pfsense.plan import (
    PfsensePlanError,
    device_identity,
    plan_hardening,
    plan_restore,
)


def run_php(module, root, request):
    binary = box_path(root, PHP)
    if not os.access(binary, os.X_OK):
        module.fail_json(msg="%s is not there: this is not a pfSense box (or hes_pfsense_root %s is not a lab box)"
                         % (binary, root))
    handle, script = tempfile.mkstemp(prefix="emailsec-hes-", suffix=".php", dir=module.tmpdir)
    try:
        with os.fdopen(handle, "w") as out:
            out.write(php.PROGRAM)
        rc, stdout, stderr = module.run_command([binary, "-f", script], data=request, binary_data=True)
    finally:
        os.unlink(script)
    try:
        return php.answer(stdout)
    except php.PhpAnswerError as exc:
        module.fail_json(msg="%s (exit status %d; stderr: %s)" % (exc, rc, (stderr or "").strip()[-500:]))


def checked_ranges(module):
    """The ranges as given (a dict keeps its provenance), after the lookup's own guard on them all."""
    params = module.params
    items = list(params["ranges"] or [])
    try:
        guard_ranges([item.get("cidr") if isinstance(item, dict) else item for item in items], "ranges",
                     allow_reserved=params["allow_reserved"], max_prefix=params["max_prefix"],
                     max_prefix_v6=params["max_prefix_v6"], aggregate=False)
    except RangeError as exc:
        module.fail_json(msg=to_native(exc))
    return items


def changed_lines(preview):
    """The changed lines of each element, as a unified diff shows them."""
    lines = []
    for item in preview:
        lines.append("@@ %s" % item["before_header"])
        for line in difflib.unified_diff(item["before"].splitlines(), item["after"].splitlines(), lineterm="", n=0):
            if line[:1] in "+-" and not line.startswith(("+++", "---")):
                lines.append(line.replace("\t", "  "))
    return lines


def harden(module, root, text, config, sha):
    params = module.params
    if params["expect_sha256"] and params["expect_sha256"] != sha:
        module.fail_json(msg="config.xml changed since the plan was made (now revision %s); nothing was written. "
                             "Run again to plan on the new configuration" % revision_text(revision(config)),
                         changed=False, config_sha256=sha, revision_before=revision(config))
    try:
        result = plan_hardening(config, checked_ranges(module), interface=params["interface"],
                                alias_name=params["alias_name"], mail_servers=params["mail_servers"],
                                deny_after_permit=params["deny_after_permit"], tables=read_tables(root, config),
                                now=params["now"] if params["now"] is not None else int(time.time()))
    except (PfsensePlanError, ConfigError) as exc:
        module.fail_json(msg=to_native(exc), config_sha256=sha, revision_before=revision(config))
    output = {"edits": result["edits"], "description": result["description"], "changes": result["changes"],
              "findings": result["findings"], "differential": result["gate"]["differential"],
              "errors": result["errors"], "config_sha256": sha, "revision_before": revision(config),
              "device": device_identity(config), "commands": changed_lines(result["preview"])}
    if result["errors"]:
        module.fail_json(msg="emailsec.hes.pfsense_hes refuses to change %s: %s"
                             % (params["interface"], " | ".join(result["errors"])), changed=False, **output)
    if module._diff and result["changed"]:
        # As on the other vendors, the diff ends with what the plan gate proved would change.
        output["diff"] = result["preview"] + [{"before_header": "plan gate", "after_header": "plan gate",
                                               "before": "", "after": "gate: %s\n" % result["gate"]["differential"]}]
    if not result["changed"] or module.check_mode:
        module.exit_json(changed=result["changed"], **output)
    answer = run_php(module, root, php.request("apply", sha, edits=result["edits"], description=result["description"]))
    finish(module, root, answer, output, "apply")
    written = read_bytes(module, box_path(root, CONFIG))
    again = plan_hardening(parse_config(written.decode("utf-8")), checked_ranges(module), interface=params["interface"],
                           alias_name=params["alias_name"], mail_servers=params["mail_servers"],
                           deny_after_permit=params["deny_after_permit"], tables=read_tables(root, config))
    if again["edits"] or again["errors"]:
        module.fail_json(msg="pfSense wrote config.xml (revision %s), but reading it back still needs changes: %s"
                             % (revision_text(output["revision_after"]), again["errors"] or again["edits"]),
                         changed=True, **output)
    module.exit_json(changed=True, **output)


def finish(module, root, answer, output, action):
    """Fail on a refused or failed PHP run; else merge the answer into ``output``."""
    if answer.get("concurrent"):
        module.fail_json(msg="config.xml changed between the read and the write (now revision %s); nothing was written. "
                             "Run again to plan on the new configuration" % revision_text(answer.get("revision") or {}),
                         changed=False, **output)
    if not answer.get("ok"):
        module.fail_json(msg="pfSense's PHP refused the %s: %s; nothing was written" % (action, answer.get("error")),
                         changed=False, **output)
    output.update(revision_after=answer.get("revision_after"), written_sha256=answer.get("written_sha256"),
                  filter_loaded=answer.get("filter_loaded"))
    if "saved" in answer:
        output["saved"] = answer["saved"]
        output["saved"]["path"] = relative_to_root(root, answer["saved"]["path"])
        if answer["saved"].get("sha256") != output["config_sha256"]:
            module.warn("pfSense's history file %s is not the configuration that was read (sha256 %s); the controller "
                        "backup is the reference" % (answer["saved"]["path"], answer["saved"].get("sha256")))
    if not answer.get("filter_loaded"):
        module.fail_json(msg="filter_configure_sync() did not load the new ruleset (see Status > System Logs and the "
                             "notices); %s" % ("the previous revision was restored with config_restore() and the "
                                               "filter reloaded" if answer.get("reverted") else
                                               "the previous revision could NOT be restored: restore it by hand"),
                         changed=True, **output)


def relative_to_root(root, path):
    root = os.path.abspath(root)
    if root != "/" and path.startswith(root + "/"):
        return "/" + path[len(root) + 1:]
    return path


def restore(module, root, text, config, sha):
    params = module.params
    try:
        result = plan_restore(text, params["restore"], params["force"])
    except (PfsensePlanError, ConfigError) as exc:
        module.fail_json(msg=to_native(exc))
    output = {"edits": [], "errors": result["errors"], "config_sha256": sha, "revision_before": revision(config),
              "saved_revision": result["saved_revision"], "device": device_identity(config)}
    for warning in result["warnings"]:
        module.warn(warning)
    if result["errors"]:
        module.fail_json(msg="emailsec.hes.pfsense_hes refuses to restore: %s" % " | ".join(result["errors"]), **output)
    if module._diff and result["changed"]:
        output["diff"] = result["preview"]
    if not result["changed"] or module.check_mode:
        module.exit_json(changed=result["changed"], **output)
    saved_time = result["saved_revision"]["time"]
    history = box_path(root, "cf/conf/backup/config-%d.xml" % (saved_time or 0))
    temporary = None
    if not (os.path.exists(history) and config_sha256(read_bytes(module, history)) == params["restore"]["config_sha256"]):
        handle, temporary = tempfile.mkstemp(prefix="emailsec-hes-restore-", suffix=".xml", dir=box_path(root, "tmp"))
        with os.fdopen(handle, "wb") as out:
            out.write(params["restore"]["config_xml"].encode("utf-8"))
        history = temporary
    try:
        answer = run_php(module, root, php.request("restore", sha, path=os.path.abspath(history),
                                                   description="emailsec.hes: rollback to revision %s" % saved_time))
    finally:
        if temporary:
            os.unlink(temporary)
    finish(module, root, answer, output, "restoration")
    module.exit_json(changed=True, **output)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            RANGE_GUARD_ARGUMENT_SPEC,
            ranges=dict(type="list", elements="raw"),
            interface=dict(type="str", default="wan"),
            alias_name=dict(type="str", default="TM_HES_IP_RANGE"),
            mail_servers=dict(type="list", elements="str", default=[]),
            deny_after_permit=dict(type="bool", default=False),
            expect_sha256=dict(type="str"),
            root=dict(type="path", default="/"),
            now=dict(type="int"),
            restore=dict(type="dict", no_log=True),
            force=dict(type="bool", default=False),
        ),
        required_one_of=[("ranges", "restore")],
        mutually_exclusive=[("ranges", "restore")],
        supports_check_mode=True,
    )
    if module.params["ranges"] is not None:
        checked_ranges(module)  # before config.xml is read: a hostile list never gets further
    root = module.params["root"]
    raw = read_bytes(module, box_path(root, CONFIG))
    sha = config_sha256(raw)
    try:
        text = raw.decode("utf-8")
        config = parse_config(text)
    except (UnicodeError, ConfigError) as exc:
        module.fail_json(msg="%s: %s" % (box_path(root, CONFIG), to_native(exc)))
    if module.params["restore"] is not None:
        restore(module, root, text, config, sha)
    harden(module, root, text, config, sha)


if __name__ == "__main__":
    main()
