"""Network-namespace mail lab: a real Postfix (Debian's) with postscreen in front, a real DNSBL
(dnsmasq) that lists every address, and a client with one address inside the allowed set and
one outside, sending with swaks. RFC 5737 addresses only; IPv6 is off in both namespaces::

    <prefix>-cli  client: 198.51.100.10 ("inside"), 203.0.113.10 ("outside") on its loopback
        192.0.2.1/24 ---- 192.0.2.25/24  <prefix>-mx  Postfix on 192.0.2.25:25 (postscreen, then
                                                      smtpd), dnsmasq on 127.0.0.1:53 answering
                                                      127.0.0.2 for every name under dnsbl.test

Postfix runs only in <prefix>-mx, from its own config directory, queue and data directories
under the lab's state directory (never /etc/postfix or /var/spool/postfix), with chroot off,
logging to ``maillog`` there (``maillog_file``). Its master runs in the foreground (``master
-s``), so the lab knows its pid; the namespace's resolver is dnsmasq (``/etc/netns/<ns>/resolv.conf``,
which ``ip netns exec`` mounts). Mail for postmaster@example.test is delivered by virtual(8) into
``mail/postmaster/`` (a Maildir).

The starting main.cf is a mail server with DNSBL checks and no exemption: postscreen with
``postscreen_dnsbl_sites = dnsbl.test`` and ``postscreen_dnsbl_action = enforce``, and
``reject_rbl_client dnsbl.test`` in ``rbl_list`` (default smtpd_recipient_restrictions, after
relay control, so that a foreign recipient still gets "Relay access denied"). Before the
emailsec.hes.postfix role runs, every client is refused "blocked using dnsbl.test".

API (for tests, Molecule and the demo)::

    lab = MailLab()                 # prefix "hes-<pid>-m<n>", unique per process and call
    lab.up()                        # or `with MailLab() as lab:` (down() in __exit__)
    lab.inventory_path              # Ansible inventory: host "mx" in group "mta"
    lab.config_dir                  # hes_postfix_config_dir of that host
    result = lab.send("inside")     # swaks from 198.51.100.10 to postmaster@example.test
    result.outcome                  # "accepted" | "blocked" | "relay-denied" | "refused" | "failed"
    lab.delivered(result.token)     # True once virtual(8) wrote it into the Maildir
    lab.maillog()                   # Postfix's log (postscreen ALLOWLISTED lines, rejects)
    lab.check_mail()                # inside, outside and inside-to-a-foreign-domain at once
    lab.down()                      # stops master and dnsmasq by pid, deletes the namespaces

``python -m hes_lab.mta up|down|status|send`` is the same from a shell (root only).
"""
import argparse
import glob
import itertools
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

from hes_lab.netns import NetnsLab, _ip, _pid_alive, _stop_pid, lab_namespaces

ALLOWED_RANGES = ["198.51.100.0/25", "203.0.113.64/26"]
SENDERS = {"inside": "198.51.100.10", "outside": "203.0.113.10"}
CLIENT_ADDRESS = "192.0.2.1"
MX_ADDRESS = "192.0.2.25"
DNSBL_ZONE = "dnsbl.test"
DOMAIN = "example.test"
RECIPIENT = "postmaster@example.test"
FOREIGN_RECIPIENT = "someone@foreign.example"
RBL_LISTS = ("smtpd_client_restrictions", "smtpd_recipient_restrictions")

_counter = itertools.count()

MAIN_CF = """\
# hes-lab mta: the Postfix of network namespace {ns}; nothing else reads this directory.
compatibility_level = 3.6
queue_directory = {spool}
data_directory = {data}
maillog_file = {state}/maillog
maillog_file_prefixes = {state}
myhostname = mx.{domain}
mydomain = {domain}
myorigin = $mydomain
mydestination =
inet_interfaces = {mx}
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
biff = no
virtual_mailbox_domains = {domain}
virtual_mailbox_base = {mail}
virtual_mailbox_maps = inline:{{ {recipient}=postmaster/ }}
virtual_minimum_uid = {uid}
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
{rbl_list} = reject_rbl_client {zone}
postscreen_dnsbl_sites = {zone}
postscreen_dnsbl_threshold = 1
postscreen_dnsbl_action = enforce
postscreen_greet_wait = 2s
"""

# Debian's services, chroot off (the chroot would need its own copy of resolv.conf).
MASTER_SERVICES = """\
dnsblog   unix  -       -       n       -       0       dnsblog
tlsproxy  unix  -       -       n       -       0       tlsproxy
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""
POSTSCREEN_IN_FRONT = """\
smtp      inet  n       -       n       -       1       postscreen
smtpd     pass  -       -       n       -       -       smtpd
"""
SMTPD_ONLY = """\
smtp      inet  n       -       n       -       -       smtpd
"""


def state_root():
    base = "/run" if os.access("/run", os.W_OK) else tempfile.gettempdir()
    return os.path.join(base, "hes-lab", "mta")


class SendResult:
    """What swaks saw: its exit code, the SMTP transcript and the outcome read from it."""

    def __init__(self, sender, source, recipient, token, rc, transcript):
        self.sender, self.source, self.recipient, self.token = sender, source, recipient, token
        self.rc, self.transcript = rc, transcript
        self.outcome = classify(rc, transcript)

    def as_dict(self):
        return {"sender": self.sender, "source": self.source, "recipient": self.recipient, "token": self.token,
                "rc": self.rc, "outcome": self.outcome, "replies": server_replies(self.transcript)}


def server_replies(transcript):
    """The server's lines of a swaks transcript (``<-`` and ``<**``)."""
    return [line.split(" ", 1)[1] if " " in line else line for line in transcript.splitlines()
            if line.startswith("<-") or line.startswith("<**")]


def classify(rc, transcript):
    if "blocked using" in transcript:
        return "blocked"
    if "Relay access denied" in transcript:
        return "relay-denied"
    if rc == 0 and "Ok: queued" in transcript:
        return "accepted"
    if any(line.startswith("<** 5") or line.startswith("<** 4") for line in transcript.splitlines()):
        return "refused"
    return "failed"


class MailLab:
    """One mail lab instance; see the module docstring."""

    def __init__(self, prefix=None, state_dir=None, postscreen=True, rbl_list="smtpd_recipient_restrictions"):
        if rbl_list not in RBL_LISTS:
            raise ValueError("rbl_list %r is not one of %s" % (rbl_list, ", ".join(RBL_LISTS)))
        self.prefix = prefix or "hes-%d-m%d" % (os.getpid(), next(_counter))
        self.state_dir = state_dir or os.path.join(state_root(), self.prefix)
        self.postscreen = postscreen
        self.rbl_list = rbl_list
        self.pids = {}

    # -- names and paths
    def ns(self, role):
        return "%s-%s" % (self.prefix, role)

    @property
    def namespaces(self):
        return [self.ns("cli"), self.ns("mx")]

    def path(self, *parts):
        return os.path.join(self.state_dir, *parts)

    @property
    def config_dir(self):
        return self.path("postfix", "etc")

    @property
    def inventory_path(self):
        return self.path("inventory.yml")

    @property
    def allowed_file(self):
        return self.path("allowed.txt")

    @property
    def maillog_path(self):
        return self.path("maillog")

    @property
    def mailbox(self):
        return self.path("mail", "postmaster")

    def netns_etc(self, role):
        return os.path.join("/etc/netns", self.ns(role))

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
        for tool in ("ip", "postconf", "postfix", "dnsmasq", "swaks"):
            if not shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"):
                raise RuntimeError("%s is missing: run make setup as root (it installs postfix, dnsmasq-base, swaks)"
                                   % tool)
        os.makedirs(self.state_dir, exist_ok=True)
        self._check_reachable()
        self._save_state()
        for namespace in self.namespaces:
            _ip("netns", "add", namespace)
            subprocess.run(["ip", "netns", "exec", namespace, "sysctl", "-qw",
                            "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"],
                           capture_output=True, check=False)
            _ip("-n", namespace, "link", "set", "lo", "up")
        cli, mx = self.namespaces
        _ip("-n", cli, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", mx)
        _ip("-n", cli, "addr", "add", CLIENT_ADDRESS + "/24", "dev", "eth0")
        _ip("-n", mx, "addr", "add", MX_ADDRESS + "/24", "dev", "eth0")
        _ip("-n", cli, "link", "set", "eth0", "up")
        _ip("-n", mx, "link", "set", "eth0", "up")
        for address in SENDERS.values():
            _ip("-n", cli, "addr", "add", address + "/32", "dev", "lo")
        for net in ("198.51.100.0/24", "203.0.113.0/24"):
            _ip("-n", mx, "route", "add", net, "via", CLIENT_ADDRESS)
        os.makedirs(self.netns_etc("mx"), exist_ok=True)
        with open(os.path.join(self.netns_etc("mx"), "resolv.conf"), "w") as handle:
            handle.write("# hes-lab mta: the DNSBL server of this namespace\nnameserver 127.0.0.1\n"
                         "options timeout:1 attempts:2\n")
        self._write_postfix_files()
        self.pids["dnsmasq"] = self._start_dnsmasq()
        self._save_state()
        self.pids["master"] = self._start_postfix()
        self._save_state()
        self._write_ansible_files()

    def _check_reachable(self):
        """Postfix's daemons run as the postfix user and must reach the queue, data and mail
        directories under the state directory."""
        path = os.path.abspath(self.state_dir)
        while path != "/":
            if not os.stat(path).st_mode & 0o001:
                raise RuntimeError("%s is not searchable by other users (mode %o), so the postfix user cannot reach "
                                   "the lab's queue under %s; use a state directory under %s"
                                   % (path, os.stat(path).st_mode & 0o777, self.state_dir, state_root()))
            path = os.path.dirname(path)

    def _write_postfix_files(self):
        owner = pwd.getpwnam("postfix")
        for directory in ("postfix/etc", "postfix/spool", "postfix/data", "mail"):
            os.makedirs(self.path(directory), exist_ok=True)
        for directory in ("postfix/data", "mail"):
            os.chown(self.path(directory), owner.pw_uid, owner.pw_gid)
        with open(self.path("postfix", "etc", "main.cf"), "w") as handle:
            handle.write(MAIN_CF.format(
                ns=self.ns("mx"), spool=self.path("postfix", "spool"), data=self.path("postfix", "data"),
                state=self.state_dir, domain=DOMAIN, mx=MX_ADDRESS, mail=self.path("mail"), recipient=RECIPIENT,
                uid=owner.pw_uid, gid=owner.pw_gid, rbl_list=self.rbl_list, zone=DNSBL_ZONE))
        with open(self.path("postfix", "etc", "master.cf"), "w") as handle:
            handle.write("# hes-lab mta: master.cf of namespace %s\n" % self.ns("mx"))
            handle.write((POSTSCREEN_IN_FRONT if self.postscreen else SMTPD_ONLY) + MASTER_SERVICES)

    def _start_dnsmasq(self, timeout=15):
        log_path = self.path("dnsmasq.log")
        with open(log_path, "w") as log:
            proc = subprocess.Popen(
                ["ip", "netns", "exec", self.ns("mx"), "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null",
                 "--no-resolv", "--no-hosts", "--no-poll", "--listen-address=127.0.0.1", "--bind-interfaces",
                 "--port=53", "--pid-file=", "--user=nobody", "--group=nogroup", "--log-facility=-",
                 "--log-queries", "--local=/#/", "--address=/%s/127.0.0.2" % DNSBL_ZONE],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self._wait(lambda: "started" in _read(log_path), proc, timeout, "dnsmasq", log_path)
        return proc.pid

    def _start_postfix(self, timeout=30):
        check = self.postfix("check")
        if check.returncode != 0:
            raise RuntimeError("postfix check failed in %s: %s" % (self.config_dir, check.stdout.strip()))
        daemon_dir = subprocess.run(["postconf", "-c", self.config_dir, "-h", "daemon_directory"],
                                    capture_output=True, text=True, check=True).stdout.strip()
        with open(self.path("master.out"), "w") as out:
            proc = subprocess.Popen(
                ["ip", "netns", "exec", self.ns("mx"), os.path.join(daemon_dir, "master"), "-c", self.config_dir, "-s"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self._wait(lambda: "daemon started" in _read(self.maillog_path) and self.postfix("status").returncode == 0,
                   proc, timeout, "Postfix master", self.maillog_path)
        return proc.pid

    @staticmethod
    def _wait(ready, proc, timeout, what, log_path):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        _stop_pid(proc.pid)
        raise RuntimeError("%s did not start: %s" % (what, _read(log_path)[-2000:].strip()))

    def _save_state(self):
        state = {"prefix": self.prefix, "owner_pid": os.getpid(), "namespaces": self.namespaces, "pids": self.pids,
                 "config_dir": self.config_dir}
        with open(self.path("state.json"), "w") as handle:
            json.dump(state, handle, indent=1)

    def _write_ansible_files(self):
        with open(self.allowed_file, "w") as handle:
            handle.write("# hes-lab mta allowed set (RFC 5737 documentation ranges)\n")
            handle.write("".join(net + "\n" for net in ALLOWED_RANGES))
        wrapper = self.path("python-mx")
        with open(wrapper, "w") as handle:
            handle.write("#!/bin/sh\n# run Ansible modules inside network namespace %s\n" % self.ns("mx"))
            handle.write('exec %s netns exec %s %s "$@"\n' % (shutil.which("ip"), self.ns("mx"), sys.executable))
        os.chmod(wrapper, 0o755)
        inventory = {"all": {"children": {"mta": {
            "hosts": {"mx": {
                "ansible_connection": "local",
                "ansible_python_interpreter": wrapper,
                "hes_lab_netns": self.ns("mx"),
                "hes_postfix_config_dir": self.config_dir,
            }},
            "vars": {
                "hes_lab_mta_prefix": self.prefix,
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
        self.pids = {}

    @staticmethod
    def down_prefix(prefix, state_dir=None):
        """Remove every trace of mail lab ``prefix``: processes (by pid), namespaces, files."""
        state_dir = state_dir or os.path.join(state_root(), prefix)
        try:
            with open(os.path.join(state_dir, "state.json")) as handle:
                pids = json.load(handle).get("pids", {})
        except (OSError, ValueError):
            pids = {}
        # master first: it takes its daemons down with it.
        for name in ("master", "dnsmasq"):
            if name in pids:
                _stop_pid(pids[name])
        for role in ("cli", "mx"):
            shutil.rmtree(os.path.join("/etc/netns", "%s-%s" % (prefix, role)), ignore_errors=True)
        return NetnsLab.down_prefix(prefix, state_dir)

    @classmethod
    def load(cls, prefix, state_dir=None):
        lab = cls(prefix, state_dir)
        try:
            with open(os.path.join(lab.state_dir, "state.json")) as handle:
                lab.pids = json.load(handle).get("pids", {})
        except (OSError, ValueError):
            pass
        return lab

    # -- using the lab
    def postfix(self, *args):
        """``postfix -c <config_dir> ARGS`` in the mail namespace (its messages go to the maillog)."""
        return subprocess.run(["ip", "netns", "exec", self.ns("mx"), "postfix", "-c", self.config_dir, *args],
                              capture_output=True, text=True, check=False)

    def postmap(self, table, *keys):
        """``postmap -q`` of each key in one of the config directory's cidr tables: {key: answer}."""
        proc = subprocess.run(["postmap", "-c", self.config_dir, "-q", "-", "cidr:" + os.path.join(self.config_dir, table)],
                              input="".join(k + "\n" for k in keys), capture_output=True, text=True, check=False)
        return dict(line.split("\t", 1) for line in proc.stdout.splitlines() if "\t" in line)

    def send(self, sender="inside", recipient=RECIPIENT, timeout=30):
        """One message with swaks from a sender name (or address) of the client namespace."""
        source = SENDERS.get(sender, sender)
        token = uuid.uuid4().hex[:12]
        proc = subprocess.run(
            ["ip", "netns", "exec", self.ns("cli"), "swaks", "--server", MX_ADDRESS, "--port", "25",
             "--local-interface", source, "--helo", "client.sender.example", "--from", "probe@sender.example",
             "--to", recipient, "--header", "Subject: hes-lab %s" % token, "--body", "hes-lab mail %s" % token,
             "--timeout", str(timeout)],
            capture_output=True, text=True, timeout=timeout * 4, check=False)
        return SendResult(sender, source, recipient, token, proc.returncode, proc.stdout + proc.stderr)

    def delivered(self, token, timeout=30):
        """Whether a message carrying ``token`` reached the Maildir within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            for name in glob.glob(os.path.join(self.mailbox, "new", "*")):
                if token in _read(name):
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)

    def maillog(self):
        return _read(self.maillog_path)

    def dns_log(self):
        return _read(self.path("dnsmasq.log"))

    def check_mail(self):
        """Inside, outside, and inside to a foreign domain: {case: SendResult.as_dict() + delivered}."""
        results = {}
        for case, sender, recipient in (("inside", "inside", RECIPIENT), ("outside", "outside", RECIPIENT),
                                        ("inside_foreign", "inside", FOREIGN_RECIPIENT)):
            sent = self.send(sender, recipient)
            entry = sent.as_dict()
            entry["delivered"] = sent.outcome == "accepted" and self.delivered(sent.token)
            results[case] = entry
        return results

    def status(self):
        return {"prefix": self.prefix, "state_dir": self.state_dir, "namespaces": lab_namespaces(self.prefix),
                "pids_alive": dict((name, _pid_alive(pid)) for name, pid in self.pids.items()),
                "config_dir": self.config_dir, "inventory": self.inventory_path}


def _read(path):
    try:
        with open(path, errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m hes_lab.mta",
                                     description="network-namespace mail lab: Postfix, DNSBL, swaks (RFC 5737 only)")
    parser.add_argument("action", choices=["up", "down", "status", "send"])
    parser.add_argument("--prefix", help="namespace name prefix (default for up: hes-<pid>-m0)")
    parser.add_argument("--state-dir", help="state directory (default %s/<prefix>)" % state_root())
    parser.add_argument("--no-postscreen", action="store_true", help="up: smtpd on port 25, no postscreen")
    parser.add_argument("--rbl-list", choices=RBL_LISTS, default="smtpd_recipient_restrictions",
                        help="up: the smtpd list that holds reject_rbl_client")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("hes_lab.mta: needs root (network namespaces, Postfix)", file=sys.stderr)
        return 1
    if args.action == "up":
        lab = MailLab(args.prefix, args.state_dir, postscreen=not args.no_postscreen, rbl_list=args.rbl_list)
        if lab_namespaces(lab.prefix):
            print("hes_lab.mta: a lab with prefix %s exists; run down first" % lab.prefix, file=sys.stderr)
            return 1
        lab.up()
        print("prefix %s\ninventory %s\nconfig_dir %s" % (lab.prefix, lab.inventory_path, lab.config_dir))
        print("READY %s" % lab.prefix, flush=True)
        return 0
    if not args.prefix:
        parser.error("%s needs --prefix" % args.action)
    if args.action == "down":
        removed = MailLab.down_prefix(args.prefix, args.state_dir)
        print("down %s (%d namespaces)" % (args.prefix, len(removed)))
        return 0
    lab = MailLab.load(args.prefix, args.state_dir)
    if args.action == "status":
        print(json.dumps(lab.status(), indent=1))
        return 0
    print(json.dumps(lab.check_mail(), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
