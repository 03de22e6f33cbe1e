"""`make bench`: how long does a fleet take? Harden, idempotent re-run and verify against N
emulated firewalls, beside the obvious cisco.asa resource-module playbook.

For each fleet size N (default 1, 10, 50, 200; `--sizes`), on a fresh fleet each time:

    hes linear     playbooks/harden.yml (first run), again (idempotent re-run), playbooks/verify.yml,
                   on the demo's varied fleet (60 % ASA, 40 % PAN-OS, `--vendor` to change)
    hes free       the same harden runs with ANSIBLE_STRATEGY=free
    hes on seed    playbooks/harden_asa.yml on N ASAs booted from hes_lab.bench_asa_role.SEED
    baseline       hes_lab.bench_asa_role.RESOURCE_PLAY (asa_ogs replaced + asa_acls replaced +
                   write memory) on the same seed: the comparison the two rows above allow

Figures per run: wall time, time per device, commands received per ASA (all, and configuration
commands: `hes_lab.asa.log.config_commands`), API requests per PAN-OS (all, and configuration
writes: `hes_lab.panos.log.config_writes`), peak resident memory of the controller (the whole
ansible-playbook process tree, persistent-connection daemons included, sampled from /proc) and its
CPU time. Writes bench/results.md, bench/results.json and bench/wall_time.png; `--profile` adds
bench/profile.md (where the time of one run goes). Prints figures; asserts nothing.
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
SCENARIOS = ("hes-linear", "hes-free", "hes-seed", "baseline")


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
def measure(label, playbook, state, inventories, forks, strategy="linear", extra_env=None):
    devices = state["devices"]
    before = device_counts(devices)
    env = {"ANSIBLE_STRATEGY": strategy}
    env.update(extra_env or {})
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    emulators = [d["pid"] for d in devices]
    procs = []
    sampler = MemorySampler(emulators)
    started = time.monotonic()
    with sampler:
        status, output = run_playbook(playbook, inventories, ["--forks", str(forks)], env=env,
                                      log_path=os.path.join(state["state_dir"], "logs", "bench-%s.log" % label),
                                      on_start=lambda proc: (procs.append(proc), sampler.protect.add(proc.pid)))
    wall = time.monotonic() - started
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
            state, info = fleet_up(size, 0, profiles=seed_profiles(workdir))
            try:
                inventories = [state["inventory"]]
                if scenario == "baseline":
                    playbook = write_play(workdir, "baseline.yml", bench_asa_role.RESOURCE_PLAY)
                else:
                    playbook = os.path.join(PLAYBOOKS, "harden_asa.yml")
                record(scenario, measure("harden", playbook, state, inventories, forks), info)
                record(scenario, measure("harden-rerun", playbook, state, inventories, forks), info)
            finally:
                fleet.down(state_dir)
    return rows


# --------------------------------------------------------------------------- output
def markdown(rows, meta):
    lines = ["# emailsec.hes fleet benchmark", "",
             "- machine: %s, %d CPUs, %.0f GB RAM; load average at start %s" % (
                 meta["machine"], meta["cpus"], meta["mem_gb"], meta["loadavg"]),
             "- %s, ansible-core %s; one emulator process per device on 127.0.0.1" % (meta["python"], meta["ansible"]),
             "- generated %s by `%s`" % (meta["generated"], meta["command"]), "",
             "| N | scenario | run | forks | wall (s) | s/device | ASA cmds/device (config) | PAN-OS requests/device (writes) "
             "| controller peak RSS (MB) | controller CPU (s) | emulators RSS (MB) | result |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        kinds = row["per_kind"]
        asa = "%.0f (%.0f)" % (kinds["asa"]["requests"], kinds["asa"]["config"]) if "asa" in kinds else "-"
        pan = "%.0f (%.0f)" % (kinds["panos"]["requests"], kinds["panos"]["config"]) if "panos" in kinds else "-"
        result = "ok" if row["exit"] == 0 else "exit %d, %d hosts failed" % (row["exit"], row["failed_hosts"])
        lines.append("| %d | %s | %s | %d | %.1f | %.2f | %s | %s | %.0f | %.1f | %.0f | %s |" % (
            row["size"], row["scenario"], row["run"], row["forks"], row["wall_s"], row["per_device_s"], asa, pan,
            row["peak_rss_mb"], row["cpu_s"], row["emulator_rss_mb"], result))
    lines += ["", "Scenarios: hes-linear / hes-free = playbooks/harden.yml and verify.yml on the demo's varied fleet "
              "(strategy linear / free); hes-seed = playbooks/harden_asa.yml and baseline = the cisco.asa "
              "resource-module playbook of hes_lab.bench_asa_role, both on ASAs booted from its seed config. "
              "Config = configure terminal, configuration lines and write memory (ASA); set/edit/delete/"
              "multi-config and commit (PAN-OS)."]
    return "\n".join(lines) + "\n"


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5))
    series = {}
    for row in rows:
        series.setdefault("%s %s" % (row["scenario"], row["run"]), []).append((row["size"], row["wall_s"]))
    for name, points in sorted(series.items()):
        points.sort()
        axis.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=name)
    axis.set_xlabel("firewalls (N)")
    axis.set_ylabel("wall time (s)")
    axis.set_title("emailsec.hes: wall time against fleet size")
    if len({r["size"] for r in rows}) > 2:
        axis.set_xscale("log")
        axis.set_yscale("log")
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=7)
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
def profile(args, workdir, say):
    """One harden run on a fresh fleet, twice: with profile_tasks (time per task) and under cProfile
    (the controller's main process: planning, templating, result handling)."""
    size = args.profile
    asa, panos = split_fleet(size, args.vendor)
    state_dir = os.path.join(workdir, "profile")
    sections = ["# Where the time of one run goes", "",
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
    path = os.path.join(args.out, "profile.md")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(sections) + "\n")
    say("profile written to %s" % path)


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
            stamps = sorted(r["ts"] for r in records)
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
                        help="only profile one harden run on N firewalls (bench/profile.md)")
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
        profile(args, workdir, say)
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
