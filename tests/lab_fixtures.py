"""Start and stop `hes-lab` processes for tests: one READY line, stopped by process id."""
import os
import re
import signal
import subprocess
import sys
import time

import paramiko

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HES_LAB = [sys.executable, "-m", "hes_lab.cli"]


class LabProcess:
    """A running `hes-lab <kind>` process and the port it printed in its READY line."""

    def __init__(self, proc, port):
        self.proc = proc
        self.pid = proc.pid
        self.port = port

    def stop(self, timeout=10):
        if self.proc.poll() is not None:
            return self.proc.returncode
        os.kill(self.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            return self.proc.wait(timeout=timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def lab_environment(password=None, enable_password=None):
    """The environment that hands an emulator its passwords (never its command line: `ps`)."""
    env = dict(os.environ)
    if password is not None:
        env["HES_LAB_PASSWORD"] = password
    if enable_password is not None:
        env["HES_LAB_ENABLE_PASSWORD"] = enable_password
    return env


def start_lab(kind, *args, timeout=30, password=None, enable_password=None):
    """Run `hes-lab KIND ARGS...` and wait for its `READY <port>` line."""
    proc = subprocess.Popen(
        HES_LAB + [kind, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
        env=lab_environment(password, enable_password),
    )
    deadline = time.monotonic() + timeout
    line = ""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("READY "):
            return LabProcess(proc, int(line.split()[1]))
        if not line and proc.poll() is not None:
            break
    err = proc.stderr.read() if proc.poll() is not None else ""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    raise RuntimeError(f"hes-lab {kind} did not become ready: last line {line!r}; stderr: {err}")


class AsaCli:
    """A plain SSH session on the emulator: what an operator types, prompt by prompt."""

    PROMPT = re.compile(r"[\w.\-/]+(\([^)]*\))?[>#] ?$")

    def __init__(self, port):
        self.client = paramiko.SSHClient()
        self.client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        self.client.connect("127.0.0.1", port=port, username="admin", password="admin",
                            look_for_keys=False, allow_agent=False, timeout=10)
        self.shell = self.client.invoke_shell(width=250)
        self.read(self.PROMPT)
        self.shell.send("enable\r")
        self.read(re.compile(r"Password: $"))
        self.shell.send("enablepw\r")
        self.read(self.PROMPT)
        self.run("terminal pager 0")

    def read(self, pattern, timeout=10):
        buffer = ""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.shell.recv_ready():
                buffer += self.shell.recv(65536).decode("utf-8", "replace")
                if pattern.search(buffer):
                    return buffer
            else:
                time.sleep(0.01)
        raise AssertionError("no prompt after %r" % buffer[-200:])

    def run(self, command):
        self.shell.send(command + "\r")
        return self.read(self.PROMPT)

    def smtp_allowed(self, source, server, interface="outside"):
        out = self.run("packet-tracer input %s tcp %s 40000 %s 25" % (interface, source, server))
        action = re.search(r"^Action: (\w+)", out, re.M)
        assert action, out
        return action.group(1) == "allow"

    def close(self):
        self.client.close()
