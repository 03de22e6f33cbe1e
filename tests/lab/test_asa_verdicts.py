"""packet-tracer's ACCESS-LIST verdict over everything the emulator accepts in an ACE.

The expected verdicts are the ASA's documented semantics (asa-cli.md §6.3/§6.6; Cisco's ASA
firewall CLI configuration guide, "Access Control Lists" and "Objects"), written out by hand per
case; each case boots a small device, binds the ACL and reads `Action:` and the matched entry.
"""
import os

import pytest

from hes_lab.asa.model import Device, Session

CONFIGS = os.path.join(os.path.dirname(__file__), "asa_configs")

HEAD = """ASA Version 9.16(4)
!
hostname pt
names
name 203.0.113.25 mail-public
!
interface GigabitEthernet0/0
 nameif outside
 security-level 0
 ip address 198.51.100.2 255.255.255.0
 ipv6 address 2001:db8:1::2/64
!
interface GigabitEthernet0/1
 nameif inside
 security-level 100
 ip address 10.1.1.1 255.255.255.0
 ipv6 address 2001:db8:2::1/64
!
interface GigabitEthernet0/2
 nameif dmz
 security-level 50
 ip address 172.16.1.1 255.255.255.0
!
route outside 0.0.0.0 0.0.0.0 198.51.100.1 1
ipv6 route outside ::/0 2001:db8:1::1
"""


def device(*lines, bind="IN"):
    """The HEAD device with LINES typed in config mode and ACL BIND bound inbound on outside."""
    dev = Device(HEAD)
    session = Session(1, enabled=True)
    for line in ("conf t",) + lines + ((f"access-group {bind} in interface outside",) if bind else ()):
        reply = dev.execute(session, line).text
        assert "ERROR" not in reply, (line, reply)
    return dev


def trace(dev, args):
    """(action, the access-list line of the deciding ACCESS-LIST phase or 'Implicit Rule')."""
    text = dev.execute(Session(9, enabled=True), "packet-tracer input " + args).text
    action = [line.split(": ", 1)[1] for line in text.split("\n") if line.startswith("Action: ")][0]
    phase = [p for p in text.split("\n\n") if "Type: ACCESS-LIST" in p][-1].split("\n")
    config = phase[phase.index("Config:") + 1:phase.index("Additional Information:")]
    return action, (config[-1] if config else None)


def allowed(dev, args):
    return trace(dev, args)[0] == "allow"


# ---------------------------------------------------------------- order of evaluation
def test_interface_acl_then_global_acl_then_implicit_deny():
    dev = device("access-list IN extended permit tcp any any eq smtp",
                 "access-list IN extended deny tcp any any eq telnet",
                 "access-list G extended permit tcp any any eq telnet",
                 "access-list G extended permit udp any any eq ntp",
                 "access-group G global")
    assert trace(dev, "outside tcp 192.0.2.9 40000 10.1.1.5 25") == (
        "allow", "access-list IN extended permit tcp any any eq smtp")
    assert trace(dev, "outside tcp 192.0.2.9 40000 10.1.1.5 23") == (
        "drop", "access-list IN extended deny tcp any any eq telnet")
    assert trace(dev, "outside udp 192.0.2.9 40000 10.1.1.5 123") == (
        "allow", "access-list G extended permit udp any any eq ntp")
    assert trace(dev, "outside udp 192.0.2.9 40000 10.1.1.5 53") == ("drop", "Implicit Rule")
    # dmz has no ACL of its own: the global ACL applies, security levels no longer do
    assert trace(dev, "dmz tcp 172.16.1.9 40000 192.0.2.9 25") == ("drop", "Implicit Rule")
    assert trace(dev, "dmz udp 172.16.1.9 40000 192.0.2.9 123")[0] == "allow"


def test_without_any_acl_the_security_levels_decide():
    dev = device(bind=None)
    assert allowed(dev, "inside tcp 10.1.1.9 40000 192.0.2.9 25")
    assert not allowed(dev, "outside tcp 192.0.2.9 40000 10.1.1.9 25")


def test_first_match_wins_and_inactive_entries_are_skipped():
    dev = device("access-list IN extended deny tcp host 192.0.2.9 any eq smtp inactive",
                 "access-list IN extended permit tcp any any eq smtp",
                 "access-list IN extended deny tcp host 192.0.2.9 any eq smtp")
    assert trace(dev, "outside tcp 192.0.2.9 40000 10.1.1.5 25") == (
        "allow", "access-list IN extended permit tcp any any eq smtp")
    hits = [line for line in dev.execute(Session(2, enabled=True), "show access-list IN").text.split("\n")
            if "hitcnt=1" in line]
    assert len(hits) == 1 and "permit tcp any any eq smtp" in hits[0]


def test_an_outbound_acl_on_the_egress_interface_is_checked_after_the_inbound_one():
    dev = device("access-list IN extended permit ip any any",
                 "access-list OUT extended deny tcp any any eq telnet",
                 "access-list OUT extended permit tcp any any eq www",
                 "access-group OUT out interface inside")
    assert trace(dev, "outside tcp 192.0.2.9 40000 10.1.1.5 23") == (
        "drop", "access-list OUT extended deny tcp any any eq telnet")
    assert trace(dev, "outside tcp 192.0.2.9 40000 10.1.1.5 80") == (
        "allow", "access-list OUT extended permit tcp any any eq www")
    assert trace(dev, "outside tcp 192.0.2.9 40000 10.1.1.5 25") == ("drop", "Implicit Rule")
    # egress outside has no outbound ACL: the inbound decision stands
    assert allowed(dev, "inside tcp 10.1.1.5 40000 192.0.2.9 23")


# ---------------------------------------------------------------- ports
PORT_SPECS = ["eq 1", "eq 65535", "neq 0", "neq 1024", "neq 65535", "lt 1", "lt 1024",
              "lt 65535", "gt 0", "gt 1024", "gt 65534", "range 0 0", "range 1024 1025",
              "range 1 65535", "range 65535 65535"]
EDGE_PORTS = [0, 1, 2, 1023, 1024, 1025, 65534, 65535]


def port_holds(spec, port):
    op, *values = spec.split()
    values = [int(v) for v in values]
    return {"eq": port == values[0], "neq": port != values[0], "lt": port < values[0],
            "gt": port > values[0], "range": values[0] <= port <= values[-1]}[op]


@pytest.mark.parametrize("side", ["source", "destination"])
@pytest.mark.parametrize("spec", PORT_SPECS)
def test_port_operators_at_their_edges(side, spec):
    ace = (f"access-list IN extended permit tcp any {spec} host 10.1.1.5" if side == "source"
           else f"access-list IN extended permit tcp any host 10.1.1.5 {spec}")
    dev = device(ace)
    for port in EDGE_PORTS:
        args = (f"outside tcp 192.0.2.9 {port} 10.1.1.5 443" if side == "source"
                else f"outside tcp 192.0.2.9 40000 10.1.1.5 {port}")
        assert allowed(dev, args) == port_holds(spec, port), (spec, side, port)


def test_source_and_destination_port_groups_nested():
    dev = device("object-group service LOW tcp", "port-object range 1 1023",
                 "object-group service MAILPORTS tcp", "port-object eq smtp",
                 "port-object range 5000 5001", "group-object LOW",
                 "object-group service DNS tcp-udp", "port-object eq domain",
                 "access-list IN extended permit tcp any object-group LOW host 10.1.1.5 object-group MAILPORTS",
                 "access-list IN extended permit udp any object-group DNS host 10.1.1.5 object-group DNS")
    cases = {(1023, 25): True, (1024, 25): False, (80, 5001): True, (80, 5002): False,
             (80, 1): True, (1, 0): False}
    for (sport, dport), expected in cases.items():
        assert allowed(dev, f"outside tcp 192.0.2.9 {sport} 10.1.1.5 {dport}") == expected, (sport, dport)
    assert allowed(dev, "outside udp 192.0.2.9 53 10.1.1.5 53")
    assert not allowed(dev, "outside udp 192.0.2.9 54 10.1.1.5 53")


def test_a_port_group_must_fit_the_entry_protocol():
    dev = device("object-group service UDPONLY udp", "port-object eq 53",
                 "object-group service BOTH tcp-udp", "port-object eq 53", bind=None)
    session = Session(1, enabled=True)
    dev.execute(session, "conf t")
    refused = dev.execute(session, "access-list X extended permit tcp any any object-group UDPONLY").text
    assert refused.endswith("ERROR: specified object group <UDPONLY> has wrong type; expecting tcp port type")
    assert dev.execute(session, "access-list X extended permit tcp any any object-group BOTH").text == ""


# ---------------------------------------------------------------- services and protocols
def test_service_groups_with_every_service_object_form():
    dev = device("object-group service WEB", "service-object tcp source range 1 1023 destination eq https",
                 "object service SUBMISSION", "service tcp destination eq 587",
                 "object-group service S", "service-object tcp destination eq smtp",
                 "service-object udp source eq 53", "service-object tcp-udp destination range 8000 8001",
                 "service-object icmp echo", "service-object icmp unreachable 3", "service-object 47",
                 "service-object object SUBMISSION", "group-object WEB",
                 "access-list IN extended permit object-group S any host 10.1.1.5")
    expect = {
        "tcp 192.0.2.9 40000 10.1.1.5 25": True, "udp 192.0.2.9 40000 10.1.1.5 25": False,
        "udp 192.0.2.9 53 10.1.1.5 9999": True, "udp 192.0.2.9 54 10.1.1.5 9999": False,
        "tcp 192.0.2.9 1 10.1.1.5 8001": True, "udp 192.0.2.9 1 10.1.1.5 8000": True,
        "tcp 192.0.2.9 1 10.1.1.5 8002": False,
        "icmp 192.0.2.9 8 0 10.1.1.5": True, "icmp 192.0.2.9 8 7 10.1.1.5": True,
        "icmp 192.0.2.9 3 3 10.1.1.5": True, "icmp 192.0.2.9 3 1 10.1.1.5": False,
        "icmp 192.0.2.9 0 0 10.1.1.5": False,
        "rawip 192.0.2.9 47 10.1.1.5": True, "rawip 192.0.2.9 50 10.1.1.5": False,
        "tcp 192.0.2.9 40000 10.1.1.5 587": True,
        "tcp 192.0.2.9 1023 10.1.1.5 443": True, "tcp 192.0.2.9 1024 10.1.1.5 443": False,
    }
    for args, expected in expect.items():
        assert allowed(dev, "outside " + args) == expected, args


def test_service_object_ip_matches_every_protocol():
    dev = device("object-group service ANY_SVC", "service-object ip",
                 "access-list IN extended permit object-group ANY_SVC any host 10.1.1.5")
    for args in ("tcp 192.0.2.9 1 10.1.1.5 1", "udp 192.0.2.9 1 10.1.1.5 1",
                 "icmp 192.0.2.9 8 0 10.1.1.5", "rawip 192.0.2.9 50 10.1.1.5"):
        assert allowed(dev, "outside " + args), args


def test_protocol_groups_nested_with_and_without_ports():
    dev = device("object-group protocol TCPUDP", "protocol-object tcp", "protocol-object udp",
                 "object-group protocol VPN", "protocol-object esp", "protocol-object 47",
                 "object-group protocol ALL_VPN", "group-object VPN",
                 "access-list IN extended permit object-group TCPUDP any host 10.1.1.5 eq domain",
                 "access-list IN extended permit object-group ALL_VPN any host 10.1.1.6")
    assert allowed(dev, "outside tcp 192.0.2.9 40000 10.1.1.5 53")
    assert allowed(dev, "outside udp 192.0.2.9 40000 10.1.1.5 53")
    assert not allowed(dev, "outside tcp 192.0.2.9 40000 10.1.1.5 54")
    assert allowed(dev, "outside rawip 192.0.2.9 50 10.1.1.6")
    assert allowed(dev, "outside rawip 192.0.2.9 47 10.1.1.6")
    assert not allowed(dev, "outside rawip 192.0.2.9 51 10.1.1.6")
    assert not allowed(dev, "outside tcp 192.0.2.9 40000 10.1.1.6 53")


def test_protocol_keywords_and_numbers():
    dev = device("access-list IN extended permit 50 any host 10.1.1.5",
                 "access-list IN extended permit pptp any host 10.1.1.6",
                 "access-list IN extended permit 6 any host 10.1.1.7")
    assert allowed(dev, "outside rawip 192.0.2.9 50 10.1.1.5")
    assert allowed(dev, "outside rawip 192.0.2.9 47 10.1.1.6")       # pptp is protocol 47
    assert allowed(dev, "outside tcp 192.0.2.9 1 10.1.1.7 1")         # 6 is stored as tcp
    assert not allowed(dev, "outside udp 192.0.2.9 1 10.1.1.7 1")


def test_icmp_types_and_codes_and_icmp6():
    dev = device("object-group icmp-type PINGS", "icmp-object echo", "icmp-object 13",
                 "access-list IN extended permit icmp any host 10.1.1.5 unreachable 4",
                 "access-list IN extended permit icmp any host 10.1.1.5 object-group PINGS",
                 "access-list IN extended permit icmp6 any6 any6 echo")
    assert allowed(dev, "outside icmp 192.0.2.9 3 4 10.1.1.5")
    assert not allowed(dev, "outside icmp 192.0.2.9 3 3 10.1.1.5")
    assert allowed(dev, "outside icmp 192.0.2.9 8 0 10.1.1.5")
    assert allowed(dev, "outside icmp 192.0.2.9 13 0 10.1.1.5")
    assert not allowed(dev, "outside icmp 192.0.2.9 0 0 10.1.1.5")
    assert allowed(dev, "outside icmp 2001:db8:9::9 128 0 2001:db8:2::5")
    assert not allowed(dev, "outside icmp 2001:db8:9::9 8 0 2001:db8:2::5")


def test_object_service_in_the_protocol_position():
    dev = device("object service SUBMISSION", "service tcp source gt 1023 destination eq 587",
                 "access-list IN extended permit object SUBMISSION any host 10.1.1.5")
    assert allowed(dev, "outside tcp 192.0.2.9 1024 10.1.1.5 587")
    assert not allowed(dev, "outside tcp 192.0.2.9 1023 10.1.1.5 587")
    assert not allowed(dev, "outside udp 192.0.2.9 1024 10.1.1.5 587")


# ---------------------------------------------------------------- addresses
def test_name_aliases_in_entries_groups_and_packet_tracer():
    dev = device("object-group network MX", "network-object host mail-public",
                 "access-list IN extended permit tcp any host mail-public eq smtp",
                 "access-list IN extended permit tcp mail-public 255.255.255.255 any eq www",
                 "access-list IN extended permit tcp any object-group MX eq https")
    assert allowed(dev, "outside tcp 192.0.2.9 40000 203.0.113.25 25")
    assert allowed(dev, "outside tcp 192.0.2.9 40000 mail-public 25")
    assert not allowed(dev, "outside tcp 192.0.2.9 40000 203.0.113.26 25")
    assert allowed(dev, "outside tcp 203.0.113.25 40000 10.1.1.5 80")
    assert allowed(dev, "outside tcp 192.0.2.9 40000 203.0.113.25 443")


def test_network_objects_host_subnet_range_fqdn():
    dev = device("object network H", "host 10.1.1.5", "object network N", "subnet 10.1.2.0 255.255.255.128",
                 "object network R", "range 10.1.3.10 10.1.3.20", "object network F", "fqdn mx.example.net",
                 "object network N6", "subnet 2001:db8:2:1::/64",
                 "access-list IN extended permit tcp any object H eq 1",
                 "access-list IN extended permit tcp any object N eq 2",
                 "access-list IN extended permit tcp any object R eq 3",
                 "access-list IN extended permit tcp any object F eq 4",
                 "access-list IN extended permit tcp any object N6 eq 5")
    expect = {("10.1.1.5", 1): True, ("10.1.1.6", 1): False,
              ("10.1.2.0", 2): True, ("10.1.2.127", 2): True, ("10.1.2.128", 2): False,
              ("10.1.3.9", 3): False, ("10.1.3.10", 3): True, ("10.1.3.20", 3): True,
              ("10.1.3.21", 3): False, ("10.1.1.5", 4): False,     # fqdn: never resolved
              ("2001:db8:2:1::ffff", 5): True, ("2001:db8:2:2::1", 5): False}
    for (dst, port), expected in expect.items():
        src = "2001:db8:9::9" if ":" in dst else "192.0.2.9"
        assert allowed(dev, f"outside tcp {src} 40000 {dst} {port}") == expected, (dst, port)


def test_interface_operand_is_the_interface_addresses():
    dev = device("access-list IN extended permit tcp any interface outside eq ssh")
    assert allowed(dev, "outside tcp 192.0.2.9 40000 198.51.100.2 22")
    assert allowed(dev, "outside tcp 2001:db8:9::9 40000 2001:db8:1::2 22")
    assert not allowed(dev, "outside tcp 192.0.2.9 40000 198.51.100.3 22")
    assert not allowed(dev, "outside tcp 192.0.2.9 40000 10.1.1.1 22")


@pytest.mark.parametrize("src, dst, v4, v6", [
    ("any", "any", True, True), ("any4", "any", True, False), ("any", "any6", False, True),
    ("any4", "any4", True, False), ("any6", "any6", False, True), ("any4", "any6", False, False),
])
def test_any_covers_both_families_any4_and_any6_one_each(src, dst, v4, v6):
    dev = device(f"access-list IN extended permit tcp {src} {dst} eq www")
    assert allowed(dev, "outside tcp 192.0.2.9 40000 10.1.1.5 80") == v4
    assert allowed(dev, "outside tcp 2001:db8:9::9 40000 2001:db8:2::5 80") == v6


# ---------------------------------------------------------------- conditions
def test_a_time_range_entry_counts_as_active():
    dev = device("access-list IN extended permit tcp any any eq smtp time-range NIGHTS")
    assert trace(dev, "outside tcp 192.0.2.9 40000 10.1.1.5 25") == (
        "allow", "access-list IN extended permit tcp any any eq smtp time-range NIGHTS")


def test_identity_conditions_hold_only_for_user_none():
    dev = device("object-group user U", "user CORP\\alice", "object-group security SG",
                 "security-group tag 10",
                 "access-list IN extended permit tcp user CORP\\alice any any eq 1",
                 "access-list IN extended permit tcp user any any any eq 2",
                 "access-list IN extended permit tcp object-group-user U any any eq 3",
                 "access-list IN extended permit tcp security-group tag 10 any any eq 4",
                 "access-list IN extended permit tcp any object-group-security SG any eq 5",
                 "access-list IN extended permit tcp user-group CORP\\\\mail any any eq 6",
                 "access-list IN extended permit tcp user none any any eq 7")
    verdicts = [allowed(dev, f"outside tcp 192.0.2.9 40000 10.1.1.5 {port}") for port in range(1, 8)]
    assert verdicts == [False] * 6 + [True]


def test_an_entry_the_emulator_cannot_read_at_boot_is_reported_and_never_matches():
    dev = Device(HEAD + "access-list IN extended permit tcp object-group LATER any eq smtp\n"
                        "access-list IN extended permit tcp any any eq www\n"
                        "access-group IN in interface outside\n")
    assert dev.unparsed == ["access-list IN extended permit tcp object-group LATER any eq smtp"]
    assert trace(dev, "outside tcp 192.0.2.9 40000 10.1.1.5 25") == ("drop", "Implicit Rule")
    assert allowed(dev, "outside tcp 192.0.2.9 40000 10.1.1.5 80")


def test_the_idfw_config_end_to_end():
    with open(os.path.join(CONFIGS, "asav-9.16-idfw.cfg"), encoding="utf-8") as handle:
        dev = Device(handle.read())
    cases = [
        ("outside tcp 198.51.100.50 40000 10.60.0.25 22", "drop"),      # user group: no identity
        ("outside tcp 198.51.100.50 40000 mail-public 25", "allow"),   # name alias
        ("outside tcp 198.51.100.15 40000 10.60.0.25 587", "allow"),   # object service + range
        ("outside tcp 198.51.100.21 40000 10.60.0.25 587", "drop"),
        ("outside tcp 198.51.100.77 1024 10.60.0.25 80", "allow"),     # source port group
        ("outside tcp 198.51.100.77 1023 10.60.0.25 80", "drop"),
        ("outside tcp 2001:db8:9::9 40000 2001:db8:60::25 443", "allow"),   # nested service group
        ("outside udp 2001:db8:9::9 40000 2001:db8:60::25 53", "allow"),    # tcp-udp
        ("outside tcp 2001:db8:9::9 40000 2001:db8:60::25 587", "allow"),   # service-object object
        ("outside tcp 198.51.100.50 40000 10.60.0.25 143", "allow"),   # time-range
        ("outside icmp 198.51.100.50 8 0 10.60.0.25", "allow"),        # security group skipped
        ("outside icmp 198.51.100.50 13 0 10.60.0.25", "drop"),
        ("outside rawip 198.51.100.50 50 10.60.0.9", "allow"),         # protocol group
        ("outside tcp 198.51.100.50 40000 10.60.0.25 23", "drop"),     # outbound ACL on inside
        ("outside udp 198.51.100.50 40000 10.60.0.25 123", "allow"),   # global ACL after outside_in
        ("dmz tcp 172.16.60.7 40000 203.0.113.9 443", "allow"),        # global: user none
        ("dmz tcp 172.16.60.8 40000 203.0.113.9 443", "drop"),
    ]
    for args, action in cases:
        assert trace(dev, args)[0] == action, args
