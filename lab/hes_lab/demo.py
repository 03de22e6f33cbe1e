"""`make demo`: a lab of emulated firewalls hardened and verified, step by step.

Boots the fleet (`hes_lab.fleet`), a pfSense box (`hes_lab.pfsense`: files, pfSense's own
xmlparse.inc under php-cli) when php is installed, and the network-namespace lab with Linux
nftables when run as root, then drives the collection's own playbooks with `ansible-playbook`:

    verify            must FAIL: inbound SMTP is still open to any source
    harden --check    shows the exact commands / API edits; no configuration reaches a device
    harden            changes every firewall (make-before-break), backs up, saves / commits
    harden again      changes nothing and sends no configuration command
    verify            must PASS; the fleet summary table and the reports

and stops the lab in every case (failure, Ctrl-C, SIGTERM) by pid. Each step checks its outcome
against the emulators' own command logs, and the exit status is 0 only when every step went as
announced. The full ansible-playbook output of each step is kept in <state>/logs/.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

from hes_lab import fleet
from hes_lab.asa.log import config_commands, read_log as read_asa_log
from hes_lab.panos.log import config_writes, read_log as read_panos_log
from hes_lab.pfsense import LabError as PfsenseLabError, PfsenseBox

REPO_ROOT = fleet.REPO_ROOT
PLAYBOOKS = os.path.join(REPO_ROOT, "playbooks")
ANSIBLE_PLAYBOOK = os.path.join(REPO_ROOT, ".venv", "bin", "ansible-playbook")

TASK_RE = re.compile(r"^(TASK|RUNNING HANDLER) \[(?P<name>.*)\] \**$")
PLAY_RE = re.compile(r"^PLAY \[(?P<name>.*)\] \**$")
STATUS_RE = re.compile(
    r"^(?P<status>ok|changed|skipping|fatal|failed|unreachable|included): \[(?P<host>[^\]]+)\]"
    r"(?:: (?P<flag>FAILED|UNREACHABLE)!)?(?P<rest>.*)$")
RECAP_RE = re.compile(r"^(?P<host>\S+)\s+: ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
                      r"\s+failed=(?P<failed>\d+)\s+skipped=(?P<skipped>\d+)\s+rescued=(?P<rescued>\d+)"
                      r"\s+ignored=(?P<ignored>\d+)")


class DemoFailure(Exception):
    """A step did not go as announced; the message says what happened instead."""


class Interrupted(BaseException):
    """SIGTERM, handled like Ctrl-C: stop the lab, exit non-zero."""


# --------------------------------------------------------------------------- ansible output
class PlaybookOutput:
    """The default callback's output (with JSON results) as events, recap and diffs.

    events: dicts with task, status, host, result (the JSON result or None) and text (the lines
    printed for that host just before its status line: the diff in --diff runs).
    """

    def __init__(self):
        self.task = None
        self.play = None
        self.events = []
        self.recap = {}
        self.pending = []
        self.json_event = None
        self.in_recap = False

    def feed(self, line):
        """Take one output line; returns a new event when LINE completes one, else None."""
        line = line.rstrip("\n")
        if self.json_event is not None:
            raw = self.json_event["raw"]
            raw.append(line)
            if not line.startswith("}"):
                return None
            event, self.json_event = self.json_event, None
            try:
                event["result"] = json.loads("\n".join(event.pop("raw")))
            except ValueError:
                event["result"] = None
            return event
        match = PLAY_RE.match(line)
        if match:
            self.play, self.pending = match.group("name"), []
            return None
        match = TASK_RE.match(line)
        if match:
            self.task, self.pending = match.group("name"), []
            return None
        if line.startswith("PLAY RECAP"):
            self.in_recap = True
            return None
        if self.in_recap:
            match = RECAP_RE.match(line)
            if match:
                self.recap[match.group("host")] = {k: int(v) for k, v in match.groupdict().items() if k != "host"}
            return None
        match = STATUS_RE.match(line)
        if match and self.task is not None:
            status = "failed" if match.group("flag") == "FAILED" else match.group("status")
            if match.group("flag") == "UNREACHABLE":
                status = "unreachable"
            event = {"play": self.play, "task": self.task, "status": status, "host": match.group("host"),
                     "result": None, "text": "\n".join(self.pending).strip("\n")}
            self.pending = []
            self.events.append(event)
            rest = match.group("rest").rstrip()
            if rest.endswith("=> {"):
                event["raw"] = ["{"]
                self.json_event = event
                return None
            if "=> {" in rest:
                try:
                    event["result"] = json.loads(rest[rest.index("=> {") + 3:])
                except ValueError:
                    pass
            return event
        self.pending.append(line)
        return None

    def for_task(self, pattern):
        rx = re.compile(pattern)
        return [e for e in self.events if rx.search(e["task"] or "")]


def playbook_env(extra=None):
    env = dict(os.environ)
    env.update({
        "ANSIBLE_CONFIG": os.path.join(REPO_ROOT, "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
        "ANSIBLE_DISPLAY_SKIPPED_HOSTS": "false",
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra or {})
    return env


def run_playbook(playbook, inventories, args=(), log_path=None, on_task=None, env=None, on_start=None):
    """Run ansible-playbook; returns (exit status, PlaybookOutput). The output goes to LOG_PATH."""
    command = [ANSIBLE_PLAYBOOK]
    for inventory in inventories:
        command += ["-i", inventory]
    command += [playbook if os.path.isabs(playbook) else os.path.join(PLAYBOOKS, playbook), *args]
    output = PlaybookOutput()
    log = open(log_path, "w", encoding="utf-8") if log_path else None
    try:
        if log:
            log.write("$ %s\n" % " ".join(command))
        proc = subprocess.Popen(command, cwd=REPO_ROOT, env=playbook_env(env), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, bufsize=1)
        if on_start:
            on_start(proc)
        try:
            for line in proc.stdout:
                if log:
                    log.write(line)
                previous_task = output.task
                output.feed(line)
                if on_task and output.task != previous_task:
                    on_task(output.task)
        except BaseException:
            # Interrupted: ansible-playbook may not have had the signal (SIGTERM to us alone).
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            raise
        status = proc.wait()
    finally:
        if log:
            log.close()
    return status, output


# --------------------------------------------------------------------------- emulator logs
# What device_config_counts counts, per kind.
CONFIG_UNITS = {"asa": "configuration commands received", "panos": "configuration API requests received",
                "pfsense": "configuration writes (write_config)"}


def device_config_counts(devices):
    """{host: configuration commands (ASA), configuration writes (PAN-OS) or write_config() calls
    (pfSense) received so far}."""
    counts = {}
    for device in devices:
        if not os.path.exists(device["log"]):
            counts[device["host"]] = 0
        elif device["kind"] == "asa":
            counts[device["host"]] = len(config_commands(read_asa_log(device["log"])))
        elif device["kind"] == "pfsense":
            counts[device["host"]] = len(PfsenseBox(device["root"]).events("write_config"))
        else:
            counts[device["host"]] = len(config_writes(read_panos_log(device["log"])))
    return counts


def delta(after, before):
    return {host: after[host] - before.get(host, 0) for host in after}


# --------------------------------------------------------------------------- display
class Screen:
    def __init__(self, stream=sys.stdout, tasks=True):
        self.stream = stream
        self.tasks = tasks
        self.step_started = None

    def say(self, text=""):
        if self.stream is None:
            return
        try:
            self.stream.write(text + "\n")
            self.stream.flush()
        except OSError:
            # The reader went away (a closed pipe): carry on, so that the lab is still stopped.
            self.stream = None

    def step(self, number, total, title, expect):
        self.step_started = time.monotonic()
        self.say()
        self.say("[%d/%d] %s" % (number, total, title))
        if expect:
            self.say("      expected: %s" % expect)

    def task(self, name):
        name = re.sub(r"^[\w.]+ : ", "", name or "")
        if self.tasks and name and not name.startswith("Validating arguments"):
            self.say("      . %s" % name)

    def outcome(self, ok, text):
        elapsed = time.monotonic() - self.step_started if self.step_started else 0.0
        self.say("      %s %s (%.0f s)" % ("OK  " if ok else "FAIL", text, elapsed))


def indent(text, prefix="        "):
    return "\n".join(prefix + line if line.strip() else "" for line in text.splitlines())


def failure_reason(event):
    result = event.get("result") or {}
    msg = result.get("msg") or result.get("module_stderr") or result.get("stderr") or ""
    if isinstance(msg, list):
        msg = "; ".join(str(m) for m in msg)
    return " ".join(str(msg).split())


def summary_lines(output):
    """The vendor playbooks' per-host summary messages (debug tasks named '... summary'/'Summary')."""
    lines = []
    for event in output.for_task(r"(?i)summary"):
        msg = (event.get("result") or {}).get("msg")
        if isinstance(msg, list):
            lines += [str(m) for m in msg]
        elif msg:
            lines.append(" ".join(str(msg).split()))
    return lines


# --------------------------------------------------------------------------- the demo
class Demo:
    STEPS = 9

    def __init__(self, args, screen):
        self.args = args
        self.screen = screen
        self.state_dir = os.path.abspath(args.state)
        self.state = None
        self.netns = None
        self.mail = None
        self.pfsense = None
        self.inventories = []
        self.logs = os.path.join(self.state_dir, "logs")
        self.secrets = demo_secrets()

    # -- lab
    def boot(self):
        s = self.screen
        s.step(1, self.STEPS, "Booting the lab: %d emulated Cisco ASA and %d emulated PAN-OS firewalls on 127.0.0.1"
               % (self.args.asa, self.args.panos), None)
        self.state = fleet.up(self.args.asa, self.args.panos, self.state_dir, site=self.args.site,
                              secrets=self.secrets)
        for device in self.state["devices"]:
            s.say("      %-10s %-6s port %-5d  %s" % (device["host"], device["kind"], device["port"], device["summary"]))
        self.inventories = [self.state["inventory"]]
        reason = self.pfsense_unavailable()
        if reason:
            s.say("      (no pfSense box: %s; the pfsense role is not part of this run)" % reason)
        else:
            self.boot_pfsense()
            s.say("      %-10s %-6s %s  %s" % (self.pfsense["host"], "pfsense", "box", self.pfsense["summary"]))
            s.say("      %-10s %-6s files in %s (no process); inventory %s"
                  % ("", "", self.rel(self.pfsense["root"]), self.rel(self.inventories[-1])))
        if self.want_netns():
            from hes_lab.netns import NetnsLab

            s.say("      building the namespace lab: Linux nftables on a mail host and on a router (RFC 5737 addresses)")
            self.netns = NetnsLab().up()
            self.inventories.append(self.netns.inventory_path)
            s.say("      %-10s %-6s netns %s  mail host, nftables on the input hook" % ("mailhost", "nft", self.netns.ns("mail")))
            s.say("      %-10s %-6s netns %s  router, nftables on the forward hook" % ("router", "nft", self.netns.ns("rtr")))
        s.outcome(True, "lab up; inventory %s" % self.rel(self.state["inventory"]))

    def boot_pfsense(self, host="pfsense-01"):
        """Lay out a pfSense box under the state directory, in an inventory of its own."""
        import yaml

        profile = fleet.PFSENSE_PROFILE
        # A previous run's box (only files): a new lab starts from pristine devices.
        shutil.rmtree(os.path.join(self.state_dir, "pfsense"), ignore_errors=True)
        root = os.path.join(self.state_dir, "pfsense", host)
        self.pfsense = {"host": host, "kind": "pfsense", "root": root, "log": os.path.join(root, "lab", "commands.log"),
                        "version": profile["release"], "summary": profile["summary"]}
        try:
            PfsenseBox(root).up(fleet.config_for_host(profile, host), release=profile["release"])
        except (PfsenseLabError, OSError) as exc:
            raise fleet.LabError("%s (pfsense from %s) did not start: %s" % (host, profile["config"], exc)) from None
        # The fleet's all-vars (site, backup and report directories), so that this inventory also
        # stands alone.
        with open(os.path.join(os.path.dirname(self.state["inventory"]), "group_vars", "all.yml"),
                  encoding="utf-8") as handle:
            all_vars = yaml.safe_load(handle)
        hostvars = {"hes_lab_profile": profile["summary"], "ansible_connection": "local",
                    "ansible_python_interpreter": sys.executable, "hes_pfsense_root": root}
        folder = os.path.join(self.state_dir, "inventory-pfsense")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, "hosts.yml")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("---\n# Written by `make demo`: its pfSense box (files only, see %s).\n" % root)
            yaml.safe_dump({"all": {"vars": all_vars, "children": {"pfsense": {"hosts": {host: hostvars}}}}},
                           handle, default_flow_style=False, sort_keys=False, width=1000)
        self.inventories.append(path)

    def pfsense_unavailable(self):
        """Why the pfSense box cannot be part of this run, or None."""
        if self.args.pfsense == "no":
            return "--pfsense no"
        reason = None
        if not shutil.which("php"):
            reason = "php-cli is not installed"
        elif subprocess.run(["php", "-r", 'exit(function_exists("xml_parser_create") ? 0 : 1);'],
                            stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False).returncode:
            reason = "php has no xml extension (php-xml)"
        if reason and self.args.pfsense == "yes":
            raise DemoFailure("the pfSense box was asked for but %s (make setup installs php-cli and php-xml "
                              "as root)" % reason)
        return reason

    def want_netns(self):
        if self.args.netns == "no":
            return False
        reason = None
        if os.geteuid() != 0:
            reason = "not root"
        elif not shutil.which("nft") or not shutil.which("ip"):
            reason = "nft or ip is not installed"
        if reason and self.args.netns == "yes":
            raise DemoFailure("the namespace lab was asked for but cannot run: %s" % reason)
        if reason:
            self.screen.say("      (no namespace lab: %s; the nftables role is not part of this run)" % reason)
        return reason is None

    def stop(self):
        """Stop what this demo started (never a lab it found running); False if a pid survived."""
        if self.state is None and self.netns is None and self.mail is None and self.pfsense is None:
            return True
        self.screen.say()
        self.screen.say("Stopping the lab")
        if self.mail is not None:
            self.mail.down()
            self.screen.say("      mail lab removed (Postfix and dnsmasq stopped by pid, namespaces deleted)")
            self.mail = None
        if self.pfsense is not None:
            box = PfsenseBox(self.pfsense["root"])
            # Its command log outlives it, beside the emulators' logs.
            if os.path.exists(self.pfsense["log"]):
                shutil.copyfile(self.pfsense["log"], os.path.join(self.logs, self.pfsense["host"] + ".commands.log"))
            box.down()
            self.screen.say("      pfSense box removed (only files, no process)")
            self.pfsense = None
        if self.netns is not None:
            self.netns.down()
            self.screen.say("      namespace lab removed (listeners stopped by pid, namespaces deleted)")
            self.netns = None
        stopped, left = fleet.down(self.state_dir)
        if left:
            self.screen.say("      FAIL still running: pids %s" % " ".join(map(str, left)))
            return False
        self.screen.say("      %d emulated firewall%s stopped by pid" % (len(stopped), "" if len(stopped) == 1 else "s"))
        return True

    def rel(self, path):
        return os.path.relpath(path, os.getcwd()) if path.startswith(REPO_ROOT) else path

    @property
    def devices(self):
        return self.state["devices"] + ([self.pfsense] if self.pfsense else [])

    @property
    def hosts(self):
        hosts = [d["host"] for d in self.devices]
        if self.netns is not None:
            hosts += ["mailhost", "router"]
        return hosts

    def playbook(self, name, label, args=(), inventories=None):
        log_path = os.path.join(self.logs, "demo-%s.log" % label)
        status, output = run_playbook(name, inventories or self.inventories, ["--forks", str(self.args.forks), *args],
                                      log_path, on_task=self.screen.task, env=fleet.playbook_environment(self.secrets))
        return status, output, log_path

    def tail(self, log_path, lines=25):
        with open(log_path, encoding="utf-8", errors="replace") as handle:
            text = handle.read().splitlines()
        return "\n".join(text[-lines:])

    # -- steps
    def reports(self):
        """{host: its verify report (HOST.verify.json)} for the hosts of this lab."""
        found = {}
        for host in self.hosts:
            path = os.path.join(self.report_dir, host + ".verify.json")
            if os.path.exists(path):
                with open(path, encoding="utf-8") as handle:
                    found[host] = json.load(handle)
        return found

    @property
    def report_dir(self):
        return os.path.join(self.state_dir, "reports")

    def verify_before(self):
        s = self.screen
        s.step(2, self.STEPS, "Verify before hardening", "FAIL, because inbound SMTP (TCP/25) is open to any source")
        status, output, log_path = self.playbook("verify.yml", "1-verify-before")
        unreachable = sorted(h for h, r in output.recap.items() if r["unreachable"])
        if unreachable:
            raise DemoFailure("verify could not reach %s (see %s)" % (", ".join(unreachable), self.rel(log_path)))
        reports = self.reports()
        open_hosts = []
        for host in self.hosts:
            report = reports.get(host)
            if report is None:
                reasons = [failure_reason(e) for e in output.events
                           if e["host"] == host and e["status"] in ("failed", "unreachable")]
                s.say("      %-10s no report: %s" % (host, (reasons or ["see the log"])[0][:400]))
                continue
            checks = {c["id"]: c for c in report["checks"]}
            broader = checks.get("no_broader_permit", {})
            summary = report.get("summary", {})
            s.say("      %-10s %s: %d of %d probes got the wrong verdict; failed checks: %s"
                  % (host, report["status"].upper(), summary.get("failed_probes", 0), summary.get("probes", 0),
                     ", ".join(summary.get("failed_checks", [])) or "none"))
            if broader.get("status") == "fail":
                for rule in broader.get("rules") or [broader.get("detail", "")]:
                    s.say("      %-10s   open to any source: %s" % ("", rule))
            # SMTP from outside the ranges that the device's own evaluator let through (ASA: the
            # engine's witness; the others: a source from the complement of the ranges). A device
            # that is asked no such probe (pfSense: pfctl answers for the alias table only) has the
            # engine's witnesses on its configuration in the report.
            witness_kinds = ("complement", "leak-witness")
            leaks = [f for f in report.get("failures", []) if f["port"] == 25 and f["expect"] == "deny"
                     and f["actual"] == "allow" and f.get("kind") in witness_kinds]
            if not any(p.get("kind") in witness_kinds for p in report.get("probes", [])):
                leaks = [dict(leak["witness"], rule="%s (the engine's witness)" % leak["rule"])
                         for leak in report.get("engine", {}).get("leaks", [])]
            if leaks:
                open_hosts.append(host)
                leak = leaks[0]
                s.say("      %-10s   e.g. SMTP from %s (outside every range) to %s is allowed by %s" % (
                    "", leak["source"], leak["destination"], leak.get("rule") or "no rule (nothing filters it)"))
        if status == 0:
            raise DemoFailure("verify passed before hardening: the lab did not start from an open rule "
                              "(see %s)" % self.rel(log_path))
        missing = [h for h in self.hosts if h not in open_hosts]
        if missing:
            raise DemoFailure("verify did not report SMTP open to any source on %s (see %s)"
                              % (", ".join(missing), self.rel(log_path)))
        s.outcome(True, "verify failed as expected on all %d firewalls: SMTP from any source is still allowed"
                  % len(open_hosts))

    def harden_check(self):
        s = self.screen
        s.step(3, self.STEPS, "Harden in check mode (--check --diff)",
               "every firewall shows what it would change; nothing is sent to any device")
        before = device_config_counts(self.devices)
        pfsense_config = PfsenseBox(self.pfsense["root"]).config_text() if self.pfsense else None
        status, output, log_path = self.playbook("harden.yml", "2-harden-check", ["--check", "--diff"])
        changes = [e for e in output.events if e["status"] == "changed" and e["text"]]
        shown = set()
        for event in changes:
            key = (event["host"], event["task"])
            if key in shown:
                continue
            shown.add(key)
            s.say()
            s.say("      %s would change (%s):" % (event["host"], re.sub(r"^[\w.]+ : ", "", event["task"])))
            s.say(indent(event["text"]))
        sent = {h: n for h, n in delta(device_config_counts(self.devices), before).items() if n}
        if status != 0:
            raise DemoFailure("harden --check failed (exit %d):\n%s" % (status, indent(self.tail(log_path))))
        if sent:
            raise DemoFailure("check mode sent configuration commands: %s" % sent)
        if self.pfsense and PfsenseBox(self.pfsense["root"]).config_text() != pfsense_config:
            raise DemoFailure("check mode changed config.xml on %s" % self.pfsense["host"])
        tables = self.netns_tables()
        if any(tables.values()):
            raise DemoFailure("check mode created nftables tables: %s" % tables)
        would = {e["host"] for e in changes}
        quiet = sorted(set(self.hosts) - would)
        if quiet:
            raise DemoFailure("check mode showed no change for %s (see %s)" % (", ".join(quiet), self.rel(log_path)))
        s.say()
        s.outcome(True, "%d firewalls would change; 0 configuration commands reached the emulators%s%s"
                  % (len(would), "; pfSense's config.xml unchanged, no write_config" if self.pfsense else "",
                     "; no nftables table in the namespaces" if tables else ""))

    def netns_tables(self):
        """{namespace: our nftables tables there}, empty without the namespace lab."""
        if self.netns is None:
            return {}
        found = {}
        for target in ("mail", "server"):
            listing = self.netns.nft(target, "list", "tables").stdout.split()
            found[self.netns.firewall_ns(target)] = [name for name in listing if name == "emailsec_hes"]
        return found

    def harden(self, number, title, expect_change):
        s = self.screen
        expect = ("every firewall is changed make-before-break, backed up, saved/committed" if expect_change
                  else "nothing changes and no configuration command is sent (idempotence)")
        s.step(number, self.STEPS, title, expect)
        before = device_config_counts(self.devices)
        status, output, log_path = self.playbook("harden.yml", "3-harden" if expect_change else "4-harden-again")
        sent = delta(device_config_counts(self.devices), before)
        for line in summary_lines(output):
            s.say("      %s" % line)
        for device in self.devices:
            s.say("      %-10s %3d %s" % (device["host"], sent[device["host"]], CONFIG_UNITS[device["kind"]]))
        if status != 0:
            failures = [e for e in output.events if e["status"] in ("failed", "fatal", "unreachable")]
            reasons = "\n".join("%s: %s" % (e["host"], failure_reason(e)[:400]) for e in failures)
            raise DemoFailure("harden failed (exit %d):\n%s" % (status, indent(reasons or self.tail(log_path))))
        changed = sorted(h for h, r in output.recap.items() if r["changed"])
        if expect_change:
            untouched = sorted(d["host"] for d in self.devices if not sent[d["host"]])
            if untouched:
                raise DemoFailure("harden sent nothing to %s" % ", ".join(untouched))
            s.outcome(True, "%d firewalls hardened" % len([h for h in changed if h in self.hosts]))
        else:
            busy = {h: n for h, n in sent.items() if n}
            if busy or changed:
                raise DemoFailure("the second run was not idempotent: changed %s, commands sent %s"
                                  % (changed or "none", busy or "none"))
            s.outcome(True, "no change, no configuration command on any firewall")

    def verify_after(self):
        s = self.screen
        s.step(6, self.STEPS, "Verify after hardening", "PASS: only TCP/25 from the HES ranges reaches the mail servers")
        status, output, log_path = self.playbook("verify.yml", "5-verify-after")
        reports = self.reports()
        for host in self.hosts:
            report = reports.get(host)
            if report is None:
                s.say("      %-10s no report" % host)
                continue
            summary = report.get("summary", {})
            s.say("      %-10s %s: %d probes, %d with the wrong verdict; %d checks"
                  % (host, report["status"].upper(), summary.get("probes", 0), summary.get("failed_probes", 0),
                     summary.get("checks", 0)))
        for event in output.events:
            if event["status"] in ("failed", "unreachable"):
                s.say("      %s: %s" % (event["host"], failure_reason(event)[:600]))
        passed = [h for h in self.hosts if reports.get(h, {}).get("status") == "pass"]
        if status != 0 or len(passed) != len(self.hosts):
            raise DemoFailure("verify did not pass on every firewall after hardening (exit %d), see %s"
                              % (status, self.rel(log_path)))
        s.outcome(True, "verify passed on all %d firewalls" % len(passed))

    def report(self):
        s = self.screen
        s.step(9, self.STEPS, "Fleet summary", None)
        reports = self.report_dir
        fleet_md = os.path.join(reports, "fleet-summary.md")
        if not os.path.exists(fleet_md):
            raise DemoFailure("verify wrote no fleet summary in %s" % self.rel(reports))
        with open(fleet_md, encoding="utf-8") as handle:
            s.say(indent(handle.read().rstrip(), "      "))
        s.say()
        s.say("      reports (JSON, Markdown, JUnit per firewall): %s" % self.rel(reports))
        s.say("      fleet summary: %s" % self.rel(fleet_md))
        s.say("      backups taken before each change: %s" % self.rel(os.path.join(self.state_dir, "backups")))
        s.say("      ansible-playbook output of every step: %s" % self.rel(self.logs))

    def run(self):
        self.boot()
        self.verify_before()
        self.harden_check()
        self.harden(4, "Harden", True)
        if self.args.rerun:
            self.harden(5, "Harden again", False)
        else:
            self.screen.say("\n[5/%d] Harden again: skipped (--no-rerun)" % self.STEPS)
        self.verify_after()
        self.refusal()
        self.mail_server()
        self.report()


    # -- step 7: a rule base the role must not change as it is
    def refusal(self):
        s = self.screen
        s.step(7, self.STEPS, "A broader rule: refused, then carved out on request",
               "the plan is refused with the rule and a witness flow, nothing is sent; with "
               "hes_asa_deny_after_permit the gate proves the carve-out changes TCP/25 from outside the ranges only")
        # The broad rule is there for webmail, submission and IMAP: verify expects them open.
        record, inventory = fleet.add_device(self.state_dir, "asa-broad", "asa", fleet.BROADER_RULE_PROFILE,
                                             "inventory-refusal", secrets=self.secrets,
                                             hostvars={"hes_verify_other_ports": {443: "allow", 587: "allow",
                                                                                  993: "allow"}})
        s.say("      %-10s %-6s port %-5d  %s" % (record["host"], "asa", record["port"], record["summary"]))
        device = [record]
        before = device_config_counts(device)
        status, output, log_path = self.playbook("harden.yml", "6-refused", inventories=[inventory])
        sent = delta(device_config_counts(device), before)["asa-broad"]
        reasons = [failure_reason(e) for e in output.events if e["host"] == "asa-broad" and e["status"] == "failed"]
        if status == 0 or not reasons:
            raise DemoFailure("the broader rule was not refused (see %s)" % self.rel(log_path))
        for part in reasons[-1].split(" | "):
            s.say("      refused: %s" % re.sub(r"^emailsec\.hes\.asa_hes: nothing sent to \S+; ", "", part)[:400])
        if sent:
            raise DemoFailure("the refused plan sent %d configuration commands" % sent)
        s.say("      asa-broad    0 configuration commands received")
        before = device_config_counts(device)
        status, output, log_path = self.playbook("harden.yml", "7-carve-out",
                                                 ["--diff", "-e", "hes_asa_deny_after_permit=true"],
                                                 inventories=[inventory])
        sent = delta(device_config_counts(device), before)["asa-broad"]
        if status != 0:
            raise DemoFailure("the carve-out run failed (see %s)" % self.rel(log_path))
        shown = [e["text"] for e in output.events if e["host"] == "asa-broad" and "Plan the change" in e["task"]
                 and e["text"]]
        lines = shown[0].splitlines() if shown else []
        for line in lines[lines.index("commands:") + 1:] if "commands:" in lines else []:
            s.say("      %s" % ("sent:" + line[1:] if line.startswith("  ") else line))
        if not any(line.startswith("verdict changes: TCP/25 from outside the ranges") for line in lines):
            raise DemoFailure("the carve-out plan showed no differential (see %s)" % self.rel(log_path))
        status, output, log_path = self.playbook("verify.yml", "8-verify-carve-out", inventories=[inventory])
        if status != 0:
            raise DemoFailure("verify failed after the carve-out (see %s)" % self.rel(log_path))
        s.outcome(True, "refused with its witness, then hardened with a carve-out (%d commands) that verify proves"
                  % sent)

    # -- step 8: the mail server behind the firewalls
    def mail_server(self):
        s = self.screen
        s.step(8, self.STEPS, "The mail server: HES ranges in Postfix's DNSBL allow-list",
               "before: every client is refused by the DNSBL; after: the HES client is allowlisted and "
               "delivered, the other still refused, and relaying stays closed")
        reason = self.mail_unavailable()
        if reason:
            s.say("      skipped: %s" % reason)
            return
        from hes_lab.mta import MailLab

        self.mail = MailLab().up()
        before = self.mail.check_mail()
        s.say("      before: inside %s, outside %s" % (before["inside"]["outcome"], before["outside"]["outcome"]))
        status, output, log_path = self.playbook("harden.yml", "9-harden-mta", inventories=[self.mail.inventory_path])
        if status != 0:
            raise DemoFailure("the postfix role failed (see %s)" % self.rel(log_path))
        status, output, log_path = self.playbook("verify.yml", "10-verify-mta", inventories=[self.mail.inventory_path])
        if status != 0:
            raise DemoFailure("verify failed on the mail server (see %s)" % self.rel(log_path))
        after = self.mail.check_mail()
        for who in ("inside", "outside", "inside_foreign"):
            s.say("      after: %-15s %s%s" % (who, after[who]["outcome"], " (delivered)" if after[who].get("delivered") else ""))
        ok = (after["inside"]["outcome"] == "accepted" and after["inside"].get("delivered")
              and after["outside"]["outcome"] == "blocked" and after["inside_foreign"]["outcome"] == "relay-denied")
        if not ok:
            raise DemoFailure("the mail server did not behave as announced: %s" % after)
        s.outcome(True, "Trend's relay is allowlisted and delivered; anyone else is still DNSBL-checked; no open relay")

    def mail_unavailable(self):
        if self.args.mail == "no":
            return "--mail no"
        if os.geteuid() != 0:
            return "not root"
        missing = [c for c in ("postfix", "dnsmasq", "swaks", "ip") if not shutil.which(c) and
                   not os.path.exists(os.path.join("/usr/sbin", c))]
        if missing:
            if self.args.mail == "yes":
                raise DemoFailure("the mail lab was asked for but %s is missing (make setup installs it as root)"
                                  % ", ".join(missing))
            return "%s not installed" % ", ".join(missing)
        return None


def demo_secrets():
    """The lab passwords of this run: from the environment when set (a test that greps what the
    demo wrote needs to know them), else fresh ones that no file of the run may hold."""
    import secrets

    chosen = {}
    for key, variable in fleet.SECRET_VARIABLES.items():
        chosen[key] = os.environ.get(variable) or "Demo-%s" % secrets.token_hex(8)
    return chosen


def preflight():
    problems = []
    if not os.access(ANSIBLE_PLAYBOOK, os.X_OK):
        problems.append("%s is missing: run `make setup`" % ANSIBLE_PLAYBOOK)
    link = os.path.join(REPO_ROOT, ".collections", "ansible_collections", "emailsec", "hes")
    if not os.path.exists(link):
        problems.append("%s is missing: run `make setup`" % link)
    for name in ("harden.yml", "verify.yml"):
        if not os.path.exists(os.path.join(PLAYBOOKS, name)):
            problems.append("playbooks/%s is missing" % name)
    return problems


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m hes_lab.demo",
                                     description="harden and verify a lab of emulated firewalls, step by step")
    parser.add_argument("--asa", type=int, default=3, help="emulated Cisco ASAs (default 3)")
    parser.add_argument("--panos", type=int, default=2, help="emulated PAN-OS firewalls (default 2)")
    parser.add_argument("--netns", choices=("auto", "yes", "no"), default="auto",
                        help="namespace lab with Linux nftables (auto: when root and nft/ip exist)")
    parser.add_argument("--state", default=fleet.DEFAULT_STATE, help="lab state directory (default lab-run/)")
    parser.add_argument("--site", action="append", help="HES site(s) to allow (default us)")
    parser.add_argument("--forks", type=int, default=10, help="ansible-playbook --forks (default 10)")
    parser.add_argument("--pfsense", choices=("auto", "yes", "no"), default="auto",
                        help="a pfSense box (hes-lab pfsense: files, pfSense's own xmlparse.inc under php-cli; "
                             "auto: when php and its xml extension are installed)")
    parser.add_argument("--mail", choices=("auto", "yes", "no"), default="auto",
                        help="mail-server step with a real Postfix in namespaces (auto: when root and installed)")
    parser.add_argument("--no-rerun", dest="rerun", action="store_false", help="skip the idempotence run")
    parser.add_argument("--quiet-tasks", dest="tasks", action="store_false", help="do not list tasks as they run")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    screen = Screen(tasks=args.tasks)
    screen.say("emailsec.hes demo: lock inbound SMTP to the Trend Micro HES ranges on a lab fleet, then prove it")
    problems = preflight()
    if problems:
        for problem in problems:
            screen.say("cannot start: %s" % problem)
        return 2

    def on_term(signum, frame):
        raise Interrupted()

    previous = signal.signal(signal.SIGTERM, on_term)
    demo = Demo(args, screen)
    started = time.monotonic()
    outcome, code = "DEMO PASSED: every step went as announced", 0
    try:
        demo.run()
    except DemoFailure as exc:
        screen.say("      FAIL %s" % exc)
        outcome, code = "DEMO FAILED: a step did not go as announced (see above)", 1
    except fleet.LabError as exc:
        screen.say("      FAIL the lab did not start: %s" % exc)
        outcome, code = "DEMO FAILED: the lab did not start", 1
    except (KeyboardInterrupt, Interrupted):
        screen.say("\n      interrupted")
        outcome, code = "DEMO INTERRUPTED", 130
    finally:
        try:
            stopped = demo.stop()
        except BaseException as exc:  # the lab must be reported, whatever stopped it
            screen.say("      FAIL stopping the lab: %r" % exc)
            stopped = False
        signal.signal(signal.SIGTERM, previous)
    if not stopped and code == 0:
        outcome, code = "DEMO FAILED: the lab did not stop cleanly", 1
    screen.say()
    screen.say("%s (%.0f s)" % (outcome, time.monotonic() - started))
    return code


if __name__ == "__main__":
    sys.exit(main())
