"""packet-tracer on real-world shaped configs: verdict, phases and the matched ACE (§6.6)."""
import os
import xml.etree.ElementTree as ET

import pytest

from hes_lab.asa.model import Device, Session

CONFIGS = os.path.join(os.path.dirname(__file__), "asa_configs")


def boot(name):
    with open(os.path.join(CONFIGS, name), encoding="utf-8") as handle:
        return Device(handle.read())


@pytest.fixture(scope="module")
def branch():
    return boot("asa-9.8-branch.cfg")


@pytest.fixture(scope="module")
def dc():
    return boot("asav-9.12-dc.cfg")


@pytest.fixture(scope="module")
def hq():
    return boot("fpr-9.18-hq.cfg")


def trace(device, args):
    return device.execute(Session(1, enabled=True), "packet-tracer input " + args).text


def verdict(text):
    return [line.split(": ", 1)[1] for line in text.split("\n") if line.startswith("Action: ")][0]


def acl_phase(text):
    phases = text.split("\n\n")
    return [p for p in phases if "Type: ACCESS-LIST" in p][-1]


@pytest.mark.parametrize("args, action, matched", [
    # seed rule: SMTP from anywhere to the public MX
    ("outside tcp 198.51.100.7 40000 203.0.113.25 25", "allow",
     "access-list outside_access_in extended permit tcp any host 203.0.113.25 eq smtp"),
    # nested group (ALL_TRUSTED > MAIL_SCANNERS, subnet) + service group
    ("outside tcp 192.0.2.5 40000 172.16.20.80 443", "allow",
     "access-list outside_access_in extended permit tcp object-group ALL_TRUSTED object DMZ_WEB object-group WEB_PORTS"),
    # range object inside a group
    ("outside tcp 198.51.100.210 40000 172.16.20.80 80", "allow",
     "access-list outside_access_in extended permit tcp object-group ALL_TRUSTED object DMZ_WEB object-group WEB_PORTS"),
    # the inactive any4 line is skipped; the explicit deny with log matches
    ("outside tcp 203.0.113.99 40000 172.16.20.80 80", "drop",
     "access-list outside_access_in extended deny ip any any log"),
    # admins first, then the deny smtp shadows the later permit for the relay (first match wins)
    ("inside tcp 10.20.1.10 40000 198.51.100.1 25", "allow",
     "access-list inside_access_in extended permit ip object-group ADMIN_HOSTS any"),
    ("inside tcp 10.20.1.25 40000 198.51.100.1 25", "drop",
     "access-list inside_access_in extended deny tcp any any eq smtp log"),
    # protocol group tcp/udp with a port
    ("inside udp 10.20.3.3 5353 198.51.100.53 53", "allow",
     "access-list inside_access_in extended permit object-group TCP_UDP object INSIDE_NET any eq domain"),
])
def test_branch_acls(branch, args, action, matched):
    text = trace(branch, args)
    assert verdict(text) == action
    phase = acl_phase(text)
    assert matched in phase.split("\n")
    assert f"access-group {matched.split()[1]} in interface {args.split()[0]}" in phase
    assert ("Subtype: log" in phase) and (f"Result: {'ALLOW' if action == 'allow' else 'DROP'}" in phase)
    if action == "drop":
        assert "Drop-reason: (acl-drop) Flow is denied by configured rule" in text


def test_no_access_group_uses_security_levels(branch):
    down = trace(branch, "dmz tcp 172.16.20.80 40000 203.0.113.50 443")
    up = trace(branch, "dmz tcp 172.16.20.80 40000 10.20.1.5 443")
    assert verdict(down) == "allow" and verdict(up) == "drop"
    assert "Implicit Rule" in acl_phase(up)
    assert "output-interface: inside" in up


def test_implicit_deny_after_the_last_ace(hq):
    text = trace(hq, "outside tcp 203.0.113.99 40000 172.16.30.80 8080")
    assert verdict(text) == "drop"
    assert acl_phase(text).split("\n")[5:7] == ["Config:", "Implicit Rule"]


def test_global_acl_applies_when_the_interface_has_none(dc):
    # inside (level 100) has no access-group, but the global ACL's implicit deny applies
    text = trace(dc, "inside tcp 10.50.0.9 40000 198.51.100.80 80")
    assert verdict(text) == "drop"


def test_group_deny_first_and_no_route(dc):
    text = trace(dc, "outside tcp 198.51.100.99 40000 172.31.25.10 25")
    assert "access-list outside_access_in extended deny ip object-group BLOCKLIST any" in text
    assert verdict(text) == "drop"
    allowed = trace(dc, "outside tcp 198.51.100.7 40000 172.31.25.11 587")
    assert "access-list outside_access_in extended permit tcp any object-group MAIL_SERVERS " \
           "object-group MAIL_SUBMISSION" in allowed
    v6 = trace(dc, "outside tcp 2001:db8:100::5 40000 2001:db8:ffff::1 443")
    assert "Drop-reason: (no-route) No route to host" in v6


def test_versions_9_14_and_later_print_timings(hq, branch):
    assert "Elapsed time: " in trace(hq, "outside tcp 198.51.100.7 1025 192.0.2.25 25")
    assert "Elapsed time: " not in trace(branch, "outside tcp 198.51.100.7 1025 203.0.113.25 25")


def test_xml_form_parses_once_wrapped(hq):
    text = trace(hq, "outside tcp 198.51.100.41 40000 172.16.30.80 22 xml")
    root = ET.fromstring("<root>" + text + "</root>")
    assert root.find("result/action").text == "allow"
    acl = [p for p in root.findall("Phase") if p.find("subtype").text == "log"][0]
    assert acl.find("config").text.split("\n") == [
        "access-group outside_access_in in interface outside",
        "access-list outside_access_in extended permit tcp object-group PARTNERS object WEBSRV eq ssh"]
    drop = ET.fromstring("<root>" + trace(hq, "outside tcp 198.51.100.9 1 172.16.30.80 22 xml") + "</root>")
    assert drop.find("result/drop-reason").text == "(acl-drop) Flow is denied by configured rule"


def test_hits_are_counted(hq):
    device = boot("fpr-9.18-hq.cfg")
    trace(device, "dmz udp 172.16.30.9 5000 10.0.10.53 123")
    out = device.execute(Session(1, enabled=True), "show access-list dmz_access_in").text
    assert "extended permit object-group DNS_NTP 172.16.30.0 255.255.255.0 any (hitcnt=1)" in out
    assert "extended permit udp 172.16.30.0 255.255.255.0 any eq ntp (hitcnt=1)" in out


def test_detailed_adds_the_rule_lookup(hq):
    text = trace(hq, "outside tcp 198.51.100.7 40000 192.0.2.25 25 detailed")
    assert " Forward Flow based lookup yields rule:" in text
