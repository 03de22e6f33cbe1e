#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: verify_hes_panos_config
author: emailsec.hes maintainers (@emailsec)
version_added: "0.1.0"
short_description: Read the running security policy and objects of a PAN-OS firewall for verification
description:
  - Reads the B(running) (committed) configuration once (C(show /config)) and returns what the
    verify role checks, parsed - addresses, address groups, services, service groups and the
    security rules in order (zones, source, destination, application, service, action,
    disabled, negations).
  - The running configuration is what C(test security-policy-match) evaluates, so the
    configuration checks and the probes judge the same policy.
  - Read-only; never reports a change.
extends_documentation_fragment:
  - emailsec.hes.panos
notes:
  - Supports check mode (the module only reads).
seealso:
  - module: emailsec.hes.panos_hes_policy_match
  - module: emailsec.hes.verify_hes_report
"""

EXAMPLES = r"""
- name: Read the committed policy
  emailsec.hes.verify_hes_panos_config:
    provider: "{{ hes_panos_provider }}"
  register: running
"""

RETURN = r"""
state:
  description:
    - The running configuration of O(vsys), parsed; C(addresses), C(groups) (C(static) members,
      C(dynamic) filter), C(services), C(service_groups) by name, and C(rules) in rulebase order
      with C(index), C(from), C(to), C(source), C(destination), C(application), C(service),
      C(action), C(disabled), C(negate_source) and C(negate_destination).
  returned: success
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.emailsec.hes.plugins.module_utils.panos import client
from ansible_collections.emailsec.hes.plugins.module_utils.panos.parse import PanosError, verification_state


def main():
    module = AnsibleModule(argument_spec=client.provider_argument_spec(), supports_check_mode=True)
    if not client.HAS_PANOS:
        module.fail_json(msg=missing_required_lib("pan-os-python"))
    provider = module.params["provider"]
    try:
        fw = client.connect_firewall(provider, module.params["vsys"], module.params["timeout"])
        config = client.read_config(fw, provider, "show")
    except client.PANOS_ERRORS as exc:
        module.fail_json(msg=client.describe_error(exc, provider))
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    try:
        state = verification_state(config, module.params["vsys"])
    except PanosError as exc:
        module.fail_json(msg="%s: %s" % (client.endpoint(provider), exc))
    module.exit_json(changed=False, state=state)


if __name__ == "__main__":
    main()
