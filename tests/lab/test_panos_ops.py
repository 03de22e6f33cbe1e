"""Operational commands of the PAN-OS emulator as clients send them: every call of
paloaltonetworks.panos' panos_facts default subset (system, session, interfaces, ha, routing, vr,
vsys), `show system info` from the configuration, and the request log with bodies."""
import json
import os

import pytest
from panos import errors
from panos.device import Vsys
from panos.firewall import FirewallCommit
from panos.network import EthernetInterface, VirtualRouter, Zone

from hes_lab.panos import client
from hes_lab.panos.log import read_log
from tests.lab.panos_lab import verified_firewall
from tests.lab_fixtures import start_lab

CONFIGS = os.path.join(os.path.dirname(__file__), "panos_configs")
APPDEFAULT = os.path.join(CONFIGS, "fw-appdefault-smtp.xml")
DEVICE = "/config/devices/entry[@name='localhost.localdomain']"


@pytest.fixture(scope="module")
def lab():
    with start_lab("panos", "--config", APPDEFAULT, "--port", 0, "--commit-seconds", 0.05) as process:
        yield process


@pytest.fixture
def fw(lab):
    client.reset(lab.port)
    return verified_firewall(lab.port)


def test_facts_system_subset(fw):
    system = fw.op("show system info").find("./result/system")
    assert system.findtext("hostname") == "pa-edge-01"
    assert (system.findtext("model"), system.findtext("serial"), system.findtext("sw-version")) == (
        "PA-VM", "007951000123456", "10.2.9")
    assert system.findtext("uptime").startswith("0 days, 0:0")
    assert system.findtext("multi-vsys") == "off"
    assert system.findtext("ip-address") == "192.0.2.10"
    assert fw.op("check pending-changes").find("./result").text == "no"
    assert fw.op("check full-commit-required").find("./result").text == "no"


def test_full_commit_is_required_after_a_load_until_one_is_done(fw):
    fw.op("<load><config><from>running-config.xml</from></config></load>", cmd_xml=False)
    assert fw.op("<check><full-commit-required/></check>", cmd_xml=False).findtext("./result") == "yes"
    assert fw.commit(sync=True, cmd=FirewallCommit(force=True))["result"] == "OK"
    assert fw.op("check full-commit-required").findtext("./result") == "no"


def test_facts_session_subset(fw):
    root = fw.op("show session info")
    values = {tag: root.find(f"./result/{tag}").text for tag in ("num-active", "num-max", "pps", "kbps")}
    assert values == {"num-active": "0", "num-max": "250000", "pps": "0", "kbps": "0"}


def test_facts_routing_subset_comes_from_the_virtual_router(fw):
    entries = fw.op("show routing route").findall("./result/entry")
    table = [{route.tag.replace("-", "_"): route.text for route in entry} for entry in entries]
    default = [r for r in table if r["destination"] == "0.0.0.0/0"]
    assert default == [{"virtual_router": "default", "destination": "0.0.0.0/0", "nexthop": "203.0.113.1",
                        "metric": "10", "flags": "A S", "age": None, "interface": "ethernet1/1",
                        "route_table": "unicast"}]
    connected = sorted((r["destination"], r["interface"]) for r in table if r["flags"] == "A C")
    assert connected == [("10.10.0.0/24", "ethernet1/2"), ("172.16.20.0/24", "ethernet1/3"),
                         ("203.0.113.0/24", "ethernet1/1")]
    assert {r["destination"] for r in table if r["flags"] == "A H"} == {
        "10.10.0.1/32", "172.16.20.1/32", "203.0.113.2/32"}


def test_routes_follow_the_running_configuration(fw):
    route = (f"{DEVICE}/network/virtual-router/entry[@name='default']/routing-table/ip/static-route")
    fw.xapi.set(xpath=route, element="<entry name='mx-relay'><destination>198.51.100.0/24</destination>"
                                     "<nexthop><ip-address>10.10.0.254</ip-address></nexthop>"
                                     "<metric>20</metric><interface>ethernet1/2</interface></entry>")
    destinations = [e.findtext("destination") for e in fw.op("show routing route").findall("./result/entry")]
    assert "198.51.100.0/24" not in destinations
    fw.commit(sync=True)
    entry = [e for e in fw.op("show routing route").findall("./result/entry")
             if e.findtext("destination") == "198.51.100.0/24"]
    assert [(e.findtext("nexthop"), e.findtext("metric")) for e in entry] == [("10.10.0.254", "20")]


def test_facts_ha_subset_disabled(fw):
    root = fw.op("show high-availability all")
    assert root.find("./result/enabled").text == "no"


def test_facts_vr_and_interfaces_subsets(fw):
    routers = VirtualRouter.refreshall(fw, add=False)
    assert [(vr.name, vr.interface) for vr in routers] == [
        ("default", ["ethernet1/1", "ethernet1/2", "ethernet1/3"])]
    interfaces = {e.name: (e.comment, e.ip) for e in EthernetInterface.refreshall(fw, add=False)}
    assert interfaces["ethernet1/1"] == ("Internet uplink", ["203.0.113.2/24"])


def test_facts_vsys_subset(fw):
    session_root = fw.op("show session meter")
    virtual_systems = []
    for vsys in Vsys.refreshall(fw, name_only=True):
        for var in ("display_name", "interface", "virtual_routers"):
            vsys.refresh_variable(var)
        zones = [zone.name for zone in Zone.refreshall(vsys, name_only=True)]
        vsys_id = vsys.name[4:]
        sessions = session_root.find(".//entry/[vsys='" + vsys_id + "']")
        virtual_systems.append((vsys.name, vsys.interface, zones, sessions.find(".//current").text,
                                sessions.find(".//maximum").text))
    assert virtual_systems == [("vsys1", ["ethernet1/1", "ethernet1/2", "ethernet1/3"],
                                ["untrust", "trust", "dmz"], "0", "0")]


def test_system_info_reports_the_committed_hostname(fw):
    fw.xapi.edit(xpath=f"{DEVICE}/deviceconfig/system/hostname", element="<hostname>pa-edge-renamed</hostname>")
    assert fw.op("show system info").findtext("./result/system/hostname") == "pa-edge-01"
    fw.commit(sync=True)
    system = fw.op("show system info").find("./result/system")
    assert (system.findtext("hostname"), system.findtext("devicename")) == ("pa-edge-renamed", "pa-edge-renamed")


def test_model_serial_and_ha_from_the_command_line_and_configuration(tmp_path):
    with open(APPDEFAULT, encoding="utf-8") as handle:
        text = handle.read()
    ha = ("<high-availability><enabled>yes</enabled><group><mode><active-passive/></mode>"
          "<election-option><device-priority>90</device-priority></election-option></group></high-availability>")
    config = tmp_path / "ha.xml"
    config.write_text(text.replace("<deviceconfig>", "<deviceconfig>" + ha, 1))
    with start_lab("panos", "--config", config, "--port", 0, "--model", "PA-3220", "--serial", "013201001234",
                   "--sw-version", "11.1.4") as lab:
        fw = verified_firewall(lab.port)
        info = fw.refresh_system_info()
        assert (info.platform, info.serial, info.version) == ("PA-3220", "013201001234", "11.1.4")
        system = fw.op("show system info").find("./result/system")
        assert system.findtext("family") == "3200" and system.find("vm-mode") is None
        root = fw.op("show high-availability all")
        assert root.findtext("./result/enabled") == "yes"
        assert root.findtext("./result/group/local-info/mode") == "Active-Passive"
        assert root.findtext("./result/group/local-info/state") == "active"
        assert root.findtext("./result/group/local-info/priority") == "90"


def test_body_log_answers_what_was_sent_and_said_without_secrets(tmp_path):
    log = tmp_path / "requests.jsonl"
    with start_lab("panos", "--config", APPDEFAULT, "--port", 0, "--log", log, "--log-bodies",
                   "--username", "ops", "--commit-seconds", 0.05, password="Ops-Pw-77c1") as lab:
        fw = verified_firewall(lab.port, user="ops", password="Ops-Pw-77c1")
        key = fw.api_key
        fw.op("show system info")
        with pytest.raises(errors.PanDeviceXapiError) as refusal:
            fw.xapi.set(xpath=f"{DEVICE}/vsys/entry[@name='vsys1']/address",
                        element="<entry name='bad'><ip-netmask>198.51.100.256</ip-netmask></entry>")
        fw.op("<show><config><running/></config></show>", cmd_xml=False)
    records = read_log(str(log))
    text = log.read_text()
    assert key not in text and "Ops-Pw-77c1" not in text and "$5$labsalt" not in text
    keygen, info, write, config = records
    assert keygen["request"] == {"type": "keygen", "user": "ops", "password": "******"}
    assert "<key>******</key>" in keygen["response"]
    assert info["request"]["key"] == "******" and "<hostname>pa-edge-01</hostname>" in info["response"]
    assert (write["http_status"], write["status"], write["code"]) == (200, "error", 12)
    assert write["request"]["element"] == "<entry name='bad'><ip-netmask>198.51.100.256</ip-netmask></entry>"
    assert "198.51.100.256 is an invalid ipv4/v6 address" in write["response"] and "198.51.100.256" in str(refusal.value)
    assert "<phash>******</phash>" in config["response"]
    assert json.loads(log.read_text().splitlines()[0])["user"] == "ops"
