#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: postfix_hes
author: emailsec.hes maintainers (@emailsec)
version_added: "0.1.0"
short_description: Exempt the HES ranges from Postfix's DNSBL checks (postscreen and smtpd)
description:
  - Trend Micro Email Security (HES) delivers from relays that all its customers share; when a
    DNSBL lists one of them, a mail server that checks that DNSBL refuses every message HES
    delivers. This module puts the HES ranges in Postfix's DNSBL approved list, and touches
    nothing else.
  - Reads the instance with C(postconf -c O(config_dir)) (C(-n), C(-x), C(-M)) and finds where it
    checks DNSBLs - postscreen in front (an C(inet) service running C(postscreen)) with
    C(postscreen_dnsbl_sites), and every C(smtpd_*_restrictions) list with C(reject_rbl_client),
    C(reject_rhsbl_client) or C(reject_rhsbl_reverse_client) (directly or through a restriction class).
  - Writes two cidr tables from the one list of ranges, only those that main.cf refers to -
    C(tm_hes_postscreen.cidr) (value C(permit), the only allow postscreen knows; C(OK) would be
    ignored) and C(tm_hes_smtpd.cidr) (value C(permit_auth_destination), which permits mail to this
    server's own domains only, so the shared relays can never relay through it).
  - Inserts C(cidr:.../tm_hes_postscreen.cidr) right after C(permit_mynetworks) in
    C(postscreen_access_list), and C(check_client_access cidr:.../tm_hes_smtpd.cidr) immediately
    before the first DNSBL check of each smtpd list that has one, with C(postconf -e).
  - Refuses, with the reason and before any change, a configuration in which a client in a HES range
    could relay mail to any domain (the ranges in C(mynetworks) behind C(permit_mynetworks), a permit
    before C(reject_unauth_destination)), and a DNSBL check that main.cf reaches only through a
    C($parameter).
  - Applies only on change - tables first (written atomically), then main.cf, then C(postfix check)
    and C(postfix reload) (postscreen and smtpd read tables at start only). When the check or the
    reload fails, main.cf and the tables are put back as they were and the task fails with Postfix's
    own message.
  - A second run with the same input finds nothing to do and runs no command that writes.
extends_documentation_fragment:
  - emailsec.hes.range_guard
options:
  state:
    description:
      - V(present) exempts the ranges wherever a DNSBL is checked.
      - V(absent) removes our table references from main.cf and our tables, and nothing else.
    type: str
    choices: [present, absent]
    default: present
  ranges:
    description:
      - The allowed ranges (IPv4 and IPv6 CIDRs), usually from the C(emailsec.hes.ranges) lookup.
        Validated again here (see O(allow_reserved), O(max_prefix)); an empty list is refused.
      - Required with O(state=present) unless O(restore) is given.
    type: list
    elements: str
  config_dir:
    description:
      - The Postfix configuration directory, passed to C(postconf -c), C(postmap -c) and
        C(postfix -c); the tables are written there.
      - Letters, digits and C(. _ / + @ -) only, since the path goes into main.cf lists.
    type: str
    default: /etc/postfix
  reload:
    description:
      - Run C(postfix reload) after a change, when the instance runs (a stopped one gets a warning
        and reads the change when it starts). V(false) where no daemon runs (an image build).
    type: bool
    default: true
  restore:
    description:
      - The RV(backup) of an earlier run. Puts back each parameter and table it recorded, exactly,
        and nothing else; O(state) and O(ranges) are then ignored.
    type: dict
  command_directory:
    description:
      - Directory holding C(postconf), C(postmap) and C(postfix). Default - looked up in E(PATH),
        then C(/usr/sbin), C(/usr/local/sbin), C(/opt/postfix/sbin).
    type: path
requirements:
  - Postfix 2.10 or later on the managed host (C(postconf -x)); 3.x for C(compatibility_level).
  - Root on the managed host (C(become)), to write the config directory and run C(postfix check).
attributes:
  check_mode:
    support: full
    description: Reports the plan and the diff; writes nothing and runs no command that writes.
  diff_mode:
    support: full
    description: main.cf as it is and as C(postconf -e) will leave it, and each table.
  platform:
    support: full
    description: Hosts running Postfix.
    platforms: posix
seealso:
  - name: postscreen(8), POSTSCREEN_README
    description: postscreen_access_list and postscreen_dnsbl_action.
    link: https://www.postfix.org/POSTSCREEN_README.html
  - name: SMTPD_ACCESS_README
    description: How smtpd restriction lists are evaluated.
    link: https://www.postfix.org/SMTPD_ACCESS_README.html
  - name: cidr_table(5)
    description: The table format.
    link: https://www.postfix.org/cidr_table.5.html
notes:
  - C(permit_auth_destination) ends its restriction list for mail to this server's domains, so the
    checks after the DNSBL in that list are skipped for HES clients too; HES has filtered that mail.
  - Checks of the sender's, HELO's or recipient's domain (C(reject_rhsbl_sender) and the like) judge
    the message rather than the relay and are reported, not exempted; so are DNSBL checks in
    master.cf C(-o) overrides.
  - C(postconf -e) writes each edited parameter on one line; the backup keeps main.cf as it was.
"""

EXAMPLES = r"""
- name: Exempt the HES ranges (US) from the DNSBL checks of this mail server
  become: true
  emailsec.hes.postfix_hes:
    ranges: "{{ query('emailsec.hes.ranges', site='us') }}"

- name: A second instance, no reload (not running here)
  become: true
  emailsec.hes.postfix_hes:
    ranges: "{{ query('emailsec.hes.ranges', site='eu') }}"
    config_dir: /etc/postfix-out
    reload: false

- name: Remove the exemption (our table references and tables only)
  become: true
  emailsec.hes.postfix_hes:
    state: absent

- name: Put back what a run changed, from its backup
  become: true
  emailsec.hes.postfix_hes:
    restore: "{{ (lookup('ansible.builtin.file', 'backups/mx1-postfix-20250101T000000Z.json') | from_json).backup }}"
"""

RETURN = r"""
findings:
  description:
    - What was found - C(mail_version), C(compatibility_level), C(postscreen) (in_front, services,
      dnsbl_sites, dnsbl_action, access_list, needs_exemption), C(smtpd) (each list with its client
      DNSBL checks and other DNSBL checks), restriction classes and master.cf overrides with DNSBL
      checks, C(smtpd_delay_reject).
  returned: always
  type: dict
messages:
  description: What was done or is already in place, one sentence each (also "nothing to do").
  returned: always
  type: list
  elements: str
edits:
  description: The main.cf parameters changed, each with its value before and after (null - not set).
  returned: always
  type: list
  elements: dict
  sample: [{"parameter": "smtpd_recipient_restrictions", "before": "reject_rbl_client zen.spamhaus.org",
            "after": "check_client_access cidr:/etc/postfix/tm_hes_smtpd.cidr, reject_rbl_client zen.spamhaus.org"}]
tables:
  description: Each of our tables - name, path, action, changed, and whether it exists afterwards.
  returned: always
  type: list
  elements: dict
planned:
  description: What the run does or would do, in order (table writes, postconf, postfix check, reload).
  returned: always
  type: list
  elements: str
commands:
  description: The commands that wrote or applied (none in check mode or when nothing changed).
  returned: always
  type: list
  elements: str
relay:
  description: The relay-safety check - C(open) (ranges that could relay, empty when safe) and C(assumptions).
  returned: when O(state=present) and no O(restore)
  type: dict
backup:
  description:
    - What a rollback needs (format 1) - each edited parameter's value and each changed table's text
      before the run (null - absent), and main.cf as it was. Give it to O(restore) to go back.
  returned: when changed and not in check mode
  type: dict
reloaded:
  description: Whether C(postfix reload) ran.
  returned: always
  type: bool
"""

import os
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import RANGE_GUARD_ARGUMENT_SPEC, RangeError, guard_ranges
from ansible_collections.emailsec.hes.plugins.module_utils.postfix import PostfixError
from ansible_collections.emailsec.hes.plugins.module_utils.postfix.host import PostfixHost, read_text, write_atomic
from ansible_collections.emailsec.hes.plugins.module_utils.postfix.plan import backup_of, plan, plan_restore


def postconf_edits(host, edits, config_dir=None):
    """Apply the edits with postconf -e / -X, in ``config_dir`` (a scratch copy) or the real one."""
    target = [] if config_dir is None else ["-c", config_dir]
    writes = config_dir is None
    sets = ["%s = %s" % (e["parameter"], e["after"]) for e in edits if e["after"] is not None]
    removals = [e["parameter"] for e in edits if e["after"] is None]
    if sets:
        run_postconf(host, target, ["-e"] + sets, writes)
    if removals:
        run_postconf(host, target, ["-X"] + removals, writes)


def run_postconf(host, target, args, writes):
    if target:
        rc, out, err = host.module.run_command([host.binaries["postconf"]] + target + args)
        if rc != 0:
            host.module.fail_json(msg="postconf %s failed on a scratch copy of main.cf: %s" % (args[0], err.strip() or out))
        return
    host.postconf(*args, writes=writes)


def preview_main_cf(host, main_cf_text, edits):
    """main.cf as postconf -e will leave it: the same edits on a scratch copy."""
    if not edits:
        return main_cf_text
    scratch = tempfile.mkdtemp(prefix="emailsec-hes-postfix.")
    try:
        with open(os.path.join(scratch, "main.cf"), "w") as handle:
            handle.write(main_cf_text)
        postconf_edits(host, edits, scratch)
        return read_text(os.path.join(scratch, "main.cf"))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def diffs(host, main_cf_before, main_cf_after, result):
    out = []
    path = host.main_cf_path()
    if main_cf_after != main_cf_before:
        out.append({"before_header": path, "after_header": path + " (after postconf -e)",
                    "before": main_cf_before, "after": main_cf_after})
    for table in result["tables"]:
        if table["changed"]:
            out.append({"before_header": table["path"] if table["before"] is not None else "%s (none)" % table["path"],
                        "after_header": table["path"] if table["after"] is not None else "%s (removed)" % table["path"],
                        "before": table["before"] or "", "after": table["after"] or ""})
    return out


def put_back(module, host, main_cf_before, result):
    """Main.cf and the tables as they were before this run."""
    write_atomic(module, host.main_cf_path(), main_cf_before)
    for table in result["tables"]:
        if not table["changed"]:
            continue
        if table["before"] is None:
            if os.path.exists(table["path"]):
                os.unlink(table["path"])
        else:
            write_atomic(module, table["path"], table["before"])


def apply(module, host, result, main_cf_before, output):
    for table in result["tables"]:
        if table["changed"] and table["after"] is not None:
            write_atomic(module, table["path"], table["after"])
    postconf_edits(host, result["edits"])
    rc, text = host.postfix("check")
    if rc != 0:
        put_back(module, host, main_cf_before, result)
        module.fail_json(msg="postfix check failed after the change, so main.cf and the tables were put back as they "
                             "were (nothing was reloaded). postfix said: %s" % (text or "rc %d, no message" % rc),
                         commands=host.commands, **output)
    for line in text.splitlines():
        if "warning:" in line:
            module.warn("postfix check: %s" % line.strip())
    if module.params["reload"]:
        if host.running():
            rc, text = host.postfix("reload")
            if rc != 0:
                put_back(module, host, main_cf_before, result)
                again, again_text = host.postfix("reload")
                module.fail_json(
                    msg="postfix reload failed, so main.cf and the tables were put back as they were and reloaded "
                        "(%s). postfix said: %s" % ("ok" if again == 0 else "that failed too: %s" % again_text, text),
                    commands=host.commands, **output)
            output["reloaded"] = True
        else:
            module.warn("Postfix (%s) is not running: the change takes effect when it starts" % host.config_dir)
    for table in result["tables"]:
        if table["changed"] and table["after"] is None and os.path.exists(table["path"]):
            os.unlink(table["path"])


def main():
    module = AnsibleModule(
        argument_spec=dict(
            RANGE_GUARD_ARGUMENT_SPEC,
            state=dict(type="str", choices=["present", "absent"], default="present"),
            ranges=dict(type="list", elements="str"),
            config_dir=dict(type="str", default="/etc/postfix"),
            reload=dict(type="bool", default=True),
            restore=dict(type="dict"),
            command_directory=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        host = PostfixHost(module, params["config_dir"], params["command_directory"])
    except PostfixError as exc:
        module.fail_json(msg=to_native(exc))
    model, postconf_warnings = host.read()
    for warning in postconf_warnings:
        module.warn(warning)
    tables = host.tables()
    main_cf_before = read_text(host.main_cf_path()) or ""
    try:
        if params["restore"] is not None:
            result = plan_restore(model, params["restore"], tables)
        else:
            if params["state"] == "present" and not params["ranges"]:
                module.fail_json(msg="ranges is required with state=present (or give restore)")
            ranges = None
            if params["state"] == "present":
                ranges = guard_ranges(params["ranges"], "ranges", max_prefix=params["max_prefix"],
                                      max_prefix_v6=params["max_prefix_v6"], allow_reserved=params["allow_reserved"])
            result = plan(model, ranges, tables, params["state"])
    except (PostfixError, RangeError) as exc:
        module.fail_json(msg=to_native(exc))

    planned = list(result["commands"])
    if result["changed"]:
        planned += ["postfix -c %s check" % host.config_dir]
        if params["reload"]:
            planned.append("postfix -c %s reload (when running)" % host.config_dir)
    output = {
        "findings": result["findings"],
        "messages": result["messages"],
        "edits": result["edits"],
        "tables": [{"name": t["name"], "path": t["path"], "action": t["action"], "changed": t["changed"],
                    "exists": t["after"] is not None} for t in result["tables"]],
        "planned": planned,
        "reloaded": False,
    }
    if result["relay"] is not None:
        output["relay"] = result["relay"]
    for warning in result["warnings"]:
        module.warn(warning)
    if result["errors"]:
        module.fail_json(msg="emailsec.hes.postfix_hes refuses to change %s: %s"
                             % (host.config_dir, " | ".join(result["errors"])), changed=False, commands=[], **output)

    main_cf_after = preview_main_cf(host, main_cf_before, result["edits"])
    if module._diff and result["changed"]:
        output["diff"] = diffs(host, main_cf_before, main_cf_after, result)
    if result["changed"] and not module.check_mode:
        apply(module, host, result, main_cf_before, output)
        output["backup"] = backup_of(result, main_cf_before)
    module.exit_json(changed=result["changed"], commands=host.commands, **output)


if __name__ == "__main__":
    main()
