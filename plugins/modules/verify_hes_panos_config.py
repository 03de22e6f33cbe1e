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
requirements:
  - pan-os-python >= 1.8 (with pan-python)
options:
  provider:
    description: How to reach the firewall, shaped like the C(provider) of C(paloaltonetworks.panos).
    type: dict
    required: true
    suboptions:
      ip_address:
        description: Address or name of the firewall's management interface.
        type: str
        required: true
      username:
        description: Administrator to authenticate as when O(provider.password) is used.
        type: str
        default: admin
      password:
        description: Password of O(provider.username); one of this or O(provider.api_key) is required.
        type: str
      api_key:
        description: API key; used instead of O(provider.password) when given.
        type: str
      port:
        description: HTTPS port of the XML API.
        type: int
        default: 443
  vsys:
    description: Virtual system whose policy is read.
    type: str
    default: vsys1
  timeout:
    description: Seconds to wait for the API answer.
    type: int
    default: 60
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

from ansible_collections.emailsec.hes.plugins.module_utils import hes_panos as hp

try:
    from panos.firewall import Firewall
    from pan.xapi import PanXapiError
    from panos.errors import PanDeviceError
    HAS_PANOS = True
except ImportError:
    HAS_PANOS = False


def main():
    module = AnsibleModule(argument_spec=hp.provider_argument_spec(), supports_check_mode=True)
    if not HAS_PANOS:
        module.fail_json(msg=missing_required_lib("pan-os-python"))
    provider = module.params["provider"]
    fw = Firewall(provider["ip_address"], provider["username"], provider["password"],
                  api_key=provider["api_key"], port=provider["port"], vsys=module.params["vsys"])
    fw.timeout = module.params["timeout"]
    try:
        fw.xapi.show("/config")
        config = fw.xapi.element_root.find("result/config")
    except (PanXapiError, PanDeviceError) as exc:
        module.fail_json(msg=hp.describe_error(exc, provider))
    if config is None:
        module.fail_json(msg="%s: the answer to show /config holds no <config>" % hp.endpoint(provider))
    try:
        state = hp.read_state(config, module.params["vsys"])
    except hp.PanosPlanError as exc:
        module.fail_json(msg="%s: %s" % (hp.endpoint(provider), exc))
    for collection in (state["addresses"], state["groups"]):
        for item in collection.values():
            item.pop("xml", None)
    state.pop("references", None)
    module.exit_json(changed=False, state=state)


if __name__ == "__main__":
    main()
