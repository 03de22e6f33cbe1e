#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: pfsense_hes_verify
author: emailsec.hes maintainers (@emailsec)
version_added: "0.1.0"
short_description: Prove on a pfSense firewall that only TCP/25 from the HES ranges reaches the mail servers
description:
  - Read-only. Runs on the firewall with pfSense's own Python. Reads C(/cf/conf/config.xml) and asks
    the policy engine the exact questions - who outside the ranges reaches a mail server on TCP/25,
    who in the ranges does not - with a witness flow for each answer.
  - Asks pf what it loaded - C(pfctl -t TM_HES_IP_RANGE -T show) must equal the ranges, C(pfctl -sr)
    must show each SMTP rule C(from <TM_HES_IP_RANGE>) with its C(ridentifier) (C(pfctl -sn) for a
    C(rdr pass) port forward), and C(pfctl -t TM_HES_IP_RANGE -T test) answers for the first and last
    address of every range and the addresses just outside its edges, beside the engine's verdicts.
  - Returns the verify role's per-host report (JSON, Markdown and JUnit forms). Used by the role
    emailsec.hes.verify for hosts of the inventory group C(pfsense).
options:
  ranges:
    description: The allowed ranges (CIDRs), usually from the C(emailsec.hes.ranges) lookup.
    type: list
    elements: str
    required: true
  interface:
    description: The pfSense interface where mail from the internet enters.
    type: str
    default: wan
  alias_name:
    description: The network alias that holds the ranges.
    type: str
    default: TM_HES_IP_RANGE
  mail_servers:
    description: The mail servers (translated addresses for port forwards); empty - the destinations of the SMTP rules found.
    type: list
    elements: str
    default: []
  other_ports:
    description: TCP ports other than 25 and the verdict each should get from the ranges (allow or deny).
    type: dict
  root:
    description: Where the firewall's file system starts (V(/); a C(hes-lab pfsense) box's directory in the lab).
    type: path
    default: /
  host:
    description: The name the report carries (the inventory host name).
    type: str
    required: true
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to diff.
  platform:
    support: full
    description: pfSense.
    platforms: posix
seealso:
  - module: emailsec.hes.pfsense_hes
"""

EXAMPLES = r"""
- name: Verify the SMTP lock of this pfSense firewall
  emailsec.hes.pfsense_hes_verify:
    ranges: "{{ query('emailsec.hes.ranges', site='us') }}"
    host: "{{ inventory_hostname }}"
  register: hes_pfsense_verify

- name: Fail when it did not pass
  ansible.builtin.assert:
    that: hes_pfsense_verify.passed
    fail_msg: "{{ hes_pfsense_verify.message }}"
"""

RETURN = r"""
passed:
  description: Whether every check passed (n/a counts as passed).
  returned: always
  type: bool
message:
  description: One paragraph - the verdict, or each failing check with its detail.
  returned: always
  type: str
summary:
  description: The short form for set_stats (status, vendor, checks by id, probe counts).
  returned: always
  type: dict
report:
  description: The whole report (format 1) - checks, probes, the engine's leaks and blocked flows with witnesses, what pf loaded.
  returned: always
  type: dict
markdown:
  description: The report in Markdown.
  returned: always
  type: str
junit:
  description: The report as JUnit XML.
  returned: always
  type: str
"""

import datetime
import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.emailsec.hes.plugins.module_utils.hes_verify import (
    VerifyError,
    failure_message,
    render_junit,
    render_markdown,
    summary,
)
from ansible_collections.emailsec.hes.plugins.module_utils.pfsense.parse import ConfigError, parse_config
from ansible_collections.emailsec.hes.plugins.module_utils.pfsense.plan import check_alias_name
from ansible_collections.emailsec.hes.plugins.module_utils.pfsense.verify import evaluate, test_addresses
from ansible_collections.emailsec.hes.plugins.module_utils.pfsense.box import CONFIG, PFCTL, read_bytes, read_tables


def pfctl(module, root, *args):
    rc, out, err = module.run_command([os.path.join(root, PFCTL)] + list(args))
    return {"rc": rc, "stdout": out, "stderr": err}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            ranges=dict(type="list", elements="str", required=True),
            interface=dict(type="str", default="wan"),
            alias_name=dict(type="str", default="TM_HES_IP_RANGE"),
            mail_servers=dict(type="list", elements="str", default=[]),
            other_ports=dict(type="dict"),
            root=dict(type="path", default="/"),
            host=dict(type="str", required=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    root = params["root"]
    try:
        alias = check_alias_name(params["alias_name"])
        config = parse_config(read_bytes(module, os.path.join(root, CONFIG)).decode("utf-8"))
        tables = read_tables(root, config)
        pf = {"rules": pfctl(module, root, "-sr")["stdout"], "nat": pfctl(module, root, "-sn")["stdout"],
              "table": pfctl(module, root, "-t", alias, "-T", "show"),
              "tests": dict((a, pfctl(module, root, "-t", alias, "-T", "test", a)["rc"]) for a in test_addresses(params["ranges"]))}
        generated = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        report = evaluate(config, params["ranges"], params["interface"], alias, pf, params["host"], generated,
                          params["mail_servers"], params["other_ports"], tables)
    except (VerifyError, ConfigError, ValueError) as exc:
        module.fail_json(msg=to_native(exc))
    passed = report["status"] == "pass"
    message = "emailsec.hes.verify: %s PASSED (%d checks, %d probes)" % (
        params["host"], len(report["checks"]), report["summary"]["probes"]) if passed else failure_message(report)
    module.exit_json(changed=False, passed=passed, message=message, summary=summary(report), report=report,
                     markdown=render_markdown(report), junit=render_junit(report))


if __name__ == "__main__":
    main()
