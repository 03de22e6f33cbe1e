"""The PAN-OS emulator's XML API as raw requests: XPath forms, config actions, error codes and
bodies, jobs, multi-config, the request log, and the emulator's process contract."""
import http.client
import os
import time
from urllib.parse import urlencode

import pytest

from hes_lab.panos import client, tls
from hes_lab.panos.log import config_writes, read_log
from tests.lab_fixtures import start_lab

CONFIGS = os.path.join(os.path.dirname(__file__), "panos_configs")
APPDEFAULT = os.path.join(CONFIGS, "fw-appdefault-smtp.xml")
VSYS = "/config/devices/entry[@name='localhost.localdomain']/vsys/entry[@name='vsys1']"
RULES = f"{VSYS}/rulebase/security/rules"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    log = tmp_path_factory.mktemp("panos") / "requests.jsonl"
    with start_lab(
        "panos", "--config", APPDEFAULT, "--port", 0, "--log", log, "--admin", "admin2:pw2", "--commit-seconds", 1.0
    ) as process:
        process.log = str(log)
        yield process


@pytest.fixture
def api(lab):
    client.reset(lab.port)
    client.set_faults(lab.port, commit_fail=False, lock_by=None, drop_after=None, delay_ms=0)
    key = client.keygen(lab.port)

    def call(user_key=None, **params):
        params["key"] = user_key or key
        status, root = client.api(lab.port, params)
        assert status == 200
        return root

    call.port = lab.port
    call.key = key
    return call


def names(root, path="./result//entry"):
    return [e.get("name") for e in root.findall(path)]


def test_keygen_bad_credentials_is_403_with_device_body(lab):
    status, root = client.api(lab.port, {"type": "keygen", "user": "admin", "password": "nope"})
    assert status == 403
    assert root.get("status") == "error" and root.get("code") == "403"
    assert root.findtext("result/msg") == "Invalid Credential"


def test_unknown_key_is_403(lab):
    status, root = client.api(lab.port, {"type": "op", "cmd": "<show><system><info/></system></show>", "key": "x"})
    assert status == 403


def test_keys_are_alphanumeric_and_per_admin(lab):
    first, second = client.keygen(lab.port), client.keygen(lab.port, "admin2", "pw2")
    assert first.isalnum() and second.isalnum() and first != second
    assert client.keygen(lab.port) == first


def test_get_and_show_of_a_missing_node(api):
    missing = f"{VSYS}/address/entry[@name='nope']"
    got = api(type="config", action="get", xpath=missing)
    assert (got.get("status"), got.get("code")) == ("success", "7")
    assert got.find("result") is not None and len(got.find("result")) == 0
    shown = api(type="config", action="show", xpath=missing)
    assert shown.get("status") == "error"
    assert shown.findtext("msg/line") == "No such node"


def test_get_returns_selected_nodes_inside_result(api):
    container = api(type="config", action="get", xpath=f"{VSYS}/address")
    assert container.get("code") == "19"
    assert container.find("result/address") is not None
    entry = api(type="config", action="get", xpath=f"{VSYS}/address/entry[@name='jump-host']")
    assert entry.find("result").get("count") == "1"
    assert entry.findtext("result/entry/ip-netmask") == "10.10.0.10/32"


def test_xpath_forms(api):
    union = api(
        type="config",
        action="get",
        xpath=f"{VSYS}/address/entry[@name='mail-server']/description|{VSYS}/address/entry[@name='mail-server']/ip-netmask",
    )
    assert sorted(child.tag for child in union.find("result")) == ["description", "ip-netmask"]
    name_only = api(type="config", action="get", xpath=f"{VSYS}/address-group/entry/@name")
    assert [(e.tag, e.attrib) for e in name_only.find("result")] == [
        ("entry", {"name": "admin-net"}),
        ("entry", {"name": "ops-sources"}),
    ]
    either = api(
        type="config", action="get", xpath=f"{VSYS}/address/entry[@name='jump-host' or @name=\"mail-server\"]"
    )
    assert names(either) == ["mail-server", "jump-host"]
    quoted = api(type="config", action="get", xpath=f"{VSYS}/address/entry[@name=concat('jump','-host')]")
    assert names(quoted) == ["jump-host"]
    member = api(type="config", action="get", xpath=f"{VSYS}/address-group/entry/static/member[text()='jump-host']")
    assert [m.text for m in member.find("result")] == ["jump-host"]
    loose = api(type="config", action="get", xpath="/config/devices/entry/vsys/entry/zone/entry/@name")
    assert names(loose, "./result/entry") == ["untrust", "trust", "dmz"]
    anywhere = api(type="config", action="get", xpath="//address-group/entry[static/member='jump-host']")
    assert names(anywhere, "./result/entry") == ["admin-net"]
    bad = api(type="config", action="get", xpath=f"{VSYS}/address/entry[@name='x'")
    assert (bad.get("status"), bad.get("code")) == ("error", "6")


def test_set_merges_members_and_edit_replaces(api):
    group = f"{VSYS}/address-group/entry[@name='admin-net']"
    ok = api(type="config", action="set", xpath=group, element="<static><member>office-lan</member></static>")
    assert (ok.get("status"), ok.get("code"), ok.findtext("msg")) == ("success", "20", "command succeeded")
    merged = api(type="config", action="get", xpath=f"{group}/static")
    assert [m.text for m in merged.findall("result/static/member")] == ["admin-workstations", "jump-host", "office-lan"]
    api(type="config", action="edit", xpath=f"{group}/static", element="<static><member>jump-host</member></static>")
    replaced = api(type="config", action="get", xpath=f"{group}/static")
    assert [m.text for m in replaced.findall("result/static/member")] == ["jump-host"]
    wrong = api(type="config", action="edit", xpath=f"{group}/static", element="<dynamic><filter>'x'</filter></dynamic>")
    assert (wrong.get("status"), wrong.get("code"), wrong.findtext("msg/line")) == (
        "error",
        "12",
        "Edit breaks config validity",
    )


def test_set_creates_the_path_and_appends(api):
    api(
        type="config",
        action="set",
        xpath=f"{RULES}/entry[@name='rule1']",
        element="<from><member>untrust</member></from><to><member>dmz</member></to><action>deny</action>",
    )
    rules = api(type="config", action="get", xpath=f"{RULES}/entry/@name")
    assert names(rules, "./result/entry")[-1] == "rule1"
    created = api(type="config", action="get", xpath=f"{RULES}/entry[@name='rule1']")
    assert created.find("result/entry").get("uuid")


def test_edit_keeps_uuid_and_position(api):
    element = (
        '<entry name="Inbound-Web"><from><member>untrust</member></from><to><member>dmz</member></to>'
        "<source><member>any</member></source><destination><member>any</member></destination>"
        "<application><member>ssl</member></application><service><member>application-default</member></service>"
        "<action>allow</action></entry>"
    )
    api(type="config", action="edit", xpath=f"{RULES}/entry[@name='Inbound-Web']", element=element)
    got = api(type="config", action="get", xpath=f"{RULES}/entry[@name='Inbound-Web']")
    assert got.find("result/entry").get("uuid") == "6f1c2a44-0d0e-4a6b-9a77-222222222222"
    order = names(api(type="config", action="get", xpath=f"{RULES}/entry/@name"), "./result/entry")
    assert order[1] == "Inbound-Web"


def test_dirty_markers_follow_changes_until_commit(api):
    api(type="config", action="set", xpath=f"{VSYS}/address", element='<entry name="n1"><ip-netmask>192.0.2.1</ip-netmask></entry>')
    entry = api(type="config", action="get", xpath=f"{VSYS}/address/entry[@name='n1']").find("result/entry")
    assert entry.get("admin") == "admin" and entry.get("dirtyId") and entry.get("time")
    assert client.lab_config(api.port, "candidate").find(".//address/entry[@name='n1']").get("admin") is None
    job = api(type="commit", cmd="<commit></commit>").findtext("result/job")
    wait_for_job(api, job)
    entry = api(type="config", action="get", xpath=f"{VSYS}/address/entry[@name='n1']").find("result/entry")
    assert entry.get("admin") is None


def test_delete_forms_and_missing_object(api):
    for name in ("b0", "b1", "b2"):
        api(type="config", action="set", xpath=f"{VSYS}/address", element=f'<entry name="{name}"><fqdn>{name}.example.com</fqdn></entry>')
    api(type="config", action="delete", xpath=f"{VSYS}/address/entry[@name='b0' or @name='b1']")
    left = names(api(type="config", action="get", xpath=f"{VSYS}/address/entry/@name"), "./result/entry")
    assert "b2" in left and "b0" not in left and "b1" not in left
    api(type="config", action="delete", xpath=f"{VSYS}/address-group/entry[@name='admin-net']/static/member[text()='jump-host']")
    members = api(type="config", action="get", xpath=f"{VSYS}/address-group/entry[@name='admin-net']/static")
    assert [m.text for m in members.findall("result/static/member")] == ["admin-workstations"]
    gone = api(type="config", action="delete", xpath=f"{VSYS}/address/entry[@name='nope']")
    assert (gone.get("status"), gone.get("code"), gone.findtext("msg")) == ("success", "7", "Object doesn't exist")


def test_delete_of_referenced_object_names_every_referrer(api):
    refused = api(type="config", action="delete", xpath=f"{VSYS}/address/entry[@name='mail-server-public']")
    assert (refused.get("status"), refused.get("code")) == ("error", "10")
    lines = [line.text for line in refused.findall("msg/line")]
    assert lines[0] == " mail-server-public cannot be deleted because of references from:"
    assert " vsys -> vsys1 -> rulebase -> security -> rules -> Inbound-SMTP -> destination" in lines
    assert " vsys -> vsys1 -> rulebase -> nat -> rules -> MX-Inbound-DNAT -> destination" in lines


def test_rename_updates_references(api):
    api(type="config", action="rename", xpath=f"{VSYS}/address/entry[@name='jump-host']", newname="bastion")
    group = api(type="config", action="get", xpath=f"{VSYS}/address-group/entry[@name='admin-net']/static")
    assert [m.text for m in group.findall("result/static/member")] == ["admin-workstations", "bastion"]
    clash = api(type="config", action="rename", xpath=f"{VSYS}/address/entry[@name='bastion']", newname="office-lan")
    assert clash.get("status") == "error"


def test_move(api):
    entry = f"{RULES}/entry[@name='Deny-Untrust-Inbound']"
    api(type="config", action="move", xpath=entry, where="top")
    api(type="config", action="move", xpath=f"{RULES}/entry[@name='Inbound-SMTP']", where="after", dst="Admin-SSH")
    order = names(api(type="config", action="get", xpath=f"{RULES}/entry/@name"), "./result/entry")
    assert order == ["Deny-Untrust-Inbound", "Inbound-Web", "Admin-SSH", "Inbound-SMTP", "Outbound-Web", "Legacy-FTP-Inbound"]
    missing = api(type="config", action="move", xpath=entry, where="before", dst="nope")
    assert missing.get("status") == "error"


def test_multi_config_is_atomic(api):
    good = (
        "<multi-configure-request>"
        f'<set id="1" xpath="{VSYS}/address"><entry name="m1"><ip-netmask>192.0.2.1</ip-netmask></entry></set>'
        f'<edit id="2" xpath="{VSYS}/address/entry[@name=\'m1\']/description"><description>x</description></edit>'
        f'<delete id="3" xpath="{VSYS}/address/entry[@name=\'nope\']"/>'
        "</multi-configure-request>"
    )
    answer = api(type="config", action="multi-config", element=good)
    assert (answer.get("status"), answer.get("code")) == ("success", "20")
    assert [(r.get("id"), r.get("code")) for r in answer.findall("response")] == [("1", "20"), ("2", "20"), ("3", "7")]
    bad = (
        "<multi-configure-request>"
        f'<set id="1" xpath="{VSYS}/address"><entry name="m2"><ip-netmask>192.0.2.2</ip-netmask></entry></set>'
        f'<delete id="2" xpath="{VSYS}/address/entry[@name=\'jump-host\']"/>'
        "</multi-configure-request>"
    )
    answer = api(type="config", action="multi-config", element=bad)
    assert (answer.get("status"), answer.get("code")) == ("error", "13")
    assert answer.findall("response")[-1].get("status") == "error"
    left = names(api(type="config", action="get", xpath=f"{VSYS}/address/entry/@name"), "./result/entry")
    assert "m1" in left and "m2" not in left


def wait_for_job(api, job_id):
    states = []
    for unused_attempt in range(50):
        job = api(type="op", cmd=f"<show><jobs><id>{job_id}</id></jobs></show>").find("result/job")
        states.append(job.findtext("status"))
        if states[-1] == "FIN":
            return job, states
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never finished: {states}")


def test_commit_job_goes_from_act_to_fin(api):
    api(type="config", action="set", xpath=f"{VSYS}/address", element='<entry name="c1"><ip-netmask>192.0.2.9</ip-netmask></entry>')
    answer = api(type="commit", cmd="<commit></commit>")
    job_id = answer.findtext("result/job")
    assert answer.findtext("result/msg/line") == f"Commit job enqueued with jobid {job_id}"
    job, states = wait_for_job(api, job_id)
    assert states[0] == "ACT" and states[-1] == "FIN"
    for field in ("id", "user", "tenq", "tfin", "result"):
        assert job.findtext(field), field
    assert (job.findtext("user"), job.findtext("result"), job.findtext("type")) == ("admin", "OK", "Commit")
    unknown = api(type="op", cmd="<show><jobs><id>999</id></jobs></show>")
    assert (unknown.get("status"), unknown.findtext("msg/line")) == ("error", "job 999 not found")


def test_nothing_to_commit(api):
    answer = api(type="commit", cmd="<commit></commit>")
    assert (answer.get("status"), answer.get("code"), answer.findtext("msg")) == (
        "success",
        "19",
        "There are no changes to commit.",
    )
    forced = api(type="commit", cmd="<commit><force/></commit>")
    assert forced.findtext("result/job")


def test_op_command_spellings_and_unknown_command(api):
    for cmd in ("<show><system><info></info></system></show>", "<show><system><info /></system></show>", "<show><system><info/></system></show>"):
        assert api(type="op", cmd=cmd).findtext("result/system/sw-version") == "10.2.9"
    with_declaration = api(type="op", cmd="<?xml version='1.0' encoding='utf-8'?><check><pending-changes/></check>")
    assert with_declaration.findtext("result") == "no"
    unknown = api(type="op", cmd="<show><bogus/></show>")
    assert unknown.get("status") == "error"
    assert unknown.findtext("msg/line") == " show -> bogus  is unexpected"
    version = api(type="version")
    assert version.findtext("result/sw-version") == "10.2.9"


def test_locks_block_other_admins(api):
    other = client.keygen(api.port, "admin2", "pw2")
    taken = api(user_key=other, type="op", cmd="<request><config-lock><add><comment>cw</comment></add></config-lock></request>")
    assert taken.findtext("result").startswith("Successfully acquired lock.")
    locks = api(type="op", cmd="<show><config-locks/></show>")
    entry = locks.find("result/config-locks/entry")
    assert (entry.get("name"), entry.findtext("comment")) == ("admin2", "cw")
    for action, params in (
        ("set", {"xpath": f"{VSYS}/address", "element": '<entry name="x"><ip-netmask>192.0.2.1</ip-netmask></entry>'}),
        ("edit", {"xpath": f"{VSYS}/address/entry[@name='jump-host']/description", "element": "<description>x</description>"}),
        ("delete", {"xpath": f"{VSYS}/address/entry[@name='office-lan']"}),
    ):
        refused = api(type="config", action=action, **params)
        assert (refused.get("status"), refused.findtext("msg/line")) == ("error", "Configuration is locked by admin2")
    refused = api(type="commit", cmd="<commit><force/></commit>")
    assert refused.findtext("msg/line") == "Configuration is locked by admin2"
    released = api(user_key=other, type="op", cmd="<request><config-lock><remove/></config-lock></request>")
    assert released.get("status") == "success"
    again = api(user_key=other, type="op", cmd="<request><config-lock><remove/></config-lock></request>")
    assert again.findtext("msg/line") == "Config is not currently locked for scope shared"


def test_pending_changes_by_admin_listing(api):
    other = client.keygen(api.port, "admin2", "pw2")
    api(user_key=other, type="config", action="set", xpath=f"{VSYS}/address", element='<entry name="o1"><ip-netmask>192.0.2.1</ip-netmask></entry>')
    listing = api(type="op", cmd="<show><config><list><changes/></list></config></show>")
    entry = listing.find("result/journal/entry")
    assert (entry.findtext("owner"), entry.findtext("action"), entry.findtext("xpath")) == ("admin2", " CREATE", f"{VSYS}/address")
    mine = api(type="op", cmd="<show><config><list><changes><partial><admin><member>admin</member></admin></partial></changes></list></config></show>")
    assert mine.find("result/journal") is None
    partial = api(type="commit", action="partial", cmd="<commit><partial><admin><member>admin</member></admin></partial></commit>")
    assert partial.findtext("msg") == "There are no changes to commit."


def test_request_log_records_requests_without_secrets(lab, api):
    api(type="config", action="set", xpath=f"{VSYS}/address", element='<entry name="l1"><ip-netmask>192.0.2.1</ip-netmask></entry>')
    api(type="op", cmd="<request><password-hash><password>hunter2-secret</password></password-hash></request>")
    client.api(lab.port, {"type": "keygen", "user": "admin", "password": "wrong-secret"})
    with open(lab.log, encoding="utf-8") as handle:
        text = handle.read()
    for secret in (api.key, "hunter2-secret", "wrong-secret", "pw2"):
        assert secret not in text
    records = read_log(lab.log)
    assert set(records[-1]) == {"ts", "connection", "user", "type", "action", "xpath", "cmd", "status", "code"}
    assert (records[-1]["type"], records[-1]["status"], records[-1]["code"]) == ("keygen", "error", 403)
    writes = config_writes(records)
    assert writes[-1]["action"] == "set" and writes[-1]["user"] == "admin" and writes[-1]["code"] == 20
    assert all(r["type"] == "commit" or r["action"] in ("set", "edit", "delete", "move", "rename", "multi-config") for r in writes)


def test_get_requests_and_api_without_trailing_slash(api):
    query = urlencode({"type": "config", "action": "get", "xpath": f"{VSYS}/address/entry[@name='jump-host']"})
    status, content_type, root = client.api_get(api.port, f"{query}&key={api.key}")
    assert (status, content_type) == (200, "application/xml; charset=UTF-8")
    assert root.findtext("result/entry/ip-netmask") == "10.10.0.10/32"


def test_sigterm_exits_zero_and_port_zero_picks_a_port():
    lab = start_lab("panos", "--config", APPDEFAULT, "--port", 0)
    assert lab.port > 0
    assert lab.stop() == 0


def test_bad_config_file_fails_to_start(tmp_path):
    broken = tmp_path / "broken.xml"
    broken.write_text("<config><devices>")
    with pytest.raises(RuntimeError, match="cannot boot"):
        start_lab("panos", "--config", broken, "--port", 0, timeout=10)


def test_partial_commit_keeps_new_rule_uuid(api):
    other = client.keygen(api.port, "admin2", "pw2")
    api(user_key=other, type="config", action="set", xpath=f"{VSYS}/address", element='<entry name="o1"><fqdn>o1.example.com</fqdn></entry>')
    api(
        type="config",
        action="set",
        xpath=f"{RULES}/entry[@name='New-Rule']",
        element=(
            "<from><member>trust</member></from><to><member>dmz</member></to><source><member>any</member></source>"
            "<destination><member>any</member></destination><application><member>ssh</member></application>"
            "<service><member>application-default</member></service><action>allow</action>"
        ),
    )
    candidate_uuid = api(type="config", action="get", xpath=f"{RULES}/entry[@name='New-Rule']").find("result/entry").get("uuid")
    job = api(type="commit", action="partial", cmd="<commit><partial><admin><member>admin</member></admin></partial></commit>")
    finished, unused_job = wait_for_job(api, job.findtext("result/job"))
    assert finished.findtext("result") == "OK"
    running = client.lab_config(api.port, "running")
    assert running.find(".//rules/entry[@name='New-Rule']").get("uuid") == candidate_uuid
    assert running.find(".//address/entry[@name='o1']") is None
    assert api(type="op", cmd="<check><pending-changes/></check>").findtext("result") == "yes"


def test_requests_may_share_one_tls_connection_and_the_log_numbers_connections(lab, api):
    """Keep-alive, as PAN-OS's web server: many requests on one TLS connection when the client
    keeps it open; one connection per request when it asks to close (urllib does)."""
    before = len(read_log(lab.log))
    connection = http.client.HTTPSConnection("127.0.0.1", lab.port, context=tls.client_context(), timeout=30)
    try:
        for attempt in range(3):
            connection.request("POST", "/api/", body=urlencode({"type": "version", "key": api.key}),
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
            answer = connection.getresponse()
            assert answer.status == 200 and b"<sw-version>" in answer.read(), attempt
    finally:
        connection.close()
    api(type="version")
    api(type="version")
    numbers = [r["connection"] for r in read_log(lab.log)[before:]]
    assert len(numbers) == 5
    assert numbers[0] == numbers[1] == numbers[2]
    assert len(set(numbers)) == 3
