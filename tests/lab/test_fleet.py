"""`hes-lab up` / `hes-lab down`: the demo fleet boots from its varied configurations, writes an
inventory Ansible can use, and leaves no process behind."""
import json
import os
import socket
import ssl
import subprocess
import sys

import pytest
import yaml

from hes_lab import fleet
from hes_lab.panos import tls

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lab_fixtures import REPO_ROOT  # noqa: E402

HES_LAB = [sys.executable, "-m", "hes_lab.cli"]
STATIC = os.path.join(REPO_ROOT, "inventories", "lab")


def hes_lab(*args, timeout=180):
    return subprocess.run(HES_LAB + list(args), cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout,
                          check=False)


def process_gone(pid):
    """True when PID no longer runs a lab process (gone, or a zombie awaiting its parent)."""
    return not fleet.pid_alive(pid)


@pytest.fixture
def state_dir(tmp_path):
    path = str(tmp_path / "lab-run")
    yield path
    # Whatever a failed assertion left running is stopped by pid.
    fleet.down(path)


def ssh_banner(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        return sock.recv(64).decode("ascii", "replace")


def tls_handshake(port):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        with context.wrap_socket(sock, server_hostname="localhost") as tls:
            return tls.version()


@pytest.mark.slow
def test_up_writes_inventory_and_state_and_down_stops_every_process(state_dir):
    done = hes_lab("up", "--asa", "3", "--panos", "2", "--state", state_dir)
    assert done.returncode == 0, done.stderr
    assert "booted 5 devices" in done.stdout

    with open(os.path.join(state_dir, "state.json"), encoding="utf-8") as handle:
        state = json.load(handle)
    devices = state["devices"]
    assert [d["host"] for d in devices] == ["asa-01", "asa-02", "asa-03", "panos-01", "panos-02"]
    assert len({d["port"] for d in devices}) == 5
    # every profile is used once: the fleet is varied
    assert len({d["summary"] for d in devices}) == 5
    pids = [d["pid"] for d in devices]
    assert all(fleet.pid_alive(pid) for pid in pids)
    for device in devices:
        if device["kind"] == "asa":
            assert ssh_banner(device["port"]).startswith("SSH-2.0-")
        else:
            assert tls_handshake(device["port"]).startswith("TLS")

    with open(state["inventory"], encoding="utf-8") as handle:
        inventory = yaml.safe_load(handle)
    groups = inventory["all"]["children"]
    ports = {d["host"]: d["port"] for d in devices}
    assert {h: v["ansible_port"] for h, v in groups["asa"]["hosts"].items()} == \
        {h: p for h, p in ports.items() if h.startswith("asa")}
    for host, hostvars in groups["panos"]["hosts"].items():
        assert hostvars["hes_panos_provider"]["port"] == ports[host]
        assert hostvars["hes_panos_provider"]["password"] == \
            "{{ lookup('ansible.builtin.env', 'HES_LAB_PANOS_PASSWORD', default='%s') }}" % fleet.PANOS_PASSWORD
        assert hostvars["hes_panos_provider"]["ca_path"] == tls.ca_file()

    # Ansible reads it as intended: connection settings from group_vars, state paths from all.yml
    shown = subprocess.run([os.path.join(REPO_ROOT, ".venv", "bin", "ansible-inventory"), "-i", state["inventory"],
                            "--list"], cwd=REPO_ROOT, capture_output=True, text=True, check=False,
                           env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg")))
    assert shown.returncode == 0, shown.stderr
    hostvars = json.loads(shown.stdout)["_meta"]["hostvars"]
    assert hostvars["asa-02"]["ansible_connection"] == "ansible.netcommon.network_cli"
    assert hostvars["asa-02"]["ansible_port"] == ports["asa-02"]
    assert hostvars["panos-01"]["ansible_connection"] == "local"
    assert hostvars["panos-01"]["hes_backup_dir"] == os.path.join(state_dir, "backups")
    assert hostvars["asa-01"]["hes_verify_report_dir"] == os.path.join(state_dir, "reports")

    # a second lab in the same state directory is refused while the first runs
    again = hes_lab("up", "--asa", "1", "--panos", "0", "--state", state_dir)
    assert again.returncode == 1
    assert "already running" in again.stderr

    stopped = hes_lab("down", "--state", state_dir)
    assert stopped.returncode == 0, stopped.stderr
    assert "stopped 5 devices" in stopped.stdout
    assert all(process_gone(pid) for pid in pids)
    assert not os.path.exists(os.path.join(state_dir, "state.json"))
    # the logs stay for reading after the lab is gone
    assert os.path.exists(os.path.join(state_dir, "logs", "asa-01.out"))


def test_devices_boot_with_their_own_names_and_versions(state_dir):
    state = fleet.up(asa=1, panos=4, state_dir=state_dir)
    try:
        panos = [d for d in state["devices"] if d["kind"] == "panos"]
        # four PAN-OS devices cycle through the two PAN-OS profiles
        assert [d["version"] for d in panos] == ["10.2.9", "11.1.4", "10.2.9", "11.1.4"]
        for device in panos:
            with open(device["config"], encoding="utf-8") as handle:
                assert "<hostname>%s</hostname>" % device["host"] in handle.read()
    finally:
        stopped, left = fleet.down(state_dir)
    assert left == []
    assert sorted(stopped) == sorted(d["pid"] for d in state["devices"])


def test_a_device_that_cannot_boot_fails_up_and_stops_the_others(state_dir, tmp_path):
    broken = tmp_path / "broken.xml"
    broken.write_text("<config><not-closed></config>")
    profiles = {"panos": [{"config": str(broken), "version": "10.2.9", "hostname": "x", "summary": "broken"}]}
    with pytest.raises(fleet.LabError, match="panos-01 .* did not start"):
        fleet.up(asa=2, panos=1, state_dir=state_dir, profiles=profiles)
    with open(os.path.join(state_dir, "state.stopped.json"), encoding="utf-8") as handle:
        started = json.load(handle)["devices"]
    assert all(process_gone(d["pid"]) for d in started)


def test_down_without_a_lab_is_a_no_op(state_dir):
    done = hes_lab("down", "--state", state_dir)
    assert done.returncode == 0
    assert "stopped 0 devices" in done.stdout


def test_up_refuses_an_empty_fleet(state_dir):
    done = hes_lab("up", "--asa", "0", "--panos", "0", "--state", state_dir)
    assert done.returncode == 1
    assert "nothing to boot" in done.stderr


def test_static_lab_inventory_has_the_shape_up_writes():
    with open(os.path.join(STATIC, "hosts.yml"), encoding="utf-8") as handle:
        static = yaml.safe_load(handle)
    records = [{"host": h, "kind": k, "port": 1, "summary": "x"}
               for h, k in (("asa-01", "asa"), ("panos-01", "panos"))]
    generated = fleet.inventory_hosts(records)
    for group in ("asa", "panos"):
        static_hosts = static["all"]["children"][group]["hosts"]
        generated_hosts = generated["all"]["children"][group]["hosts"]
        for hostvars in static_hosts.values():
            assert set(hostvars) == set(next(iter(generated_hosts.values())))
    # the generated inventory copies the static group_vars, so the credentials must be the fleet's
    with open(os.path.join(STATIC, "group_vars", "asa.yml"), encoding="utf-8") as handle:
        asa = yaml.safe_load(handle)
    lookup = "{{ lookup('ansible.builtin.env', '%s', default='%s') }}"
    assert (asa["ansible_user"], asa["ansible_password"], asa["ansible_become_password"]) == \
        (fleet.ASA_USER, lookup % ("HES_LAB_ASA_PASSWORD", fleet.ASA_PASSWORD),
         lookup % ("HES_LAB_ASA_ENABLE", fleet.ASA_ENABLE))
    for hostvars in static["all"]["children"]["panos"]["hosts"].values():
        assert hostvars["hes_panos_provider"]["password"] == lookup % ("HES_LAB_PANOS_PASSWORD", fleet.PANOS_PASSWORD)
        assert set(hostvars["hes_panos_provider"]) == set(generated["all"]["children"]["panos"]["hosts"]["panos-01"]
                                                          ["hes_panos_provider"])
