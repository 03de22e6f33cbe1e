"""Benchmark: the emailsec.hes.asa role against emulated ASAs, beside a plain playbook written the
obvious way with cisco.asa resource modules (asa_ogs replaced + asa_acls replaced).

For each fleet size, boots one emulator process per device from the same pre-hardening
running-config, runs a first pass and an idempotent re-run with ansible-playbook (forks = fleet
size, at most 50), and prints the wall time of each run and, per device, the commands received
and the configuration commands among them (from the emulators' command logs).

    .venv/bin/python -m hes_lab.bench_asa_role [--sizes 1,10,50]

Prints figures; asserts nothing.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from .asa.log import config_commands, read_log

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
RANGES = ["18.188.9.192/26", "18.188.239.128/26", "18.208.22.64/26", "18.208.22.128/25"]
SEED = """: Saved
:
ASA Version 9.16(4)
!
hostname {hostname}
names
no call-home reporting anonymous
!
interface GigabitEthernet0/0
 nameif outside
 security-level 0
 ip address 198.51.100.1 255.255.255.0
!
interface GigabitEthernet0/1
 nameif inside
 security-level 100
 ip address 203.0.113.1 255.255.255.0
!
access-list outside_in extended permit tcp any host 203.0.113.25 eq smtp
access-list outside_in extended permit tcp any host 203.0.113.80 eq www
access-group outside_in in interface outside
route outside 0.0.0.0 0.0.0.0 198.51.100.254 1
: end
"""
ROLE_PLAY = """---
- name: Harden with emailsec.hes.asa
  hosts: asa
  gather_facts: false
  roles:
    - role: emailsec.hes.asa
"""


def _mask(cidr):
    import ipaddress
    net = ipaddress.ip_network(cidr)
    return "%s %s" % (net.network_address, net.netmask)


RESOURCE_PLAY = """---
- name: Harden the obvious way with cisco.asa resource modules
  hosts: asa
  gather_facts: false
  tasks:
    - name: Object group with the ranges
      cisco.asa.asa_ogs:
        state: replaced
        config:
          - object_type: network
            object_groups:
              - name: TM_HES_IP_RANGE
                network_object:
                  address: %s
    - name: SMTP rule sourced from the group
      cisco.asa.asa_acls:
        state: replaced
        config:
          acls:
            - name: outside_in
              acl_type: extended
              aces:
                - line: 1
                  grant: permit
                  protocol: tcp
                  protocol_options: {tcp: true}
                  source: {object_group: TM_HES_IP_RANGE}
                  destination: {host: 203.0.113.25, port_protocol: {eq: smtp}}
                - line: 2
                  grant: permit
                  protocol: tcp
                  protocol_options: {tcp: true}
                  source: {any: true}
                  destination: {host: 203.0.113.80, port_protocol: {eq: www}}
    - name: Save
      cisco.asa.asa_command:
        commands: [write memory]
""" % json.dumps([_mask(r) for r in RANGES])


# The collection before the one-task rewrite (issue 16): the asa role's read, plan, report, fail,
# backup (two tasks delegated to localhost), push and publish tasks; the verify role's read,
# plan, trace and set_fact. The benchmark's "before" scenario runs that commit's whole collection
# (roles, plugins, playbooks) from git, beside today's.
BEFORE_COMMIT = "7756c76dda408eea8c54ee3e9b5c74052e18be76"


def before_collection(workdir):
    """(collections path, playbooks directory) of BEFORE_COMMIT's collection, extracted from git
    into WORKDIR/before/ansible_collections/emailsec/hes; None when git or the commit is missing."""
    root = os.path.join(workdir, "before")
    tree = os.path.join(root, "ansible_collections", "emailsec", "hes")
    if not os.path.isdir(tree):
        archive = subprocess.run(["git", "-C", REPO_ROOT, "archive", BEFORE_COMMIT, "--", ".", ":!lab"],
                                 capture_output=True, check=False)
        if archive.returncode != 0:
            return None
        os.makedirs(tree)
        subprocess.run(["tar", "-x", "-C", tree], input=archive.stdout, check=True)
    return root, os.path.join(tree, "playbooks")


class Fleet:
    """N emulator processes, one per device, each with its own command log."""

    def __init__(self, workdir, size):
        self.devices = []
        procs = []
        for index in range(size):
            name = "asa-%03d" % index
            config = os.path.join(workdir, name + ".cfg")
            with open(config, "w", encoding="utf-8") as handle:
                handle.write(SEED.format(hostname=name))
            log = os.path.join(workdir, name + ".jsonl")
            proc = subprocess.Popen([sys.executable, "-m", "hes_lab.cli", "asa", "--config", config,
                                     "--port", "0", "--log", log],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            procs.append((name, log, proc))
        for name, log, proc in procs:
            line = proc.stdout.readline()
            if not line.startswith("READY "):
                self.stop()
                raise RuntimeError("emulator %s did not start: %r" % (name, line))
            self.devices.append({"name": name, "log": log, "proc": proc, "port": int(line.split()[1])})

    def inventory(self, path, backup_dir):
        hosts = {d["name"]: {"ansible_port": d["port"]} for d in self.devices}
        data = {"all": {"children": {"asa": {"hosts": hosts, "vars": {
            "ansible_connection": "ansible.netcommon.network_cli",
            "ansible_network_os": "cisco.asa.asa", "ansible_host": "127.0.0.1",
            "ansible_user": "admin", "ansible_password": "admin", "ansible_become": True,
            "ansible_become_method": "ansible.netcommon.enable",
            "ansible_become_password": "enablepw", "ansible_network_cli_ssh_type": "paramiko",
            "hes_ranges": RANGES, "hes_backup_dir": backup_dir}}}}}
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(data, handle)

    def marks(self):
        return {d["name"]: len(self._records(d)) for d in self.devices}

    def counts(self, marks):
        """Per device: (commands received, configuration commands) since MARKS."""
        result = []
        for device in self.devices:
            records = self._records(device)[marks[device["name"]]:]
            received = [r for r in records if r["command"] != "<password>"]
            result.append((len(received), len(config_commands(records))))
        return result

    @staticmethod
    def _records(device):
        return read_log(device["log"]) if os.path.exists(device["log"]) else []

    def stop(self):
        for device in self.devices:
            if device["proc"].poll() is None:
                os.kill(device["proc"].pid, signal.SIGTERM)
        for device in self.devices:
            try:
                device["proc"].wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(device["proc"].pid, signal.SIGKILL)
                device["proc"].wait()


def run_playbook(playbook, inventory, forks):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"),
               ANSIBLE_FORKS=str(forks), PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    start = time.monotonic()
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", inventory, playbook],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False)
    return time.monotonic() - start, proc.returncode, proc.stdout


def measure(size, approach, playbook_text, workdir):
    folder = tempfile.mkdtemp(prefix="%s-%d-" % (approach, size), dir=workdir)
    playbook = os.path.join(folder, "play.yml")
    with open(playbook, "w", encoding="utf-8") as handle:
        handle.write(playbook_text)
    fleet = Fleet(folder, size)
    rows = []
    try:
        inventory = os.path.join(folder, "inventory.json")
        fleet.inventory(inventory, os.path.join(folder, "backups"))
        for label in ("first run", "re-run"):
            marks = fleet.marks()
            wall, rc, out = run_playbook(playbook, inventory, min(size, 50))
            counts = fleet.counts(marks)
            received = sum(c[0] for c in counts) / float(size)
            configured = sum(c[1] for c in counts) / float(size)
            status = "ok" if rc == 0 else "FAILED rc=%d" % rc
            rows.append((approach, size, label, wall, received, configured, status))
            if rc != 0:
                tail = [line for line in out.splitlines() if "fatal" in line or "msg" in line][:3]
                rows[-1] = rows[-1][:-1] + (status + " " + " | ".join(tail)[:160],)
    finally:
        fleet.stop()
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,10,50", help="comma-separated fleet sizes")
    options = parser.parse_args(argv)
    sizes = [int(s) for s in options.sizes.split(",") if s]
    workdir = tempfile.mkdtemp(prefix="bench-asa-role-")
    print("%-16s %5s %-10s %9s %14s %14s  %s" % ("approach", "ASAs", "run", "wall (s)",
                                                  "cmds/device", "config/device", "status"))
    for size in sizes:
        for approach, text in (("emailsec.hes.asa", ROLE_PLAY), ("asa_ogs+asa_acls", RESOURCE_PLAY)):
            for row in measure(size, approach, text, workdir):
                print("%-16s %5d %-10s %9.1f %14.1f %14.1f  %s" % row, flush=True)
    print("(commands counted from the emulators' logs; config = configure terminal, configuration"
          " lines and write memory; one emulator process per device; work files in %s)" % workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
