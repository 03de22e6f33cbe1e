"""Start and stop `hes-lab` processes for tests: one READY line, stopped by process id."""
import os
import signal
import subprocess
import sys
import time

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


def start_lab(kind, *args, timeout=30):
    """Run `hes-lab KIND ARGS...` and wait for its `READY <port>` line."""
    proc = subprocess.Popen(
        HES_LAB + [kind, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
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
