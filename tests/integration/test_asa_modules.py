"""cisco.asa modules (unmodified) driven by ansible-playbook over network_cli against `hes-lab asa`.

Each playbook asserts module results itself; this driver also reads the emulator's command log:
between the IDEM-BEGIN-x / IDEM-END-x markers (idempotence runs) no configuration command may
arrive, and the known cisco.asa pitfalls must show up on the wire as they would on a device.
"""
import os
import subprocess

import pytest

from hes_lab.asa.log import config_commands, read_log
from tests.lab_fixtures import REPO_ROOT, start_lab

HERE = os.path.join(REPO_ROOT, "tests", "integration", "asa_modules")
PLAYBOOK_CONFIGS = {
    "basic": os.path.join(REPO_ROOT, "tests", "lab", "asa_configs", "fpr-9.18-hq.cfg"),
    "resources": os.path.join(HERE, "seed.cfg"),
    "fidelity": os.path.join(HERE, "seed.cfg"),
}
SSH_TYPES = ["paramiko", "libssh"]

pytestmark = pytest.mark.slow


def run_playbook(name, ssh_type, tmp_path):
    log = tmp_path / "asa.log"
    with start_lab("asa", "--config", PLAYBOOK_CONFIGS[name], "--port", 0, "--log", log) as lab:
        with open(os.path.join(HERE, "inventory.yml.j2"), encoding="utf-8") as handle:
            inventory = handle.read().format(port=lab.port, ssh_type=ssh_type)
        (tmp_path / "inventory.yml").write_text(inventory)
        env = dict(os.environ,
                   ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"),
                   ANSIBLE_HOST_KEY_CHECKING="False",
                   ANSIBLE_PERSISTENT_CONNECT_TIMEOUT="30",
                   ANSIBLE_PERSISTENT_COMMAND_TIMEOUT="30",
                   ANSIBLE_PERSISTENT_CONTROL_PATH_DIR=str(tmp_path / "pc"),
                   ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"),
                   ANSIBLE_NOCOLOR="1")
        proc = subprocess.run(
            [os.path.join(REPO_ROOT, ".venv", "bin", "ansible-playbook"),
             "-i", str(tmp_path / "inventory.yml"), os.path.join(HERE, f"{name}.yml"),
             "-e", f"hes_backup_dir={tmp_path / 'backup'}"],
            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    return read_log(log)


def idempotence_windows(records):
    """Map marker name -> the records received between IDEM-BEGIN-name and IDEM-END-name."""
    windows, current = {}, None
    for record in records:
        command = record["command"]
        if "IDEM-BEGIN-" in command:
            current = command.split("IDEM-BEGIN-")[1]
            windows[current] = []
        elif "IDEM-END-" in command:
            current = None
        elif current:
            windows[current].append(record)
    return windows


@pytest.mark.parametrize("ssh_type", SSH_TYPES)
def test_facts_command_config(ssh_type, tmp_path):
    records = run_playbook("basic", ssh_type, tmp_path)
    windows = idempotence_windows(records)
    assert list(windows) == ["config"]
    assert windows["config"], "the idempotence run sent nothing at all"
    assert config_commands(windows["config"]) == []
    # save_when: modified saved once per changing task, never on the idempotence run
    saves = [r for r in records if r["command"] == "write mem"]
    assert len(saves) == 2
    assert [r["command"] for r in records[:3]] == ["enable", "<password>", "no terminal pager"]
    assert list((tmp_path / "backup").iterdir())


@pytest.mark.parametrize("ssh_type", SSH_TYPES)
def test_object_groups_and_acls(ssh_type, tmp_path):
    records = run_playbook("resources", ssh_type, tmp_path)
    windows = idempotence_windows(records)
    assert sorted(windows) == ["acls-merged", "acls-replaced", "deleted", "ogs-merged", "ogs-replaced"]
    for name, window in windows.items():
        assert window, f"{name}: the idempotence run sent nothing at all"
        assert config_commands(window) == [], name
    # the merged bug: the member line reached the device in global config mode
    orphan = [r for r in records if r["command"] == "network-object 203.0.113.0 255.255.255.0"]
    assert [r["mode"] for r in orphan] == ["config"]
    # replaced removed the one-ACE ACL first (dropping its binding), then re-created it
    sent = [r["command"] for r in records]
    removal = sent.index("no access-list mgmt_smtp line 1 extended permit tcp any host 192.168.45.25 eq smtp")
    assert sent[removal + 1].startswith("access-list mgmt_smtp line 1 extended permit tcp object-group")


@pytest.mark.parametrize("ssh_type", SSH_TYPES)
def test_fidelity(ssh_type, tmp_path):
    records = run_playbook("fidelity", ssh_type, tmp_path)
    windows = idempotence_windows(records)
    assert sorted(windows) == ["typed-deleted", "typed-merged", "typed-overridden"]
    for name, window in windows.items():
        assert window, f"{name}: the idempotence run sent nothing at all"
        assert config_commands(window) == [], name
    sent = [(r["mode"], r["command"]) for r in records]
    # the absent group's removal reached the device, and the run went on
    assert ("config", "no object-group network OG_CLEANUP") in sent
    assert ("config", "no object network OBJ_ABSENT") in sent
    # asa_ogs abbreviates inside the protocol group; the device completed it
    assert ("config-protocol-object-group", "protocol tcp") in sent
    assert ("config-security-object-group", "security-group tag 10") in sent
    assert ("config-user-object-group", "user-group LOCAL\\\\postmasters") in sent
    assert ("config-network-object-group", "network-obj host 192.0.2.55") in sent
