"""Issue 18: the ASA behaviours cisco.asa relies on, written from asa-cli.md §6.2-§6.5 and Cisco's
published device data (unicon.plugins ASA mocks), checked on the model without SSH."""
import os
import re

import pytest
from ansible_collections.cisco.asa.plugins.terminal.asa import TerminalModule

from hes_lab.asa.model import Device, Session

CONFIGS = os.path.join(os.path.dirname(__file__), "asa_configs")
BASE = """: Saved
:
ASA Version 9.16(4)
!
hostname fw1
names
name 203.0.113.25 mail-public
!
interface GigabitEthernet0/0
 nameif outside
 security-level 0
 ip address 198.51.100.2 255.255.255.0
!
interface GigabitEthernet0/1
 nameif inside
 security-level 100
 ip address 10.1.1.1 255.255.255.0
 description to the core
!
interface GigabitEthernet0/2
 shutdown
 no nameif
 no security-level
 no ip address
!
ftp mode passive
same-security-traffic permit inter-interface
object network WEB
 host 10.1.1.80
object-group network HES
 network-object host 192.0.2.10
access-list outside_in extended permit tcp any host 203.0.113.25 eq smtp
pager lines 24
mtu outside 1500
mtu inside 9000
access-group outside_in in interface outside
route outside 0.0.0.0 0.0.0.0 198.51.100.1 1
user-identity default-domain CORP
"""


def is_error_for_cisco_asa(text):
    """What cisco.asa's terminal plugin counts as a failed command (terminal/asa.py)."""
    return any(regex.search(text.encode()) for regex in TerminalModule.terminal_stderr_re)


@pytest.fixture
def cli():
    device = Device(BASE)
    session = Session(1, enabled=True)

    def run(*lines):
        return [device.execute(session, line).text for line in lines][-1]

    run.device, run.session = device, session
    return run


def running(cli, what=""):
    return cli(f"show running-config {what}".strip()).split("\n")


# ---------------------------------------------------------------- deleting what is absent
@pytest.mark.parametrize("command, reply", [
    ("no object-group network OG-X", "Removing object-group (OG-X) failed; it does not exist"),
    ("no object-group service HES", "Removing object-group (HES) failed; it does not exist"),
    ("no object-group user NOBODY", "Removing object-group (NOBODY) failed; it does not exist"),
    ("no object-group security NONE", "Removing object-group (NONE) failed; it does not exist"),
    ("no object network GONE", "Removing object (GONE) failed; it does not exist"),
    ("no object service WEB", "Removing object (WEB) failed; it does not exist"),
])
def test_removing_an_absent_entity_answers_without_an_error(cli, command, reply):
    before = running(cli)
    cli("conf t")
    assert cli(command) == reply     # no caret line, no ERROR: prefix
    assert not is_error_for_cisco_asa(reply)
    assert running(cli) == before


def test_removing_a_group_in_use_is_still_refused(cli):
    cli("conf t", "access-list outside_in extended permit tcp object-group HES any eq smtp")
    reply = cli("no object-group network HES")
    assert reply == "Removing object-group (HES) not allowed, it is being used."
    assert is_error_for_cisco_asa(reply)


# ---------------------------------------------------------------- abbreviations
@pytest.mark.parametrize("setup, typed, stored_in, stored", [
    (["object-group protocol P"], "protocol tcp", "object-group id P", " protocol-object tcp"),
    (["object-group protocol P"], "protocol-o 50", "object-group id P", " protocol-object 50"),
    (["object-group network N"], "network-obj host 192.0.2.1", "object-group id N",
     " network-object host 192.0.2.1"),
    (["object-group network N"], "network-object ho 192.0.2.2", "object-group id N",
     " network-object host 192.0.2.2"),
    (["object-group network N"], "network-object obj WEB", "object-group id N",
     " network-object object WEB"),
    (["object-group network N"], "desc two  spaces kept", "object-group id N",
     " description two  spaces kept"),
    (["object-group service S"], "service-o tcp dest eq smtp", "object-group id S",
     " service-object tcp destination eq smtp"),
    (["object-group service S"], "service-object tcp-udp so ra 1000 2000", "object-group id S",
     " service-object tcp-udp source range 1000 2000"),
    (["object-group service S"], "service-object icmp echo-r", "object-group id S",
     " service-object icmp echo-reply"),
    (["object-group service PG tcp"], "port eq 25", "object-group id PG", " port-object eq smtp"),
    (["object-group service PG tcp"], "port-object ra 1024 65535", "object-group id PG",
     " port-object range 1024 65535"),
    (["object-group icmp-type I"], "icmp-object echo-r", "object-group id I", " icmp-object echo-reply"),
    (["object-group security SG"], "sec na finance", "object-group id SG", " security-group name finance"),
    (["object-group security SG"], "security-group t 10", "object-group id SG", " security-group tag 10"),
    (["object-group user U"], "user-g CORP\\\\mail", "object-group id U", " user-group CORP\\\\mail"),
    (["object-group user U"], "user alice", "object-group id U", " user CORP\\alice"),
    (["object network H"], "ho 10.1.1.9", "object id H", " host 10.1.1.9"),
    (["object network H"], "sub 10.2.0.0 255.255.0.0", "object id H", " subnet 10.2.0.0 255.255.0.0"),
    (["object service SV"], "serv tcp dest eq 587", "object id SV", " service tcp destination eq 587"),
    (["interface GigabitEthernet0/0"], "desc uplink", "interface GigabitEthernet0/0", " description uplink"),
    ([], "access-list T ext perm tcp any ho 192.0.2.1 eq smtp", "access-list T",
     "access-list T extended permit tcp any host 192.0.2.1 eq smtp"),
    ([], "access-list T rem kept  as typed", "access-list T", "access-list T remark kept  as typed"),
    ([], "access-list T permit tcp any any eq www ina", "access-list T",
     "access-list T extended permit tcp any any eq www inactive"),
    ([], "object-g net NG", "object-group id NG", "object-group network NG"),
    ([], "access-list outside_in ext deny ip any4 any6 log warn int 60", "access-list outside_in",
     "access-list outside_in extended deny ip any4 any6 log warnings interval 60"),
])
def test_every_mode_completes_abbreviations_and_stores_the_full_form(cli, setup, typed, stored_in, stored):
    cli("conf t", *setup)
    assert cli(typed) == ""
    assert stored in running(cli, stored_in)


def test_no_forms_complete_too(cli):
    cli("conf t", "object-group network HES", "desc mail", "no desc", "no network-obj ho 192.0.2.10")
    assert running(cli, "object-group id HES") == ["object-group network HES"]
    cli("no access-gr outside_in in int outside")
    assert running(cli, "access-group") == [""]
    assert cli("no access-group global") == "ERROR: access-group global does not exist"


@pytest.mark.parametrize("setup, line", [
    ([], "sh c"),                                       # clock, checksum, conn, curpriv
    (["conf t", "object-group network N"], "n host 192.0.2.1"),   # network-object, no
    (["conf t", "object-group user U"], "u x"),          # user, user-group
    (["conf t"], "object-group s X"),                    # service, security
    (["conf t"], "no obj network X"),                    # object, object-group
    (["conf t"], "access-list T e permit ip any any"),   # extended, ethertype
    (["conf t"], "access-list T extended permit ip a any"),   # any, any4, any6
    (["conf t"], "access-list T extended permit icmp any any time-"),   # time-exceeded, time-range
    ([], "sh run obj"),                                  # object, object-group
])
def test_an_ambiguous_prefix_is_refused_and_changes_nothing(cli, setup, line):
    cli(*setup) if setup else None
    before = "\n".join(cli.device.body())
    reply = cli(line)
    assert reply == f'ERROR: % Ambiguous command:  "{line}"'
    assert is_error_for_cisco_asa(reply)
    assert "\n".join(cli.device.body()) == before


def test_a_word_that_is_no_submode_keyword_runs_globally(cli):
    cli("conf t", "object-group protocol P", "protocol tcp")
    assert cli("access-list T extended permit object-group P any any") == ""
    assert cli.session.mode == "config"


# ---------------------------------------------------------------- security and user groups
def test_security_and_user_groups_are_created_shown_referenced_and_deleted(cli):
    cli("conf t", "object-group security SG", "security-group name finance",
        "security-group tag 10", "object-group security SG_ALL", "group-object SG",
        "object-group user U", "description admins", "user CORP\\alice", "user-group CORP\\\\mail")
    assert cli.device.prompt(cli.session) == "fw1(config-user-object-group)# "
    assert running(cli, "object-group security") == [
        "object-group security SG", " security-group name finance", " security-group tag 10",
        "object-group security SG_ALL", " group-object SG"]
    assert running(cli, "object-group user") == [
        "object-group user U", " description admins", " user CORP\\alice", " user-group CORP\\\\mail"]
    assert cli("show object-group security").split("\n")[0] == "object-group security SG(hitcnt=0)"
    assert "wrong type" in cli("access-list ID extended permit ip object-group-user SG any any")
    assert "wrong type" in cli("object-group user U2", "group-object SG")
    cli("access-list ID extended permit ip object-group-user U object-group-security SG_ALL any any")
    assert cli("no object-group user U") == "Removing object-group (U) not allowed, it is being used."
    assert cli("no object-group security SG") == "Removing object-group (SG) not allowed, it is being used."
    assert "would become empty" in cli("object-group security SG_ALL", "no group-object SG")
    cli("no access-list ID")
    assert cli("no object-group user U") == ""
    assert cli("no object-group security SG_ALL") == ""
    assert cli("no object-group security SG") == ""
    assert {"object-group user U", "object-group security SG"}.isdisjoint(running(cli))


def test_a_user_without_domain_gets_the_default_domain(cli):
    cli("conf t", "object-group user U", "user bob")
    assert " user CORP\\bob" in running(cli, "object-group id U")
    assert "Invalid input" in cli("user CORP\\\\bob")     # two backslashes separate group names only


# ---------------------------------------------------------------- show interface
def test_show_interface_prints_the_fields_parsers_read(cli):
    text = cli("show interface")
    blocks = re.split(r"\n(?=Interface )", text)
    assert [b.split("\n")[0] for b in blocks] == [
        'Interface GigabitEthernet0/0 "outside", is up, line protocol is up',
        'Interface GigabitEthernet0/1 "inside", is up, line protocol is up',
        'Interface GigabitEthernet0/2 "", is administratively down, line protocol is down']
    outside, inside, unused = blocks
    macs = re.findall(r"address is (\S+),", cli("show version"))
    assert re.search(r"(?m)^\s+Hardware is \S+.*, BW 1000 Mbps, DLY 10 usec$", outside)
    assert re.search(rf"(?m)^\s+MAC address {macs[0]}, MTU 1500$", outside)
    assert re.search(r"(?m)^\s+IP address 198\.51\.100\.2, subnet mask 255\.255\.255\.0$", outside)
    assert re.search(r'(?m)^  Traffic Statistics for "outside":$', outside)
    assert re.search(rf"(?m)^\s+MAC address {macs[1]}, MTU 9000$", inside)
    assert re.search(r"(?m)^\s+Description: to the core$", inside)
    assert re.search(r"(?m)^\s+Available but not configured via nameif$", unused)
    assert re.search(r"(?m)^\s+MAC address \S+, MTU not set$", unused)
    assert re.search(r"(?m)^\s+IP address unassigned$", unused)
    assert not is_error_for_cisco_asa(text)


@pytest.mark.parametrize("name", ["GigabitEthernet0/1", "inside", "gi0/1", "g0/1"])
def test_show_interface_takes_the_hardware_id_nameif_or_an_abbreviation(cli, name):
    text = cli(f"show interface {name}")
    assert text.split("\n")[0] == 'Interface GigabitEthernet0/1 "inside", is up, line protocol is up'
    assert "GigabitEthernet0/0" not in text


def test_show_interface_refuses_an_unknown_name_and_prints_ip_brief(cli):
    caret, error = cli("show interface GigabitEthernet0/9").split("\n")
    assert caret == " " * len("fw1# show interface ") + "^"
    assert error == "ERROR: % Invalid input detected at '^' marker."
    assert cli("sh int ip br").split("\n") == [
        "Interface                  IP-Address      OK? Method Status                Protocol",
        "GigabitEthernet0/0         198.51.100.2    YES CONFIG up                    up",
        "GigabitEthernet0/1         10.1.1.1        YES CONFIG up                    up",
        "GigabitEthernet0/2         unassigned      YES unset  administratively down down"]


# ---------------------------------------------------------------- smaller items
def test_a_duplicate_member_is_a_warning(cli):
    reply = cli("conf t", "object-group network HES", "network-object host 192.0.2.10")
    assert reply == ("WARNING: Adding obj (network-object host 192.0.2.10) to grp (HES) failed; "
                     "object already exists")
    assert not is_error_for_cisco_asa(reply)


def test_write_memory_prints_the_rate_line(cli):
    out = cli("write memory").split("\n")
    assert out[0] == "Building configuration..."
    assert re.fullmatch(r"Cryptochecksum: ([0-9a-f]{8} ){4}", out[1])
    size = len("\n".join(cli.device.startup_config()))
    assert re.fullmatch(rf"{size} bytes copied in \d+\.\d\d secs \({size} bytes/sec\)", out[3])
    assert out[-1] == "[OK]"


def test_new_entities_go_where_the_device_prints_them(cli):
    cli("conf t", "object-group network NEW", "network-object host 192.0.2.1",
        "object network OBJ2", "host 10.1.1.2", "interface GigabitEthernet0/1.10", "vlan 10")
    body = cli.device.body()
    assert body.index("object-group network NEW") == body.index("object-group network HES") + 2
    assert body.index("object network OBJ2") == body.index(" host 10.1.1.80") + 1
    assert body[body.index("interface GigabitEthernet0/1.10") - 1] == "!"
    assert body[body.index(" vlan 10") + 1] == "!"


def test_a_first_group_goes_before_the_access_lists_not_into_the_interfaces():
    device = Device(BASE.replace("object network WEB\n host 10.1.1.80\n", "")
                    .replace("object-group network HES\n network-object host 192.0.2.10\n", ""))
    session = Session(1, enabled=True)
    for line in ("conf t", "object-group network FIRST", "network-object host 192.0.2.1"):
        device.execute(session, line)
    body = device.body()
    at = body.index("object-group network FIRST")
    assert body[at - 1] == "same-security-traffic permit inter-interface"
    assert body[at + 2].startswith("access-list outside_in ")
    device.execute(session, "no access-list outside_in")
    device.execute(session, "access-list NEWACL extended permit ip any any")
    body = device.body()
    assert body[body.index("access-list NEWACL extended permit ip any any") + 1] == "pager lines 24"


def test_service_object_tcp_udp_expands_to_tcp_and_udp(cli):
    cli("conf t", "object-group service SV", "service-object tcp-udp destination eq 25",
        "service-object tcp-udp destination eq domain",
        "access-list T extended permit object-group SV any host 10.1.1.1")
    out = cli("show access-list T").split("\n")
    assert "; 4 elements;" in out[2]
    expansions = [re.sub(r" \(hitcnt.*", "", line) for line in out[4:]]
    assert expansions == [
        "  access-list T line 1 extended permit tcp any host 10.1.1.1 eq smtp",
        "  access-list T line 1 extended permit udp any host 10.1.1.1 eq 25",
        "  access-list T line 1 extended permit tcp any host 10.1.1.1 eq domain",
        "  access-list T line 1 extended permit udp any host 10.1.1.1 eq domain"]
    assert " service-object tcp-udp destination eq 25" in running(cli, "object-group id SV")


def test_typed_groups_booted_from_a_config_are_the_device_s_own():
    with open(os.path.join(CONFIGS, "asav-9.16-idfw.cfg"), encoding="utf-8") as handle:
        device = Device(handle.read())
    session = Session(1, enabled=True)

    def run(line):
        return device.execute(session, line).text

    run("conf t")
    assert run("no object-group user HES_ADMINS") == \
        "Removing object-group (HES_ADMINS) not allowed, it is being used."
    run("no access-list outside_in")
    assert run("no object-group user HES_ADMINS") == ""
    assert run("no object-group security QUARANTINE") == ""
    assert run("show running-config object-group user") == ""
    assert run("show running-config object-group security") == ""
