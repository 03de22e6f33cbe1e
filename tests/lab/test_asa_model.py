"""The ASA model without SSH: CLI semantics, refusals and show formats (asa-cli.md §4-§6)."""
import os
import re

import pytest

from hes_lab.asa.log import config_commands, is_config_command
from hes_lab.asa.model import Device, Session

CONFIGS = os.path.join(os.path.dirname(__file__), "asa_configs")
BASE = """: Saved
:
ASA Version 9.16(4)
!
hostname fw1
interface GigabitEthernet0/0
 nameif outside
 security-level 0
 ip address 198.51.100.2 255.255.255.0
interface GigabitEthernet0/1
 nameif inside
 security-level 100
 ip address 10.1.1.1 255.255.255.0
object-group network HES
 network-object host 192.0.2.10
access-list outside_in extended permit tcp any host 203.0.113.25 eq smtp
access-group outside_in in interface outside
route outside 0.0.0.0 0.0.0.0 198.51.100.1 1
"""


@pytest.fixture
def cli():
    device = Device(BASE)
    session = Session(1, enabled=True)

    def run(*lines):
        return [device.execute(session, line).text for line in lines][-1]

    run.device, run.session = device, session
    return run


def test_prompts_follow_the_modes(cli):
    device, session = cli.device, cli.session
    assert device.prompt(session) == "fw1# "
    cli("conf t")
    assert device.prompt(session) == "fw1(config)# "
    cli("object-group network NEW")
    assert device.prompt(session) == "fw1(config-network-object-group)# "
    cli("object network OBJ")
    assert device.prompt(session) == "fw1(config-network-object)# "
    cli("exit")
    assert device.prompt(session) == "fw1(config)# "
    cli("object-group service SVC tcp", "end")
    assert device.prompt(session) == "fw1# "


def test_enable_asks_for_the_password():
    device = Device(BASE)
    session = Session(1)
    assert device.prompt(session) == "fw1> "
    reply = device.execute(session, "enable")
    assert (reply.text, reply.prompt) == ("Password: ", False)
    assert device.execute(session, "wrong").text.endswith("Password: ")
    device.execute(session, "enablepw")
    assert device.prompt(session) == "fw1# "
    assert "Invalid input" in device.execute(session, "enable").text


def test_user_exec_refuses_privileged_commands():
    device = Device(BASE)
    session = Session(1)
    assert "Invalid input" in device.execute(session, "show running-config").text
    assert "Version 9.16(4)" in device.execute(session, "show version").text


def test_port_literals_and_extended_optional(cli):
    cli("conf t", "access-list t1 permit tcp any host 192.0.2.1 eq 25",
        "access-list t1 permit udp any host 192.0.2.1 eq 25",
        "access-list t1 permit tcp any host 192.0.2.1 eq http",
        "access-list t1 permit tcp any host 192.0.2.1 range 443 1024")
    assert cli("show running-config access-list t1").split("\n") == [
        "access-list t1 extended permit tcp any host 192.0.2.1 eq smtp",
        "access-list t1 extended permit udp any host 192.0.2.1 eq 25",
        "access-list t1 extended permit tcp any host 192.0.2.1 eq www",
        "access-list t1 extended permit tcp any host 192.0.2.1 range https 1024",
    ]
    assert "Invalid input" in cli("access-list t1 permit udp any host 192.0.2.1 eq smtp")


def test_line_numbers_insert_and_remarks_count(cli):
    cli("conf t", "access-list t2 remark first", "access-list t2 permit ip any any",
        "access-list t2 line 2 deny tcp any any eq telnet")
    out = cli("show access-list t2").split("\n")
    assert out[2] == "access-list t2; 2 elements; name hash: " + out[2].rsplit(" ", 1)[1]
    assert out[3] == "access-list t2 line 1 remark first"
    assert re.match(r"access-list t2 line 2 extended deny tcp any any eq telnet \(hitcnt=0\) 0x[0-9a-f]{8}$", out[4])
    assert out[5].startswith("access-list t2 line 3 extended permit ip any any (hitcnt=0) 0x")


def test_expansion_lines_and_element_count(cli):
    cli("conf t", "object network WEB", "host 10.1.1.80", "object-group network NESTED",
        "network-object 198.51.100.0 255.255.255.0", "group-object HES",
        "access-list t3 extended permit tcp object-group NESTED object WEB eq www inactive")
    out = cli("show access-list t3").split("\n")
    assert "; 2 elements;" in out[2]
    assert out[3].startswith("access-list t3 line 1 extended permit tcp object-group NESTED object WEB eq www "
                             "inactive (hitcnt=0) (inactive) 0x")
    assert out[4].startswith("  access-list t3 line 1 extended permit tcp 198.51.100.0 255.255.255.0 "
                             "host 10.1.1.80 eq www inactive (hitcnt=0)")
    assert out[5].startswith("  access-list t3 line 1 extended permit tcp host 192.0.2.10 host 10.1.1.80")


def test_log_prints_with_defaults_in_show_access_list(cli):
    cli("conf t", "access-list t4 extended deny ip any any log")
    assert "deny ip any any log informational interval 300 (hitcnt=0)" in cli("show access-list t4")
    assert cli("show running-config access-list t4") == "access-list t4 extended deny ip any any log"


def test_refusals_use_the_asa_words(cli):
    cli("conf t")
    assert cli("network-object host 192.0.2.1").endswith("ERROR: % Invalid input detected at '^' marker.")
    assert "ERROR: specified object group <NOPE> not found" in cli(
        "access-list x extended permit tcp object-group NOPE any eq smtp")
    cli("object-group service SVC tcp", "port-object eq smtp", "exit")
    assert "has wrong type" in cli("access-list x extended permit tcp object-group SVC any")
    # a group of another type counts as absent (asa-cli.md §6.5: no caret, no ERROR)
    assert cli("no object-group network SVC") == "Removing object-group (SVC) failed; it does not exist"
    cli("access-list outside_in extended permit tcp object-group HES any eq smtp")
    assert cli("no object-group network HES") == "Removing object-group (HES) not allowed, it is being used."
    assert "would become empty" in cli("object-group network HES", "no network-object host 192.0.2.10")
    assert cli("network-object host 192.0.2.10") == (
        "WARNING: Adding obj (network-object host 192.0.2.10) to grp (HES) failed; object already exists")
    assert cli("access-list outside_in extended permit tcp any host 203.0.113.25 eq 25") == (
        "WARNING: <outside_in> found duplicate element")
    assert cli("no access-list missing extended permit ip any any") == "ERROR: access-list <missing> does not exist"
    assert "ERROR: " in cli("no access-list outside_in extended permit ip any any")


def test_caret_points_at_the_bad_token(cli):
    text = cli("show bogus")
    caret, error = text.split("\n")
    assert caret == " " * len("fw1# show ") + "^"
    assert error == "ERROR: % Invalid input detected at '^' marker."


def test_global_command_leaves_the_submode(cli):
    cli("conf t", "object-group network A", "network-object host 192.0.2.1",
        "object-group network B", "network-object host 192.0.2.2")
    assert cli("show running-config object-group network").split("\n")[-4:] == [
        "object-group network A", " network-object host 192.0.2.1",
        "object-group network B", " network-object host 192.0.2.2"]
    cli("access-list z extended permit ip any any")
    assert cli.session.mode == "config"


def test_last_ace_removal_drops_the_binding(cli):
    cli("conf t", "no access-list outside_in line 1 extended permit tcp any host 203.0.113.25 eq smtp")
    assert cli("show running-config access-group") == ""
    assert "outside_in" not in cli("show running-config")


def test_last_ace_removal_can_keep_the_binding():
    device = Device(BASE, last_ace_drops_binding=False)
    session = Session(1, enabled=True)
    for line in ("conf t", "no access-list outside_in extended permit tcp any host 203.0.113.25 eq smtp"):
        device.execute(session, line)
    assert device.execute(session, "show running-config access-group").text == \
        "access-group outside_in in interface outside"


def test_rename_moves_the_binding(cli):
    cli("conf t", "access-list outside_in rename outside_access_in")
    assert cli("show running-config access-group") == "access-group outside_access_in in interface outside"


def test_checksum_bookkeeping_for_save_when_modified(cli):
    running = cli("show running-config | include checksum:")
    assert running == cli("show startup-config | include checksum:")
    cli("conf t", "access-list new extended permit ip any any", "end")
    changed = cli("show running-config | include checksum:")
    assert changed != running and changed != cli("show startup-config | include checksum:")
    out = cli("write memory").split("\n")
    assert out[0] == "Building configuration..." and out[-1] == "[OK]"
    assert cli("show startup-config | include checksum:") == changed
    assert cli("show startup-config").split("\n")[1].startswith(": Written by enable_15 at ")


def test_unmodelled_lines_are_kept_and_removed(cli):
    cli("conf t", "logging host inside 10.1.1.50", "ntp server 10.1.1.123")
    assert "logging host inside 10.1.1.50" in cli("show running-config logging")
    cli("no logging host inside 10.1.1.50")
    assert cli("show running-config logging") == ""


def test_filters_and_abbreviations(cli):
    assert cli("sh run | i ^hostname") == "hostname fw1"
    assert cli("sh run | begin ^access-group").split("\n")[0] == "access-group outside_in in interface outside"
    assert "hostname" not in cli("show running-config | exclude hostname")
    assert cli("sh access-l outside_in | grep smtp").count("smtp") == 1
    assert "Ambiguous command" in cli("sh c")


@pytest.mark.parametrize("name", sorted(os.listdir(CONFIGS)))
def test_running_config_round_trips(name):
    with open(os.path.join(CONFIGS, name), encoding="utf-8") as handle:
        text = handle.read()
    device = Device(text)
    shown = device.execute(Session(1, enabled=True), "show running-config").text
    assert shown + "\n" == text
    assert "\n".join(Device(shown).running_config()) == shown
    assert all(ace.kind != "raw" for aces in device.acls.values() for ace in aces)


def test_config_commands_classification():
    records = [
        {"mode": "enable", "command": "show version"},
        {"mode": "enable", "command": "conf t"},
        {"mode": "config", "command": "object-group network X"},
        {"mode": "config-network-object-group", "command": "network-object host 192.0.2.1"},
        {"mode": "config-network-object-group", "command": "sh running-config object-group"},
        {"mode": "config", "command": "packet-tracer input outside tcp 1.1.1.1 1 2.2.2.2 25"},
        {"mode": "config", "command": "end"},
        {"mode": "enable", "command": "write mem"},
        {"mode": "enable", "command": "copy running-config startup-config"},
        {"mode": "enable", "command": "write terminal"},
    ]
    assert [r["command"] for r in config_commands(records)] == [
        "conf t", "object-group network X", "network-object host 192.0.2.1", "write mem",
        "copy running-config startup-config"]
    assert is_config_command("enable", "wr")
