# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """Connection options shared by the PAN-OS modules (panos/client.py provider_argument_spec)."""

    DOCUMENTATION = r"""
requirements:
  - pan-os-python >= 1.8 (with pan-python)
options:
  provider:
    description:
      - How to reach the firewall, shaped like the C(provider) of C(paloaltonetworks.panos).
    type: dict
    required: true
    suboptions:
      ip_address:
        description: Address or name of the firewall's management interface.
        type: str
        required: true
      username:
        description:
          - Administrator to authenticate as when O(provider.password) is used, and the
            administrator whose changes are committed (set it to the API key's owner).
        type: str
        default: admin
      password:
        description:
          - Password of O(provider.username); one of this or O(provider.api_key) is required.
          - An empty string counts as not given.
        type: str
      api_key:
        description:
          - API key; used instead of O(provider.password) when given.
          - An empty string counts as not given.
        type: str
      port:
        description: HTTPS port of the XML API.
        type: int
        default: 443
      validate_certs:
        description:
          - Check the firewall's certificate (chain to a trusted CA, and the name or address in
            O(provider.ip_address)) before anything is sent, the password and the keygen request
            included.
          - Trusted CAs are those of O(provider.ca_path), else the controller's system trust store.
          - V(false) switches checking off, so anyone who can answer on that address receives the
            credentials; the modules warn when it is off. Prefer O(provider.ca_path) or
            O(provider.certificate_fingerprint) for a self-signed firewall certificate.
        type: bool
        default: true
      ca_path:
        description:
          - PEM file of the CA certificate(s) that signed the firewall's management certificate
            (for a self-signed certificate, that certificate itself), used instead of the system
            trust store.
          - Mutually exclusive with O(provider.certificate_fingerprint).
        type: path
      certificate_fingerprint:
        description:
          - SHA-256 fingerprint of the firewall's management certificate, as
            C(openssl x509 -noout -fingerprint -sha256) prints it (colons and case do not matter).
          - When set, exactly that certificate is accepted (its CA and name are not checked), and
            anything else is refused in the TLS handshake, before a request is sent.
          - When the check fails, the error shows the fingerprint the server presented, to compare
            with the one the firewall shows under Device > Certificate Management > Certificates.
        type: str
  vsys:
    description: Virtual system holding the objects and rules.
    type: str
    default: vsys1
  timeout:
    description: Seconds to wait for each API answer (and for a commit job).
    type: int
    default: 60
"""
