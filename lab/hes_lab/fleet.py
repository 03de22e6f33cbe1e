"""`hes-lab up` / `hes-lab down`: a fleet of emulated firewalls for the demo and the benchmarks.

`up` boots N emulated ASAs and M emulated PAN-OS firewalls (one `hes-lab asa|panos` process per
device, on ports the kernel picks), each from one of the varied pre-hardening configurations in
`fleet_configs/` (cycled when N exceeds their number), and writes into the state directory:

    inventory/hosts.yml            groups asa and panos, one host per device with its port
    inventory/group_vars/*.yml     per-group settings (copied from inventories/lab/group_vars)
                                   and all.yml with the state directory's paths
    state.json                     pid, port, config and log files of every device
    logs/<host>.out                the emulator's stdout/stderr
    logs/<host>.jsonl              every command (ASA) or API request (PAN-OS) it received
    control/<host>.json            ASA fault injection: write keys here while the lab runs
    backups/  reports/             where the roles write (hes_backup_dir, hes_verify_report_dir)

`up` empties these directories first. `down` stops every device of the state file by pid (SIGTERM, then SIGKILL), and keeps logs,
backups and reports for reading afterwards.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

from hes_lab.panos import tls

LAB_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(LAB_DIR))
CONFIG_DIR = os.path.join(LAB_DIR, "fleet_configs")
STATIC_INVENTORY = os.path.join(REPO_ROOT, "inventories", "lab")
DEFAULT_STATE = os.path.join(REPO_ROOT, "lab-run")

# Lab credentials of emulated devices on 127.0.0.1. The ASA ones must match
# inventories/lab/group_vars/asa.yml (copied into every generated inventory); tests/lab/test_fleet.py
# checks it. Unlike admin/admin, they do not make no_log mask the word "admin" in the output.
ASA_USER, ASA_PASSWORD, ASA_ENABLE = "admin", "Lab-Asa-Pw1", "Lab-Enable-Pw1"
PANOS_USER, PANOS_PASSWORD = "admin", "Lab-Panos-Pw1"
# The inventories name the passwords through these variables (with the fixed ones above as the
# default), so that a run can use fresh secrets that no file it writes ever holds.
SECRET_VARIABLES = {"asa_password": "HES_LAB_ASA_PASSWORD", "asa_enable": "HES_LAB_ASA_ENABLE",
                    "panos_password": "HES_LAB_PANOS_PASSWORD"}
LAB_SECRETS = {"asa_password": ASA_PASSWORD, "asa_enable": ASA_ENABLE, "panos_password": PANOS_PASSWORD}

# Pre-hardening configurations, cycled in this order: each is a different starting point the
# roles must handle (seed rule only; named objects and two MX; an outdated group beside "any";
# App-ID with application-default; a custom tcp-25 service among other inbound rules).
PROFILES = {
    "asa": [
        {"config": "asa-9.8-branch.cfg", "version": "9.8(4)40",
         "summary": "ASA 5508 9.8: the seed rule only (permit tcp any host MX eq smtp)"},
        {"config": "asa-9.16-dc.cfg", "version": "9.16(4)19",
         "summary": "ASAv 9.16: objects, remarks, two mail servers"},
        {"config": "asa-9.18-hq.cfg", "version": "9.18(4)24",
         "summary": "Firepower 2110 9.18: outdated TM_HES_IP_RANGE (legacy HES) beside a temporary any rule"},
    ],
    "panos": [
        {"config": "panos-10.2-edge.xml", "version": "10.2.9", "hostname": "pa-edge",
         "summary": "PAN-OS 10.2: inbound SMTP by App-ID, application-default"},
        {"config": "panos-11.1-dc.xml", "version": "11.1.4", "hostname": "pa-dc",
         "summary": "PAN-OS 11.1: custom service tcp-25, public web rule beside it"},
    ],
}

# Not in the fleet: the demo's refusal step boots it on its own.
BROADER_RULE_PROFILE = {"config": "asa-9.8-broad.cfg", "version": "9.8(4)40",
                        "summary": "ASA 5508 9.8: the SMTP rule, and below it 'permit ip any host MX' (webmail, IMAP)"}

# Not in the fleet either: a `hes-lab pfsense` box is files, not a process; the demo lays it out
# beside the fleet (lab/hes_lab/pfsense, `release` picks the PHP signatures it follows).
PFSENSE_PROFILE = {"config": "pfsense-2.7-edge.xml", "release": "2.7.2", "hostname": "pf-edge",
                   "summary": "pfSense CE 2.7.2: port forward to the MX, its linked WAN rule from any; "
                              "HTTPS to a web server beside it"}

BOOT_TIMEOUT = 120


class LabError(Exception):
    """A fleet that cannot be brought up or down; the message says why."""


def host_names(kind, count):
    width = max(2, len(str(count)))
    return ["%s-%0*d" % (kind, width, index) for index in range(1, count + 1)]


def plan_devices(asa_count, panos_count, profiles=None):
    """(host, kind, profile) for every device, the profiles cycled.

    PROFILES may replace the built-in ones per kind (a config path may be absolute)."""
    devices = []
    for kind, count in (("asa", asa_count), ("panos", panos_count)):
        profiles_of_kind = (profiles or {}).get(kind) or PROFILES[kind]
        for index, host in enumerate(host_names(kind, count)):
            devices.append((host, kind, profiles_of_kind[index % len(profiles_of_kind)]))
    return devices


def config_for_host(profile, host):
    """The XML configuration of PROFILE with HOST as its <hostname> (PAN-OS, pfSense)."""
    with open(os.path.join(CONFIG_DIR, profile["config"]), encoding="utf-8") as handle:
        text = handle.read()
    return text.replace("<hostname>%s</hostname>" % profile["hostname"], "<hostname>%s</hostname>" % host)


def device_command(state_dir, host, kind, profile):
    """The `hes-lab` command line that boots one device, and the files it uses."""
    logs = os.path.join(state_dir, "logs")
    files = {"out": os.path.join(logs, host + ".out"), "log": os.path.join(logs, host + ".jsonl")}
    base = [sys.executable, "-m", "hes_lab.cli", kind, "--port", "0", "--log", files["log"]]
    if kind == "asa":
        files["control"] = os.path.join(state_dir, "control", host + ".json")
        files["config"] = os.path.join(CONFIG_DIR, profile["config"])
        return base + ["--config", files["config"], "--hostname", host, "--username", ASA_USER,
                       "--control", files["control"]], files
    # PAN-OS has no --hostname: each device boots from its own copy with its name in it.
    files["config"] = os.path.join(state_dir, "configs", host + ".xml")
    with open(files["config"], "w", encoding="utf-8") as handle:
        handle.write(config_for_host(profile, host))
    return base + ["--config", files["config"], "--sw-version", profile["version"],
                   "--username", PANOS_USER], files


def secrets_environment(kind, secrets=None):
    """The emulator's passwords, handed over in its environment (never on its command line)."""
    secrets = secrets or LAB_SECRETS
    env = dict(os.environ)
    if kind == "asa":
        env.update(HES_LAB_PASSWORD=secrets["asa_password"], HES_LAB_ENABLE_PASSWORD=secrets["asa_enable"])
    else:
        env.update(HES_LAB_PASSWORD=secrets["panos_password"])
    return env


def playbook_environment(secrets=None):
    """What ansible-playbook needs in its environment for the inventories to find the passwords."""
    secrets = secrets or LAB_SECRETS
    return dict((variable, secrets[key]) for key, variable in SECRET_VARIABLES.items())


def wait_ready(proc, out_path, timeout):
    """The port of a `READY <port>` line in OUT_PATH, or LabError when the process dies or stalls."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(out_path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
        for line in text.splitlines():
            if line.startswith("READY "):
                return int(line.split()[1])
        if proc.poll() is not None:
            raise LabError("exited with status %s: %s" % (proc.returncode, text.strip()[-500:]))
        time.sleep(0.05)
    raise LabError("no READY line after %d s" % timeout)


def boot_device(state_dir, host, kind, profile, timeout=BOOT_TIMEOUT, secrets=None):
    command, files = device_command(state_dir, host, kind, profile)
    with open(files["out"], "w", encoding="utf-8") as out:
        # Own session: the fleet outlives `hes-lab up`, and a Ctrl-C in the terminal that ran it
        # does not reach the devices; `hes-lab down` stops them by pid.
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=REPO_ROOT, start_new_session=True, env=secrets_environment(kind, secrets))
    record = {"host": host, "kind": kind, "pid": proc.pid, "config": files["config"], "log": files["log"],
              "out": files["out"], "version": profile["version"], "summary": profile["summary"]}
    if "control" in files:
        record["control"] = files["control"]
    try:
        record["port"] = wait_ready(proc, files["out"], timeout)
    except LabError as exc:
        stop_pid(proc.pid)
        raise LabError("%s (%s from %s) did not start: %s" % (host, kind, profile["config"], exc)) from None
    return record


def boot_all(state_dir, devices, parallel, timeout=BOOT_TIMEOUT, progress=None, secrets=None):
    """Boot DEVICES with at most PARALLEL booting at once; (records, errors).

    Interrupted (Ctrl-C, SIGTERM turned into an exception), it lets the boots in flight finish,
    stops every device it started, and re-raises."""
    records, errors = [], []
    lock = threading.Lock()
    pending = list(devices)
    cancelled = threading.Event()

    def worker():
        while True:
            with lock:
                if not pending or errors or cancelled.is_set():
                    return
                host, kind, profile = pending.pop(0)
            try:
                record = boot_device(state_dir, host, kind, profile, timeout, secrets)
            except LabError as exc:
                with lock:
                    errors.append(str(exc))
                continue
            with lock:
                records.append(record)
                if progress:
                    progress(record, len(records), len(devices))

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(max(1, min(parallel, len(devices))))]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except BaseException:
        cancelled.set()
        for thread in threads:
            thread.join()
        for record in records:
            stop_pid(record["pid"])
        raise
    order = {host: index for index, (host, _kind, _profile) in enumerate(devices)}
    records.sort(key=lambda r: order[r["host"]])
    return records, errors


def inventory_hosts(records):
    """hosts.yml content: the asa and panos groups with each device's port."""
    groups = {"asa": {}, "panos": {}}
    for record in records:
        hostvars = {"hes_lab_profile": record["summary"]}
        hostvars.update(record.get("hostvars", {}))
        if record["kind"] == "asa":
            hostvars["ansible_port"] = record["port"]
        else:
            hostvars["hes_panos_provider"] = {
                "ip_address": "127.0.0.1", "port": record["port"], "username": PANOS_USER,
                "password": "{{ lookup('ansible.builtin.env', '%s', default='%s') }}"
                            % (SECRET_VARIABLES["panos_password"], PANOS_PASSWORD),
                "ca_path": tls.ca_file()}
        groups[record["kind"]][record["host"]] = hostvars
    return {"all": {"children": {kind: {"hosts": hosts} for kind, hosts in groups.items()}}}


def write_inventory(state_dir, records, name="inventory"):
    """NAME/hosts.yml and group_vars mirroring inventories/lab; returns the hosts.yml path."""
    import yaml  # PyYAML comes with ansible-core; only `up` needs it

    inventory_dir = os.path.join(state_dir, name)
    group_vars = os.path.join(inventory_dir, "group_vars")
    os.makedirs(group_vars, exist_ok=True)
    for name in sorted(os.listdir(os.path.join(STATIC_INVENTORY, "group_vars"))):
        if name != "all.yml":
            shutil.copyfile(os.path.join(STATIC_INVENTORY, "group_vars", name), os.path.join(group_vars, name))
    all_vars = {"hes_site": ["us"], "hes_backup_dir": os.path.join(state_dir, "backups"),
                "hes_verify_report_dir": os.path.join(state_dir, "reports"), "hes_lab_state_dir": state_dir}
    with open(os.path.join(group_vars, "all.yml"), "w", encoding="utf-8") as handle:
        handle.write("---\n# Written by `hes-lab up`; the shape of inventories/lab/group_vars/all.yml.\n")
        yaml.safe_dump(all_vars, handle, default_flow_style=False, sort_keys=False, width=1000)
    path = os.path.join(inventory_dir, "hosts.yml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("---\n# Written by `hes-lab up`: the running lab (see state.json for pids and logs).\n")
        yaml.safe_dump(inventory_hosts(records), handle, default_flow_style=False, sort_keys=False, width=1000)
    return path


def state_path(state_dir):
    return os.path.join(state_dir, "state.json")


def read_state(state_dir):
    try:
        with open(state_path(state_dir), encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise LabError("%s is not a lab state file: %s" % (state_path(state_dir), exc)) from None


def pid_alive(pid, marker="hes_lab"):
    """True while PID runs and is one of ours (its command line names the lab), zombies excluded."""
    try:
        with open("/proc/%d/stat" % pid, encoding="utf-8", errors="replace") as handle:
            if handle.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return marker.encode() in handle.read()
    except (OSError, IndexError):
        return False


def _reap(pid):
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def stop_pid(pid, timeout=10):
    """SIGTERM, wait, SIGKILL: True when PID is gone."""
    if not pid_alive(pid):
        _reap(pid)
        return True
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    time.sleep(0.1)
    _reap(pid)
    return not pid_alive(pid)


def up(asa=3, panos=2, state_dir=DEFAULT_STATE, parallel=None, progress=None, site=None, profiles=None,
       secrets=None):
    """Boot the fleet; returns the state dict (also written to state.json). Raises LabError.
    ``secrets`` (keys of LAB_SECRETS) replaces the fixed lab passwords; playbooks then need
    ``playbook_environment(secrets)``."""
    state_dir = os.path.abspath(state_dir)
    previous = read_state(state_dir)
    if previous and any(pid_alive(d["pid"]) for d in previous.get("devices", [])):
        raise LabError("a lab is already running from %s: run `hes-lab down --state %s` first"
                       % (state_dir, state_dir))
    if asa < 0 or panos < 0 or asa + panos == 0:
        raise LabError("nothing to boot: --asa %d --panos %d" % (asa, panos))
    # A new lab boots pristine devices: the previous lab's logs, backups and reports describe
    # devices that no longer exist (and would show up in the fleet summary).
    for sub in ("logs", "control", "configs", "backups", "reports", "inventory"):
        shutil.rmtree(os.path.join(state_dir, sub), ignore_errors=True)
        os.makedirs(os.path.join(state_dir, sub))
    devices = plan_devices(asa, panos, profiles)
    if panos:
        tls.ensure_ca()  # once, before the emulators that serve certificates from it boot in parallel
    # Booting is CPU-bound (interpreter start, key generation): more at once than cores only
    # makes each one slower.
    parallel = parallel or (os.cpu_count() or 2) * 2
    started = time.time()
    records, errors = boot_all(state_dir, devices, parallel, progress=progress, secrets=secrets)
    state = {"state_dir": state_dir, "started": started, "boot_seconds": round(time.time() - started, 2),
             "devices": records}
    # Written before the error check, so that `down` finds whatever did start.
    with open(state_path(state_dir), "w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=1)
    if errors:
        down(state_dir)
        raise LabError("; ".join(errors))
    state["inventory"] = write_inventory(state_dir, records)
    if site:
        set_site(state_dir, site)
    with open(state_path(state_dir), "w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=1)
    return state


def add_device(state_dir, host, kind, profile, inventory, secrets=None, hostvars=None):
    """Boot one more device beside a running fleet, in an inventory of its own (``inventory``
    names its directory); `down` stops it with the others. Returns (record, hosts.yml path)."""
    state_dir = os.path.abspath(state_dir)
    record = boot_device(state_dir, host, kind, profile, secrets=secrets)
    if hostvars:
        record["hostvars"] = hostvars
    state = read_state(state_dir)
    state["devices"].append(record)
    with open(state_path(state_dir), "w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=1)
    shutil.rmtree(os.path.join(state_dir, inventory), ignore_errors=True)
    return record, write_inventory(state_dir, [record], inventory)


def set_site(state_dir, site):
    import yaml

    path = os.path.join(state_dir, "inventory", "group_vars", "all.yml")
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    data["hes_site"] = list(site)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("---\n# Written by `hes-lab up`; the shape of inventories/lab/group_vars/all.yml.\n")
        yaml.safe_dump(data, handle, default_flow_style=False, sort_keys=False, width=1000)


def down(state_dir=DEFAULT_STATE):
    """Stop every device of the state file by pid; returns (stopped, still running) pid lists."""
    state_dir = os.path.abspath(state_dir)
    state = read_state(state_dir)
    if state is None:
        return [], []
    pids = [d["pid"] for d in state.get("devices", [])]
    results = {}

    def stop(pid):
        results[pid] = stop_pid(pid)

    threads = [threading.Thread(target=stop, args=(pid,)) for pid in pids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stopped = [pid for pid in pids if results.get(pid)]
    left = [pid for pid in pids if not results.get(pid)]
    if not left:
        os.replace(state_path(state_dir), os.path.join(state_dir, "state.stopped.json"))
    return stopped, left


def device_rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid, encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="hes-lab", description="the demo lab: a fleet of emulated firewalls")
    sub = parser.add_subparsers(dest="action", required=True)
    up_parser = sub.add_parser("up", help="boot the fleet and write its inventory")
    up_parser.add_argument("--asa", type=int, default=3, help="emulated Cisco ASAs (default 3)")
    up_parser.add_argument("--panos", type=int, default=2, help="emulated PAN-OS firewalls (default 2)")
    up_parser.add_argument("--state", default=DEFAULT_STATE, help="state directory (default lab-run/ in the repository)")
    up_parser.add_argument("--parallel", type=int, default=None, help="devices booting at once (default 2 x CPUs)")
    up_parser.add_argument("--site", action="append", help="hes_site of the generated inventory (default us)")
    down_parser = sub.add_parser("down", help="stop the fleet by pid")
    down_parser.add_argument("--state", default=DEFAULT_STATE, help="state directory (default lab-run/ in the repository)")
    args = parser.parse_args(argv)
    try:
        if args.action == "up":
            def progress(record, done, total):
                del record
                if total >= 20 and done % max(1, total // 10) == 0:
                    print("booted %d of %d" % (done, total), file=sys.stderr, flush=True)

            state = up(args.asa, args.panos, args.state, args.parallel, progress=progress, site=args.site)
            for device in state["devices"]:
                print("%-12s %-6s 127.0.0.1:%-5d pid %-7d %s" % (device["host"], device["kind"], device["port"],
                                                                 device["pid"], device["summary"]))
            rss = sum(device_rss_kb(d["pid"]) for d in state["devices"]) / 1024.0
            print("booted %d devices in %.1f s (%.0f MB resident)" % (len(state["devices"]), state["boot_seconds"], rss))
            print("inventory %s" % state["inventory"])
            print("state %s" % state_path(state["state_dir"]))
            return 0
        stopped, left = down(args.state)
        if left:
            print("hes-lab down: still running after SIGKILL: %s" % " ".join(map(str, left)), file=sys.stderr)
            return 1
        print("stopped %d devices" % len(stopped))
        return 0
    except LabError as exc:
        print("hes-lab %s: %s" % (args.action, exc), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
