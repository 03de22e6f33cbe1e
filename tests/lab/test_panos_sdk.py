"""The PAN-OS emulator driven by unmodified pan-os-python, the SDK the collection's modules use,
over TLS verified against the lab CA (through the collection's own connection code)."""
import os
import xml.etree.ElementTree as ET

import pytest
from panos import errors
from panos.base import PanDevice
from panos.firewall import Firewall, FirewallCommit
from panos.objects import AddressGroup, AddressObject
from panos.policies import Rulebase, SecurityRule

from hes_lab.panos import client
from tests.lab.panos_lab import verified_firewall
from tests.lab_fixtures import start_lab

CONFIGS = os.path.join(os.path.dirname(__file__), "panos_configs")
APPDEFAULT = os.path.join(CONFIGS, "fw-appdefault-smtp.xml")
VSYS = "/config/devices/entry[@name='localhost.localdomain']/vsys/entry[@name='vsys1']"


@pytest.fixture(scope="module")
def lab():
    with start_lab(
        "panos", "--config", APPDEFAULT, "--port", 0, "--admin", "admin2:second-pw", "--commit-seconds", 0.05
    ) as process:
        yield process


@pytest.fixture
def port(lab):
    client.reset(lab.port)
    client.set_faults(lab.port, commit_fail=False, lock_by=None, drop_after=None, delay_ms=0)
    return lab.port


def firewall(port, user="admin", password="admin"):
    fw = verified_firewall(port, user, password)
    fw.add(Rulebase())
    return fw


def rule(fw, name):
    found = SecurityRule(name)
    fw.children[0].add(found)
    return found


def running_names(port, kind):
    root = client.lab_config(port, "running")
    return [e.get("name") for e in root.findall(f"./devices/entry/vsys/entry/{kind}/entry")]


def test_create_from_device_reports_configured_version(port):
    device = PanDevice.create_from_device("127.0.0.1", "admin", "admin", port=port)
    assert isinstance(device, Firewall)
    assert device.version == "10.2.9"
    assert device.serial == "007951000123456"


def test_bad_password_is_http_403(port):
    fw = Firewall("127.0.0.1", "admin", "wrong", port=port)
    with pytest.raises(errors.PanURLError, match="403"):
        fw.refresh_system_info()


def test_bad_api_key_is_http_403(port):
    fw = Firewall("127.0.0.1", api_key="LUFRPT1notakey", port=port)
    with pytest.raises(errors.PanURLError, match="403"):
        fw.refresh_system_info()


def test_address_object_lifecycle(port):
    fw = firewall(port)
    obj = AddressObject("TM_HES_1", "192.0.2.0/24", description="allowed SMTP source")
    fw.add(obj)
    obj.create()

    fetched = AddressObject("TM_HES_1")
    fw.add(fetched)
    fetched.refresh()
    assert (fetched.value, fetched.description) == ("192.0.2.0/24", "allowed SMTP source")

    obj.value = "198.51.100.0/25"
    obj.apply()
    obj.description = "changed"
    obj.update("description")
    partial = AddressObject("TM_HES_1")
    fw.add(partial)
    partial.refresh(refresh_children=False)  # a union xpath of the entry's children
    assert (partial.value, partial.description) == ("198.51.100.0/25", "changed")

    obj.delete()
    with pytest.raises(errors.PanObjectMissing):
        fetched.refresh()


def test_refreshall_full_and_name_only(port):
    fw = firewall(port)
    full = AddressObject.refreshall(fw)
    names = AddressObject.refreshall(fw, name_only=True)
    assert [a.name for a in full] == [a.name for a in names]
    assert "mail-server-public" in [a.name for a in names]
    ranges = {a.name: (a.type, a.value) for a in full}
    assert ranges["monitoring-range"] == ("ip-range", "10.10.60.10-10.10.60.20")
    rules = SecurityRule.refreshall(fw.children[0], name_only=True)
    assert [r.name for r in rules][:2] == ["Inbound-SMTP", "Inbound-Web"]


def test_harden_inbound_smtp_and_commit(port):
    fw = firewall(port)
    for index, cidr in enumerate(["192.0.2.0/24", "198.51.100.0/25"], 1):
        obj = AddressObject(f"TM_HES_{index}", cidr)
        fw.add(obj)
        obj.create()
    group = AddressGroup("TM_HES_IP_RANGE", static_value=["TM_HES_1", "TM_HES_2"])
    fw.add(group)
    group.create()
    smtp = rule(fw, "Inbound-SMTP")
    smtp.refresh()
    assert smtp.source == ["any"]
    smtp.source = ["TM_HES_IP_RANGE"]
    smtp.update("source")

    assert fw.pending_changes() is True
    # the policy test reads the running configuration, so nothing changes before the commit
    before = fw.test_security_policy_match(
        "203.0.113.200", "203.0.113.25", 6, application="smtp", port=25, from_zone="untrust", to_zone="dmz"
    )
    assert before[0]["name"] == "Inbound-SMTP"

    result = fw.commit(sync=True)
    assert result["success"] is True and result["result"] == "OK"
    assert result["messages"] == ["Configuration committed successfully"]
    assert fw.pending_changes() is False
    assert fw.commit(sync=True) is None
    with pytest.raises(errors.PanCommitNotNeeded):
        fw.commit(sync=True, exception=True)

    committed = rule(fw, "Inbound-SMTP")
    committed.refresh(running_config=True)
    assert committed.source == ["TM_HES_IP_RANGE"]
    assert committed.uuid == "6f1c2a44-0d0e-4a6b-9a77-111111111111"

    inside = fw.test_security_policy_match(
        "198.51.100.127", "203.0.113.25", 6, application="smtp", port=25, from_zone="untrust", to_zone="dmz"
    )
    outside = fw.test_security_policy_match(
        "198.51.100.128", "203.0.113.25", 6, application="smtp", port=25, from_zone="untrust", to_zone="dmz"
    )
    assert inside == [{"name": "Inbound-SMTP", "index": 1, "action": "allow"}]
    assert outside == [{"name": "Deny-Untrust-Inbound", "index": 6, "action": "deny"}]


def test_new_rule_lands_at_bottom_and_moves(port):
    fw = firewall(port)
    new = SecurityRule(
        "Allow-Relay",
        fromzone=["untrust"],
        tozone=["dmz"],
        source=["192.0.2.10"],
        destination=["mail-server-public"],
        application=["smtp"],
        service=["application-default"],
        action="allow",
    )
    fw.children[0].add(new)
    new.create()
    names = [r.name for r in SecurityRule.refreshall(fw.children[0], name_only=True, add=False)]
    assert names[-1] == "Allow-Relay"
    new.move("before", "Inbound-SMTP")
    names = [r.name for r in SecurityRule.refreshall(fw.children[0], name_only=True, add=False)]
    assert names[:2] == ["Allow-Relay", "Inbound-SMTP"]
    fetched = rule(fw, "Allow-Relay")
    fetched.refresh()
    assert fetched.uuid  # PAN-OS 9.0+ gives every new rule a uuid
    assert fetched.type == "universal"
    fetched.delete()
    assert "Allow-Relay" not in [r.name for r in SecurityRule.refreshall(fw.children[0], name_only=True, add=False)]


def test_delete_of_referenced_object_is_refused(port):
    fw = firewall(port)
    obj = AddressObject("jump-host")
    fw.add(obj)
    with pytest.raises(errors.PanDeviceXapiError) as raised:
        obj.delete()
    text = str(raised.value)
    assert "jump-host cannot be deleted because of references from:" in text
    assert "vsys -> vsys1 -> address-group -> admin-net -> static" in text
    assert "jump-host" in [a.name for a in AddressObject.refreshall(fw, name_only=True)]


def test_partial_commit_of_a_reference_to_uncommitted_object_fails_and_keeps_running(port):
    """The write is valid (the candidate holds admin2's object); the partial commit of admin's
    changes alone would leave the group pointing at nothing, so validation refuses it."""
    theirs = AddressObject("TM_HES_1", "192.0.2.0/24")
    firewall(port, "admin2", "second-pw").add(theirs)
    theirs.create()
    fw = firewall(port)
    group = AddressGroup("TM_HES_IP_RANGE", static_value=["TM_HES_1"])
    fw.add(group)
    group.create()
    smtp = rule(fw, "Inbound-SMTP")
    smtp.refresh()
    smtp.source = ["TM_HES_IP_RANGE"]
    smtp.update("source")
    result = fw.commit(sync=True, admins=["admin"])
    assert result["success"] is False and result["result"] == "FAIL"
    assert result["messages"] == [
        "Validation Error:",
        " address-group -> TM_HES_IP_RANGE -> static 'TM_HES_1' is not a valid reference",
        " address-group -> TM_HES_IP_RANGE -> static is invalid",
        " address-group is invalid",
        " vsys is invalid",
        " devices is invalid",
    ]
    with pytest.raises(errors.PanCommitFailed):
        fw.commit(sync=True, exception=True, admins=["admin"])
    assert "TM_HES_IP_RANGE" not in running_names(port, "address-group")
    assert fw.pending_changes() is True
    assert fw.commit(sync=True)["result"] == "OK"
    assert "TM_HES_IP_RANGE" in running_names(port, "address-group")


def test_empty_static_group_used_by_rule_fails_commit(port):
    fw = firewall(port)
    key = client.keygen(port)
    status, root = client.api(
        port,
        {"type": "config", "action": "set", "xpath": f"{VSYS}/address-group",
         "element": '<entry name="EMPTY"><static/></entry>', "key": key},
    )
    assert (status, root.get("status")) == (200, "success")
    smtp = rule(fw, "Inbound-SMTP")
    smtp.refresh()
    smtp.source = ["EMPTY"]
    smtp.update("source")
    result = fw.commit(sync=True)
    assert result["result"] == "FAIL"
    assert " address-group -> EMPTY -> static is missing 'member'" in result["messages"]


def test_config_lock_by_other_admin(port):
    other = firewall(port, "admin2", "second-pw")
    assert other.add_config_lock(comment="change window") is True
    fw = firewall(port)
    assert fw.check_config_locks() is True
    obj = AddressObject("TM_HES_1", "192.0.2.0/24")
    fw.add(obj)
    with pytest.raises(errors.PanLockError, match="^Configuration is locked by admin2$"):
        obj.create()
    with pytest.raises(errors.PanLockError, match="Config for scope shared is currently locked by admin2"):
        fw.add_config_lock()
    with pytest.raises(errors.PanLockError, match="Configuration is locked by admin2"):
        fw.commit(sync=True, cmd=FirewallCommit(force=True))
    assert other.remove_config_lock() is True
    assert fw.check_config_locks() is False
    obj.create()


def test_own_config_lock_does_not_block_own_changes(port):
    fw = firewall(port)
    assert fw.add_config_lock() is True
    with pytest.raises(errors.PanLockError, match="You already own a config lock"):
        fw.add_config_lock()
    obj = AddressObject("TM_HES_1", "192.0.2.0/24")
    fw.add(obj)
    obj.create()
    fw.remove_all_locks()
    assert fw.check_config_locks() is False and fw.check_commit_locks() is False


def test_commit_lock_by_other_admin_blocks_commit(port):
    other = firewall(port, "admin2", "second-pw")
    assert other.add_commit_lock() is True
    fw = firewall(port)
    assert fw.check_commit_locks() is True
    obj = AddressObject("TM_HES_1", "192.0.2.0/24")
    fw.add(obj)
    obj.create()
    with pytest.raises(errors.PanDeviceXapiError, match="holding device wide commit locks"):
        fw.commit(sync=True)
    other.remove_commit_lock()
    assert fw.commit(sync=True)["success"] is True


def test_partial_commit_commits_only_named_admin(port):
    other = firewall(port, "admin2", "second-pw")
    theirs = AddressObject("their-host", "10.10.9.9")
    other.add(theirs)
    theirs.create()
    fw = firewall(port)
    ours = AddressObject("TM_HES_1", "192.0.2.0/24")
    fw.add(ours)
    ours.create()

    changes = fw.op("<show><config><list><changes/></list></config></show>", cmd_xml=False)
    owners = {e.findtext("owner") for e in changes.findall("./result/journal/entry")}
    assert owners == {"admin", "admin2"}
    admins = fw.op("<show><config><list><admins/></list></config></show>", cmd_xml=False)
    assert [m.text for m in admins.findall("./result/admins/member")] == ["admin2", "admin"]

    result = fw.commit(sync=True, admins=["admin"])
    assert result["success"] is True
    names = running_names(port, "address")
    assert "TM_HES_1" in names and "their-host" not in names
    assert fw.pending_changes() is True
    changes = fw.op("<show><config><list><changes/></list></config></show>", cmd_xml=False)
    assert {e.findtext("owner") for e in changes.findall("./result/journal/entry")} == {"admin2"}
    assert fw.commit(sync=True, admins=["admin"]) is None
    assert fw.commit(sync=True)["success"] is True
    assert "their-host" in running_names(port, "address")
    assert fw.pending_changes() is False


def test_partial_revert_keeps_other_admins_changes(port):
    other = firewall(port, "admin2", "second-pw")
    theirs = AddressObject("their-host", "10.10.9.9")
    other.add(theirs)
    theirs.create()
    fw = firewall(port)
    ours = AddressObject("TM_HES_1", "192.0.2.0/24")
    fw.add(ours)
    ours.create()
    fw.op("<revert><config><partial><admin><member>admin</member></admin></partial></config></revert>", cmd_xml=False)
    names = [a.name for a in AddressObject.refreshall(fw, name_only=True)]
    assert "their-host" in names and "TM_HES_1" not in names
    assert fw.pending_changes() is True


def test_commit_fault_fails_job_and_keeps_running(port):
    client.set_faults(port, commit_fail=True)
    fw = firewall(port)
    obj = AddressObject("TM_HES_1", "192.0.2.0/24")
    fw.add(obj)
    obj.create()
    result = fw.commit(sync=True)
    assert result["result"] == "FAIL"
    assert "Commit failed" in result["messages"]
    assert "TM_HES_1" not in running_names(port, "address")
    client.set_faults(port, commit_fail=False)
    assert fw.commit(sync=True)["result"] == "OK"
    assert "TM_HES_1" in running_names(port, "address")


def test_lock_fault_set_live(port):
    client.set_faults(port, lock_by="change-bot")
    fw = firewall(port)
    locks = fw.op("show config-locks")
    assert [e.get("name") for e in locks.findall("./result/config-locks/entry")] == ["change-bot"]
    obj = AddressObject("TM_HES_1", "192.0.2.0/24")
    fw.add(obj)
    with pytest.raises(errors.PanLockError, match="Configuration is locked by change-bot"):
        obj.create()
    client.set_faults(port, lock_by=None)
    obj.create()


def test_slow_answers_time_out_the_client(port):
    key = client.keygen(port)
    client.set_faults(port, delay_ms=2500)
    fw = Firewall("127.0.0.1", api_key=key, port=port)
    fw.timeout = 1
    # pan-python wraps only connect/send errors in URLError: a read timeout reaches the caller
    # as the built-in TimeoutError, not PanConnectionTimeout.
    with pytest.raises(TimeoutError):
        fw.pending_changes()


def test_dropped_connection(port):
    fw = firewall(port)
    fw.refresh_system_info()
    client.set_faults(port, drop_after=1)
    assert fw.pending_changes() is False
    # The client resends a read once on a fresh connection, which the emulator drops too; the
    # transport reports it in pan-python's words, as PanURLError (describe_error reads those).
    with pytest.raises(errors.PanURLError, match="Remote end closed connection without response"):
        fw.pending_changes()
    client.set_faults(port, drop_after=None)
    assert fw.pending_changes() is False


def test_other_software_version():
    with start_lab("panos", "--config", APPDEFAULT, "--port", 0, "--sw-version", "11.1.2") as lab:
        fw = Firewall("127.0.0.1", "admin", "admin", port=lab.port)
        assert fw.refresh_system_info().version == "11.1.2"
        assert fw.version == "11.1.2"
        assert lab.stop() == 0


def test_configured_username_and_password():
    with start_lab("panos", "--config", APPDEFAULT, "--port", 0, "--username", "ops",
                   password="s3cret") as lab:
        assert Firewall("127.0.0.1", "ops", "s3cret", port=lab.port).refresh_system_info().platform == "PA-VM"
        with pytest.raises(errors.PanURLError, match="403"):
            Firewall("127.0.0.1", "admin", "admin", port=lab.port).refresh_system_info()


def test_running_config_op_matches_lab_view(port):
    fw = firewall(port)
    answer = fw.op("<show><config><running/></config></show>", cmd_xml=False)
    via_op = answer.find("./result/config")
    assert ET.tostring(via_op) == ET.tostring(client.lab_config(port, "running"))
