"""`make bench`: how long does a fleet take? Harden, idempotent re-run and verify against N
emulated firewalls, beside the obvious cisco.asa resource-module playbook.

For each fleet size N (default 1, 10, 50, 200; `--sizes`), on a fresh fleet each time:

    hes-linear     playbooks/harden.yml (first run), again (idempotent re-run), playbooks/verify.yml,
                   on the demo's varied fleet (60 % ASA, 40 % PAN-OS, `--vendor` to change)
    hes-free       the same harden runs with ANSIBLE_STRATEGY=free
    hes-seed       playbooks/harden_asa.yml (twice) and playbooks/verify.yml on N ASAs booted from
                   hes_lab.bench_asa_role.SEED, over network_cli (the default)
    hes-ssh        the same with hes_asa_transport=ssh (the in-task SSH connection emailsec.hes.asa_cli)
    before         the same runs with the collection as it was before the one-task rewrite
                   (commit hes_lab.bench_asa_role.BEFORE_COMMIT, taken from git)
    baseline       hes_lab.bench_asa_role.RESOURCE_PLAY (asa_ogs replaced + asa_acls replaced +
                   write memory) on the same seed

Figures per run: wall time, time per device, commands received per ASA (all, and configuration
commands: `hes_lab.asa.log.config_commands`), API requests per PAN-OS (all, and configuration
writes: `hes_lab.panos.log.config_writes`), peak resident memory of the controller (the whole
ansible-playbook process tree, persistent-connection daemons included, sampled from /proc) and its
CPU time. The headline compares the ASA scenarios: controller CPU per ASA against the baseline,
wall time against the baseline, verify against `before`, memory per ASA against `before`. Writes
bench/results.md, bench/results.json and bench/wall_time.png; `--profile` writes bench/profile.md
(where the time of one run goes). Prints figures; asserts nothing.
"""
import argparse
import ctypes
import datetime
import json
import os
import platform
import pstats
import resource
import subprocess
import sys
import tempfile
import threading
import time

from hes_lab import bench_asa_role, fleet
from hes_lab.asa.log import config_commands, read_log as read_asa_log
from hes_lab.demo import ANSIBLE_PLAYBOOK, PLAYBOOKS, REPO_ROOT, run_playbook
from hes_lab.panos.log import config_writes, read_log as read_panos_log

OUT_DIR = os.path.join(REPO_ROOT, "bench")
PR_SET_CHILD_SUBREAPER = 36
SCENARIOS = ("hes-linear", "hes-free", "hes-seed", "hes-ssh", "before", "baseline")
ASA_SCENARIOS = ("hes-seed", "hes-ssh", "before", "baseline")
# How long a persistent-connection daemon left by a run may take to exit once told to.
LEFTOVER_GRACE_S = 5


# --------------------------------------------------------------------------- controller memory
def become_subreaper():
    """Persistent-connection daemons (ansible-connection) double-fork away from ansible-playbook;
    as a subreaper this process inherits them, so that their memory is counted and they are reaped."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def process_table():
    """{pid: (ppid, state, rss kB)} of every process."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, encoding="utf-8", errors="replace") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            table[int(name)] = (int(fields[1]), fields[0], int(fields[21]) * os.sysconf("SC_PAGE_SIZE") // 1024)
        except (OSError, IndexError, ValueError):
            continue
    return table


def descendants(table, root, exclude):
    children = {}
    for pid, (ppid, _state, _rss) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in exclude:
                found.append(child)
                stack.append(child)
    return found


class MemorySampler:
    """Peak summed RSS of this process's descendants except EXCLUDE (the emulators), every PERIOD s.

    Also reaps the zombies it inherits as subreaper (never a pid in PROTECT, whose owner waits)."""

    def __init__(self, exclude, period=0.2):
        self.exclude = set(exclude)
        self.protect = set()
        self.period = period
        self.peak_kb = 0
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def loop(self):
        me = os.getpid()
        while not self.stop_event.is_set():
            table = process_table()
            pids = descendants(table, me, self.exclude)
            self.peak_kb = max(self.peak_kb, sum(table[p][2] for p in pids if table[p][1] != "Z"))
            for pid in pids:
                if table[pid][0] == me and table[pid][1] == "Z" and pid not in self.protect:
                    try:
                        os.waitpid(pid, os.WNOHANG)
                    except ChildProcessError:
                        pass
            self.stop_event.wait(self.period)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        self.thread.join()


# --------------------------------------------------------------------------- device counters
def device_counts(devices):
    """{host: (requests received, configuration commands/writes)} from the emulators' logs."""
    counts = {}
    for device in devices:
        if not os.path.exists(device["log"]):
            counts[device["host"]] = (0, 0)
        elif device["kind"] == "asa":
            records = read_asa_log(device["log"])
            counts[device["host"]] = (len([r for r in records if r["command"] != "<password>"]),
                                      len(config_commands(records)))
        else:
            records = read_panos_log(device["log"])
            counts[device["host"]] = (len(records), len(config_writes(records)))
    return counts


def per_kind(devices, before, after):
    """{kind: (devices, requests per device, configuration per device)}."""
    result = {}
    for kind in ("asa", "panos"):
        hosts = [d["host"] for d in devices if d["kind"] == kind]
        if not hosts:
            continue
        requests = sum(after[h][0] - before[h][0] for h in hosts)
        configs = sum(after[h][1] - before[h][1] for h in hosts)
        result[kind] = (len(hosts), requests / len(hosts), configs / len(hosts))
    return result


# --------------------------------------------------------------------------- one measured run
def stop_leftovers(exclude, protect=()):
    """Stop what a run left behind and reap it: network_cli's persistent-connection daemons
    outlive ansible-playbook until their idle timeout ([persistent_connection] connect_timeout).
    Their CPU time reaches RUSAGE_CHILDREN only once they are reaped, and left alive they would
    count in the next run's memory. Each is stopped by its pid (SIGTERM, then SIGKILL)."""
    me = os.getpid()
    table = process_table()
    pids = [p for p in descendants(table, me, set(exclude)) if p not in protect and table[p][1] != "Z"]
    for pid in pids:
        try:
            os.kill(pid, 15)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + LEFTOVER_GRACE_S
    while pids and time.monotonic() < deadline:
        table = process_table()
        pids = [p for p in pids if p in table and table[p][1] != "Z"]
        time.sleep(0.05)
    for pid in pids:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    reap_children(exclude)
    return len(pids)


def reap_children(exclude):
    table = process_table()
    for pid, (ppid, state, _rss) in table.items():
        if ppid == os.getpid() and pid not in exclude and state == "Z":
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def measure(label, playbook, state, inventories, forks, strategy="linear", extra_env=None, extra_args=()):
    devices = state["devices"]
    before = device_counts(devices)
    env = {"ANSIBLE_STRATEGY": strategy}
    env.update(extra_env or {})
    emulators = [d["pid"] for d in state["devices"]]
    stop_leftovers(emulators)
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    procs = []
    sampler = MemorySampler(emulators)
    started = time.monotonic()
    with sampler:
        status, output = run_playbook(playbook, inventories, ["--forks", str(forks)] + list(extra_args), env=env,
                                      log_path=os.path.join(state["state_dir"], "logs", "bench-%s.log" % label),
                                      on_start=lambda proc: (procs.append(proc), sampler.protect.add(proc.pid)))
        wall = time.monotonic() - started
        # Inside the sampler, so that the daemons still count towards the peak until they stop.
        stop_leftovers(emulators)
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    after = device_counts(devices)
    failed = sorted(h for h, r in output.recap.items() if r["failed"] or r["unreachable"])
    changed = sorted(h for h, r in output.recap.items() if r["changed"])
    return {
        "run": label, "strategy": strategy, "forks": forks, "exit": status, "devices": len(devices),
        "wall_s": round(wall, 2), "per_device_s": round(wall / max(1, len(devices)), 3),
        "cpu_s": round((cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime), 1),
        "peak_rss_mb": round(sampler.peak_kb / 1024.0, 1),
        "per_kind": {k: {"devices": v[0], "requests": round(v[1], 1), "config": round(v[2], 1)}
                     for k, v in per_kind(devices, before, after).items()},
        "failed_hosts": len(failed), "changed_hosts": len(changed),
    }


def seed_profiles(workdir):
    path = os.path.join(workdir, "bench-seed.cfg")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(bench_asa_role.SEED.format(hostname="seed-asa"))
    return {"asa": [{"config": path, "version": "9.16(4)", "summary": "hes_lab.bench_asa_role.SEED"}]}


def seed_runs(scenario, workdir):
    """(label, playbook, extra arguments, extra environment) of an ASA scenario on the seed
    fleet, in order; None when the scenario cannot run here."""
    playbooks, extra, env = PLAYBOOKS, [], {}
    if scenario == "baseline":
        play = write_play(workdir, "baseline.yml", bench_asa_role.RESOURCE_PLAY)
        return [("harden", play, [], {}), ("harden-rerun", play, [], {})]
    if scenario == "before":
        found = bench_asa_role.before_collection(workdir)
        if found is None:
            return None
        env = {"ANSIBLE_COLLECTIONS_PATH": found[0]}
        playbooks = found[1]
    elif scenario == "hes-ssh":
        extra = ["-e", "hes_asa_transport=ssh"]
    harden, verify = os.path.join(playbooks, "harden_asa.yml"), os.path.join(playbooks, "verify.yml")
    return [("harden", harden, extra, env), ("harden-rerun", harden, extra, env), ("verify", verify, extra, env)]


def write_play(workdir, name, text):
    path = os.path.join(workdir, name)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def split_fleet(size, vendor):
    if vendor == "asa":
        return size, 0
    if vendor == "panos":
        return 0, size
    asa = max(1, round(size * 0.6))
    return asa, size - asa


def run_size(size, args, workdir, say):
    rows = []
    forks = args.forks or min(size, 10)
    state_dir = os.path.join(workdir, "n%d" % size)

    def fleet_up(asa, panos, profiles=None, site=None):
        booted = time.monotonic()
        state = fleet.up(asa, panos, state_dir, profiles=profiles, site=site)
        rss = sum(fleet.device_rss_kb(d["pid"]) for d in state["devices"]) / 1024.0
        say("  fleet of %d up in %.1f s, emulators %.0f MB resident (%.1f MB each)"
            % (asa + panos, time.monotonic() - booted, rss, rss / (asa + panos)))
        return state, {"boot_s": round(time.monotonic() - booted, 1), "emulator_rss_mb": round(rss, 1)}

    def record(scenario, row, fleet_info):
        row.update({"scenario": scenario, "size": size}, **fleet_info)
        rows.append(row)
        say("  %-11s %-14s %6.1f s  %5.2f s/device  peak %5.0f MB  cpu %6.1f s  %s%s" % (
            scenario, row["run"], row["wall_s"], row["per_device_s"], row["peak_rss_mb"], row["cpu_s"],
            "  ".join("%s: %.0f req, %.0f config/device" % (k, v["requests"], v["config"])
                      for k, v in row["per_kind"].items()),
            "" if row["exit"] == 0 else "  EXIT %d (%d hosts failed)" % (row["exit"], row["failed_hosts"])))

    asa, panos = split_fleet(size, args.vendor)
    for scenario in args.scenarios:
        say("N=%d %s (forks %d)" % (size, scenario, forks))
        if scenario in ("hes-linear", "hes-free"):
            strategy = "free" if scenario == "hes-free" else "linear"
            state, info = fleet_up(asa, panos)
            try:
                inventories = [state["inventory"]]
                record(scenario, measure("harden", "harden.yml", state, inventories, forks, strategy), info)
                record(scenario, measure("harden-rerun", "harden.yml", state, inventories, forks, strategy), info)
                if scenario == "hes-linear" or args.verify_free:
                    record(scenario, measure("verify", "verify.yml", state, inventories, forks, strategy), info)
            finally:
                fleet.down(state_dir)
        else:
            runs = seed_runs(scenario, workdir)
            if runs is None:
                say("  skipped: git cannot give the roles of %s" % bench_asa_role.BEFORE_COMMIT)
                continue
            state, info = fleet_up(size, 0, profiles=seed_profiles(workdir))
            try:
                for label, playbook, extra_args, extra_env in runs:
                    record(scenario, measure(label, playbook, state, [state["inventory"]], forks,
                                             extra_env=extra_env, extra_args=extra_args), info)
            finally:
                fleet.down(state_dir)
    return rows


# --------------------------------------------------------------------------- output
GOALS = "goals (issue 16): CPU per ASA <= 1/3 of the baseline at N=10 and 50; wall <= 1/3 at N=50; " \
        "verify wall per device <= 1/3 of before at N=50; peak memory per ASA <= before at N=50"


def _ratio(ours, theirs):
    if ours is None or theirs is None or not theirs:
        return "-"
    return "%.2f (%s / %s)" % (ours / theirs, _num(ours), _num(theirs))


def _num(value):
    return "%.3g" % value


def headline(rows):
    """The issue's goals as ratios, per N and per transport of ours: markdown table lines."""
    index = {(r["size"], r["scenario"], r["run"]): r for r in rows}

    def cpu(size, scenario, run):
        row = index.get((size, scenario, run))
        return row["cpu_s"] / row["devices"] if row else None

    def wall(size, scenario, run, per_device=False):
        row = index.get((size, scenario, run))
        return (row["per_device_s"] if per_device else row["wall_s"]) if row else None

    def memory(size, scenario):
        peaks = [r["peak_rss_mb"] / r["devices"] for (n, sc, _run), r in index.items() if n == size and sc == scenario]
        return max(peaks) if peaks else None

    lines = ["| N | ours | harden CPU/ASA vs baseline | re-run CPU/ASA vs baseline | harden wall vs baseline "
             "| re-run wall vs baseline | verify s/device vs before | peak MB/ASA vs before |",
             "|---|---|---|---|---|---|---|---|"]
    for size in sorted({r["size"] for r in rows}):
        for scenario, label in (("hes-seed", "network_cli"), ("hes-ssh", "ssh")):
            if (size, scenario, "harden") not in index:
                continue
            lines.append("| %d | %s | %s | %s | %s | %s | %s | %s |" % (
                size, label,
                _ratio(cpu(size, scenario, "harden"), cpu(size, "baseline", "harden")),
                _ratio(cpu(size, scenario, "harden-rerun"), cpu(size, "baseline", "harden-rerun")),
                _ratio(wall(size, scenario, "harden"), wall(size, "baseline", "harden")),
                _ratio(wall(size, scenario, "harden-rerun"), wall(size, "baseline", "harden-rerun")),
                _ratio(wall(size, scenario, "verify", True), wall(size, "before", "verify", True)),
                _ratio(memory(size, scenario), memory(size, "before"))))
    return lines if len(lines) > 2 else []


def markdown(rows, meta):
    lines = ["# emailsec.hes fleet benchmark", "",
             "- machine: %s, %d CPUs, %.0f GB RAM; load average at start %s" % (
                 meta["machine"], meta["cpus"], meta["mem_gb"], meta["loadavg"]),
             "- %s, ansible-core %s; one emulator process per device on 127.0.0.1" % (meta["python"], meta["ansible"]),
             "- generated %s by `%s`" % (meta["generated"], meta["command"]), "",
             "| N | scenario | run | forks | wall (s) | s/device | ASA cmds/device (config) | PAN-OS requests/device (writes) "
             "| controller peak RSS (MB) | controller CPU (s) | emulators RSS (MB) | result |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    top = headline(rows)
    if top:
        lines[6:6] = ["## Headline: ours against the baseline and against before (ratio, ours / theirs)", "",
                      GOALS + ".", ""] + top + ["", "## Every run", ""]
    for row in rows:
        kinds = row["per_kind"]
        asa = "%.0f (%.0f)" % (kinds["asa"]["requests"], kinds["asa"]["config"]) if "asa" in kinds else "-"
        pan = "%.0f (%.0f)" % (kinds["panos"]["requests"], kinds["panos"]["config"]) if "panos" in kinds else "-"
        result = "ok" if row["exit"] == 0 else "exit %d, %d hosts failed" % (row["exit"], row["failed_hosts"])
        lines.append("| %d | %s | %s | %d | %.1f | %.2f | %s | %s | %.0f | %.1f | %.0f | %s |" % (
            row["size"], row["scenario"], row["run"], row["forks"], row["wall_s"], row["per_device_s"], asa, pan,
            row["peak_rss_mb"], row["cpu_s"], row["emulator_rss_mb"], result))
    lines += ["", "Scenarios: hes-linear / hes-free = playbooks/harden.yml and verify.yml on the demo's varied fleet "
              "(strategy linear / free); on ASAs booted from the seed config of hes_lab.bench_asa_role: "
              "hes-seed = playbooks/harden_asa.yml and verify.yml over network_cli, hes-ssh = the same with "
              "hes_asa_transport=ssh, before = the collection as of commit %s, baseline = the cisco.asa "
              "resource-module playbook. Config = configure terminal, configuration lines and write memory (ASA); "
              "set/edit/delete/multi-config and commit (PAN-OS). CPU is the whole process tree's, the "
              "persistent-connection daemons included (stopped and reaped at the end of each run)."
              % bench_asa_role.BEFORE_COMMIT[:7]]
    return "\n".join(lines) + "\n"


def plot(rows, path):
    """Wall time per N: harden (first run and re-run) of ours on both transports against the
    baseline and before; verify time per device against before. Other scenarios are in the table."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (harden_axis, verify_axis) = plt.subplots(1, 2, figsize=(11, 4.5))
    names = {"hes-seed": "ours, network_cli", "hes-ssh": "ours, ssh", "before": "before (%s)"
             % bench_asa_role.BEFORE_COMMIT[:7], "baseline": "cisco.asa baseline"}
    for (scenario, label), color in zip(names.items(), ("tab:blue", "tab:green", "tab:gray", "tab:red")):
        for run, style in (("harden", "-"), ("harden-rerun", "--")):
            points = sorted((r["size"], r["wall_s"]) for r in rows if r["scenario"] == scenario and r["run"] == run)
            if points:
                harden_axis.plot([p[0] for p in points], [p[1] for p in points], style, marker="o", color=color,
                                 label="%s, %s" % (label, "first run" if run == "harden" else "re-run"))
        points = sorted((r["size"], r["per_device_s"]) for r in rows if r["scenario"] == scenario and r["run"] == "verify")
        if points:
            verify_axis.plot([p[0] for p in points], [p[1] for p in points], marker="o", color=color, label=label)
    harden_axis.set_title("harden: wall time")
    harden_axis.set_ylabel("wall time (s)")
    verify_axis.set_title("verify: wall time per device")
    verify_axis.set_ylabel("s per device")
    sizes = {r["size"] for r in rows}
    for axis in (harden_axis, verify_axis):
        axis.set_xlabel("ASAs (N), forks min(N, 10)")
        if len(sizes) > 2:
            axis.set_xscale("log")
            axis.set_yscale("log")
        axis.grid(True, alpha=0.3)
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=7)
    figure.suptitle("emailsec.hes on emulated ASAs: ours against the cisco.asa baseline")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def machine_meta(argv):
    import ansible

    with open("/proc/meminfo", encoding="utf-8") as handle:
        mem_kb = int(handle.readline().split()[1])
    return {"machine": platform.machine(), "cpus": os.cpu_count(), "mem_gb": mem_kb / 1024.0 / 1024.0,
            "loadavg": "%.1f %.1f %.1f" % os.getloadavg(), "python": "Python %s" % platform.python_version(),
            "ansible": ansible.__version__,
            "generated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "command": "python -m hes_lab.bench " + " ".join(argv)}


# --------------------------------------------------------------------------- profile
class ProcessCpu:
    """CPU seconds of the controller's processes by kind, sampled from /proc every PERIOD s: the
    ansible-playbook main process, its forked workers, persistent-connection daemons and module
    processes. A process that lives less than PERIOD may be missed; the caller reports the rest
    of RUSAGE_CHILDREN as unattributed."""

    KINDS = ("main process", "workers", "persistent-connection daemons", "module processes", "other")

    def __init__(self, exclude, period=0.02):
        self.exclude = set(exclude)
        self.period = period
        self.seen = {}
        self.main = None
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def kind(self, pid):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as handle:
                command = handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            return "other"
        if pid == self.main:
            return "main process"
        if "ansible_connection_cli_stub" in command or "ansible-connection" in command:
            return "persistent-connection daemons"
        if "AnsiballZ" in command:
            return "module processes"
        if "ansible-playbook" in command:
            return "workers"
        return "other"

    def loop(self):
        ticks = os.sysconf("SC_CLK_TCK")
        while not self.stop_event.is_set():
            for pid in descendants(process_table(), os.getpid(), self.exclude):
                try:
                    with open("/proc/%d/stat" % pid, encoding="utf-8") as handle:
                        fields = handle.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if fields[0] == "Z":
                    continue
                if pid not in self.seen:
                    self.seen[pid] = [self.kind(pid), 0.0]
                self.seen[pid][1] = (int(fields[11]) + int(fields[12])) / ticks
            self.stop_event.wait(self.period)

    def totals(self):
        totals = dict((k, 0.0) for k in self.KINDS)
        for kind, seconds in self.seen.values():
            totals[kind] += seconds
        return totals


def profile_asa(args, workdir, say):
    """Each ASA scenario on a fresh seed fleet: the harden first run (and verify where there is
    one) with the profile_tasks callback, controller CPU by process kind, the devices' side."""
    size = args.profile
    forks = args.forks or min(size, 10)
    sections = ["# Where the time of one run goes (ASA scenarios)", "",
                "%d ASAs booted from the seed config of hes_lab.bench_asa_role, forks %d, load average at start %s; "
                "`python -m hes_lab.bench %s`." % (size, forks, "%.1f %.1f %.1f" % os.getloadavg(),
                                                 " ".join(args.argv)), "",
                "CPU by kind is sampled from /proc every 20 ms (short-lived processes may be missed: "
                "unattributed); persistent-connection daemons are stopped and reaped at the end of the run.", ""]
    for scenario in [s for s in args.scenarios if s in ASA_SCENARIOS]:
        runs = seed_runs(scenario, workdir)
        if runs is None:
            continue
        state_dir = os.path.join(workdir, "profile-%s" % scenario)
        state = fleet.up(size, 0, state_dir, profiles=seed_profiles(workdir))
        emulators = [d["pid"] for d in state["devices"]]
        try:
            for label, playbook, extra_args, extra_env in runs:
                if label == "harden-rerun":
                    continue
                stop_leftovers(emulators)
                cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
                counter = ProcessCpu(emulators)
                log_path = os.path.join(workdir, "profile-%s-%s.log" % (scenario, label))
                started, started_wall = time.monotonic(), time.time()
                counter.thread.start()

                def remember(proc, counter=counter):
                    counter.main = proc.pid

                status, _output = run_playbook(playbook, [state["inventory"]], ["--forks", str(forks)] + extra_args,
                                               log_path=log_path, on_start=remember,
                                               env=dict(extra_env, ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
                                                        PROFILE_TASKS_TASK_OUTPUT_LIMIT="40"))
                wall = time.monotonic() - started
                stop_leftovers(emulators)
                counter.stop_event.set()
                counter.thread.join()
                cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
                total = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
                kinds = counter.totals()
                with open(log_path, encoding="utf-8") as handle:
                    text = handle.read()
                recap = text[text.rfind("==============================================================================="):]
                sections += ["## %s, %s: wall %.1f s, controller CPU %.1f s (%.2f s per ASA), exit %d"
                             % (scenario, label, wall, total, total / size, status), "",
                             "| process kind | CPU s | per ASA |", "|---|---|---|"]
                for kind in ProcessCpu.KINDS:
                    if kinds[kind]:
                        sections.append("| %s | %.2f | %.3f |" % (kind, kinds[kind], kinds[kind] / size))
                rest = total - sum(kinds.values())
                sections += ["| unattributed | %.2f | %.3f |" % (rest, rest / size), "",
                             "Time per task (ansible.posix.profile_tasks, wall, summed over the hosts of each "
                             "round):", "", "```", recap.strip()[:4000], "```", "",
                             device_timings(state["devices"], started_wall), ""]
                say("profiled %s %s: wall %.1f s, cpu %.1f s" % (scenario, label, wall, total))
        finally:
            fleet.down(state_dir)
    return sections


def profile(args, workdir, say):
    """One harden run on a fresh fleet, twice: with profile_tasks (time per task) and under cProfile
    (the controller's main process: planning, templating, result handling)."""
    size = args.profile
    asa, panos = split_fleet(size, args.vendor)
    state_dir = os.path.join(workdir, "profile")
    sections = ["# Mixed fleet (hes-linear): where the time of one harden run goes", "",
                "Harden (first run) on %d firewalls (%d ASA, %d PAN-OS), forks %d, load average %s." % (
                    size, asa, panos, args.forks or min(size, 10), "%.1f %.1f %.1f" % os.getloadavg()), ""]
    forks = str(args.forks or min(size, 10))
    # 1. time per task, from the profile_tasks callback
    state = fleet.up(asa, panos, state_dir)
    try:
        started, started_wall = time.monotonic(), time.time()
        status, output = run_playbook("harden.yml", [state["inventory"]], ["--forks", forks],
                                      log_path=os.path.join(workdir, "profile_tasks.log"),
                                      env={"ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks",
                                           "PROFILE_TASKS_TASK_OUTPUT_LIMIT": "40"})
        wall = time.monotonic() - started
        timings = device_timings(state["devices"], started_wall)
    finally:
        fleet.down(state_dir)
    with open(os.path.join(workdir, "profile_tasks.log"), encoding="utf-8") as handle:
        text = handle.read()
    recap = text[text.rfind("==============================================================================="):]
    sections += ["## Time per task (ansible.posix.profile_tasks), wall %.1f s, exit %d" % (wall, status), "", "```",
                 recap.strip()[:6000], "```", "",
                 "## The devices' side (emulator logs)", "", timings, ""]
    # 2. the controller's main process under cProfile
    state = fleet.up(asa, panos, state_dir)
    prof = os.path.join(workdir, "controller.prof")
    try:
        command = [sys.executable, "-m", "cProfile", "-o", prof, ANSIBLE_PLAYBOOK, "-i", state["inventory"],
                   os.path.join(PLAYBOOKS, "harden.yml"), "--forks", forks]
        started = time.monotonic()
        from hes_lab.demo import playbook_env

        done = subprocess.run(command, cwd=REPO_ROOT, env=playbook_env(), capture_output=True, text=True, check=False)
        wall2 = time.monotonic() - started
    finally:
        fleet.down(state_dir)
    stats = pstats.Stats(prof)
    rows = sorted(stats.stats.items(), key=lambda item: item[1][3], reverse=True)
    sleeping = sum(v[2] for (f, _l, name), v in stats.stats.items() if name == "<built-in method time.sleep>")
    waiting = sum(v[3] for (f, _l, name), v in stats.stats.items() if name == "_wait_on_pending_results")
    sections += ["## Controller main process under cProfile (wall %.1f s, exit %d)" % (wall2, done.returncode), "",
                 "%.1f s profiled in the main process, of which %.1f s waiting for the workers' results "
                 "(%.1f s of it asleep in time.sleep): the rest (%.1f s) is the strategy's own work - templating, "
                 "variables, queueing tasks, forking workers, callbacks. The forked workers (module runs) and "
                 "the persistent-connection daemons (SSH to the ASAs) are other processes." % (
                     stats.total_tt, waiting, sleeping, stats.total_tt - waiting), "",
                 "| cumulative s | function |", "|---|---|"]
    shown = 0
    for (filename, line, name), (_cc, _nc, _tt, cumulative, _callers) in rows:
        if shown >= 25:
            break
        where = filename.split("site-packages/")[-1]
        sections.append("| %.2f | %s:%d %s |" % (cumulative, where, line, name))
        shown += 1
    return sections


def device_timings(devices, started_wall):
    """What the emulators' logs say about one run, per device kind: commands, the round trip of a
    command inside a burst (the next command follows the previous answer at once), the time spent
    in such bursts, the idle gaps between them (the controller between tasks) and the delay before
    the first command (start-up, fork, connection set-up)."""
    lines = []
    for kind in ("asa", "panos"):
        gaps_all, bursts, idles, firsts, counts = [], [], [], [], []
        for device in devices:
            if device["kind"] != kind or not os.path.exists(device["log"]):
                continue
            records = read_asa_log(device["log"]) if kind == "asa" else read_panos_log(device["log"])
            # The log also holds the runs before this one on the same fleet (harden before verify).
            stamps = sorted(r["ts"] for r in records if r["ts"] >= started_wall)
            if not stamps:
                continue
            gaps = [b - a for a, b in zip(stamps, stamps[1:])]
            counts.append(len(stamps))
            firsts.append(stamps[0] - started_wall)
            gaps_all += [g for g in gaps if g < 0.5]
            bursts.append(sum(g for g in gaps if g < 0.5))
            idles.append(sum(g for g in gaps if g >= 0.5))
        if not counts:
            continue
        gaps_all.sort()
        median = gaps_all[len(gaps_all) // 2] if gaps_all else 0.0
        lines.append("- %s (%d devices): %.0f requests each; median round trip %.3f s; %.1f s in bursts of "
                     "requests, %.1f s idle between them, first request %.1f s after ansible-playbook started "
                     "(averages per device)" % (
                         kind, len(counts), sum(counts) / len(counts), median, sum(bursts) / len(bursts),
                         sum(idles) / len(idles), sum(firsts) / len(firsts)))
    return "\n".join(lines) or "no records"


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m hes_lab.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,10,50,200", help="comma-separated fleet sizes (default 1,10,50,200)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS),
                        help="comma-separated subset of %s" % ",".join(SCENARIOS))
    parser.add_argument("--vendor", choices=("mixed", "asa", "panos"), default="mixed",
                        help="hes-linear/hes-free fleet: 60/40 ASA/PAN-OS (default), or one vendor")
    parser.add_argument("--forks", type=int, default=0, help="ansible forks (default min(N, 10))")
    parser.add_argument("--verify-free", action="store_true", help="also run verify with the free strategy")
    parser.add_argument("--max-devices", type=int, default=0,
                        help="skip sizes above this (default: what memory allows, about 60 MB per device)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="only profile one run on N firewalls per scenario (bench/profile.md): the ASA "
                             "scenarios' harden first run and verify; hes-linear's mixed-fleet harden")
    parser.add_argument("--out", default=OUT_DIR, help="output directory (default bench/)")
    parser.add_argument("--append", action="store_true",
                        help="keep the rows of results.json for the sizes and scenarios not measured now")
    args = parser.parse_args(argv)
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        parser.error("unknown scenario(s) %s" % ", ".join(unknown))
    os.makedirs(args.out, exist_ok=True)
    become_subreaper()
    workdir = tempfile.mkdtemp(prefix="hes-bench-")

    def say(text):
        print(text, flush=True)

    if args.profile:
        args.argv = argv
        sections = []
        if any(s in ASA_SCENARIOS for s in args.scenarios):
            sections += profile_asa(args, workdir, say)
        if "hes-linear" in args.scenarios:
            sections += profile(args, workdir, say)
        path = os.path.join(args.out, "profile.md")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("\n".join(sections) + "\n")
        say("profile written to %s" % path)
        return 0
    with open("/proc/meminfo", encoding="utf-8") as handle:
        available_kb = [int(line.split()[1]) for line in handle if line.startswith("MemAvailable:")][0]
    limit = args.max_devices or int(available_kb / 1024 / 60)
    meta = machine_meta(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    rows = []
    if args.append and os.path.exists(os.path.join(args.out, "results.json")):
        with open(os.path.join(args.out, "results.json"), encoding="utf-8") as handle:
            previous = json.load(handle)
        rows = [r for r in previous["rows"] if r["size"] not in sizes or r["scenario"] not in args.scenarios]
        meta["command"] = "%s; then %s" % (previous["meta"]["command"], meta["command"])
    for size in sizes:
        if size > limit:
            say("N=%d skipped: more than %d devices (--max-devices)" % (size, limit))
            continue
        rows += run_size(size, args, workdir, say)
        rows.sort(key=lambda r: (r["size"], SCENARIOS.index(r["scenario"])))
        write_results(rows, meta, args.out)
    if rows:
        write_results(rows, meta, args.out)
        say("\n" + markdown(rows, meta))
        if headline(rows):
            say("HEADLINE (ratio ours / theirs; %s)\n%s" % (GOALS, "\n".join(headline(rows))))
        say("written: %s" % ", ".join(os.path.join(args.out, n) for n in ("results.md", "results.json", "wall_time.png")))
    return 0


def write_results(rows, meta, out):
    with open(os.path.join(out, "results.json"), "w", encoding="utf-8") as handle:
        json.dump({"meta": meta, "rows": rows}, handle, indent=1)
    with open(os.path.join(out, "results.md"), "w", encoding="utf-8") as handle:
        handle.write(markdown(rows, meta))
    plot(rows, os.path.join(out, "wall_time.png"))


if __name__ == "__main__":
    sys.exit(main())
