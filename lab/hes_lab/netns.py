"""Network-namespace lab: the Linux kernel is the firewall, real TCP connections test it.

`hes-lab netns up|down|status` and the Python API below build this, with RFC 5737 addresses only
(IPv6 is switched off in every namespace, so not even link-local packets are sent)::

    <prefix>-snd  senders: one address per named sender on its loopback (SENDERS)
      192.0.2.1/27   ---- 192.0.2.25/27   <prefix>-mail  mail host, firewall on the input hook
      192.0.2.33/27  ---- 192.0.2.62/27   <prefix>-rtr   router,    firewall on the forward hook
                          192.0.2.65/27  ---- 192.0.2.80/27  <prefix>-srv  mail server behind it

Targets: "mail" (192.0.2.25, firewall namespace <prefix>-mail, hook input) and "server"
(192.0.2.80, firewall namespace <prefix>-rtr, hook forward). Each target runs
`hes_lab.smtp_listener` on LISTEN_PORTS, greeting `220 ... ESMTP` on every one.
The allowed set of the tests is ALLOWED_RANGES; `up()` writes it to `allowed.txt` in the lab's
state directory (one CIDR a line) for the lookup's file source, and writes an Ansible inventory
(`inventory.yml`) whose hosts `mailhost` and `router` run modules inside their namespace.

How Ansible reaches a namespace: `ansible_connection: local` with `ansible_python_interpreter`
set to a two-line wrapper (`exec ip netns exec <ns> <python> "$@"`). Modules therefore run
inside the namespace (nft sees that namespace's ruleset) while files stay on the controller's
file system; the inventory points the role's file and boot config at the state directory.

API (for tests, the demo and the verify role)::

    lab = NetnsLab()                    # prefix "hes-<pid>-<n>", unique per process and call
    lab.up()                            # or `with NetnsLab() as lab:` (down() in __exit__)
    lab.connect("in_a", 25)             # -> "greeting" | "refused" | "timeout" | "connected"
    lab.connect("out_c", 25, target="server", timeout=1.0)
    lab.probe_many([(sender, port, target), ...])   # the same, in parallel, results in order
    lab.nft("mail", "-j", "list", "ruleset")        # run nft in a target's firewall namespace
    lab.down()                          # kills the listeners by pid, deletes the namespaces

`NetnsLab.down_prefix(prefix)` removes a lab left by another process (the CLI's `down`).

The kernel as a packet evaluator (for comparing a ruleset model with the kernel)::

    with KernelFirewall(ports=[25, 80]) as fw:   # <prefix>-snd --- eth0 <prefix>-fw
        fw.load(ruleset_text)                    # nft -f in <prefix>-fw; (rc, stderr)
        fw.probe_many([(source, sport, target, dport), ...])   # "accepted"|"refused"|"timeout"
    capture_ruleset(text)                        # `nft -j list ruleset` of text in a fresh namespace

`<prefix>-snd` can send from any address of PROBE_SOURCE_NETS (a local route on its loopback);
`<prefix>-fw` owns PROBE_TARGETS on `eth0`, listens on the given TCP ports (the kernel completes
the handshake; nothing reads), and is the firewall. Each `KernelFirewall` starts empty:
no ruleset, no conntrack entry. `hes-lab netns capture FILE` prints the listing.
"""
import argparse
import ctypes
import itertools
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

ALLOWED_RANGES = ["198.51.100.0/25", "203.0.113.64/26"]

# name -> source address; "in_*" lie inside ALLOWED_RANGES, "out_*" outside (edges included).
SENDERS = {
    "in_a": "198.51.100.10",
    "in_a_last": "198.51.100.127",
    "in_b_first": "203.0.113.64",
    "in_b": "203.0.113.70",
    "out_a_edge": "198.51.100.128",
    "out_b_below": "203.0.113.63",
    "out_b_above": "203.0.113.128",
    "out_c": "192.0.2.200",
}
SENDER_ROUTES = ["198.51.100.0/24", "203.0.113.0/24", "192.0.2.192/26"]
LISTEN_PORTS = [25, 587, 465, 2525, 22, 80, 443]

TARGETS = {
    "mail": {"address": "192.0.2.25", "firewall": "mail", "listener": "mail", "hook": "input"},
    "server": {"address": "192.0.2.80", "firewall": "rtr", "listener": "srv", "hook": "forward"},
}

CLONE_NEWNET = 0x40000000
NETNS_DIR = "/run/netns"
_counter = itertools.count()
_libc = ctypes.CDLL(None, use_errno=True)


def state_root():
    base = "/run" if os.access("/run", os.W_OK) else tempfile.gettempdir()
    return os.path.join(base, "hes-lab", "netns")


def _ip(*args, check=True):
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError("ip %s: %s" % (" ".join(args), result.stderr.strip()))
    return result


def _in_netns(namespace, function):
    """Run `function()` in a fresh thread that has joined `namespace`; return its result."""
    outcome = {}

    def run():
        try:
            fd = os.open(os.path.join(NETNS_DIR, namespace), os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, "setns(%s): %s" % (namespace, os.strerror(err)))
            finally:
                os.close(fd)
            outcome["value"] = function()
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="netns-" + namespace)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _at_once(function, items):
    """``function(item)`` for every item, each in its own thread; the results in the same order."""
    results = [None] * len(items)

    def one(index, item):
        results[index] = function(item)

    threads = [threading.Thread(target=one, args=(i, item)) for i, item in enumerate(items)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _tcp_probe(source, destination, port, timeout):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((source, 0))
        sock.settimeout(timeout)
        try:
            sock.connect((destination, port))
        except ConnectionRefusedError:
            return "refused"
        except (socket.timeout, TimeoutError):
            return "timeout"
        try:
            banner = sock.recv(512)
        except (socket.timeout, TimeoutError, ConnectionResetError):
            return "connected"
        if banner.startswith(b"220 "):
            try:
                sock.sendall(b"QUIT\r\n")
            except OSError:
                pass
            return "greeting"
        return "connected"
    finally:
        sock.close()


class NetnsLab:
    """One lab instance; see the module docstring for the topology and the API."""

    def __init__(self, prefix=None, state_dir=None):
        self.prefix = prefix or "hes-%d-%d" % (os.getpid(), next(_counter))
        self.state_dir = state_dir or os.path.join(state_root(), self.prefix)
        self.listeners = {}

    # -- names and files
    def ns(self, role):
        return "%s-%s" % (self.prefix, role)

    @property
    def namespaces(self):
        return [self.ns(role) for role in ("snd", "mail", "rtr", "srv")]

    @property
    def inventory_path(self):
        return os.path.join(self.state_dir, "inventory.yml")

    @property
    def allowed_file(self):
        return os.path.join(self.state_dir, "allowed.txt")

    def host_dir(self, host):
        return os.path.join(self.state_dir, host)

    def firewall_ns(self, target):
        return self.ns(TARGETS[target]["firewall"])

    # -- lifecycle
    def __enter__(self):
        return self.up()

    def __exit__(self, *exc):
        self.down()

    def up(self):
        try:
            self._build()
        except BaseException:
            self.down()
            raise
        return self

    def _build(self):
        os.makedirs(self.state_dir, exist_ok=True)
        self._save_state()
        for namespace in self.namespaces:
            _ip("netns", "add", namespace)
            # No IPv6 at all: otherwise every link sends link-local (non-RFC 5737) packets.
            subprocess.run(
                ["ip", "netns", "exec", namespace, "sysctl", "-qw",
                 "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"],
                capture_output=True,
            )
            _ip("-n", namespace, "link", "set", "lo", "up")
        snd, mail, rtr, srv = self.namespaces
        self._link(snd, "to-mail", "192.0.2.1/27", mail, "eth0", "192.0.2.25/27")
        self._link(snd, "to-rtr", "192.0.2.33/27", rtr, "eth0", "192.0.2.62/27")
        self._link(rtr, "eth1", "192.0.2.65/27", srv, "eth0", "192.0.2.80/27")
        for address in SENDERS.values():
            _ip("-n", snd, "addr", "add", address + "/32", "dev", "lo")
        _ip("-n", snd, "route", "add", "192.0.2.64/27", "via", "192.0.2.62")
        for net in SENDER_ROUTES:
            _ip("-n", mail, "route", "add", net, "via", "192.0.2.1")
            _ip("-n", rtr, "route", "add", net, "via", "192.0.2.33")
            _ip("-n", srv, "route", "add", net, "via", "192.0.2.65")
        _ip("-n", srv, "route", "add", "192.0.2.32/27", "via", "192.0.2.65")
        subprocess.run(["ip", "netns", "exec", rtr, "sysctl", "-qw", "net.ipv4.ip_forward=1"], check=True)
        for role in ("mail", "srv"):
            self.listeners[role] = self._start_listener(role)
        self._save_state()
        self._write_ansible_files()

    def _link(self, ns_a, name_a, addr_a, ns_b, name_b, addr_b):
        _ip("-n", ns_a, "link", "add", name_a, "type", "veth", "peer", "name", name_b, "netns", ns_b)
        _ip("-n", ns_a, "addr", "add", addr_a, "dev", name_a)
        _ip("-n", ns_b, "addr", "add", addr_b, "dev", name_b)
        _ip("-n", ns_a, "link", "set", name_a, "up")
        _ip("-n", ns_b, "link", "set", name_b, "up")

    def _start_listener(self, role, timeout=15):
        log_path = os.path.join(self.state_dir, "listener-%s.log" % role)
        env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        with open(log_path, "w") as log:
            proc = subprocess.Popen(
                ["ip", "netns", "exec", self.ns(role), sys.executable, "-m", "hes_lab.smtp_listener",
                 "--ports", ",".join(str(p) for p in LISTEN_PORTS), "--name", "%s.example.test" % role],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(log_path) as log:
                text = log.read()
            if text.startswith("READY "):
                return proc.pid
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        _stop_pid(proc.pid)
        raise RuntimeError("SMTP listener in %s did not start: %s" % (self.ns(role), text.strip()))

    def _save_state(self):
        state = {"prefix": self.prefix, "owner_pid": os.getpid(), "namespaces": self.namespaces,
                 "listeners": self.listeners}
        with open(os.path.join(self.state_dir, "state.json"), "w") as handle:
            json.dump(state, handle, indent=1)

    def _write_ansible_files(self):
        with open(self.allowed_file, "w") as handle:
            handle.write("# hes-lab netns allowed set (RFC 5737 documentation ranges)\n")
            handle.write("".join(net + "\n" for net in ALLOWED_RANGES))
        hosts = {}
        for host, target, extra in (("mailhost", "mail", {}),
                                    ("router", "server", {"hes_nftables_destinations": [TARGETS["server"]["address"]]})):
            namespace = self.firewall_ns(target)
            wrapper = os.path.join(self.state_dir, "python-%s" % host)
            with open(wrapper, "w") as handle:
                handle.write("#!/bin/sh\n# run Ansible modules inside network namespace %s\n" % namespace)
                handle.write('exec %s netns exec %s %s "$@"\n' % (shutil.which("ip"), namespace, sys.executable))
            os.chmod(wrapper, 0o755)
            os.makedirs(self.host_dir(host), exist_ok=True)
            conf = os.path.join(self.host_dir(host), "nftables.conf")
            with open(conf, "w") as handle:
                handle.write("#!/usr/sbin/nft -f\n# lab stand-in for /etc/nftables.conf of %s\n\nflush ruleset\n" % host)
            hosts[host] = dict({
                "ansible_connection": "local",
                "ansible_python_interpreter": wrapper,
                "hes_lab_netns": namespace,
                "hes_lab_target": TARGETS[target]["address"],
                "hes_nftables_hook": TARGETS[target]["hook"],
                "hes_nftables_file": os.path.join(self.host_dir(host), "emailsec_hes.nft"),
                "hes_nftables_conf": conf,
            }, **extra)
        inventory = {"all": {"children": {"nftables": {
            "hosts": hosts,
            "vars": {
                "hes_lab_prefix": self.prefix,
                "hes_lab_allowed_file": self.allowed_file,
                "hes_allow_reserved": True,
                "hes_ranges": "{{ query('emailsec.hes.ranges', source='file', path=hes_lab_allowed_file, "
                              "allow_reserved=true) }}",
            },
        }}}}
        with open(self.inventory_path, "w") as handle:
            json.dump(inventory, handle, indent=2)  # JSON is YAML; no PyYAML needed in the lab

    def down(self):
        self.down_prefix(self.prefix, self.state_dir)
        self.listeners = {}

    @staticmethod
    def down_prefix(prefix, state_dir=None):
        """Remove every trace of lab `prefix`: its processes (by pid), namespaces, state directory."""
        state_dir = state_dir or os.path.join(state_root(), prefix)
        pids = set()
        try:
            with open(os.path.join(state_dir, "state.json")) as handle:
                pids.update(json.load(handle).get("listeners", {}).values())
        except (OSError, ValueError):
            pass
        namespaces = lab_namespaces(prefix)
        for namespace in namespaces:
            found = _ip("netns", "pids", namespace, check=False).stdout.split()
            pids.update(int(pid) for pid in found)
        for pid in pids:
            _stop_pid(pid)
        for namespace in namespaces:
            _ip("netns", "del", namespace, check=False)
        shutil.rmtree(state_dir, ignore_errors=True)
        return namespaces

    # -- using the lab
    def connect(self, sender, port, target="mail", timeout=1.0):
        """One TCP connection from a sender (name or address) to a target: what the client sees."""
        source = SENDERS.get(sender, sender)
        destination = TARGETS[target]["address"]
        return _in_netns(self.ns("snd"), lambda: _tcp_probe(source, destination, port, timeout))

    def probe_many(self, probes, timeout=1.0):
        """connect() for each (sender, port, target) at once; results in the same order."""
        return _at_once(lambda probe: self.connect(*probe, timeout=timeout), probes)

    def nft(self, target, *args, check=True):
        """Run nft in a target's firewall namespace; returns the CompletedProcess."""
        result = subprocess.run(["ip", "netns", "exec", self.firewall_ns(target), "nft", *args],
                                capture_output=True, text=True)
        if check and result.returncode != 0:
            raise RuntimeError("nft %s in %s: %s" % (" ".join(args), self.firewall_ns(target), result.stderr.strip()))
        return result

    def status(self):
        alive = {role: _pid_alive(pid) for role, pid in self.listeners.items()}
        present = lab_namespaces(self.prefix)
        tables = {}
        for target in TARGETS:
            if self.firewall_ns(target) in present:
                tables[target] = self.nft(target, "list", "tables", check=False).stdout.split("\n")
        return {"prefix": self.prefix, "namespaces": present, "listeners_alive": alive,
                "tables": {k: [t for t in v if t] for k, v in tables.items()}, "inventory": self.inventory_path}

    @classmethod
    def load(cls, prefix, state_dir=None):
        lab = cls(prefix, state_dir)
        try:
            with open(os.path.join(lab.state_dir, "state.json")) as handle:
                lab.listeners = json.load(handle).get("listeners", {})
        except (OSError, ValueError):
            pass
        return lab


PROBE_SOURCE_NETS = ["192.0.2.0/25", "198.51.100.0/24", "203.0.113.0/24"]
PROBE_TARGETS = ["192.0.2.200", "192.0.2.201"]
PROBE_INTERFACE = "eth0"


def _new_namespace(namespace):
    _ip("netns", "add", namespace)
    subprocess.run(["ip", "netns", "exec", namespace, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                    "net.ipv6.conf.default.disable_ipv6=1"], capture_output=True, check=False)
    _ip("-n", namespace, "link", "set", "lo", "up")


def _nft_in(namespace, *args, stdin=None):
    return subprocess.run(["ip", "netns", "exec", namespace, "nft", *args], input=stdin, capture_output=True,
                          text=True, check=False)


def capture_ruleset(text):
    """`nft -j list ruleset` after loading `text` into a fresh namespace (the kernel's own JSON)."""
    namespace = "hes-%d-%d-cap" % (os.getpid(), next(_counter))
    _new_namespace(namespace)
    try:
        loaded = _nft_in(namespace, "-f", "-", stdin=text)
        if loaded.returncode != 0:
            raise RuntimeError("nft -f: %s" % loaded.stderr.strip())
        return _nft_in(namespace, "-j", "list", "ruleset").stdout
    finally:
        _ip("netns", "del", namespace, check=False)


def _syn_outcome(source, sport, destination, dport, timeout):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Close with a reset: no TIME_WAIT left behind for the next probe of the same ports.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.bind((source, sport))
        sock.settimeout(timeout)
        try:
            sock.connect((destination, dport))
        except (socket.timeout, TimeoutError):
            return "timeout"
        except OSError:
            return "refused"
        return "accepted"
    finally:
        sock.close()


class KernelFirewall:
    """Two namespaces and a veth: what the kernel does with the SYN of a new TCP connection."""

    def __init__(self, ports, prefix=None):
        self.prefix = prefix or "hes-%d-%d" % (os.getpid(), next(_counter))
        self.ports = sorted(set(ports))
        self.listeners = []

    @property
    def sender(self):
        return self.prefix + "-snd"

    @property
    def firewall(self):
        return self.prefix + "-fw"

    def __enter__(self):
        try:
            self._build()
        except BaseException:
            self.down()
            raise
        return self

    def __exit__(self, *exc):
        self.down()

    def _build(self):
        for namespace in (self.sender, self.firewall):
            _new_namespace(namespace)
        _ip("-n", self.sender, "link", "add", "to-fw", "type", "veth", "peer", "name", PROBE_INTERFACE,
            "netns", self.firewall)
        _ip("-n", self.sender, "link", "set", "to-fw", "up")
        _ip("-n", self.firewall, "link", "set", PROBE_INTERFACE, "up")
        for target in PROBE_TARGETS:
            _ip("-n", self.firewall, "addr", "add", target + "/32", "dev", PROBE_INTERFACE)
            _ip("-n", self.sender, "route", "add", target + "/32", "dev", "to-fw")
        for net in PROBE_SOURCE_NETS:
            _ip("-n", self.sender, "route", "add", "local", net, "dev", "lo")
            _ip("-n", self.firewall, "route", "add", net, "dev", PROBE_INTERFACE)

        def listen():
            sockets = []
            for port in self.ports:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(("0.0.0.0", port))
                sock.listen(512)
                sockets.append(sock)
            return sockets
        self.listeners = _in_netns(self.firewall, listen)

    def down(self):
        for sock in self.listeners:
            sock.close()
        self.listeners = []
        for namespace in (self.sender, self.firewall):
            _ip("netns", "del", namespace, check=False)

    def load(self, text):
        """`nft -f -` in the firewall namespace: (returncode, stderr)."""
        result = _nft_in(self.firewall, "-f", "-", stdin=text)
        return result.returncode, result.stderr.strip()

    def ruleset_json(self):
        return _nft_in(self.firewall, "-j", "list", "ruleset").stdout

    def probe_many(self, probes, timeout=0.6):
        """(source, sport, target, dport) each -> accepted | refused | timeout, sent at once."""
        return _at_once(lambda probe: _in_netns(self.sender, lambda: _syn_outcome(*probe, timeout=timeout)), probes)


def lab_namespaces(prefix):
    listing = _ip("netns", "list", check=False).stdout.splitlines()
    names = [line.split()[0] for line in listing if line.strip()]
    return [name for name in names if name.startswith(prefix + "-")]


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _stop_pid(pid, timeout=5):
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                return
        except ChildProcessError:
            if not _pid_alive(pid):
                return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def stale_prefixes():
    """Labs whose owning process is gone (a crashed run); `down --stale` removes them."""
    root = state_root()
    stale = []
    for prefix in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        try:
            with open(os.path.join(root, prefix, "state.json")) as handle:
                owner = json.load(handle).get("owner_pid")
        except (OSError, ValueError):
            owner = None
        if owner is None or not _pid_alive(owner):
            stale.append(prefix)
    return stale


def main(argv=None):
    parser = argparse.ArgumentParser(prog="hes-lab netns", description="network-namespace lab (RFC 5737 addresses only)")
    parser.add_argument("action", choices=["up", "down", "status", "probe", "capture"])
    parser.add_argument("file", nargs="?", help="capture: the ruleset file to load (- for stdin)")
    parser.add_argument("--prefix", help="namespace name prefix (default for up: hes-<pid>-0)")
    parser.add_argument("--state-dir", help="where the lab keeps its state, inventory and files "
                                            "(default %s/<prefix>)" % state_root())
    parser.add_argument("--stale", action="store_true", help="down: remove every lab whose owning process is gone")
    parser.add_argument("--sender", action="append", choices=sorted(SENDERS),
                        help="probe: sender name (repeatable; default all)")
    parser.add_argument("--port", action="append", type=int, help="probe: TCP port (repeatable; default 25)")
    parser.add_argument("--target", action="append", choices=sorted(TARGETS),
                        help="probe: target (repeatable; default all)")
    parser.add_argument("--timeout", type=float, default=1.0, help="probe: connect timeout in seconds")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("hes-lab netns: needs root (network namespaces, nftables)", file=sys.stderr)
        return 1
    if args.action == "capture":
        if not args.file:
            parser.error("capture needs a ruleset FILE")
        with (sys.stdin if args.file == "-" else open(args.file)) as handle:
            print(capture_ruleset(handle.read()), end="")
        return 0
    if args.action == "up":
        lab = NetnsLab(args.prefix, args.state_dir)
        if lab_namespaces(lab.prefix):
            print("hes-lab netns: a lab with prefix %s exists; run down first" % lab.prefix, file=sys.stderr)
            return 1
        lab.up()
        print("prefix %s\ninventory %s\nallowed %s" % (lab.prefix, lab.inventory_path, lab.allowed_file))
        print("READY %s" % lab.prefix, flush=True)
        return 0
    if args.action == "down":
        if args.stale:
            labs = [(prefix, None) for prefix in stale_prefixes()]
        elif args.prefix:
            labs = [(args.prefix, args.state_dir)]
        else:
            parser.error("down needs --prefix or --stale")
        for prefix, state_dir in labs:
            removed = NetnsLab.down_prefix(prefix, state_dir)
            print("down %s (%d namespaces)" % (prefix, len(removed)))
        return 0
    if not args.prefix:
        parser.error("%s needs --prefix" % args.action)
    lab = NetnsLab.load(args.prefix, args.state_dir)
    if args.action == "status":
        print(json.dumps(lab.status(), indent=1))
        return 0
    probes = [(sender, port, target) for target in (args.target or sorted(TARGETS))
              for sender in (args.sender or list(SENDERS)) for port in (args.port or [25])]
    outcomes = lab.probe_many(probes, timeout=args.timeout)
    print(json.dumps([{"sender": sender, "source": SENDERS[sender], "port": port, "target": target,
                       "destination": TARGETS[target]["address"], "outcome": outcome}
                      for (sender, port, target), outcome in zip(probes, outcomes)], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
