"""Schema, value and reference validation of the PAN-OS emulator, driven by pan-os-python: what a
firewall refuses at `set`/`edit` (code 12, the candidate unchanged) and, for what slipped in,
at commit (the job fails with `Validation Error:`)."""
import glob
import os
import re
import xml.etree.ElementTree as ET

import pytest
from panos import errors
from panos.firewall import FirewallCommit
from panos.objects import AddressGroup, AddressObject, ServiceGroup, ServiceObject
from panos.policies import Rulebase, SecurityRule

from hes_lab.panos import client, validate
from tests.lab.panos_lab import verified_firewall
from tests.lab_fixtures import REPO_ROOT, start_lab

CONFIGS = os.path.join(os.path.dirname(__file__), "panos_configs")
APPDEFAULT = os.path.join(CONFIGS, "fw-appdefault-smtp.xml")
VSYS = "/config/devices/entry[@name='localhost.localdomain']/vsys/entry[@name='vsys1']"
LONG_NAME = "TM_HES_" + "x" * 71


@pytest.fixture(scope="module")
def lab():
    with start_lab("panos", "--config", APPDEFAULT, "--port", 0, "--commit-seconds", 0.05) as process:
        yield process


@pytest.fixture
def fw(lab):
    client.reset(lab.port)
    device = verified_firewall(lab.port, vsys="vsys1")
    device.add(Rulebase())
    device.port_of_lab = lab.port
    return device


def candidate(fw):
    return client.lab_config(fw.port_of_lab, "candidate")


def refused(fw, call):
    """Run CALL (a create/apply/update), which must be refused with code 12 and change nothing
    (candidate and pending changes as before); returns the error's message lines."""
    before, pending = ET.tostring(candidate(fw)), fw.pending_changes()
    with pytest.raises(errors.PanDeviceXapiError) as raised:
        call()
    assert fw.xapi.status_code == "12"
    assert ET.tostring(candidate(fw)) == before
    assert fw.pending_changes() is pending
    return str(raised.value).split("\n")


def add(fw, obj):
    (fw.children[0] if isinstance(obj, SecurityRule) else fw).add(obj)
    return obj


def test_address_with_an_invalid_ip_netmask_is_refused(fw):
    obj = add(fw, AddressObject("TM_HES_1", "198.51.100.300/32"))
    assert refused(fw, obj.create) == [" TM_HES_1 -> ip-netmask 198.51.100.300/32 is an invalid ipv4/v6 address"]


@pytest.mark.parametrize("kind, value, line", [
    ("ip-netmask", "198.51.100.0/33", " A1 -> ip-netmask 198.51.100.0/33 is an invalid ipv4/v6 address"),
    ("ip-netmask", "198.51.100.0/255.255.255.0",
     " A1 -> ip-netmask 198.51.100.0/255.255.255.0 is an invalid ipv4/v6 address"),
    ("ip-range", "198.51.100.9", " A1 -> ip-range 198.51.100.9 range separator('-') not found"),
    ("ip-range", "198.51.100.9-198.51.100.1",
     " A1 -> ip-range 198.51.100.9-198.51.100.1 is an invalid ipv4/v6 address range"),
    ("ip-range", "198.51.100.1-2001:db8::1", " A1 -> ip-range 198.51.100.1-2001:db8::1 is an invalid ipv4/v6 address range"),
    ("fqdn", "mx..example.com", " A1 -> fqdn mx..example.com is an invalid fqdn"),
    ("fqdn", "mx.example.com/25", " A1 -> fqdn mx.example.com/25 is an invalid fqdn"),
])
def test_address_values_are_checked_per_type(fw, kind, value, line):
    obj = add(fw, AddressObject("A1", value, type=kind))
    assert refused(fw, obj.create) == [line]


@pytest.mark.parametrize("kind, value", [
    ("ip-netmask", "2001:db8::/32"), ("ip-netmask", "198.51.100.7"), ("ip-netmask", "198.51.100.7/24"),
    ("ip-range", "198.51.100.1-198.51.100.9"), ("fqdn", "mx1.example.com"), ("ip-wildcard", "10.0.0.0/0.0.255.0"),
])
def test_valid_address_values_are_accepted(fw, kind, value):
    add(fw, AddressObject("A1", value, type=kind)).create()
    assert candidate(fw).find(f".//address/entry[@name='A1']/{kind}").text == value


def test_names_longer_than_63_characters_are_refused(fw):
    obj = add(fw, AddressObject(LONG_NAME, "198.51.100.1"))
    assert refused(fw, obj.create) == [
        f" address -> {LONG_NAME} Node can be at most 63 characters, but current length: 78 value: {LONG_NAME}...",
        " address is invalid",
    ]
    add(fw, AddressObject("n" * 63, "198.51.100.1")).create()


@pytest.mark.parametrize("name", ["-starts-with-a-hyphen", "has/slash", "semi;colon", "quote'd"])
def test_names_with_other_characters_are_refused(fw, name):
    obj = add(fw, AddressObject(name, "198.51.100.1"))
    lines = refused(fw, obj.create)
    assert lines[0] == f" address -> {name} '{name}' is not a valid name"


def test_rule_names_and_descriptions_have_limits_too(fw):
    long_rule = add(fw, SecurityRule("R" * 64, fromzone=["untrust"], tozone=["dmz"], action="allow"))
    assert "Node can be at most 63 characters, but current length: 64" in refused(fw, long_rule.create)[0]
    wordy = add(fw, AddressObject("A1", "198.51.100.1", description="d" * 1024))
    assert refused(fw, wordy.create)[0].startswith(
        " A1 -> description can be at most 1023 characters, but current length: 1024 value: dddd")


def test_group_member_that_names_nothing_is_refused(fw):
    group = add(fw, AddressGroup("TM_HES_IP_RANGE", static_value=["jump-host", "TM_HES_missing"]))
    assert refused(fw, group.create) == [
        " TM_HES_IP_RANGE -> static 'TM_HES_missing' is not a valid reference",
        " TM_HES_IP_RANGE -> static is invalid",
    ]


def test_group_may_hold_shared_objects_and_other_groups(fw):
    add(fw, AddressGroup("G", static_value=["ntp-servers-shared", "admin-net", "jump-host"])).create()
    assert [m.text for m in candidate(fw).findall(".//address-group/entry[@name='G']/static/member")] == [
        "ntp-servers-shared", "admin-net", "jump-host"]


def test_a_group_cannot_take_an_address_objects_name(fw):
    group = add(fw, AddressGroup("jump-host", static_value=["office-lan"]))
    assert refused(fw, group.create) == [
        " address-group -> jump-host  is invalid. An address object with this name already exists"]


def test_rule_source_that_is_neither_keyword_address_nor_object_is_refused(fw):
    smtp = add(fw, SecurityRule("Inbound-SMTP"))
    smtp.refresh()
    smtp.source = ["TM_HES_IP_RANGE"]
    assert refused(fw, lambda: smtp.update("source")) == [
        " source 'TM_HES_IP_RANGE' is not an allowed keyword",
        " source TM_HES_IP_RANGE is an invalid ipv4/v6 address",
        " source 'TM_HES_IP_RANGE' is not a valid reference",
        " source TM_HES_IP_RANGE range separator('-') not found",
        " source is invalid",
    ]
    smtp.source = ["198.51.100.0/24", "198.51.100.7-198.51.100.9", "mail-server", "US"]
    smtp.update("source")


def test_rule_zones_actions_and_services_are_checked_in_a_whole_rule(fw):
    def new_rule(**changes):
        values = dict(fromzone=["untrust"], tozone=["dmz"], source=["any"], destination=["mail-server-public"],
                      application=["smtp"], service=["application-default"], action="allow")
        values.update(changes)
        return add(fw, SecurityRule("Relay-SMTP", **values))

    assert refused(fw, new_rule(fromzone=["internet"]).create) == [
        " Relay-SMTP -> from 'internet' is not an allowed keyword",
        " Relay-SMTP -> from 'internet' is not a valid reference",
        " Relay-SMTP -> from is invalid",
    ]
    assert refused(fw, new_rule(action="permit").create) == [" Relay-SMTP -> action 'permit' is not an allowed keyword"]
    assert refused(fw, new_rule(service=["tcp-2525"]).create) == [
        " Relay-SMTP -> service 'tcp-2525' is not an allowed keyword",
        " Relay-SMTP -> service 'tcp-2525' is not a valid reference",
        " Relay-SMTP -> service is invalid",
    ]
    assert refused(fw, new_rule(service=["application-default", "tcp-8443"]).create) == [
        " 'application-default' should not be used with another service",
        " Relay-SMTP -> service is invalid",
    ]
    new_rule(service=["tcp-8443", "service-https"], action="reset-both").create()


def test_services_and_service_groups(fw):
    bad_port = add(fw, ServiceObject("tcp-smtp", protocol="tcp", destination_port="70000"))
    assert refused(fw, bad_port.create) == [" tcp-smtp -> protocol -> tcp -> port 70000 is an invalid port or port range"]
    reversed_range = add(fw, ServiceObject("tcp-smtp", protocol="tcp", destination_port="587-25"))
    assert "587-25 is an invalid port or port range" in refused(fw, reversed_range.create)[0]
    add(fw, ServiceObject("tcp-smtp", protocol="tcp", destination_port="25,465,587,2525-2526")).create()
    group = add(fw, ServiceGroup("mail-ports", value=["tcp-smtp", "tcp-imaps"]))
    assert refused(fw, group.create) == [
        " mail-ports -> members 'tcp-imaps' is not a valid reference", " mail-ports -> members is invalid"]
    add(fw, ServiceGroup("mail-ports", value=["tcp-smtp", "service-https"])).create()


def test_a_raw_set_of_several_entries_is_refused_whole(fw):
    key = client.keygen(fw.port_of_lab)
    status, answer = client.api(fw.port_of_lab, {
        "type": "config", "action": "set", "xpath": f"{VSYS}/address", "key": key,
        "element": "<entry name='ok'><ip-netmask>198.51.100.1</ip-netmask></entry>"
                   "<entry name='bad'><ip-netmask>198.51.100.256</ip-netmask></entry>"})
    assert (status, answer.get("status"), answer.get("code")) == (200, "error", "12")
    assert [line.text for line in answer.findall("msg/line")] == [
        " bad -> ip-netmask 198.51.100.256 is an invalid ipv4/v6 address"]
    assert candidate(fw).find(".//address/entry[@name='ok']") is None


def test_rename_is_checked_like_a_new_name(fw):
    key = client.keygen(fw.port_of_lab)
    status, answer = client.api(fw.port_of_lab, {
        "type": "config", "action": "rename", "xpath": f"{VSYS}/address/entry[@name='jump-host']",
        "newname": LONG_NAME, "key": key})
    assert (status, answer.get("status"), answer.get("code")) == (200, "error", "12")
    assert answer.findtext("msg/line").startswith(f" address -> {LONG_NAME} Node can be at most 63 characters")
    assert candidate(fw).find(".//address/entry[@name='jump-host']") is not None
    assert [m.text for m in candidate(fw).findall(".//address-group/entry[@name='admin-net']/static/member")] == [
        "admin-workstations", "jump-host"]


def test_commit_validates_what_slipped_in_and_names_one_object(tmp_path):
    """A configuration booted from a file is not checked at write time: the commit is."""
    with open(APPDEFAULT, encoding="utf-8") as handle:
        text = handle.read()
    text = text.replace("<ip-netmask>10.10.0.10/32</ip-netmask>", "<ip-netmask>10.10.0.300/32</ip-netmask>")
    both = "<ip-netmask>10.10.0.0/16</ip-netmask><ip-range>10.10.0.1-10.10.0.9</ip-range>"
    text = text.replace("<ip-netmask>10.10.0.0/16</ip-netmask>", both)
    broken = tmp_path / "broken.xml"
    broken.write_text(text)
    with start_lab("panos", "--config", broken, "--port", 0, "--commit-seconds", 0.05) as lab:
        fw = verified_firewall(lab.port, vsys="vsys1")
        result = fw.commit(sync=True, cmd=FirewallCommit(force=True))
        assert result["result"] == "FAIL"
        assert result["messages"] == [
            "Validation Error:",
            " address -> jump-host -> ip-netmask 10.10.0.300/32 is an invalid ipv4/v6 address",
            " address is invalid",
            " vsys is invalid",
            " devices is invalid",
        ]
        fw.xapi.edit(xpath=f"{VSYS}/address/entry[@name='jump-host']/ip-netmask",
                     element="<ip-netmask>10.10.0.10/32</ip-netmask>")
        result = fw.commit(sync=True)
        assert result["result"] == "FAIL"
        assert re.fullmatch(r" address -> office-lan Node ip-netmask\(line \d+\) and ip-range\(line \d+\) are "
                            r"mutually exclusive", result["messages"][1])


def test_negate_with_any_fails_the_commit_not_the_write(fw):
    smtp = add(fw, SecurityRule("Inbound-SMTP"))
    smtp.refresh()
    smtp.negate_source = True
    smtp.update("negate_source")
    result = fw.commit(sync=True)
    assert result["result"] == "FAIL"
    assert result["messages"] == [
        "Negate cannot be enabled for security rule Inbound-SMTP with source address as 'any'",
        "Configuration is invalid",
    ]


SHIPPED = sorted(glob.glob(os.path.join(REPO_ROOT, "lab", "hes_lab", "fleet_configs", "panos-*.xml"))
                 + glob.glob(os.path.join(CONFIGS, "*.xml"))
                 + glob.glob(os.path.join(REPO_ROOT, "tests", "integration", "verify_role", "configs", "panos-*.xml")))


@pytest.mark.parametrize("path", SHIPPED, ids=[os.path.basename(p) for p in SHIPPED])
def test_every_shipped_configuration_passes_commit_validation(path):
    assert validate.validate(ET.parse(path).getroot()) == []
