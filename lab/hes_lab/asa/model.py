"""The emulated ASA: running-config model and command interpreter, without any SSH.

`Device` holds one device's state (shared by all sessions, guarded by a lock); `Session` holds
one CLI session's mode. `Device.execute(session, line)` returns a `Reply` whose text uses `\n`
line ends; the SSH layer turns them into CRLF, echoes, and appends the prompt.
"""
import hashlib
import ipaddress
import re
import threading
import time

from . import acl as acls
from . import texts
from .errors import INCOMPLETE, CliError, Notice, invalid
from .keywords import Ambiguous, ambiguous_text, complete, expect, match
from .objects import GROUP_TYPES, OBJECT_MODES, OBJECT_TYPES, Group, new_object

EXEC_MODES = ("exec", "enable")
DEFAULT_HEADER = [": Saved", "", ":", ": Serial Number: 9A5KDJ4T1Q7",
                  ": Hardware:   ASAv, 2048 MB RAM, CPU Xeon 4100/6100/8100 series 2200 MHz", ":"]
# First words of configuration lines the emulator keeps verbatim without modelling them.
RAW_KEYWORDS = (
    "aaa", "aaa-server", "arp", "asdm", "banner", "boot", "call-home", "class-map", "clock",
    "console", "crypto", "dhcpd", "dns", "domain-name", "dynamic-access-policy-record",
    "enable", "failover", "firewall", "forward-reference", "ftp", "group-policy", "http", "icmp",
    "logging", "management-access", "monitor-interface", "mtu", "name", "names", "nat", "ntp",
    "pager", "passwd", "policy-map", "prompt", "route", "same-security-traffic", "service",
    "service-policy", "snmp-server", "ssh", "sysopt", "telnet", "tftp-server", "threat-detection",
    "timeout", "tunnel-group", "user-identity", "username", "webvpn", "license", "ipv6",
)
CONFIG_KEYWORDS = ("access-list", "access-group", "object-group", "object", "hostname",
                   "interface", "no", "end", "exit", "quit", "clear", "help") + RAW_KEYWORDS
EXEC_KEYWORDS = ("enable", "exit", "quit", "logout", "show", "terminal", "ping", "traceroute",
                 "help", "login", "no")
ENABLE_KEYWORDS = EXEC_KEYWORDS + ("configure", "write", "copy", "packet-tracer", "dir", "more",
                                   "clear", "disable", "changeto", "reload", "capture")
CONFIG_EXEC_KEYWORDS = ("show", "write", "copy", "packet-tracer", "dir", "more", "configure",
                        "terminal")
SHOW_KEYWORDS = ("version", "running-config", "startup-config", "access-list", "object-group",
                 "memory", "clock", "hostname", "nameif", "checksum", "interface", "route",
                 "names", "curpriv", "conn", "xlate", "asp", "arp", "failover", "firewall",
                 "mode", "inventory", "logging", "access-group")
SUBMODE_COMMON = ("exit", "end", "quit", "no", "help")
ACE_START = ("remark", "standard", "extended", "ethertype", "webtype", "permit", "deny")
INTERFACE_KEYWORDS = ("nameif", "security-level", "ip", "description", "shutdown", "speed",
                      "duplex", "mtu", "vlan", "management-only", "ipv6", "mac-address")
# Lines of the sections a real ASA prints after the object-groups and access-lists
# (asa-cli.md §6.4): a first object, group or ACL goes before the first of them.
LATER_SECTIONS = ("pager", "logging", "mtu", "failover", "monitor-interface", "icmp", "asdm",
                  "arp", "nat", "access-group", "route", "timeout", "user-identity", "aaa",
                  "http", "snmp-server", "crypto", "telnet", "ssh", "console",
                  "threat-detection", "dhcpd", "ntp", "webvpn", "username", "class-map",
                  "policy-map", "service-policy", "prompt", "call-home")


class Reply:
    """What the device prints for one command; `prompt` False while it awaits a password."""

    __slots__ = ("text", "prompt", "close")

    def __init__(self, text="", prompt=True, close=False):
        self.text, self.prompt, self.close = text, prompt, close


class Session:
    """One CLI session: its mode, the sub-mode's object, and a pending password prompt."""

    def __init__(self, sid, enabled=False):
        self.id = sid
        self.mode = "enable" if enabled else "exec"
        self.context = None
        self.awaiting_password = False
        self.password_tries = 0
        self.pager = 24

    @property
    def privileged(self):
        return self.mode != "exec"


class Item:
    """One top-level position in the running-config: a modelled entity or verbatim lines."""

    __slots__ = ("kind", "key", "lines")

    def __init__(self, kind, key=None, lines=None):
        self.kind, self.key, self.lines = kind, key, lines


class Interface:
    def __init__(self, name, children=None):
        self.name = name
        self.children = list(children or [])

    def value(self, keyword):
        for line in self.children:
            if line.startswith(keyword + " "):
                return line[len(keyword) + 1:]
        return None

    def info(self):
        ip = mask = None
        addr = self.value("ip address")
        if addr:
            parts = addr.split()
            if len(parts) >= 2 and acls.is_ipv4(parts[0]) and acls.is_ipv4(parts[1]):
                ip, mask = parts[0], parts[1]
        ip6 = []
        for line in self.children:
            if line.startswith("ipv6 address "):
                try:
                    ip6.append(ipaddress.IPv6Interface(line.split()[2]))
                except ValueError:
                    pass
        level = self.value("security-level")
        return {"hardware": self.name, "nameif": self.value("nameif"),
                "security": int(level) if level and level.isdigit() else 0,
                "ip": ip, "mask": mask, "ip6": ip6, "shutdown": "shutdown" in self.children}

    @staticmethod
    def _key(tokens):
        """The setting a line sets: `ip address`, `ipv6 address X` (several allowed), or its word."""
        if tokens[:2] == ["ip", "address"]:
            return "ip address"
        if tokens[:2] == ["ipv6", "address"]:
            return " ".join(tokens[:3])
        return tokens[0]

    def set(self, tokens):
        line = " ".join(tokens)
        key = self._key(tokens)
        if key == "shutdown":
            if line not in self.children:
                self.children.append(line)
            return
        self.children = [c for c in self.children if not (c == key or c.startswith(key + " "))]
        self.children.append(line)

    def unset(self, tokens):
        key = self._key(tokens)
        self.children = [c for c in self.children if not (c == key or c.startswith(key + " "))]


def tokenize(line):
    return [(m.group(), m.start()) for m in re.finditer(r"\S+", line)]


def keyword(tokens, idx, choices):
    """The keyword tokens[idx] stands for (keywords.py); the caret points at it when none."""
    found = match(tokens[idx][0], choices)
    if found is None:
        raise invalid(idx)
    return found


def checksum(body):
    return hashlib.md5("\n".join(body).encode()).hexdigest()


def now_text():
    t = time.time()
    ms = int((t % 1) * 1000)
    return time.strftime("%H:%M:%S.", time.gmtime(t)) + "%03d" % ms + time.strftime(
        " UTC %a %b %d %Y", time.gmtime(t)).replace(" 0", " ")


class Device:
    """One emulated ASA: running-config, startup-config and the command interpreter."""

    def __init__(self, config_text="", hostname=None, last_ace_drops_binding=True):
        self.lock = threading.RLock()
        self.last_ace_drops_binding = last_ace_drops_binding
        self.booted = time.time()
        self.items = []
        self.header = []
        self.hostname = "ciscoasa"
        self.interfaces_ = {}
        self.objects = {}
        self.groups = {}
        self.acls = {}
        self.access_groups = {}
        self.raw_version = 0
        self._names = (None, {})
        self.last_modified = None
        self.unparsed = []   # ACE lines booted verbatim: shown, never matched by packet-tracer
        self._booting = True
        self._boot(config_text)
        self._booting = False
        if hostname:
            self.hostname = hostname
        self.startup = (list(self.header), self.body())

    # ------------------------------------------------------------ boot
    def _boot(self, text):
        lines = text.replace("\r\n", "\n").split("\n")
        while lines and lines[-1] == "":
            lines.pop()
        i = 0
        while i < len(lines) and (lines[i].startswith(":") or lines[i] == "") and \
                not lines[i].startswith(": end"):
            self.header.append(lines[i])
            i += 1
        if not self.header and lines:
            self.header = list(DEFAULT_HEADER)
        blocks = []
        for line in lines[i:]:
            if line.startswith("Cryptochecksum:") or line.startswith(": end"):
                continue
            if line.startswith(" ") and blocks:
                blocks[-1].append(line)
            else:
                blocks.append([line])
        session = Session(0, enabled=True)
        session.mode = "config"
        for block in blocks:
            self._boot_block(block, session)
        if not self.items:
            self.header = list(DEFAULT_HEADER)
            self.items = [Item("raw", lines=["ASA Version 9.16(4)"]), Item("raw", lines=["!"]),
                          Item("hostname")]

    def _boot_block(self, block, session):
        words = block[0].split()
        head = words[0] if words else ""
        try:
            if head == "hostname" and len(words) == 2:
                self.hostname = words[1]
                self.items.append(Item("hostname"))
                return
            if head == "interface" and len(words) == 2:
                self.interfaces_[words[1]] = Interface(words[1], [c[1:] for c in block[1:]])
                self.items.append(Item("interface", words[1]))
                return
            if head == "object" and len(words) == 3 and words[1] in OBJECT_TYPES:
                if words[2] in self.objects:
                    # auto-NAT appears as a second `object network` block: keep it verbatim
                    self.items.append(Item("raw", lines=block))
                    return
                obj = new_object(words[1], words[2])
                for child in block[1:]:
                    if not obj.command(child.split(), _rest(child)) and obj.type == "network":
                        obj.extra.append(child.strip())
                self.objects[obj.name] = obj
                self.items.append(Item("object", obj.name))
                return
            if head == "object-group" and len(words) >= 3 and words[1] in GROUP_TYPES:
                group = Group(words[2], words[1], words[3] if len(words) > 3 else None)
                for child in block[1:]:
                    toks = child.split()
                    if toks[0] == "description":
                        group.description = _rest(child)
                        continue
                    member = group.parse_member(toks, self)
                    if member is None:
                        raise invalid(0)
                    group.members.append(member)
                self.groups[group.name] = group
                self.items.append(Item("object-group", group.name))
                return
            if head == "access-list" and len(words) >= 3 and len(block) == 1 and \
                    words[1] not in ("alert-interval", "deny-flow-max"):
                name = words[1]
                try:
                    ace = acls.parse_ace(words[2:], self, _rest(block[0], 2))
                except CliError:
                    ace = acls.Ace("raw", " ".join(words[2:]))
                    self.unparsed.append(block[0])
                self._acl_for(name).append(ace)
                return
            if head == "access-group" and len(block) == 1:
                self._access_group(words)
                return
        except CliError:
            pass
        self.items.append(Item("raw", lines=block))
        self.raw_version += 1

    # ------------------------------------------------------------ context for acl.py
    @property
    def names(self):
        if self._names[0] != self.raw_version:
            names = {}
            for item in self.items:
                if item.kind == "raw" and item.lines[0].startswith("name "):
                    parts = item.lines[0].split()
                    if len(parts) >= 3:
                        names[parts[2]] = parts[1]
            self._names = (self.raw_version, names)
        return self._names[1]

    def qualified_user(self, value, group_names=False):
        """`DOMAIN\\user` (`DOMAIN\\\\group` for user groups), with the default domain added.

        The domain is `user-identity default-domain`'s, else LOCAL (assumed: the device
        stores the qualified form). None when VALUE is malformed.
        """
        separator = "\\\\" if group_names else "\\"
        m = re.fullmatch(r"(?:([^\\\s]+)" + re.escape(separator) + r")?([^\\\s]+)", value)
        if not m:
            return None
        domain = m.group(1)
        if domain is None:
            domain = "LOCAL"
            for line in self.raw_lines("user-identity default-domain "):
                domain = line.split()[2]
        return f"{domain}{separator}{m.group(2)}"

    def interfaces(self):
        """Interfaces by nameif."""
        out = {}
        for ifc in self.interfaces_.values():
            info = ifc.info()
            if info["nameif"]:
                out[info["nameif"]] = info
        return out

    def nested_groups(self, name, seen=None):
        """Every group reachable from NAME through group-object."""
        seen = set() if seen is None else seen
        for m in self.groups[name].members:
            if m.kind == "group" and m.args[0] not in seen:
                seen.add(m.args[0])
                self.nested_groups(m.args[0], seen)
        return seen

    def raw_lines(self, prefix):
        return [item.lines[0] for item in self.items
                if item.kind == "raw" and item.lines[0].startswith(prefix)]

    # ------------------------------------------------------------ layout
    def _insert_item(self, item, after_kinds, before=()):
        """Place a new entity where the device prints it.

        After the last item of the first kind in AFTER_KINDS that exists, else before the first
        item whose kind, or whose verbatim line's keyword, is in BEFORE, else at the end. While
        booting, items keep the order of the saved config.
        """
        if self._booting:
            self.items.append(item)
            return
        for kind in after_kinds:
            idx = [i for i, it in enumerate(self.items) if it.kind == kind]
            if idx:
                self.items.insert(idx[-1] + 1, item)
                return
        for i, it in enumerate(self.items):
            if it.kind in before or (it.kind == "raw" and _raw_keyword(it.lines[0]) in before):
                self.items.insert(i, item)
                return
        self.items.append(item)

    def _acl_for(self, name):
        if name not in self.acls:
            self.acls[name] = []
            self._insert_item(Item("acl", name), ("acl", "object-group", "object"), LATER_SECTIONS)
        return self.acls[name]

    def _drop_item(self, kind, key):
        self.items = [it for it in self.items if not (it.kind == kind and it.key == key)]

    def body(self):
        """The running-config lines between the header and the Cryptochecksum line."""
        out = []
        for item in self.items:
            if item.kind == "raw":
                out += item.lines
            elif item.kind == "hostname":
                out.append(f"hostname {self.hostname}")
            elif item.kind == "interface":
                ifc = self.interfaces_[item.key]
                out.append(f"interface {ifc.name}")
                out += [f" {c}" for c in ifc.children]
            elif item.kind == "object":
                out += self.objects[item.key].lines()
            elif item.kind == "object-group":
                out += self.groups[item.key].lines()
            elif item.kind == "acl":
                out += [f"access-list {item.key} {ace.text}" for ace in self.acls[item.key]]
            elif item.kind == "access-group":
                out.append(self.access_groups[item.key])
        return out

    def running_config(self):
        body = self.body()
        return self.header + body + [f"Cryptochecksum:{checksum(body)}", ": end"]

    def startup_config(self):
        header, body = self.startup
        return header + body + [f"Cryptochecksum:{checksum(body)}", ": end"]

    def changed(self):
        self.last_modified = now_text()

    @property
    def version(self):
        for item in self.items:
            if item.kind == "raw" and item.lines[0].startswith("ASA Version "):
                return item.lines[0].split()[2]
        return "9.16(4)"

    def version_tuple(self):
        m = re.match(r"(\d+)\.(\d+)", self.version)
        return (int(m.group(1)), int(m.group(2))) if m else (9, 16)

    # ------------------------------------------------------------ prompts
    def pager_lines(self):
        """The pager length a new session starts with (`pager lines N` in the config)."""
        for line in self.raw_lines("pager"):
            parts = line.split()
            if parts[-1].isdigit():
                return int(parts[-1])
        return 0 if self.raw_lines("no pager") else 24

    def prompt(self, session):
        if session.mode == "exec":
            return f"{self.hostname}> "
        if session.mode == "enable":
            return f"{self.hostname}# "
        return f"{self.hostname}({session.mode})# "

    # ------------------------------------------------------------ entry point
    def execute(self, session, line):
        """Run one line typed in SESSION; returns a Reply."""
        with self.lock:
            if session.awaiting_password:
                return self._enable_password(session, line)
            prompt = self.prompt(session)
            line = line.replace("\x1a", " end ").rstrip() if "\x1a" in line else line
            tokens = tokenize(line)
            if not tokens:
                return Reply("")
            try:
                text = self._dispatch(session, line, tokens)
            except Notice as note:
                text = note.text
            except Ambiguous:
                text = ambiguous_text(line)
            except CliError as err:
                text = err.text
                if err.token is not None:
                    col = len(prompt) + tokens[min(err.token, len(tokens) - 1)][1]
                    if err.token >= len(tokens):
                        col = len(prompt) + len(line)
                    text = " " * col + "^\n" + err.text
            if isinstance(text, Reply):
                return text
            return Reply(text or "")

    def set_enable_password(self, password):
        self.enable_password = password

    def _enable_password(self, session, line):
        if line == getattr(self, "enable_password", "enablepw"):
            session.awaiting_password = False
            session.password_tries = 0
            session.mode = "enable"
            return Reply("")
        session.password_tries += 1
        if session.password_tries >= 3:
            session.awaiting_password = False
            session.password_tries = 0
            return Reply("Access denied.")
        return Reply("Invalid password\nPassword: ", prompt=False)

    def _dispatch(self, session, line, tokens):
        words = [t for t, _ in tokens]
        mode = session.mode
        if mode.startswith("config-"):
            handled = self._submode(session, line, tokens, words)
            if handled is not None:
                return handled
        if mode == "exec":
            choices = EXEC_KEYWORDS
        elif mode == "enable":
            choices = ENABLE_KEYWORDS
        else:
            choices = CONFIG_KEYWORDS + CONFIG_EXEC_KEYWORDS
        verb = keyword(tokens, 0, tuple(sorted(set(choices))))
        words[0] = verb
        if verb in ("show", "more", "dir") or (verb == "write" and len(words) > 1
                                                and "terminal".startswith(words[1])):
            return self._with_filter(session, line, tokens)
        handler = getattr(self, "cmd_" + verb.replace("-", "_"), None)
        if handler is None:
            return self._raw_config(session, words)
        if not mode.startswith("config-") or verb in CONFIG_EXEC_KEYWORDS + ("exit", "end", "quit"):
            return handler(session, words, tokens, line)
        # a global command typed in a sub-mode runs globally and leaves the sub-mode
        context = session.context
        session.mode, session.context = "config", None
        try:
            return handler(session, words, tokens, line)
        except CliError:
            session.mode, session.context = mode, context
            raise

    # ------------------------------------------------------------ output filters
    def _with_filter(self, session, line, tokens):
        cut = line.find("|")
        command = line if cut < 0 else line[:cut]
        ctoks = tokenize(command)
        words = [t for t, _ in ctoks]
        words[0] = keyword(ctoks, 0, ("show", "more", "dir", "write"))
        if words[0] in ("show", "more") and not session.privileged and not (
                len(words) > 1 and "version".startswith(words[1])):
            raise invalid(1 if len(words) > 1 else 0)
        out = getattr(self, "cmd_" + words[0])(session, words, ctoks, command)
        if cut < 0:
            return out
        spec = line[cut + 1:].strip().split(None, 1)
        if not spec:
            raise CliError(INCOMPLETE)
        op = keyword([(spec[0], cut + 1)], 0, ("include", "exclude", "begin", "grep"))
        pattern = spec[1] if len(spec) > 1 else ""
        negate = False
        if op == "grep" and pattern.startswith("-v "):
            negate, pattern = True, pattern[3:]
        if not pattern:
            raise CliError(INCOMPLETE)
        try:
            regex = re.compile(pattern)
        except re.error:
            raise CliError("ERROR: % Invalid regular expression") from None
        lines = out.split("\n") if out else []
        if op == "begin":
            for i, text in enumerate(lines):
                if regex.search(text):
                    return "\n".join(lines[i:])
            return ""
        keep = (op == "exclude") or negate
        return "\n".join(t for t in lines if bool(regex.search(t)) != keep)

    # ------------------------------------------------------------ exec commands
    def cmd_enable(self, session, words, tokens, line):
        if session.mode != "exec" or len(words) > 1:
            if session.mode.startswith("config") and len(words) > 1:
                return self._raw_config(session, words)
            raise invalid(1 if len(words) > 1 else 0)
        session.awaiting_password = True
        return Reply("Password: ", prompt=False)

    def cmd_disable(self, session, words, tokens, line):
        session.mode, session.context = "exec", None
        return ""

    def cmd_exit(self, session, words, tokens, line):
        if session.mode in EXEC_MODES:
            return Reply("\nLogoff\n", prompt=False, close=True)
        if session.mode == "config":
            session.mode = "enable"
        else:
            session.mode, session.context = "config", None
        return Reply("")

    cmd_quit = cmd_exit

    def cmd_logout(self, session, words, tokens, line):
        return Reply("\nLogoff\n", prompt=False, close=True)

    def cmd_end(self, session, words, tokens, line):
        session.mode, session.context = "enable", None
        return Reply("")

    def cmd_terminal(self, session, words, tokens, line):
        sub = keyword(tokens, 1, ("pager", "width", "monitor", "no")) if len(words) > 1 else None
        if sub == "pager":
            rest = [w for w in words[2:] if w != "lines"]
            if not rest or not rest[0].isdigit():
                raise invalid(2) if rest else CliError(INCOMPLETE)
            session.pager = int(rest[0])
            return ""
        if sub in ("width", "monitor"):
            return ""
        raise invalid(1) if len(words) > 1 else CliError(INCOMPLETE)

    def cmd_configure(self, session, words, tokens, line):
        if session.mode == "exec":
            raise invalid(0)
        if len(words) < 2:
            raise CliError(INCOMPLETE)
        keyword(tokens, 1, ("terminal", "memory", "net", "factory-default", "http"))
        if not "terminal".startswith(words[1]):
            raise invalid(1)
        if len(words) > 2:
            raise invalid(2)
        session.mode, session.context = "config", None
        return Reply("")

    def cmd_write(self, session, words, tokens, line):
        sub = "memory"
        if len(words) > 1:
            sub = keyword(tokens, 1, ("memory", "terminal", "erase", "standby", "net"))
        if sub != "memory" or len(words) > 2 and words[2] not in ("all", "/noconfirm"):
            if sub == "terminal":
                return "\n".join(self.running_config())
            raise invalid(1)
        return self._save()

    def cmd_copy(self, session, words, tokens, line):
        args = [w for w in words[1:] if w not in ("/noconfirm",)]
        if len(args) == 2 and "running-config".startswith(args[0]) and len(args[0]) > 2 \
                and "startup-config".startswith(args[1]) and len(args[1]) > 2:
            return self._save()
        raise invalid(1)

    def _save(self):
        body = self.body()
        self.startup = ([": Saved", f": Written by enable_15 at {now_text()}", "!"], body)
        digest = checksum(body)
        size = len("\n".join(self.startup_config()))
        pretty = " ".join(digest[i:i + 8] for i in range(0, 32, 8))
        # the device divides by whole seconds: "6854 bytes copied in 1.20 secs (6854 bytes/sec)"
        seconds = 1.2
        return (f"Building configuration...\nCryptochecksum: {pretty} \n\n"
                f"{size} bytes copied in {seconds:.2f} secs ({size // int(seconds)} bytes/sec)\n[OK]")

    def cmd_clear(self, session, words, tokens, line):
        if len(words) >= 3 and "configure".startswith(words[1]) and session.mode.startswith("config"):
            what = keyword(tokens, 2, ("access-list", "access-group", "object-group", "object"))
            if what == "access-list":
                for name in [words[3]] if len(words) > 3 else list(self.acls):
                    if name not in self.acls:
                        raise CliError(f"ERROR: access-list <{name}> does not exist")
                    self._delete_acl(name)
                self.changed()
                return ""
            raise invalid(2)
        if len(words) >= 2 and "access-list".startswith(words[1]) and len(words[1]) > 2:
            for name, aces in self.acls.items():
                if len(words) < 3 or words[2] in (name, "counters"):
                    for ace in aces:
                        ace.hitcnt = 0
                        ace.leaf_hits = {}
            return ""
        raise invalid(1) if len(words) > 1 else CliError(INCOMPLETE)

    def cmd_ping(self, session, words, tokens, line):
        if len(words) < 2:
            raise CliError(INCOMPLETE)
        return ("Type escape sequence to abort.\n"
                f"Sending 5, 100-byte ICMP Echos to {words[-1]}, timeout is 2 seconds:\n"
                "?????\nSuccess rate is 0 percent (0/5)")

    def cmd_help(self, session, words, tokens, line):
        return "Help may be requested at the command line with '?'."

    def cmd_packet_tracer(self, session, words, tokens, line):
        if session.mode == "exec":
            raise invalid(0)
        from .packet_tracer import packet_tracer
        return packet_tracer(self, words, tokens)

    # ------------------------------------------------------------ show
    def cmd_dir(self, session, words, tokens, line):
        return ("Directory of disk0:/\n\n"
                "11     drwx  4096         04:49:48 May 16 2019  smart-log\n"
                f"12     -rwx  {len(chr(10).join(self.startup_config()))}"
                "         04:49:48 May 16 2019  startup-config\n"
                "8      drwx  4096         04:49:41 May 16 2019  log\n\n"
                "1 file(s) total size: 0 bytes\n"
                "8571076608 bytes total (8549351424 bytes free/99% free)")

    def cmd_more(self, session, words, tokens, line):
        if len(words) == 2 and words[1] in ("system:running-config", "system:/running-config"):
            return "\n".join(self.running_config())
        raise invalid(1) if len(words) > 1 else CliError(INCOMPLETE)

    def cmd_show(self, session, words, tokens, line):
        if len(words) < 2:
            raise CliError(INCOMPLETE)
        sub = keyword(tokens, 1, SHOW_KEYWORDS)
        if not session.privileged and sub != "version":
            raise invalid(1)
        handler = getattr(self, "show_" + sub.replace("-", "_"), None)
        if handler is None:
            return ""
        try:
            return handler(session, words[2:], tokens, line)
        except CliError as err:
            if err.token is not None:
                err.token += 2   # handlers count from their first argument
            raise

    def show_version(self, session, args, tokens, line):
        return texts.show_version(self)

    def show_interface(self, session, args, tokens, line):
        """`show interface [NAME] | show interface ip brief` (NAME: hardware id or nameif)."""
        if complete(args, 0, ("ip", "summary", "detail", "stats")) == "ip":
            expect(args, 1, ("brief",))
            if len(args) > 2:
                raise invalid(2)
            return texts.show_interface_ip_brief(self)
        names = list(self.interfaces_)
        if args and args[0] not in ("summary", "detail", "stats"):
            name = self.interface_name(args[0])
            if name is None:
                raise invalid(0)
            names = [name]
            args = args[1:]
        for k, word in enumerate(args):
            expect(args, k, ("summary", "detail", "stats"))
        return texts.show_interface(self, names, summary="summary" in args)

    def interface_name(self, token):
        """The hardware id TOKEN names: itself, a nameif, or an abbreviated type (`gi0/1`)."""
        if token in self.interfaces_:
            return token
        for hardware, ifc in self.interfaces_.items():
            if ifc.value("nameif") == token:
                return hardware
        kind, number = _split_interface(token)
        found = [h for h in self.interfaces_ if _split_interface(h)[1] == number and kind
                 and _split_interface(h)[0].lower().startswith(kind.lower())]
        if len(found) == 1:
            return found[0]
        return None

    def show_memory(self, session, args, tokens, line):
        return ("Free memory:        7176970240 bytes (84%)\n"
                "Used memory:        1412964352 bytes (16%)\n"
                "-------------     ------------------\n"
                "Total memory:       8589934592 bytes (100%)")

    def show_clock(self, session, args, tokens, line):
        return now_text()

    def show_hostname(self, session, args, tokens, line):
        return self.hostname

    def show_curpriv(self, session, args, tokens, line):
        level = 15 if session.privileged else 1
        return f"Username : enable_{level}\nCurrent privilege level : {level}\nCurrent Mode/s : P_PRIV"

    def show_checksum(self, session, args, tokens, line):
        digest = checksum(self.body())
        return "Configuration Checksum: " + " ".join(digest[i:i + 8] for i in range(0, 32, 8))

    def show_nameif(self, session, args, tokens, line):
        out = ["Interface                Name                     Security"]
        for ifc in self.interfaces_.values():
            info = ifc.info()
            if info["nameif"]:
                out.append(f"{info['hardware']:<25}{info['nameif']:<25}{info['security']:>3}")
        return "\n".join(out)

    def show_route(self, session, args, tokens, line):
        from .packet_tracer import routes
        out = ["Codes: L - local, C - connected, S - static", "",
               "Gateway of last resort is not set", ""]
        for net, ifc, gw in routes(self):
            if net.version == 6:
                continue   # `show ipv6 route` lists those
            if gw:
                out.append(f"S        {net.network_address} {net.netmask} [1/0] via {gw}, {ifc}")
            else:
                out.append(f"C        {net.network_address} {net.netmask} is directly connected, {ifc}")
        return "\n".join(out)

    def show_startup_config(self, session, args, tokens, line):
        return "\n".join(self.startup_config())

    def show_running_config(self, session, args, tokens, line):
        known = {text.split()[0] for text in self.body() if text and not text.startswith(" ")}
        choices = tuple(sorted((known | set(CONFIG_KEYWORDS) | {"all"})
                               - {"no", "end", "exit", "quit", "help", "clear"}))
        if complete(args, 0, choices) == "all":
            args = args[1:]
            complete(args, 0, choices)
        if not args:
            return "\n".join(self.running_config())
        first = args[0]
        if first == "access-list" and len(args) == 2:
            if args[1] not in self.acls:
                return ""
            return "\n".join(f"access-list {args[1]} {a.text}" for a in self.acls[args[1]])
        if first in ("object-group", "object"):
            kind = complete(args, 1, ("id",) + (GROUP_TYPES if first == "object-group" else OBJECT_TYPES))
            if kind == "id":
                return self._blocks(lambda head: head.startswith(first + " ") and
                                    head.split()[2:3] == args[2:3])
        if first not in known and first not in CONFIG_KEYWORDS:
            raise invalid(0)
        prefix = " ".join(args) + " "
        return self._blocks(lambda head: (head + " ").startswith(prefix))

    def _blocks(self, want):
        out, keep = [], False
        for text in self.body():
            if not text.startswith(" "):
                keep = want(text)
            if keep:
                out.append(text)
        return "\n".join(out)

    def show_access_list(self, session, args, tokens, line):
        names = list(self.acl_order())
        if args:
            if args[0] not in self.acls:
                raise CliError(f"ERROR: access-list <{args[0]}> does not exist")
            names = [args[0]]
        out = ["access-list cached ACL log flows: total 0, denied 0 (deny-flow-max 4096)",
               "            alert-interval 300"]
        for name in names:
            out += self.acl_lines(name)
        return "\n".join(out)

    def acl_order(self):
        return [it.key for it in self.items if it.kind == "acl"]

    def acl_lines(self, name):
        """`show access-list NAME` lines for one ACL, expansions included."""
        aces = self.acls[name]
        body = []
        count = 0
        for number, ace in enumerate(aces, 1):
            prefix = f"access-list {name} line {number} "
            if ace.kind in ("remark", "raw"):
                body.append(prefix + ace.text)
                count += ace.kind == "raw"
                continue
            leaves = acls.elements(ace, self)
            count += len(leaves)
            show_text = ace.text if ace.kind == "standard" else \
                acls.render_extended(ace, show=True)
            inactive = " (inactive)" if ace.inactive else ""
            body.append(f"{prefix}{show_text} (hitcnt={ace.hitcnt}){inactive} "
                        f"{acls.ace_hash(name, ace.text)}")
            if ace.kind == "extended" and acls.expands(ace):
                hits = ace.leaf_hits
                for src, dst, svc in leaves:
                    child = acls.render_extended(ace, src.text, dst.text, svc, True)
                    body.append(f"  {prefix}{child} (hitcnt={hits.get(child, 0)}){inactive} "
                                f"{acls.ace_hash(name, child)}")
        header = f"access-list {name}; {count} elements; name hash: {acls.ace_hash(name)}"
        return [header] + body

    def show_object_group(self, session, args, tokens, line):
        names = [it.key for it in self.items if it.kind == "object-group"]
        kind = complete(args, 0, ("id",) + GROUP_TYPES)
        if kind == "id":
            if len(args) < 2:
                raise CliError(INCOMPLETE)
            if args[1] not in self.groups:
                raise CliError(f"ERROR: object-group {args[1]} does not exist")
            names = [args[1]]
        elif kind:
            names = [n for n in names if self.groups[n].type == kind]
        elif args:
            raise invalid(0)
        out = []
        for name in names:
            lines = self.groups[name].lines()
            out.append(f"{lines[0]}(hitcnt={self._group_hits(name)})")
            out += lines[1:]
        return "\n".join(out)

    def _group_hits(self, name):
        return sum(ace.hitcnt for aces in self.acls.values() for ace in aces
                   if ace.is_rule and ("object-group", name) in ace.refs())

    # ------------------------------------------------------------ config: sub-modes
    def _submode_table(self, session):
        """The sub-mode's own keywords and the thing its commands change."""
        if session.mode == "config-if":
            return INTERFACE_KEYWORDS, self.interfaces_[session.context]
        if session.mode in OBJECT_MODES.values():
            obj = self.objects[session.context]
            return obj.KEYWORDS, obj
        group = self.groups[session.context]
        return group.keywords() + ("description",), group

    def _submode(self, session, line, tokens, words):
        """Run a sub-mode command; None when the line is not one (then it runs globally).

        The sub-mode's keywords are tried first, as on the device: `desc` is `description`
        inside an object group, and a word that is no sub-mode keyword (`access-list`,
        `show`, another `object-group`) goes to the global configuration parser.
        """
        table, target = self._submode_table(session)
        verb = match(words[0], table + SUBMODE_COMMON)
        if verb is None or verb in ("exit", "end", "quit", "help"):
            return None
        negate = verb == "no"
        if negate:
            if len(words) < 2:
                raise CliError(INCOMPLETE)
            if match(words[1], table) is None:
                return None
            words[1] = match(words[1], table)
        else:
            words[0] = verb
        rest = words[1:] if negate else words
        first_arg = 1 + int(negate)
        rest_text = line[tokens[first_arg][1]:].strip() if len(tokens) > first_arg else ""
        try:
            if session.mode == "config-if":
                return self._interface_command(target, rest, negate)
            if session.mode in OBJECT_MODES.values():
                if negate:
                    target.no_command(rest)
                else:
                    target.command(rest, rest_text)
                self.changed()
                return ""
            return self._group_command(target, rest, rest_text, negate)
        except CliError as err:
            if err.token is not None:
                err.token += int(negate)
            raise

    def _interface_command(self, ifc, words, negate):
        if words[0] == "ip":
            complete(words, 1, ("address",))
        elif words[0] == "ipv6":
            complete(words, 1, ("address", "enable"))
        if negate:
            ifc.unset(words)
        else:
            ifc.set(words)
        self.changed()
        return ""

    def _group_command(self, group, words, rest_text, negate):
        if words[0] == "description":
            if negate:
                group.description = None
            elif len(words) < 2:
                raise CliError(INCOMPLETE)
            else:
                group.description = rest_text
            self.changed()
            return ""
        member = group.parse_member(words, self)
        existing = [m for m in group.members if m.key() == member.key()]
        if negate:
            if not existing:
                return "obj does not exist in this group"
            if len(group.members) == 1 and self.group_in_use(group.name):
                raise CliError("ERROR: Removing obj from object-group not allowed; "
                               f"object-group ({group.name}),  being used in access-list or "
                               "threat-detection or NAT, would become empty")
            group.members.remove(existing[0])
        else:
            if existing:
                return (f"WARNING: Adding obj ({member.text}) to grp ({group.name}) failed; "
                        "object already exists")
            group.members.append(member)
        self.changed()
        return ""

    # ------------------------------------------------------------ config: global
    def cmd_hostname(self, session, words, tokens, line):
        if len(words) != 2 or not re.match(r"^[A-Za-z][\w\-]{0,62}$", words[1]):
            raise invalid(1) if len(words) > 1 else CliError(INCOMPLETE)
        self.hostname = words[1]
        self.changed()
        return ""

    def cmd_interface(self, session, words, tokens, line):
        if len(words) != 2:
            raise CliError(INCOMPLETE) if len(words) < 2 else invalid(2)
        words[1] = self.interface_name(words[1]) or words[1]
        if words[1] not in self.interfaces_:
            if "." not in words[1]:
                raise invalid(1)
            self.interfaces_[words[1]] = Interface(words[1])
            last = max((i for i, it in enumerate(self.items) if it.kind == "interface"),
                       default=len(self.items) - 1)
            if self.items[last + 1:last + 2] and self.items[last + 1].lines == ["!"]:
                self.items[last + 2:last + 2] = [Item("interface", words[1]), Item("raw", lines=["!"])]
            else:
                self.items.insert(last + 1, Item("interface", words[1]))
        session.mode, session.context = "config-if", words[1]
        return Reply("")

    def cmd_object(self, session, words, tokens, line):
        if len(words) < 3:
            raise CliError(INCOMPLETE)
        otype = expect(words, 1, OBJECT_TYPES)
        name = words[2]
        if len(words) > 3:
            raise invalid(3)
        if name in self.groups:
            raise CliError(f"ERROR: Object-group {name} already exists", 2)
        obj = self.objects.get(name)
        if obj is not None and obj.type != otype:
            raise CliError(f"ERROR: Object {name} already exists with a different type", 2)
        if obj is None:
            self.objects[name] = new_object(otype, name)
            self._insert_item(Item("object", name), ("object",),
                              ("object-group", "acl") + LATER_SECTIONS)
            self.changed()
        session.mode, session.context = OBJECT_MODES[otype], name
        return Reply("")

    def cmd_object_group(self, session, words, tokens, line):
        if len(words) < 3:
            raise CliError(INCOMPLETE)
        gtype = expect(words, 1, GROUP_TYPES)
        name = words[2]
        proto = None
        if len(words) > 3:
            if gtype != "service":
                raise invalid(3)
            proto = expect(words, 3, ("tcp", "udp", "tcp-udp"))
        if len(words) > 4:
            raise invalid(4)
        if name in self.objects:
            raise CliError(f"ERROR: Object {name} already exists", 2)
        group = self.groups.get(name)
        if group is not None and (group.type != gtype or group.proto != proto):
            raise CliError(f"ERROR: Object-group {name} already exists with a different type", 2)
        if group is None:
            group = Group(name, gtype, proto)
            self.groups[name] = group
            self._insert_item(Item("object-group", name), ("object-group", "object"),
                              ("acl",) + LATER_SECTIONS)
            self.changed()
        session.mode, session.context = group.mode, name
        return Reply("")

    def cmd_access_list(self, session, words, tokens, line):
        if len(words) < 3:
            raise CliError(INCOMPLETE)
        name = words[1]
        if name in ("alert-interval", "deny-flow-max"):
            return self._raw_config(session, words)
        if complete(words, 2, ACE_START + ("line", "rename")) == "rename":
            return self._rename_acl(name, words)
        position, ace = self._parse_entry(words, tokens, line, 2)
        aces = self.acls.get(name, [])
        if ace.kind != "remark" and any(a.text == ace.text for a in aces):
            raise Notice(f"WARNING: <{name}> found duplicate element")
        aces = self._acl_for(name)
        if position is None or position > len(aces):
            aces.append(ace)
        else:
            aces.insert(position - 1, ace)
        self.changed()
        return ""

    def _parse_entry(self, words, tokens, line, start):
        """`[line N] ACE` from words[start] on: (N or None, Ace); carets point into LINE."""
        position = None
        if complete(words, start, ACE_START + ("line",)) == "line":
            if len(words) < start + 2 or not words[start + 1].isdigit() or int(words[start + 1]) < 1:
                raise invalid(start + 1) if len(words) > start + 1 else CliError(INCOMPLETE)
            position = int(words[start + 1])
            start += 2
        if start >= len(words):
            raise CliError(INCOMPLETE)
        try:
            return position, acls.parse_ace(words[start:], self, line[tokens[start][1]:].strip())
        except CliError as err:
            if err.token is not None:
                err.token += start
            raise

    def _rename_acl(self, name, words):
        if len(words) != 4:
            raise CliError(INCOMPLETE) if len(words) < 4 else invalid(4)
        new = words[3]
        if name not in self.acls:
            raise CliError(f"ERROR: access-list <{name}> does not exist")
        if new in self.acls:
            raise CliError(f"ERROR: access-list <{new}> already exists")
        self.acls[new] = self.acls.pop(name)
        for item in self.items:
            if item.kind == "acl" and item.key == name:
                item.key = new
        for key, text in self.access_groups.items():
            parts = text.split()
            if parts[1] == name:
                parts[1] = new
                self.access_groups[key] = " ".join(parts)
        self.changed()
        return ""

    def cmd_access_group(self, session, words, tokens, line):
        self._access_group(words)
        self.changed()
        return ""

    def _access_group_key(self, words):
        """(binding key, canonical text) of `access-group NAME in|out interface IFC | global`."""
        if len(words) < 3:
            raise CliError(INCOMPLETE)
        name = words[1]
        if name not in self.acls:
            raise CliError(f"ERROR: access-list <{name}> does not exist", 1)
        if expect(words, 2, ("in", "out", "global")) == "global":
            if len(words) > 3:
                raise invalid(3)
            return ("global", "in"), " ".join(words)
        expect(words, 3, ("interface",))
        if len(words) < 5:
            raise CliError(INCOMPLETE)
        if words[4] not in self.interfaces():
            raise CliError(f"ERROR: '{words[4]}' is not a valid interface name", 4)
        for k in range(5, len(words)):
            expect(words, k, ("per-user-override", "control-plane"))
        return (words[4], words[2]), " ".join(words)

    def _access_group(self, words):
        key, text = self._access_group_key(words)
        if key not in self.access_groups:
            self._insert_item(Item("access-group", key), ("access-group",),
                              ("route", "timeout", "user-identity", "aaa-server", "aaa", "http",
                               "snmp-server", "crypto", "telnet", "ssh",
                               "dynamic-access-policy-record"))
        self.access_groups[key] = text

    def acl_binding(self, ifc, direction="in"):
        """The ACL name bound on IFC ('global' for the global policy), or None."""
        text = self.access_groups.get((ifc, direction))
        return text.split()[1] if text else None

    def _in_use(self, ace_ref, member_kind, name):
        """Referenced by an ACE (as ``ace_ref NAME``) or by a group member of ``member_kind``."""
        if any(ace.is_rule and (ace_ref, name) in ace.refs() for aces in self.acls.values() for ace in aces):
            return True
        return any(m.kind == member_kind and m.args[0] == name
                   for g in self.groups.values() for m in g.members)

    def group_in_use(self, name):
        return self._in_use("object-group", "group", name)

    def object_in_use(self, name):
        return self._in_use("object", "object", name)

    def _delete_acl(self, name):
        del self.acls[name]
        self._drop_item("acl", name)
        if self.last_ace_drops_binding:
            for key in [k for k, text in self.access_groups.items() if text.split()[1] == name]:
                del self.access_groups[key]
                self._drop_item("access-group", key)

    def cmd_no(self, session, words, tokens, line):
        if len(words) < 2:
            raise CliError(INCOMPLETE)
        if session.mode in EXEC_MODES:
            keyword(tokens, 1, ("terminal",))
            if len(words) < 3:
                raise CliError(INCOMPLETE)
            keyword(tokens, 2, ("pager", "monitor"))
            if "pager".startswith(words[2]):
                session.pager = 0
            return ""
        verb = keyword(tokens, 1, CONFIG_KEYWORDS)
        words[1] = verb
        if verb == "access-list":
            return self._no_access_list(words, tokens, line)
        if verb == "access-group":
            absent = CliError(f"ERROR: access-group {' '.join(words[2:])} does not exist")
            try:
                key, text = self._access_group_key(words[1:])
            except Ambiguous:
                raise
            except CliError:
                raise absent from None
            if self.access_groups.get(key) != text:
                raise absent
            del self.access_groups[key]
            self._drop_item("access-group", key)
            self.changed()
            return ""
        if verb == "object-group":
            return self._no_object_group(words)
        if verb == "object":
            return self._no_object(words)
        if verb in ("hostname", "interface", "end", "exit", "quit", "help", "no", "clear"):
            raise invalid(1)
        return self._raw_config(session, words)

    def _no_object_group(self, words):
        """`no object-group TYPE NAME [PROTO]`; an absent group is not an error (asa-cli.md §6.5)."""
        if len(words) < 4:
            raise CliError(INCOMPLETE)
        gtype = expect(words, 2, GROUP_TYPES)
        name = words[3]
        group = self.groups.get(name)
        if len(words) > 4:
            if gtype != "service":
                raise invalid(4)
            expect(words, 4, ("tcp", "udp", "tcp-udp"))
            if len(words) > 5:
                raise invalid(5)
        if group is None or group.type != gtype:
            return f"Removing object-group ({name}) failed; it does not exist"
        if self.group_in_use(name):
            return f"Removing object-group ({name}) not allowed, it is being used."
        del self.groups[name]
        self._drop_item("object-group", name)
        self.changed()
        return ""

    def _no_object(self, words):
        """`no object network|service NAME`; worded like the object-group case (assumed)."""
        if len(words) < 4:
            raise CliError(INCOMPLETE)
        otype = expect(words, 2, OBJECT_TYPES)
        name = words[3]
        if len(words) > 4:
            raise invalid(4)
        obj = self.objects.get(name)
        if obj is None or obj.type != otype:
            return f"Removing object ({name}) failed; it does not exist"
        if self.object_in_use(name):
            raise CliError(f"ERROR: unable to delete object ({name}). object is being used.")
        del self.objects[name]
        self._drop_item("object", name)
        self.changed()
        return ""

    def _no_access_list(self, words, tokens, line):
        if len(words) < 3:
            raise CliError(INCOMPLETE)
        name = words[2]
        if name not in self.acls:
            raise CliError(f"ERROR: access-list <{name}> does not exist")
        if len(words) == 3:
            self._delete_acl(name)
            self.changed()
            return ""
        _, ace = self._parse_entry(words, tokens, line, 3)
        aces = self.acls[name]
        for i, existing in enumerate(aces):
            if existing.text == ace.text:
                del aces[i]
                break
        else:
            raise CliError(f"ERROR: {name} element does not exist")
        if not aces:
            if self.last_ace_drops_binding:
                self._delete_acl(name)
            else:
                del self.acls[name]
                self._drop_item("acl", name)
        self.changed()
        return ""

    def _raw_config(self, session, words):
        """Unmodelled configuration: stored verbatim, `no` removes the matching line."""
        if not session.mode.startswith("config"):
            raise invalid(0)
        negate = words[0] == "no"
        text = " ".join(words[1:] if negate else words)
        first = text.split()[0]
        if first not in RAW_KEYWORDS and not text.startswith(
                ("access-list alert-interval ", "access-list deny-flow-max ")):
            raise invalid(1 if negate else 0)
        if first in ("pager", "route", "name", "names"):
            self._check_raw(first, text.split())
        if negate:
            before = len(self.items)
            self.items = [it for it in self.items if not (
                it.kind == "raw" and (it.lines[0] == text or it.lines[0].startswith(text + " ")))]
            if text.startswith("call-home reporting anonymous") or len(self.items) == before:
                self._add_raw("no " + text)
        else:
            self.items = [it for it in self.items
                          if not (it.kind == "raw" and it.lines[0] == "no " + text)]
            self._add_raw(text)
        self.raw_version += 1
        self.changed()
        return ""

    def _check_raw(self, first, parts):
        if first == "route":
            if len(parts) < 5 or parts[1] not in self.interfaces() or not all(
                    acls.is_ipv4(p) for p in parts[2:5]):
                raise invalid(min(len(parts), 1 if len(parts) < 2 else 2))
        elif first == "name":
            if len(parts) < 3 or not acls.is_ipv4(parts[1]):
                raise invalid(1)

    def _add_raw(self, text):
        if any(it.kind == "raw" and it.lines[0] == text for it in self.items):
            return
        anchor = None
        for i, it in enumerate(self.items):
            if it.kind == "raw" and _raw_keyword(it.lines[0]) == _raw_keyword(text):
                anchor = i
        if anchor is None:
            self.items.append(Item("raw", lines=[text]))
        else:
            self.items.insert(anchor + 1, Item("raw", lines=[text]))


def _split_interface(name):
    """(type, number) of a hardware id: ("GigabitEthernet", "0/1.10")."""
    m = re.fullmatch(r"([A-Za-z-]*)(.*)", name)
    return m.group(1), m.group(2)


def _rest(line, skip=1):
    """LINE after its first SKIP words, spacing inside kept (descriptions, remarks)."""
    parts = line.strip().split(None, skip)
    return parts[skip] if len(parts) > skip else ""


def _raw_keyword(line):
    """The keyword a verbatim line is filed under (`no logging …` files under logging)."""
    words = line.split()
    if words[:1] == ["no"] and len(words) > 1:
        return words[1]
    return words[0] if words else ""
