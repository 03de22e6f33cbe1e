"""The AWX job templates of awx/ run the way AWX runs them: a private data dir (project/,
inventory/hosts as AWX's inventory script, env/extravars from the template's extra vars and the
survey, env/cmdline from the template and the machine credential), the custom credential types'
injectors rendered into the job's environment, ansible-runner in the job's place, against the
emulated ASAs and PAN-OS firewalls. Then job slicing: the same fleet cut into AWX's slices, one
ansible-runner job per slice, must end in the same device state and the same aggregated report
as one unsliced job.

What AWX does is in tests/unit/awx_model.py, with the AWX source it follows.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
import xml.etree.ElementTree as ET

import ansible_runner
import paramiko
import pytest
import yaml

from hes_lab.panos import tls

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lab_fixtures import REPO_ROOT, start_lab  # noqa: E402
from ansible_collections.emailsec.hes.tests.unit import awx_model  # noqa: E402

AWX_DIR = os.path.join(REPO_ROOT, "awx")
FLEET_CONFIGS = os.path.join(REPO_ROOT, "lab", "hes_lab", "fleet_configs")
ASA_USER, ASA_PASSWORD, ASA_ENABLE = "netops", "Awx-Asa-Pw-71c2", "Awx-Enable-Pw-0d9e"
PANOS_USER, PANOS_PASSWORD = "hes-automation", "Awx-Panos-Pw-3b8f"
ASA_CONFIGS = ["asa-9.8-branch.cfg", "asa-9.16-dc.cfg", "asa-9.18-hq.cfg"]
PANOS_CONFIGS = ["panos-10.2-edge.xml", "panos-11.1-dc.xml"]


def load_yaml(name):
    with open(os.path.join(AWX_DIR, name), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def template(name):
    return next(t for t in load_yaml("job_templates.yml")["job_templates"] if t["name"] == name)


def survey(template_entry):
    with open(os.path.join(AWX_DIR, "surveys", template_entry["survey"]), encoding="utf-8") as handle:
        return json.load(handle)


def credential_type(name):
    return next(c for c in load_yaml("credential_types.yml")["credential_types"] if c["name"] == name)


class Fleet:
    """Emulated ASAs and PAN-OS firewalls from the demo fleet's configurations, each with its log."""

    def __init__(self, tmp_path, asa_count, panos_count):
        self.tmp = tmp_path
        self.devices = {}
        for index in range(asa_count):
            name = "asa%02d" % (index + 1)
            log = str(tmp_path / (name + ".jsonl"))
            proc = start_lab("asa", "--config", os.path.join(FLEET_CONFIGS, ASA_CONFIGS[index % len(ASA_CONFIGS)]),
                             "--port", 0, "--log", log, "--username", ASA_USER, password=ASA_PASSWORD,
                             enable_password=ASA_ENABLE)
            self.devices[name] = ("asa", proc, log)
        for index in range(panos_count):
            name = "pa%02d" % (index + 1)
            log = str(tmp_path / (name + ".jsonl"))
            proc = start_lab("panos", "--config", os.path.join(FLEET_CONFIGS, PANOS_CONFIGS[index % len(PANOS_CONFIGS)]),
                             "--port", 0, "--log", log, "--username", PANOS_USER, password=PANOS_PASSWORD)
            self.devices[name] = ("panos", proc, log)

    def inventory(self):
        """AWX's inventory script data: groups with the vars of awx/group_vars, hosts with their
        address; the lab-only settings (new host key at every start) as host vars."""
        with open(os.path.join(AWX_DIR, "group_vars", "asa.yml"), encoding="utf-8") as handle:
            asa_vars = yaml.safe_load(handle)
        with open(os.path.join(AWX_DIR, "group_vars", "panos.yml"), encoding="utf-8") as handle:
            panos_vars = yaml.safe_load(handle)
        hostvars = {}
        groups = {"asa": {"hosts": [], "vars": asa_vars}, "panos": {"hosts": [], "vars": panos_vars}}
        for name, (kind, proc, _log) in self.devices.items():
            if kind == "asa":
                hostvars[name] = {"ansible_host": "127.0.0.1", "ansible_port": proc.port,
                                  "ansible_host_key_checking": False, "ansible_network_cli_ssh_type": "paramiko"}
            else:
                hostvars[name] = {"ansible_host": "127.0.0.1", "hes_panos_api_port": proc.port,
                                  "hes_panos_ca_path": tls.ca_file()}
            groups[kind]["hosts"].append(name)
        return dict(groups, _meta={"hostvars": hostvars})

    def log(self, name):
        with open(self.devices[name][2], encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]

    def state(self):
        """Every device's running configuration, as the device shows it."""
        return {name: (asa_running_config(proc.port) if kind == "asa" else panos_running_config(proc.port))
                for name, (kind, proc, _log) in sorted(self.devices.items())}

    def stop(self):
        for _kind, proc, _log in self.devices.values():
            proc.stop()


def asa_running_config(port):
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect("127.0.0.1", port=port, username=ASA_USER, password=ASA_PASSWORD,
                   look_for_keys=False, allow_agent=False, timeout=10)
    try:
        shell = client.invoke_shell(width=250)
        prompt = re.compile(r"[\w.\-/]+(\([^)]*\))?[>#] ?$")

        def until_prompt():
            buffer = ""
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                if shell.recv_ready():
                    buffer += shell.recv(65536).decode()
                    if prompt.search(buffer.rstrip("\r\n ") + " ") or prompt.search(buffer):
                        return buffer
                else:
                    time.sleep(0.02)
            raise AssertionError("no prompt from the ASA emulator: %r" % buffer[-300:])

        until_prompt()
        shell.send("enable\n")
        time.sleep(0.3)
        while shell.recv_ready():
            shell.recv(65536)
        shell.send(ASA_ENABLE + "\n")
        until_prompt()
        shell.send("terminal pager 0\n")
        until_prompt()
        shell.send("show running-config\n")
        text = until_prompt()
    finally:
        client.close()
    lines = text.replace("\r", "").split("\n")[1:-1]
    # The header carries the uptime-independent version but nothing that differs between runs.
    return "\n".join(line for line in lines if not line.startswith(": ")).strip()


def canonical_xml(text, drop_empty=None):
    tree = ET.fromstring(text)
    for parent in list(tree.iter()):
        for child in list(parent):
            if child.tag == drop_empty and len(child) == 0 and not (child.text or "").strip():
                parent.remove(child)
    return ET.canonicalize(ET.tostring(tree, encoding="unicode"), strip_text=True)


def panos_running_config(port):
    context = tls.client_context()
    with urllib.request.urlopen("https://127.0.0.1:%d/_lab/running" % port, context=context, timeout=10) as answer:
        text = answer.read().decode()
    return re.sub(r' uuid="[^"]*"', "", text)


@pytest.fixture
def fleet(tmp_path):
    fleets = []

    def start(asa_count, panos_count, where=None):
        directory = tmp_path / (where or "fleet%d" % len(fleets))
        directory.mkdir()
        fleets.append(Fleet(directory, asa_count, panos_count))
        return fleets[-1]

    yield start
    for running in fleets:
        running.stop()


MACHINE = {"username": ASA_USER, "password": ASA_PASSWORD, "become_method": "enable",
           "become_password": ASA_ENABLE}
PANOS_CREDENTIAL = {"username": PANOS_USER, "password": PANOS_PASSWORD}


def run_job(tmp_path, ident, template_entry, inventory, answers=None, runtime=None, machine="lab",
            cloud=(("emailsec.hes PAN-OS API", PANOS_CREDENTIAL),)):
    """Launch one job the way the controller does: survey answers validated and merged with the
    template's extra vars, cloud credentials injected into the environment, machine credential
    into the command line and password prompts; then ansible-runner in the private data dir."""
    machine = MACHINE if machine == "lab" else machine  # None: no machine credential attached
    spec = survey(template_entry)
    answers = awx_model.ui_answers(spec) if answers is None else answers
    extra_vars = awx_model.launch_extra_vars(template_entry.get("extra_vars"), spec, dict(answers, **(runtime or {})))
    env = {"JOB_ID": str(ident), "ANSIBLE_RETRY_FILES_ENABLED": "False", "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_COLLECTIONS_PATH": os.path.join(REPO_ROOT, ".collections"),
           # ansible-playbook of this environment, as the execution environment's is on its PATH.
           "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    secrets = [(machine or {}).get(key) for key in ("password", "become_password") if (machine or {}).get(key)]
    for type_name, inputs in cloud:
        ctype = credential_type(type_name)
        cred_env, cred_extra_vars = awx_model.render_injectors(ctype, inputs)
        assert not cred_extra_vars, "secrets must not travel as extra vars"
        env.update(cred_env)
        secrets += awx_model.secret_inputs(ctype, inputs)
    private = tmp_path / ("job%s" % ident)
    private.mkdir()
    hosts = awx_model.write_private_data_dir(str(private), REPO_ROOT, inventory, extra_vars,
                                             awx_model.job_args(template_entry, machine))
    runner = ansible_runner.run(private_data_dir=str(private), ident=str(ident), playbook=template_entry["playbook"],
                                inventory=hosts, envvars=env, passwords=awx_model.job_passwords(machine),
                                settings={"job_timeout": 900, "suppress_ansible_output": True},
                                quiet=True)
    runner.secrets = secrets
    runner.extra_vars = extra_vars
    runner.artifact_dir = str(private / "artifacts" / str(ident))
    return runner


def events(runner, kind=None):
    found = []
    for path in sorted(glob.glob(os.path.join(runner.artifact_dir, "job_events", "*.json")),
                       key=lambda p: int(os.path.basename(p).split("-", 1)[0])):
        with open(path, encoding="utf-8") as handle:
            event = json.load(handle)
        if kind is None or event.get("event") == kind:
            found.append(event)
    return found


def artifacts(runner):
    """The job's artifacts as AWX records them: the set_stats data of the playbook_on_stats event."""
    stats = events(runner, "playbook_on_stats")
    assert len(stats) == 1
    return stats[0]["event_data"].get("artifact_data", {})


def stdout(runner):
    with open(os.path.join(runner.artifact_dir, "stdout"), encoding="utf-8") as handle:
        return handle.read()


def assert_successful(runner):
    text = stdout(runner)
    assert (runner.rc, runner.status) == (0, "successful"), text[-5000:]
    with open(os.path.join(runner.artifact_dir, "rc"), encoding="utf-8") as handle:
        assert handle.read().strip() == "0"
    with open(os.path.join(runner.artifact_dir, "status"), encoding="utf-8") as handle:
        assert handle.read().strip() == "successful"
    everything = text + json.dumps(events(runner))
    for secret in runner.secrets:
        assert secret not in everything, "a credential secret reached the job output or events"


VENV_BIN = os.path.dirname(sys.executable)


def build_collection(out_dir):
    done = subprocess.run([os.path.join(VENV_BIN, "ansible-galaxy"), "collection", "build", "--force",
                           "--output-path", str(out_dir), REPO_ROOT],
                          capture_output=True, text=True, check=False, timeout=300, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    return glob.glob(os.path.join(str(out_dir), "emailsec-hes-*.tar.gz"))[0]


def test_execution_environment_build_context(tmp_path):
    """`ansible-builder create` from execution-environment.yml, with the collection tarball where
    the documented `ansible-galaxy collection build --output-path build/` puts it."""
    work = tmp_path / "ee"
    (work / "meta").mkdir(parents=True)
    shutil.copy(os.path.join(REPO_ROOT, "execution-environment.yml"), work)
    for name in ("ee-requirements.txt", "ee-bindep.txt"):
        shutil.copy(os.path.join(REPO_ROOT, "meta", name), work / "meta")
    tarball = build_collection(work / "build")
    done = subprocess.run([os.path.join(VENV_BIN, "ansible-builder"), "create", "-f", "execution-environment.yml",
                           "-c", "context", "--output-filename", "Containerfile"],
                          cwd=work, capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    context = work / "context"
    containerfile = (context / "Containerfile").read_text()
    assert "ansible-core==2.18.12" in containerfile and "ansible-runner==2.4.1" in containerfile
    assert "ansible-galaxy collection install --no-deps" in containerfile
    assert "introspect.py introspect" in containerfile
    assert (context / "_build" / "collections" / os.path.basename(tarball)).is_file()
    python = (context / "_build" / "requirements.txt").read_text()
    for package in ("pan-os-python", "ansible-pylibssh", "dnspython", "paramiko"):
        assert package in python
    assert re.search(r"^nftables \[platform:dpkg platform:rpm\]", (context / "_build" / "bindep.txt").read_text(), re.M)
    galaxy = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert {c["name"] for c in galaxy["collections"]} == {"cisco.asa", "ansible.netcommon"}


def test_built_collection_keeps_its_ee_metadata(tmp_path):
    """The built tarball carries meta/execution-environment.yml (not build_ignored), and
    ansible-builder's introspection of the installed collection finds our dependencies."""
    tarball = build_collection(tmp_path / "build")
    done = subprocess.run([os.path.join(VENV_BIN, "ansible-galaxy"), "collection", "install", "--no-deps", "--force",
                           "-p", str(tmp_path / "collections"), tarball],
                          capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    done = subprocess.run([os.path.join(VENV_BIN, "ansible-builder"), "introspect", "--sanitize",
                           str(tmp_path / "collections")], capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    found = yaml.safe_load(done.stdout)
    assert any(line.startswith("pan-os-python") and "emailsec.hes" in line for line in found["python"]), done.stdout
    assert any(line.startswith("nftables") and "emailsec.hes" in line for line in found["system"])


def test_fetch_ranges_pins_one_list_as_the_job_artifact(tmp_path):
    entry = template("HES fetch ranges")
    runner = run_job(tmp_path, 101, entry, {"_meta": {"hostvars": {}}}, answers={"hes_site": ["us", "eu"]},
                     machine=None, cloud=())
    assert_successful(runner)
    pinned = artifacts(runner)
    assert pinned["hes_ranges_site"] == ["us", "eu"]
    ranges = pinned["hes_ranges"]
    assert ranges and all("/" in r for r in ranges)
    ok = events(runner, "runner_on_ok")
    assert [e["event_data"]["task"] for e in ok] == [
        "Resolve the ranges once", "Pin them for every later workflow node and slice", "Show the pinned list"]
    assert runner.stats["ok"] == {"localhost": 3} and not runner.stats["failures"]


def asa_config_sent(fleet_, name, since=0):
    from hes_lab.asa.log import config_commands
    return [r["command"] for r in config_commands(fleet_.log(name)[since:])]


def panos_writes(fleet_, name, since=0):
    from hes_lab.panos.log import config_writes
    return [(w["type"], w["action"]) for w in config_writes(fleet_.log(name)[since:])]


def host_results(runner, kind="runner_on_ok"):
    return {(e["event_data"]["host"], e["event_data"]["task"]): e["event_data"]["res"] for e in events(runner, kind)}


def test_check_harden_and_rollback_templates_against_the_lab(tmp_path, fleet):
    lab = fleet(1, 1)
    inventory = lab.inventory()
    before = lab.state()
    backups = {"hes_backup_dir": str(tmp_path / "backups")}  # stands in for the EE's mounted volume

    check = run_job(tmp_path, 201, template("HES check"), inventory, runtime=backups)
    assert_successful(check)
    assert "--check" in check.config.command and "--diff" in check.config.command
    assert asa_config_sent(lab, "asa01") == [] and panos_writes(lab, "pa01") == []
    assert lab.state() == before
    assert set(check.stats["ok"]) == {"asa01", "pa01"} and not check.stats["failures"]
    planned = host_results(check)
    assert planned[("pa01", "Plan and gate the change, back it up, apply it and commit (one connection)")]["changed"] \
        is True
    assert "object-group network TM_HES_IP_RANGE" in planned[
        ("asa01", "Plan the change with the policy engine, then back it up, push and save (one read, one session)")]["commands"]
    assert "asa01: would change" in stdout(check) and "pa01: would change" in stdout(check)

    # Survey defaults except: do not save the ASA (the answer is the integer 0, not the text "false").
    answers = dict(awx_model.ui_answers(survey(template("HES harden"))), hes_asa_save=0)
    harden = run_job(tmp_path, 202, template("HES harden"), inventory, answers=answers, runtime=backups)
    assert_successful(harden)
    assert harden.extra_vars["hes_asa_save"] == 0 and harden.extra_vars["hes_site"] == ["us"]
    sent = asa_config_sent(lab, "asa01")
    assert "object-group network TM_HES_IP_RANGE" in sent
    assert not [c for c in sent if c.startswith("write")], "hes_asa_save=0 must not save"
    assert panos_writes(lab, "pa01")[-1] == ("commit", None)
    assert set(harden.stats["changed"]) == {"asa01", "pa01"}
    changed_tasks = {(e["event_data"]["host"], e["event_data"]["task"]) for e in events(harden, "runner_on_ok")
                     if e["event_data"]["res"].get("changed")}
    assert ("asa01", "Plan the change with the policy engine, then back it up, push and save (one read, one session)") \
        in changed_tasks
    assert ("pa01", "Plan and gate the change, back it up, apply it and commit (one connection)") in changed_tasks
    hardened = lab.state()
    assert hardened != before and "TM_HES_IP_RANGE" in hardened["pa01"]

    asa_log, pa_log = len(lab.log("asa01")), len(lab.log("pa01"))
    drift = run_job(tmp_path, 206, template("HES drift"), inventory, answers={"hes_site": ["eu"]},
                    runtime=dict(backups, hes_verify_report_dir=str(tmp_path / "drift-reports")))
    assert_successful(drift)
    assert artifacts(drift)["hes_drift"] == {"asa01": "drifted", "pa01": "drifted"}  # eu ranges, not us
    assert asa_config_sent(lab, "asa01", asa_log) == [] and panos_writes(lab, "pa01", pa_log) == []

    again = run_job(tmp_path, 203, template("HES harden"), inventory, answers=answers, runtime=backups)
    assert_successful(again)
    assert again.stats["changed"] == {}
    assert asa_config_sent(lab, "asa01", asa_log) == [] and panos_writes(lab, "pa01", pa_log) == []

    reports = {"hes_verify_report_dir": str(tmp_path / "reports")}
    verify = run_job(tmp_path, 205, template("HES verify"), inventory, runtime=reports)
    assert_successful(verify)
    assert set(verify.stats["ok"]) >= {"asa01", "pa01", "localhost"} and not verify.stats["failures"]
    assert sorted(f for f in os.listdir(tmp_path / "reports") if f.endswith(".json")) == ["asa01.verify.json", "pa01.verify.json"]

    rollback = run_job(tmp_path, 204, template("HES rollback"), inventory,
                       answers=dict(awx_model.ui_answers(survey(template("HES rollback"))), hes_asa_save=0),
                       runtime=backups)
    assert_successful(rollback)
    restored = lab.state()
    assert restored["asa01"] == before["asa01"]
    # The PAN-OS rollback deletes our group, which leaves its now empty <address-group/> container.
    assert canonical_xml(restored["pa01"], drop_empty="address-group") == canonical_xml(before["pa01"])


def normalised_reports(directory):
    """Every report file of a report directory, without what differs between two runs of the same
    check (times, durations, the emulators' ports)."""
    found = {}
    for name in sorted(os.listdir(directory)):
        with open(os.path.join(directory, name), encoding="utf-8") as handle:
            text = handle.read()
        text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?", "<time>", text)
        text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<port>", text)
        text = re.sub(r'"(duration|elapsed|seconds)[^"]*": [\d.]+', r'"\1": 0', text)
        found[name] = text
    return found


def test_sliced_workflow_gives_the_same_devices_and_report_as_one_job(tmp_path, fleet):
    """fetch-ranges once, harden in AWX's slices (one ansible-runner job each, each with its own
    slice of the inventory and the fetch job's artifact as extra var), verify in slices into one
    report directory: the same device state and the same fleet report as one unsliced job."""
    fetch = run_job(tmp_path, 300, template("HES fetch ranges"), {"_meta": {"hostvars": {}}},
                    answers={"hes_site": ["us"]}, machine=None, cloud=())
    assert_successful(fetch)
    pinned = artifacts(fetch)

    harden_entry, verify_entry = template("HES harden"), template("HES verify")
    slice_count = harden_entry["job_slice_count"]
    results = {}
    for mode in ("unsliced", "sliced"):
        lab = fleet(3, 2, where=mode)
        inventory = lab.inventory()
        runtime = dict(pinned, hes_backup_dir=str(tmp_path / mode / "backups"),
                       hes_verify_report_dir=str(tmp_path / mode / "reports"))
        count = slice_count if mode == "sliced" else 1
        seen_hosts = []
        for number in range(1, count + 1):
            part = awx_model.slice_inventory(inventory, number, count)
            seen_hosts += sorted(part["_meta"]["hostvars"])
            ident = 400 + 10 * number + (5 if mode == "sliced" else 0)
            harden = run_job(tmp_path, ident, harden_entry, part, runtime=runtime)
            assert_successful(harden)
            assert harden.extra_vars["hes_ranges"] == pinned["hes_ranges"]
            assert set(harden.stats["changed"]) == set(part["_meta"]["hostvars"])
        assert sorted(seen_hosts) == sorted(inventory["_meta"]["hostvars"])  # every host in exactly one slice
        for number in range(1, count + 1):
            part = awx_model.slice_inventory(inventory, number, count)
            verify = run_job(tmp_path, 600 + 10 * number + (5 if mode == "sliced" else 0), verify_entry, part,
                             runtime=runtime)
            assert_successful(verify)
        results[mode] = (lab.state(), normalised_reports(tmp_path / mode / "reports"))
        lab.stop()

    assert awx_model.slice_inventory(inventory, 1, slice_count)["_meta"]["hostvars"].keys() == {"asa01", "pa01"}
    unsliced_state, unsliced_reports = results["unsliced"]
    sliced_state, sliced_reports = results["sliced"]
    assert sliced_state == unsliced_state
    assert all("TM_HES_IP_RANGE" in config for config in sliced_state.values())
    assert sliced_reports == unsliced_reports
    assert {"%s.verify.json" % h for h in ("asa01", "asa02", "asa03", "pa01", "pa02")} <= set(sliced_reports)
