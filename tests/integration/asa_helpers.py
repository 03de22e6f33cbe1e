"""What the ASA integration tests share: emulated ASAs started and stopped by pid, with their
command logs and fault control; an inventory for either transport; ansible-playbook with the json
callback and the results of a task."""
import json
import os
import subprocess
import sys
import time

import pytest

from hes_lab.asa.log import config_commands, read_log

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lab_fixtures import REPO_ROOT, AsaCli, start_lab  # noqa: E402

GOLDEN = os.path.join(REPO_ROOT, "tests", "unit", "plugins", "module_utils", "asa", "golden")
PLAYBOOKS = os.path.join(REPO_ROOT, "playbooks")
ANSIBLE_PLAYBOOK = os.path.join(REPO_ROOT, ".venv", "bin", "ansible-playbook")
RANGES = ["18.208.22.64/26", "18.188.9.192/26"]
IN_RANGE = "18.208.22.100"
ELSEWHERE = "198.51.100.99"
MX = "203.0.113.25"
PLAN_TASK = "Plan the change with the policy engine, then back it up, push and save (one read, one session)"
SESSION_COMMANDS = ("configure terminal", "end", "write mem", "write memory")


def golden_config(case):
    return os.path.join(GOLDEN, case, "running-config.cfg")


class Asa:
    """One emulated ASA with its command log and fault control file."""

    def __init__(self, tmp_path, name, config):
        self.name = name
        self.log = str(tmp_path / ("%s.log.jsonl" % name))
        self.control = str(tmp_path / ("%s.control.json" % name))
        self.proc = start_lab("asa", "--config", config, "--port", 0, "--log", self.log,
                              "--control", self.control)
        self.port = self.proc.port

    def records(self):
        return read_log(self.log) if os.path.exists(self.log) else []

    def config_sent(self, since=0):
        return [r["command"] for r in config_commands(self.records()[since:])]

    def faults(self, **values):
        with open(self.control + ".tmp", "w", encoding="utf-8") as handle:
            json.dump(values, handle)
        os.replace(self.control + ".tmp", self.control)
        time.sleep(0.05)  # the emulator compares mtimes; keep two writes apart

    def cli(self):
        return AsaCli(self.port)

    def stop(self):
        self.proc.stop()


@pytest.fixture
def lab(tmp_path):
    devices = []

    def boot(name, config):
        device = Asa(tmp_path, name, config)
        devices.append(device)
        return device

    yield boot
    for device in devices:
        device.stop()


def inventory(tmp_path, devices, **common):
    hosts = {}
    for device in devices:
        hosts[device.name] = {"ansible_port": device.port}
        hosts[device.name].update(getattr(device, "hostvars", {}))
    group_vars = {
        "ansible_connection": "ansible.netcommon.network_cli",
        "ansible_network_os": "cisco.asa.asa",
        "ansible_host": "127.0.0.1",
        "ansible_user": "admin",
        "ansible_password": "admin",
        "ansible_become": True,
        "ansible_become_method": "ansible.netcommon.enable",
        "ansible_become_password": "enablepw",
        "ansible_network_cli_ssh_type": "paramiko",
        "hes_ranges": RANGES,
        "hes_allow_reserved": False,
        "hes_backup_dir": str(tmp_path / "backups"),
    }
    group_vars.update(common)
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps({"all": {"children": {"asa": {"hosts": hosts, "vars": group_vars}}}}))
    return str(path)


def playbook(inventory_path, name, *args, forks=5):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"),
               ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_FORKS=str(forks),
               ANSIBLE_PERSISTENT_COMMAND_TIMEOUT="15", ANSIBLE_PERSISTENT_CONNECT_TIMEOUT="15")
    proc = subprocess.run([ANSIBLE_PLAYBOOK, "-i", inventory_path, name, *args], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    start = proc.stdout.find("{")
    assert start >= 0, proc.stdout + proc.stderr
    return proc.returncode, json.loads(proc.stdout[start:]), proc.stderr


def task_results(report, task_name):
    """{host: result} of the task named TASK_NAME (first play that ran it)."""
    for play in report["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"].split(" : ")[-1] == task_name:
                return task["hosts"]
    return {}


def host_results(report, host):
    """Every task result of HOST, for an assertion message."""
    return [(task["task"]["name"], task["hosts"][host]) for play in report["plays"] for task in play["tasks"]
            if host in task["hosts"]]


def failure_messages(report):
    messages = {}
    for play in report["plays"]:
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                if result.get("failed"):
                    messages[host] = result.get("msg", "")
    return messages


def pushed(device, since=0):
    """The configuration commands of the push, without the session's own enter/leave/save."""
    return [c for c in device.config_sent(since) if c not in SESSION_COMMANDS]


HARDEN = os.path.join(PLAYBOOKS, "harden_asa.yml")
ROLLBACK = os.path.join(PLAYBOOKS, "rollback_asa.yml")
