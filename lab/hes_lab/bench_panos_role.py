"""Benchmark of the emailsec.hes.panos role: wall time and XML API requests per device, first run
and re-run, against N emulated PAN-OS firewalls (default 1, 10 and 50).

    python -m hes_lab.bench_panos_role [--counts 1 10 50] [--forks 20]

Each count boots N `hes-lab panos` processes (each with its own request log), runs
playbooks/harden_panos.yml twice through ansible-playbook, prints the figures and stops the
emulators by pid. Figures only; nothing is asserted.
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from hes_lab.panos import tls
from hes_lab.panos.log import config_writes, read_log

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(REPO_ROOT, "tests", "lab", "panos_configs", "fw-appdefault-smtp.xml")
PLAYBOOK = os.path.join(REPO_ROOT, "playbooks", "harden_panos.yml")
USER, PASSWORD = "hes-bench", "Bench-Pw-31f0c9"
RANGES = ["18.208.22.64/26", "34.230.24.0/24", "150.70.149.0/27"]


def start(directory, index):
    log = os.path.join(directory, "fw%02d.jsonl" % index)
    proc = subprocess.Popen(
        [sys.executable, "-m", "hes_lab.cli", "panos", "--config", CONFIG, "--port", "0", "--log", log,
         "--username", USER],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=dict(os.environ, HES_LAB_PASSWORD=PASSWORD))
    line = proc.stdout.readline()
    if not line.startswith("READY "):
        proc.kill()
        raise RuntimeError("hes-lab panos #%d did not become ready: %r" % (index, line))
    return proc, int(line.split()[1]), log


def stop(procs):
    for proc in procs:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def inventory(directory, ports):
    hosts = {}
    for index, port in enumerate(ports):
        hosts["fw%02d" % index] = {
            "ansible_connection": "local",
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "hes_panos_provider": {"ip_address": "127.0.0.1", "port": port, "username": USER, "password": PASSWORD,
                                   "ca_path": tls.ca_file()},
            "hes_ranges": RANGES,
            "hes_backup_dir": os.path.join(directory, "backups"),
        }
    path = os.path.join(directory, "inventory.json")
    with open(path, "w") as handle:
        json.dump({"panos": {"hosts": hosts}}, handle)
    return path


def run_playbook(inventory_path, forks):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"))
    started = time.monotonic()
    done = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory_path,
                           "-f", str(forks), PLAYBOOK], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError("ansible-playbook failed:\n" + done.stdout[-3000:])
    return elapsed


def request_counts(logs, skip):
    """Per device: (all requests, config writes + commits) since the first `skip[i]` records."""
    out = []
    for log, offset in zip(logs, skip):
        records = read_log(log)[offset:]
        out.append((len(records), len(config_writes(records))))
    return out


def bench(count, forks):
    with tempfile.TemporaryDirectory(prefix="hes-bench-panos-") as directory:
        procs, ports, logs = [], [], []
        try:
            for index in range(count):
                proc, port, log = start(directory, index)
                procs.append(proc)
                ports.append(port)
                logs.append(log)
            path = inventory(directory, ports)
            rows = []
            seen = [0] * count
            for label in ("first run", "re-run"):
                elapsed = run_playbook(path, min(forks, count))
                counts = request_counts(logs, seen)
                seen = [len(read_log(log)) for log in logs]
                rows.append((label, elapsed, counts))
            return rows
        finally:
            stop(procs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--forks", type=int, default=20)
    args = parser.parse_args(argv)
    print("%-9s %-10s %8s %12s %16s %16s" % ("firewalls", "run", "wall s", "s/device",
                                           "requests/device", "writes/device"))
    for count in args.counts:
        for label, elapsed, counts in bench(count, args.forks):
            requests = statistics.mean(c[0] for c in counts)
            writes = statistics.mean(c[1] for c in counts)
            print("%-9d %-10s %8.1f %12.2f %16.1f %16.1f" % (count, label, elapsed, elapsed / count, requests, writes),
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
