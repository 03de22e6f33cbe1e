"""A pan-os-python Firewall on an emulator, through the collection's own connection code: TLS
verified against the lab CA, as the modules would connect."""
from ansible_collections.emailsec.hes.plugins.module_utils.panos.client import connect_firewall
from hes_lab.panos import tls


def verified_firewall(port, user="admin", password="admin", vsys=None):
    provider = {"ip_address": "127.0.0.1", "port": port, "username": user, "password": password,
                "ca_path": tls.ca_file()}
    return connect_firewall(provider, vsys, 60)
