"""The collection's filters, loaded through Ansible's plugin loader."""
import pytest
from ansible.errors import AnsibleFilterError
from ansible.plugins.loader import filter_loader


def hes_filter(name):
    return filter_loader.get("emailsec.hes.%s" % name).j2_function


def test_asa_network_objects():
    assert hes_filter("asa_network_objects")(["18.208.22.64/26", "192.0.2.10/32", "2001:db8::/48"]) == [
        "18.208.22.64 255.255.255.192", "host 192.0.2.10", "2001:db8::/48"]
    assert hes_filter("asa_network_objects")("18.208.22.128/25") == ["18.208.22.128 255.255.255.128"]


def test_asa_network_objects_names_bad_value():
    with pytest.raises(AnsibleFilterError, match="'18.208.22.65/26' has host bits set"):
        hes_filter("asa_network_objects")(["18.208.22.65/26"])


def test_hes_probes_filter_matches_module_utils():
    probes = hes_filter("hes_probes")(["18.208.22.64/26"], complement_samples=2)
    assert [p["kind"] for p in probes] == [
        "inside-first", "inside-middle", "inside-last", "edge-below", "edge-above", "complement", "complement"]


def test_hes_probes_names_bad_value():
    with pytest.raises(AnsibleFilterError, match="malformed entry 'mail.example'"):
        hes_filter("hes_probes")(["mail.example"])
