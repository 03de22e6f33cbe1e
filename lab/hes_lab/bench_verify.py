"""Verification throughput on the lab: probes per second per vendor, through playbooks/verify.yml.

For each vendor the lab is booted from a hardened configuration and the verify playbook is run
with the json callback; the figure is the number of probes divided by the duration of the task
that asks the device (ASA: the one ``verify_hes_asa`` task, which reads the configuration and sends
every ``packet-tracer`` over one SSH session; PAN-OS: the one ``verify_hes_panos`` task, which
reads the running configuration and sends one API request per probe over one TLS connection; nftables:
the report task, where the policy engine decides every probe on the controller, on the model of
``nft -j list ruleset``). The whole
run's wall time is printed too. Prints figures; asserts nothing.

ASA throughput over network_cli is bound by its wait of ``persistent_buffer_read_timeout`` (0.1 s
by default) after each prompt before it believes the output is complete; set
``ANSIBLE_PERSISTENT_BUFFER_READ_TIMEOUT`` to see its effect, or ``--asa-transport ssh`` for the
in-task session, which stops at the device's prompt.

    .venv/bin/python -m hes_lab.bench_verify [--vendor asa|panos|nftables ...] [--asa-transport ssh]
"""
import argparse
import datetime
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from hes_lab.panos import tls

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIGS = os.path.join(REPO, "tests", "integration", "verify_role", "configs")
PLAYBOOK = os.path.join(REPO, "playbooks", "verify.yml")
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
# The ranges the hardened lab configurations hold.
RANGES = ["18.208.22.64/26", "150.70.149.0/27"]
PAN_USER, PAN_PASSWORD = "bench", "Bench-Pw-0c1d2e3f"
PROBE_TASKS = {
    "asa": "Read the configuration, plan the probes with the engine and trace them with packet-tracer",
    "panos": "Read the running policy, plan the probes with the engine and ask test security-policy-match",
    "nftables": "Judge the answers, run the configuration checks and write the reports",
}


def start(kind, *args, password=None):
    """`hes-lab KIND ...` until its READY line; the caller stops it by pid. The password goes in
    the environment, where `ps` does not show it."""
    env = dict(os.environ, HES_LAB_PASSWORD=password) if password else None
    proc = subprocess.Popen([sys.executable, "-m", "hes_lab.cli", kind, *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO, env=env)
    line = proc.stdout.readline()
    if not line.startswith("READY "):
        proc.kill()
        proc.wait()
        raise SystemExit("hes-lab %s did not start: %r" % (kind, line))
    return proc, int(line.split()[1])


def stop(proc):
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def seconds(stamp_start, stamp_end):
    parse = lambda text: datetime.datetime.strptime(text.rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f")  # noqa: E731
    return (parse(stamp_end) - parse(stamp_start)).total_seconds()


def run_verify(inventory, extra):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    command = [ANSIBLE_PLAYBOOK, "-i", inventory, PLAYBOOK, "-e", json.dumps(extra)]
    began = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=env, timeout=1800, check=False)
    wall = time.perf_counter() - began
    return json.loads(done.stdout[done.stdout.index("{"):]), wall, done.returncode


def figures(vendor, output, wall, rc, report_dir):
    """One line per vendor: the probes of every host over the probe task's duration (hosts run
    that task in parallel, so its duration covers them all)."""
    spent, hosts = 0.0, []
    for play in output["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"].split(" : ", 1)[-1] == PROBE_TASKS[vendor]:
                duration = task["task"]["duration"]
                spent = seconds(duration["start"], duration["end"])
                hosts = sorted(task["hosts"])
    reports = []
    for host in hosts:
        with open(os.path.join(report_dir, host + ".verify.json")) as handle:
            reports.append(json.load(handle))
    probes = sum(r["summary"]["probes"] for r in reports)
    print("%-9s %d host(s) %5d probes  %7.2f s in the probe task  %8.1f probes/s  (whole run %.1f s, %s, rc %d)"
          % (vendor, len(hosts), probes, spent, probes / spent if spent else float("inf"), wall,
             ", ".join("%s %s" % (r["host"], r["status"]) for r in reports), rc))


def emulated_host(vendor, asa_transport):
    """Boot the hardened lab configuration of ``vendor``: (inventory host vars, process)."""
    if vendor == "asa":
        proc, port = start("asa", "--config", os.path.join(CONFIGS, "asa-hardened.cfg"), "--port", 0)
        return {"hes_asa_transport": asa_transport,
                "ansible_connection": "ansible.netcommon.network_cli", "ansible_network_os": "cisco.asa.asa",
                "ansible_host": "127.0.0.1", "ansible_port": port, "ansible_user": "admin",
                "ansible_password": "admin", "ansible_become": True,
                "ansible_become_method": "ansible.netcommon.enable", "ansible_become_password": "enablepw",
                "ansible_host_key_checking": False, "ansible_network_cli_ssh_type": "paramiko"}, proc
    proc, port = start("panos", "--config", os.path.join(CONFIGS, "panos-hardened.xml"), "--port", 0,
                       "--username", PAN_USER, password=PAN_PASSWORD)
    return {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "hes_panos_provider": {"ip_address": "127.0.0.1", "port": port, "username": PAN_USER,
                                   "password": PAN_PASSWORD, "ca_path": tls.ca_file()}}, proc


def one_emulated(vendor, asa_transport):
    with tempfile.TemporaryDirectory(prefix="hes-bench-verify-") as tmp:
        report_dir = os.path.join(tmp, "reports")
        extra = {"hes_ranges": RANGES, "hes_verify_report_dir": report_dir, "hes_verify_report_only": True}
        host, proc = emulated_host(vendor, asa_transport)
        try:
            inventory = os.path.join(tmp, "inventory.json")
            with open(inventory, "w") as handle:
                json.dump({vendor: {"hosts": {vendor + "1": host}}}, handle)
            output, wall, rc = run_verify(inventory, extra)
            figures(vendor, output, wall, rc, report_dir)
        finally:
            stop(proc)


def one_netns():
    if os.geteuid() != 0:
        print("nftables  skipped: the namespace lab needs root")
        return
    from hes_lab.netns import NetnsLab

    with tempfile.TemporaryDirectory(prefix="hes-bench-verify-") as tmp:
        report_dir = os.path.join(tmp, "reports")
        lab = NetnsLab()
        try:
            lab.up()
            harden = subprocess.run([ANSIBLE_PLAYBOOK, "-i", lab.inventory_path,
                                     os.path.join(REPO, "tests", "integration", "nftables", "harden.yml")],
                                    cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
            if harden.returncode:
                print("nftables  hardening failed, no figure: %s" % harden.stdout[-500:])
                return
            # The lab's nftables role restricts TCP/25 only: the other ports stay open.
            extra = {"hes_verify_report_dir": report_dir,
                     "hes_verify_mail_servers": "{{ [hes_lab_target] }}", "hes_verify_report_only": True,
                     "hes_verify_other_ports": dict((str(p), "allow") for p in (587, 465, 2525, 22, 80, 443))}
            output, wall, rc = run_verify(lab.inventory_path, extra)
            figures("nftables", output, wall, rc, report_dir)
        finally:
            lab.down()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vendor", action="append", choices=sorted(PROBE_TASKS),
                        help="vendor to measure (repeatable; default all)")
    parser.add_argument("--asa-transport", choices=("network_cli", "ssh"), default="network_cli",
                        help="hes_asa_transport of the ASA (default network_cli)")
    args = parser.parse_args(argv)
    for vendor in args.vendor or ["asa", "panos", "nftables"]:
        if vendor == "nftables":
            one_netns()
        else:
            one_emulated(vendor, args.asa_transport)


if __name__ == "__main__":
    main()
