#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: panos_hes_policy_match
author: emailsec.hes maintainers (@emailsec)
version_added: "0.1.0"
short_description: Ask a PAN-OS firewall which security rule matches each probe
description:
  - Runs C(test security-policy-match) for every probe, over one connection and one API key,
    and returns per probe the first matching rule, its position and its action.
  - The firewall evaluates its B(running) (committed) policy, so commit before verifying.
  - PAN-OS answers one probe per request; that is the API's limit.
  - Read-only; never reports a change.
extends_documentation_fragment:
  - emailsec.hes.panos
options:
  probes:
    description:
      - The flows to test. Each is a dict with C(source) and C(destination) (IP addresses,
        required), C(port), C(protocol) (V(tcp), V(udp), a name like V(icmp) or a number 1-255,
        default V(tcp)), C(application), C(from_zone), C(to_zone) and an optional C(name) that is
        returned unchanged.
      - Always pass C(application) (for example V(smtp)); PAN-OS answers differently without it.
    type: list
    elements: dict
    required: true
notes:
  - Supports check mode (the module only reads).
seealso:
  - module: emailsec.hes.panos_hes_smtp
"""

EXAMPLES = r"""
- name: Which rule lets HES and a stranger reach the MX?
  emailsec.hes.panos_hes_policy_match:
    provider: "{{ hes_panos_provider }}"
    probes:
      - {name: inside, source: 18.208.22.65, destination: 203.0.113.25, port: 25, application: smtp,
         from_zone: untrust, to_zone: dmz}
      - {name: outside, source: 198.51.100.7, destination: 203.0.113.25, port: 25, application: smtp,
         from_zone: untrust, to_zone: dmz}
  register: matched
"""

RETURN = r"""
results:
  description:
    - One entry per probe, in order, the probe's own keys plus C(rule) (name or null when no
      rule matches, which PAN-OS means as the default deny), C(index), C(action) and C(allowed).
  returned: success
  type: list
  elements: dict
  sample:
    - {name: inside, source: 18.208.22.65, destination: 203.0.113.25, port: 25, rule: Inbound-SMTP,
       index: 1, action: allow, allowed: true}
requests:
  description: Number of policy-match requests sent.
  returned: success
  type: int
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.emailsec.hes.plugins.module_utils.panos import client
from ansible_collections.emailsec.hes.plugins.module_utils.panos.model import probe_arguments, probe_result
from ansible_collections.emailsec.hes.plugins.module_utils.panos.parse import PanosError


def main():
    argument_spec = client.provider_argument_spec()
    argument_spec.update(probes={"type": "list", "elements": "dict", "required": True})
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not client.HAS_PANOS:
        module.fail_json(msg=missing_required_lib("pan-os-python"))
    provider = module.params["provider"]
    try:
        arguments = [probe_arguments(probe, index) for index, probe in enumerate(module.params["probes"])]
    except PanosError as exc:
        module.fail_json(msg=str(exc))
    try:
        fw = client.connect_firewall(provider, module.params["vsys"], module.params["timeout"], warn=module.warn)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    results = []
    try:
        for probe, kwargs in zip(module.params["probes"], arguments):
            results.append(probe_result(probe, fw.test_security_policy_match(**kwargs)))
    except client.PANOS_ERRORS as exc:
        module.fail_json(msg="%s (after %d of %d probes)" % (client.describe_error(exc, provider), len(results),
                                                             len(arguments)), results=results)
    module.exit_json(changed=False, results=results, requests=len(results))


if __name__ == "__main__":
    main()
