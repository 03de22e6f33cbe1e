#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: postfix_hes_verify
author: emailsec.hes maintainers (@emailsec)
version_added: "0.1.0"
short_description: Prove that Postfix exempts exactly the HES ranges from its DNSBL checks
description:
  - Read-only. Reads the instance with C(postconf -c O(config_dir)) (C(-n), C(-x), C(-M)), finds
    its DNSBL checks the way M(emailsec.hes.postfix_hes) does, and asks the tables themselves with
    C(postmap -q) - the first and last address of every range must get the table's action
    (C(permit) in C(tm_hes_postscreen.cidr), C(permit_auth_destination) in C(tm_hes_smtpd.cidr)),
    and the address just outside each range edge must get nothing.
  - Checks that C(postscreen_access_list) holds our table right after C(permit_mynetworks) and that
    C(check_client_access) with our table sits immediately before the first DNSBL check of every
    smtpd list that has one.
  - Checks with the answers postmap gave that no client in the ranges can relay mail to a domain
    that is not this server's (C(mynetworks), permits before C(reject_unauth_destination)).
  - Returns a report in the shape of the verify role's per-host reports, and its Markdown form.
    Used by the role emailsec.hes.verify for hosts of the inventory group C(mta).
options:
  ranges:
    description: The allowed ranges (CIDRs), usually from the C(emailsec.hes.ranges) lookup.
    type: list
    elements: str
    required: true
  allow_reserved:
    description: Accept private, documentation (RFC 5737) and other non-global ranges (a lab).
    type: bool
    default: false
  max_prefix:
    description: Refuse any IPv4 range broader than this prefix length.
    type: int
    default: 16
  max_prefix_v6:
    description: Refuse any IPv6 range broader than this prefix length.
    type: int
    default: 32
  config_dir:
    description: The Postfix configuration directory (C(postconf -c), C(postmap -c)).
    type: str
    default: /etc/postfix
  command_directory:
    description: Directory holding C(postconf) and C(postmap); default - E(PATH), then C(/usr/sbin).
    type: path
  host:
    description: The name the report carries (the inventory host name).
    type: str
    required: true
requirements:
  - Postfix 2.10 or later on the managed host.
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to diff.
  platform:
    support: full
    description: Hosts running Postfix.
    platforms: posix
seealso:
  - module: emailsec.hes.postfix_hes
"""

EXAMPLES = r"""
- name: Verify the DNSBL exemption of this mail server
  become: true
  emailsec.hes.postfix_hes_verify:
    ranges: "{{ query('emailsec.hes.ranges', site='us') }}"
    host: "{{ inventory_hostname }}"
  register: hes_postfix_verify

- name: Fail when it did not pass
  ansible.builtin.assert:
    that: hes_postfix_verify.passed
    fail_msg: "{{ hes_postfix_verify.message }}"
"""

RETURN = r"""
passed:
  description: Whether every check passed (n/a counts as passed).
  returned: always
  type: bool
status:
  description: C(pass) or C(fail).
  returned: always
  type: str
message:
  description: One paragraph - the counts, or each failing check with its detail.
  returned: always
  type: str
checks:
  description: Each check - id, title, status (pass, fail, n/a), detail.
  returned: always
  type: list
  elements: dict
summary:
  description: The short form for set_stats (status, vendor, checks by id, query counts).
  returned: always
  type: dict
report:
  description: The whole report (format 1), with every postmap question and answer under C(queries).
  returned: always
  type: dict
markdown:
  description: The report in Markdown.
  returned: always
  type: str
"""

import datetime

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import RangeError, guard_ranges
from ansible_collections.emailsec.hes.plugins.module_utils.postfix import PostfixError
from ansible_collections.emailsec.hes.plugins.module_utils.postfix.host import PostfixHost
from ansible_collections.emailsec.hes.plugins.module_utils.postfix.verify import (
    evaluate,
    message,
    queries,
    render_markdown,
    summary,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            ranges=dict(type="list", elements="str", required=True),
            allow_reserved=dict(type="bool", default=False),
            max_prefix=dict(type="int", default=16),
            max_prefix_v6=dict(type="int", default=32),
            config_dir=dict(type="str", default="/etc/postfix"),
            command_directory=dict(type="path"),
            host=dict(type="str", required=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        ranges = guard_ranges(params["ranges"], "ranges", max_prefix=params["max_prefix"],
                              max_prefix_v6=params["max_prefix_v6"], allow_reserved=params["allow_reserved"])
        host = PostfixHost(module, params["config_dir"], params["command_directory"])
    except (RangeError, PostfixError) as exc:
        module.fail_json(msg=to_native(exc))
    model, unused_warnings = host.read()
    answers = {}
    for path, addresses in queries(model, ranges).items():
        found, error, warnings = host.postmap_query(path, addresses)
        answers[path] = {"answers": found, "error": error, "warnings": warnings}
    generated = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    report = evaluate(model, ranges, answers, params["host"], generated)
    module.exit_json(changed=False, passed=report["status"] == "pass", status=report["status"],
                     message=message(report), checks=report["checks"], summary=summary(report), report=report,
                     markdown=render_markdown(report))


if __name__ == "__main__":
    main()
