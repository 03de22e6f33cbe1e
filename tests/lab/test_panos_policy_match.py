"""`test security-policy-match` on the emulator, asked through pan-os-python like the verify
role does, over the three lab firewall configurations."""
import os

import pytest
from panos.firewall import Firewall

from hes_lab.panos import client
from tests.lab_fixtures import start_lab

CONFIGS = os.path.join(os.path.dirname(__file__), "panos_configs")
MX = "203.0.113.25"
OUTBOUND = {"source": "10.10.3.3", "destination": "192.0.2.80", "application": "web-browsing", "src_zone": "trust", "dst_zone": "untrust"}


@pytest.fixture(scope="module")
def labs():
    started = {}
    try:
        for name in ("fw-appdefault-smtp", "fw-custom-service-allow-all-below", "fw-allow-all-above"):
            started[name] = start_lab("panos", "--config", os.path.join(CONFIGS, f"{name}.xml"), "--port", 0)
        yield {name: Firewall("127.0.0.1", "admin", "admin", port=lab.port, vsys="vsys1") for name, lab in started.items()}
    finally:
        for lab in started.values():
            lab.stop()


def first(fw, source, destination=MX, protocol=6, port=25, application="smtp", src_zone="untrust", dst_zone="dmz"):
    found = fw.test_security_policy_match(
        source, destination, protocol, application=application, port=port, from_zone=src_zone, to_zone=dst_zone
    )
    return (found[0]["name"], found[0]["action"]) if found else None


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"source": "198.51.100.7"}, ("Inbound-SMTP", "allow")),
        # application-default admits smtp on tcp/25 only
        ({"source": "198.51.100.7", "port": 587}, ("Deny-Untrust-Inbound", "deny")),
        ({"source": "198.51.100.7", "protocol": 17}, ("Deny-Untrust-Inbound", "deny")),
        # the web rule's application-default: ssl on 443, web-browsing on 80
        ({"source": "198.51.100.7", "destination": "203.0.113.80", "port": 443, "application": "ssl"}, ("Inbound-Web", "allow")),
        ({"source": "198.51.100.7", "destination": "203.0.113.80", "port": 80, "application": "ssl"}, ("Deny-Untrust-Inbound", "deny")),
        # nested group ops-sources -> admin-net -> jump-host, and an ip-range object
        ({"source": "10.10.0.10", "destination": "172.16.20.25", "port": 22, "application": "ssh", "src_zone": "trust"}, ("Admin-SSH", "allow")),
        ({"source": "10.10.60.15", "destination": "172.16.20.25", "port": 22, "application": "ssh", "src_zone": "trust"}, ("Admin-SSH", "allow")),
        ({"source": "10.10.60.21", "destination": "172.16.20.25", "port": 22, "application": "ssh", "src_zone": "trust"}, None),
        # predefined services
        (dict(OUTBOUND, port=8080), ("Outbound-Web", "allow")),
        (dict(OUTBOUND, port=8443), None),
    ],
)
def test_appdefault_firewall(labs, query, expected):
    assert first(labs["fw-appdefault-smtp"], **query) == expected


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"source": "192.0.2.44"}, ("SMTP-from-Internet", "allow")),
        ({"source": "192.0.2.44", "application": "ssh"}, ("SMTP-from-Internet", "allow")),
        # tcp/26 is not tcp-25: falls through to the left-over allow-all below
        ({"source": "192.0.2.44", "port": 26}, ("Temp-Allow-All-Inbound", "allow")),
        ({"source": "192.0.2.44", "protocol": 17}, ("Temp-Allow-All-Inbound", "allow")),
        # the disabled FTP rule is skipped
        ({"source": "192.0.2.44", "port": 21, "application": "ftp"}, ("Temp-Allow-All-Inbound", "allow")),
        # service group mail-ports and an ip-range source
        ({"source": "198.51.100.15", "port": 587}, ("Partner-Submission", "allow")),
        ({"source": "198.51.100.21", "port": 587}, ("Temp-Allow-All-Inbound", "allow")),
        # intrazone only matches dmz -> dmz
        ({"source": "172.16.20.5", "destination": "172.16.20.25", "port": 22, "application": "ssh", "src_zone": "dmz"}, ("Intra-DMZ", "allow")),
        ({"source": "172.16.20.5", "destination": "10.10.0.5", "port": 22, "application": "ssh", "src_zone": "dmz", "dst_zone": "trust"}, None),
        # negate-source: ssh from outside the office range is denied, from inside it is allowed earlier
        ({"source": "10.20.0.5", "destination": "172.16.20.25", "port": 22, "application": "ssh", "src_zone": "trust"}, ("SSH-Not-From-Office", "deny")),
        ({"source": "10.10.50.5", "destination": "172.16.20.25", "port": 22, "application": "ssh", "src_zone": "trust"}, ("Admin-SSH", "allow")),
        # custom port-range service
        ({"source": "192.0.2.44", "port": 1500, "application": "any"}, ("Temp-Allow-All-Inbound", "allow")),
    ],
)
def test_custom_service_firewall(labs, query, expected):
    assert first(labs["fw-custom-service-allow-all-below"], **query) == expected


def test_allow_all_above_shadows_smtp_rule(labs):
    fw = labs["fw-allow-all-above"]
    assert first(fw, "198.51.100.7") == ("Allow-All-Inbound", "allow")
    everything = fw.test_security_policy_match(
        "198.51.100.7", MX, 6, application="smtp", port=25, from_zone="untrust", to_zone="dmz", show_all=True
    )
    assert [(m["name"], m["index"]) for m in everything] == [
        ("Allow-All-Inbound", 1),
        ("Inbound-SMTP", 2),
        ("Deny-Untrust-Inbound", 7),
    ]


def test_no_match_is_an_empty_result(labs):
    fw = labs["fw-appdefault-smtp"]
    answer = fw.op(
        "<test><security-policy-match><source>10.10.1.1</source><destination>10.10.1.2</destination>"
        "<protocol>6</protocol><destination-port>25</destination-port><from>trust</from><to>trust</to>"
        "</security-policy-match></test>",
        cmd_xml=False,
    )
    assert answer.get("status") == "success"
    assert len(answer.find("result")) == 0


def test_response_shape(labs):
    fw = labs["fw-appdefault-smtp"]
    answer = fw.op(
        "<test><security-policy-match><source>198.51.100.7</source><destination>203.0.113.25</destination>"
        "<protocol>6</protocol><application>smtp</application><destination-port>25</destination-port>"
        "<from>untrust</from><to>dmz</to></security-policy-match></test>",
        cmd_xml=False,
    )
    entry = answer.find("result/rules/entry")
    assert entry.get("name") == "Inbound-SMTP"
    assert entry.findtext("index") == "1" and entry.findtext("action") == "allow"
    assert [m.text for m in entry.findall("from/member")] == ["untrust"]
    assert [m.text for m in entry.findall("destination/member")] == ["mail-server-public"]


def test_bad_query_is_refused(labs):
    fw = labs["fw-appdefault-smtp"]
    key = client.keygen(fw.port)
    status, answer = client.api(
        fw.port,
        {"type": "op", "key": key,
         "cmd": "<test><security-policy-match><source>mail-server</source><destination>203.0.113.25</destination>"
                "<protocol>6</protocol></security-policy-match></test>"},
    )
    assert status == 200 and answer.get("status") == "error"
