"""The SSH layer of `hes-lab asa`: prompts on the wire, shared state, log, faults, SIGTERM."""
import json
import os
import re
import signal
import socket
import threading
import time

import paramiko
import pytest

from hes_lab.asa.log import config_commands, read_log
from tests.lab_fixtures import start_lab

CONFIG = os.path.join(os.path.dirname(__file__), "asa_configs", "asav-9.12-dc.cfg")
PROMPT = re.compile(rb"[\w\-.:/\[\]]+(?:\([^)]+\)){,3}[>#] $")


class Cli:
    """A minimal network_cli: write `cmd\\r`, read until the prompt is the last bytes."""

    def __init__(self, port, username="admin", password="admin"):
        self.client = paramiko.SSHClient()
        self.client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        self.client.connect("127.0.0.1", port=port, username=username, password=password,
                            look_for_keys=False, allow_agent=False, timeout=10)
        self.channel = self.client.invoke_shell(term="vt100")
        self.channel.settimeout(10)
        self.banner = self.read()

    def read(self, until=PROMPT):
        buf = b""
        while not until.search(buf):
            chunk = self.channel.recv(65535)
            if not chunk:
                raise EOFError(buf)
            buf += chunk
        return buf

    def send(self, command, until=PROMPT):
        self.channel.send(command + "\r")
        return self.read(until)

    def enable(self):
        self.send("enable", re.compile(rb"Password: $"))
        self.send("enablepw")
        self.send("no terminal pager")

    def close(self):
        self.client.close()


@pytest.fixture
def lab(tmp_path):
    control = tmp_path / "control.json"
    proc = start_lab("asa", "--config", CONFIG, "--port", 0, "--log", tmp_path / "log.jsonl",
                     "--control", control)
    proc.log, proc.control = tmp_path / "log.jsonl", control
    yield proc
    proc.stop()


def test_wire_format(lab):
    cli = Cli(lab.port)
    assert cli.banner == b"Type help or '?' for a list of available commands.\r\ndc-asav01> "
    assert cli.send("enable", re.compile(rb"Password: $")) == b"enable\r\nPassword: "
    assert cli.send("enablepw") == b"********\r\ndc-asav01# "
    out = cli.send("show running-config access-group")
    assert out == (b"show running-config access-group\r\n"
                   b"access-group outside_access_in in interface outside\r\n"
                   b"access-group mailzone_access_in in interface mailzone\r\n"
                   b"access-group global_access global\r\ndc-asav01# ")
    assert b"\n" not in out.replace(b"\r\n", b"")
    cli.close()


def test_pager_pauses_until_turned_off(lab):
    cli = Cli(lab.port)
    cli.send("enable", re.compile(rb"Password: $"))
    cli.send("enablepw")
    first = cli.send("show running-config", re.compile(rb"<--- More --->$"))
    assert first.count(b"\r\n") == 24
    cli.channel.send("q")
    rest = cli.read()
    assert rest.endswith(b"dc-asav01# ")
    cli.send("no terminal pager")
    assert cli.send("show running-config").endswith(b": end\r\ndc-asav01# ")
    cli.close()


def test_sessions_share_one_device(lab):
    one, two = Cli(lab.port), Cli(lab.port)
    one.enable()
    two.enable()
    one.send("configure terminal")
    one.send("object-group network SHARED")
    one.send("network-object host 192.0.2.77")
    assert b"network-object host 192.0.2.77" in two.send("show running-config object-group id SHARED")
    one.close()
    three = Cli(lab.port)
    three.enable()
    assert b"SHARED" in three.send("sh run object-group")
    records = read_log(lab.log)
    assert {r["session"] for r in records} == {1, 2, 3}
    assert all(r["command"] != "enablepw" for r in records)
    assert [r["command"] for r in config_commands(records)] == [
        "configure terminal", "object-group network SHARED", "network-object host 192.0.2.77"]
    assert [r["mode"] for r in records if r["command"].startswith("network-object")] == [
        "config-network-object-group"]


def test_concurrent_sessions_keep_every_change(lab):
    errors = []

    def worker(index):
        try:
            cli = Cli(lab.port)
            cli.enable()
            cli.send("conf t")
            for k in range(5):
                cli.send(f"access-list conc extended permit tcp any host 192.0.2.{index} eq {1000 + k}")
            cli.close()
        except Exception as exc:  # surfaced through the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(1, 9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    cli = Cli(lab.port)
    cli.enable()
    assert b"conc; 40 elements" in cli.send("show access-list conc")


def test_control_file_faults_apply_without_restart(lab):
    cli = Cli(lab.port)
    cli.enable()
    lab.control.write_text(json.dumps({"fail": "^access-list bad"}))
    cli.send("conf t")
    out = cli.send("access-list bad extended permit ip any any")
    assert out.endswith(b"ERROR: % Invalid input detected at '^' marker.\r\ndc-asav01(config)# ")
    assert b"extended" not in cli.send("show running-config access-list bad")
    lab.control.write_text(json.dumps({"drop_after": 3}))  # conf t counts too
    cli.send("access-list ok extended permit ip any any")
    cli.send("access-list ok extended permit tcp any any")
    with pytest.raises((EOFError, socket.timeout, OSError)):
        cli.send("access-list ok extended permit udp any any")
    lab.control.write_text(json.dumps({"reject_login": True}))
    with pytest.raises(paramiko.AuthenticationException):
        Cli(lab.port)
    lab.control.write_text(json.dumps({"delay_ms": 300}))
    again = Cli(lab.port)
    again.enable()
    started = time.monotonic()
    out = again.send("show running-config access-list ok")
    assert time.monotonic() - started >= 0.3
    assert out.count(b"access-list ok extended") == 2  # state survived the dropped session
    faults = [r.get("fault") for r in read_log(lab.log) if r.get("fault")]
    assert faults == ["fail", "drop"]


def test_bad_password_and_flags(tmp_path):
    with start_lab("asa", "--config", CONFIG, "--port", 0, "--hostname", "lab-fw",
                   "--username", "ops", "--start-enabled", "--fault-reject-login", password="s3cret") as proc:
        with pytest.raises(paramiko.AuthenticationException):
            Cli(proc.port, "ops", "s3cret")
    with start_lab("asa", "--config", CONFIG, "--port", 0, "--hostname", "lab-fw",
                   "--username", "ops", "--start-enabled", password="s3cret") as proc:
        with pytest.raises(paramiko.AuthenticationException):
            Cli(proc.port, "ops", "wrong")
        cli = Cli(proc.port, "ops", "s3cret")
        assert cli.banner.endswith(b"lab-fw# ")


def test_sigterm_exits_cleanly(tmp_path):
    proc = start_lab("asa", "--port", 0)
    cli = Cli(proc.port)
    assert cli.banner.endswith(b"ciscoasa> ")
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.proc.wait(timeout=10) == 0
