"""The collection as a user installs it: the tarball `ansible-galaxy collection build` makes,
installed into a temporary collections path, driven by FQCN from a project directory of its own
(its own ansible.cfg and a hand-written inventory, nothing of this checkout on any path) against
an emulated ASA (cisco.asa over SSH) and an emulated PAN-OS (pan-os-python over HTTPS).

One lab serves the whole module, and the tests run in order, each starting from where the
previous one left the devices: check mode first (nothing changes), harden, harden again (nothing
to do), verify, the installed tree unmodified, rollback of both vendors, and a play of the user's
own applying nftables (skipped), asa and verify in a row.
"""
import difflib
import glob
import json
import os
import re
import stat
import subprocess
import sys
import tarfile
import urllib.request
import xml.etree.ElementTree as ET

import pytest
import yaml

from hes_lab.panos import tls

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lab_fixtures import REPO_ROOT, AsaCli, start_lab  # noqa: E402

pytestmark = pytest.mark.slow

BIN = os.path.dirname(sys.executable)
ASA_CONFIG = os.path.join(REPO_ROOT, "lab", "hes_lab", "fleet_configs", "asa-9.16-dc.cfg")
PANOS_CONFIG = os.path.join(REPO_ROOT, "tests", "lab", "panos_configs", "fw-appdefault-smtp.xml")
PANOS_USER, PANOS_PASSWORD = "hes-automation", "Installed-Pw-6d1e02"
# What the tarball must not carry: the lab, its inventories and docs, the repository's tooling.
NOT_SHIPPED = ("lab/", "inventories/", "extensions/", "tests/integration/", "tests/lab/", "tests/conftest.py",
               "tests/lab_fixtures.py", "ansible.cfg", "Makefile", "docs/lab.md", "docs/lab-asa.md",
               "docs/lab-panos.md", ".ci/", "bench/")

SITE_PLAY = """\
---
# A project's own play: every vendor role in a row on the firewalls of one site; the ones that do
# not apply to a host are skipped by their condition.
- name: Lock inbound SMTP to the HES ranges and prove it
  hosts: asa
  gather_facts: false
  roles:
    - role: emailsec.hes.nftables
      when: "'nftables' in group_names"
    - role: emailsec.hes.asa
    - role: emailsec.hes.verify
"""


class Project:
    """A user's project directory with the collection installed beside it, and the lab it drives."""

    def __init__(self, root):
        self.root = root
        self.collections = os.path.join(root, "collections")
        self.installed = os.path.join(self.collections, "ansible_collections", "emailsec", "hes")
        self.state = os.path.join(root, "state")
        self.project = os.path.join(root, "project")
        os.makedirs(self.project)
        with open(os.path.join(self.project, "ansible.cfg"), "w", encoding="utf-8") as handle:
            handle.write("[defaults]\ncollections_path = %s\nhost_key_checking = False\n"
                         "interpreter_python = auto_silent\nretry_files_enabled = False\n" % self.collections)
        self.asa = self.panos = None

    def environment(self, **extra):
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("ANSIBLE_", "EMAILSEC_HES_", "HES_LAB_"))}
        env.update(ANSIBLE_CONFIG=os.path.join(self.project, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                   EMAILSEC_HES_STATE_DIR=self.state, PATH=BIN + os.pathsep + env.get("PATH", ""))
        env.update(extra)
        return env

    def run(self, *command, timeout=600):
        return subprocess.run(list(command), cwd=self.project, env=self.environment(), capture_output=True,
                              text=True, timeout=timeout, check=False)

    def playbook(self, name, *args):
        done = self.run(os.path.join(BIN, "ansible-playbook"), "-i", "inventory.yml", name, *args)
        output = done.stdout + done.stderr
        assert done.returncode == 0, "%s %s failed:\n%s" % (name, " ".join(args), output[-6000:])
        return output

    def write_inventory(self):
        inventory = {"all": {
            "vars": {"hes_site": ["us"]},
            "children": {
                "asa": {
                    "vars": {"ansible_connection": "ansible.netcommon.network_cli",
                             "ansible_network_os": "cisco.asa.asa", "ansible_host": "127.0.0.1",
                             "ansible_user": "admin", "ansible_password": "admin", "ansible_become": True,
                             "ansible_become_method": "ansible.netcommon.enable",
                             "ansible_become_password": "enablepw", "ansible_network_cli_ssh_type": "paramiko"},
                    "hosts": {"edge-asa": {"ansible_port": self.asa.port}}},
                "panos": {
                    "vars": {"ansible_connection": "local",
                             "ansible_python_interpreter": "{{ ansible_playbook_python }}"},
                    "hosts": {"edge-pa": {"hes_panos_provider": {
                        "ip_address": "127.0.0.1", "port": self.panos.port, "username": PANOS_USER,
                        "password": PANOS_PASSWORD, "ca_path": tls.ca_file()}}}},
            }}}
        with open(os.path.join(self.project, "inventory.yml"), "w", encoding="utf-8") as handle:
            yaml.safe_dump(inventory, handle, default_flow_style=False)

    def asa_config(self):
        cli = AsaCli(self.asa.port)
        try:
            text = cli.run("show running-config")
        finally:
            cli.close()
        # The prompt and the command echo; the ': Saved' header carries a time.
        return "\n".join(line for line in text.splitlines()[1:-1] if not line.startswith(":"))

    def panos_config(self):
        request = urllib.request.Request("https://127.0.0.1:%d/_lab/running" % self.panos.port)
        with urllib.request.urlopen(request, context=tls.client_context(), timeout=10) as answer:
            tree = ET.fromstring(answer.read())
        for node in tree.iter():
            node.attrib.pop("uuid", None)  # the emulator renews uuids of rules it did not see edited
            # Whitespace between elements is layout, not configuration (an edit may drop it).
            if node.text is not None and not node.text.strip():
                node.text = None
            node.tail = None
        ET.indent(tree)
        return ET.tostring(tree, encoding="unicode")

    def stop(self):
        for device in (self.asa, self.panos):
            if device is not None:
                device.stop()


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("installed"))
    user = Project(root)
    build = os.path.join(root, "build")
    done = subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", build,
                           REPO_ROOT], cwd=root, env=user.environment(), capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    (user.tarball,) = glob.glob(os.path.join(build, "emailsec-hes-*.tar.gz"))
    done = user.run(os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--no-deps", "-p",
                    user.collections, user.tarball)
    assert done.returncode == 0 and os.path.isdir(user.installed), done.stdout + done.stderr
    try:
        user.asa = start_lab("asa", "--config", ASA_CONFIG, "--port", 0, "--hostname", "edge-asa")
        user.panos = start_lab("panos", "--config", PANOS_CONFIG, "--port", 0, "--username", PANOS_USER,
                               password=PANOS_PASSWORD)
        user.write_inventory()
        user.before = {"asa": user.asa_config(), "panos": user.panos_config()}
        yield user
    finally:
        user.stop()


def recap(output):
    """{host: {ok, changed, failed, ...}} from the PLAY RECAP."""
    found = {}
    for host, counts in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", output, re.M):
        found[host] = dict((key, int(value)) for key, value in re.findall(r"(\w+)=(\d+)", counts))
    return found


def test_the_tarball_leaves_out_the_lab_and_keeps_the_unit_tests(project):
    with tarfile.open(project.tarball) as tar:
        names = tar.getnames()
    shipped = [name for name in names if name.startswith(NOT_SHIPPED) or name in NOT_SHIPPED]
    assert shipped == [], shipped
    assert "LICENSE" in names and "tests/unit/plugins/module_utils/policy/test_engine.py" in names
    manifest = json.load(tar_member(project.tarball, "MANIFEST.json"))["collection_info"]
    assert set(manifest["dependencies"]) == {"cisco.asa", "ansible.netcommon"}
    assert not [value for value in manifest.values() if isinstance(value, str) and "example.invalid" in value]


def tar_member(path, name):
    with tarfile.open(path) as tar:
        return __import__("io").BytesIO(tar.extractfile(name).read())


def assert_configs_unchanged(project, when):
    for vendor, now in (("asa", project.asa_config()), ("panos", project.panos_config())):
        assert now == project.before[vendor], "%s config changed %s:\n%s" % (vendor, when, "".join(
            difflib.unified_diff(project.before[vendor].splitlines(True), now.splitlines(True), "before", when)))


def test_check_mode_of_a_site_play_shows_the_plan_changes_nothing_and_verify_judges_the_plan(project):
    with open(os.path.join(project.project, "site.yml"), "w", encoding="utf-8") as handle:
        handle.write(SITE_PLAY)
    output = project.playbook("site.yml", "--check", "--diff")
    assert "object-group network TM_HES_IP_RANGE" in output, output[-3000:]
    assert "the planned configuration was judged" in output
    assert_configs_unchanged(project, "after the check-mode run")
    assert not os.path.exists(os.path.join(project.state, "backups")) or \
        os.listdir(os.path.join(project.state, "backups")) == []


def test_harden_by_fqcn_keeps_its_backups_in_the_state_directory(project):
    output = project.playbook("emailsec.hes.harden")
    counts = recap(output)
    assert counts["edge-asa"]["changed"] > 0 and counts["edge-pa"]["changed"] > 0, output[-3000:]
    assert "TM_HES_IP_RANGE" in project.asa_config()
    assert "TM_HES_IP_RANGE" in project.panos_config()
    backups = os.path.join(project.state, "backups")
    assert stat.S_IMODE(os.stat(backups).st_mode) == 0o700
    names = sorted(os.listdir(backups))
    assert [re.sub(r"\.[^.]+\.json$", "", name) for name in names] == ["edge-asa.asa", "edge-pa.panos"], names
    for name in names:
        assert stat.S_IMODE(os.stat(os.path.join(backups, name)).st_mode) == 0o600
        envelope = json.load(open(os.path.join(backups, name), encoding="utf-8"))
        assert envelope["format"] == "emailsec.hes/backup/1" and envelope["host"] == name.split(".")[0]


def test_a_second_harden_changes_nothing(project):
    counts = recap(project.playbook("emailsec.hes.harden"))
    assert counts["edge-asa"]["changed"] == 0 and counts["edge-pa"]["changed"] == 0, counts
    assert len(os.listdir(os.path.join(project.state, "backups"))) == 2


def test_verify_by_fqcn_passes_and_writes_its_reports_to_the_state_directory(project):
    project.playbook("emailsec.hes.verify")
    reports = os.path.join(project.state, "reports")
    for host in ("edge-asa", "edge-pa"):
        report = json.load(open(os.path.join(reports, host + ".verify.json"), encoding="utf-8"))
        assert report["status"] == "pass", report
    assert os.path.exists(os.path.join(reports, "fleet-summary.md"))


def test_the_installed_collection_is_unmodified(project):
    done = project.run(os.path.join(BIN, "ansible-galaxy"), "collection", "verify", "--offline", "-p",
                       project.collections, "emailsec.hes")
    assert done.returncode == 0 and "Successfully verified" in done.stdout, done.stdout + done.stderr
    # verify compares the files the collection lists; nothing else may have appeared beside them.
    listed = {entry["name"] for entry in json.load(open(os.path.join(project.installed, "FILES.json")))["files"]}
    present = set()
    for folder, dirs, files in os.walk(project.installed):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in dirs + files:
            present.add(os.path.relpath(os.path.join(folder, name), project.installed))
    assert present - listed - {"FILES.json", "MANIFEST.json"} == set()


def test_rollback_by_fqcn_restores_both_vendors(project):
    output = project.playbook("emailsec.hes.rollback")
    counts = recap(output)
    assert counts["edge-asa"]["failed"] == 0 and counts["edge-pa"]["failed"] == 0, output[-3000:]
    assert_configs_unchanged(project, "after rollback")


def test_a_play_of_nftables_asa_and_verify_in_a_row_with_the_site_from_the_inventory(project):
    output = project.playbook("site.yml")
    counts = recap(output)
    assert counts["edge-asa"]["changed"] > 0 and counts["edge-asa"]["skipped"] > 0, output[-3000:]
    assert "TM_HES_IP_RANGE" in project.asa_config()
    report = json.load(open(os.path.join(project.state, "reports", "edge-asa.verify.json"), encoding="utf-8"))
    assert report["status"] == "pass", report
