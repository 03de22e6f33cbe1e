"""`hes-lab asa`: the emulated ASA's SSH server (paramiko server side).

Each SSH connection gets a thread and a CLI session on one shared `Device`. Output and prompt
are written in one go with CRLF line ends, so network_cli's prompt detection sees the prompt as
the very last bytes. Faults come from flags and from a control file re-read when it changes.
"""
import argparse
import json
import logging
import os
import re
import signal
import socket
import sys
import threading
import time

import paramiko

from .log import is_config_command
from .model import Device, Session

BANNER = "Type help or '?' for a list of available commands.\n"
MORE = "<--- More --->"


class Faults:
    """Fault settings: the --fault-* flags, overridden by the control file's keys."""

    KEYS = ("drop_after", "fail", "delay_ms", "reject_login")

    def __init__(self, initial, control=None):
        self.initial = dict(initial)
        self.control = control
        self.mtime = None
        self.values = dict(initial)
        self.lock = threading.Lock()

    def refresh(self):
        if not self.control:
            return self.values
        try:
            mtime = os.stat(self.control).st_mtime_ns
        except OSError:
            mtime = None
        with self.lock:
            if mtime != self.mtime:
                values = dict(self.initial)
                if mtime is not None:
                    try:
                        with open(self.control, encoding="utf-8") as handle:
                            data = json.load(handle)
                        values.update({k: data[k] for k in self.KEYS if k in data})
                    except (OSError, ValueError):
                        return self.values  # half-written file: retry at the next check
                self.mtime = mtime
                self.values = values
            return self.values


class CommandLog:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.handle = open(path, "a", encoding="utf-8") if path else None

    def write(self, session, mode, command, fault=None):
        if self.handle is None:
            return
        record = {"ts": time.time(), "session": session, "mode": mode, "command": command}
        if fault:
            record["fault"] = fault
        with self.lock:
            self.handle.write(json.dumps(record) + "\n")
            self.handle.flush()


class SshServer(paramiko.ServerInterface):
    def __init__(self, options, faults):
        self.options = options
        self.faults = faults
        self.shell = threading.Event()

    def get_allowed_auths(self, username):
        return "password"

    def check_auth_none(self, username):
        return paramiko.AUTH_FAILED

    def check_auth_password(self, username, password):
        if self.faults.refresh().get("reject_login"):
            return paramiko.AUTH_FAILED
        if username == self.options.username and password == self.options.password:
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def check_channel_request(self, kind, chanid):
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_pty_request(self, channel, term, width, height, pixelwidth, pixelheight, modes):
        return True

    def check_channel_window_change_request(self, channel, width, height, pixelwidth, pixelheight):
        return True

    def check_channel_shell_request(self, channel):
        self.shell.set()
        return True


def crlf(text):
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


class CliSession:
    """One shell channel: reads lines, runs them on the device, applies the faults."""

    def __init__(self, app, channel, sid):
        self.app = app
        self.channel = channel
        self.state = Session(sid, enabled=app.options.start_enabled)
        self.state.pager = app.device.pager_lines()
        self.config_count = 0

    def send(self, text):
        self.channel.sendall(crlf(text).encode("utf-8", "replace"))

    def run(self):
        device = self.app.device
        self.send(BANNER + device.prompt(self.state))
        pending = ""
        last = ""
        while not self.app.stopping.is_set():
            data = self.channel.recv(4096)
            if not data:
                return
            for ch in data.decode("utf-8", "replace"):
                if ch == "\n" and last == "\r":
                    last = ch
                    continue
                last = ch
                if ch in "\r\n" or ch == "\x1a":
                    line = pending + ("\x1a" if ch == "\x1a" else "")
                    pending = ""
                    if not self.handle(line):
                        return
                elif ch in "\x7f\x08":
                    pending = pending[:-1]
                elif ch == "\x03":
                    pending = ""
                elif ch >= " " or ch == "\t":
                    pending += ch

    def handle(self, line):
        """Run one line; False when the session must end."""
        app, state = self.app, self.state
        faults = app.faults.refresh()
        secret = state.awaiting_password
        mode = state.mode
        command = line.replace("\x1a", "").strip()
        echo = ("*" * len(line) if secret else line.replace("\x1a", "^Z")) + "\n"
        if faults.get("delay_ms"):
            time.sleep(faults["delay_ms"] / 1000.0)
        if secret:
            app.log.write(state.id, mode, "<password>")
        elif is_config_command(mode, command) and faults.get("drop_after") is not None \
                and self.config_count >= faults["drop_after"]:
            app.log.write(state.id, mode, command, fault="drop")
            self.channel.close()
            return False
        else:
            fail = faults.get("fail")
            if command and fail and re.search(fail, command):
                app.log.write(state.id, mode, command, fault="fail")
                caret = " " * len(app.device.prompt(state)) + "^\n"
                self.send(echo + caret + "ERROR: % Invalid input detected at '^' marker.\n"
                          + app.device.prompt(state))
                return True
            app.log.write(state.id, mode, command)
            if is_config_command(mode, command):
                self.config_count += 1
        reply = app.device.execute(state, line)
        text = reply.text
        if reply.prompt and text and not text.endswith("\n"):
            text += "\n"
        if reply.close:
            self.send(echo + text)
            self.channel.close()
            return False
        if reply.prompt:
            return self.page(echo, text, app.device.prompt(state))
        self.send(echo + text)
        return True

    def page(self, echo, text, prompt):
        """Send TEXT and the prompt, pausing at `<--- More --->` when the pager is on."""
        lines = text.split("\n")
        pager = self.state.pager
        if pager <= 0 or len(lines) <= pager:
            self.send(echo + text + prompt)
            return True
        head, rest = lines[:pager - 1], lines[pager - 1:]
        self.send(echo + "\n".join(head) + "\n" + MORE)
        while rest:
            key = self.channel.recv(1)
            if not key:
                return False
            erase = "\r" + " " * len(MORE) + "\r"
            if key in (b"q", b"Q", b"\x03"):
                self.send(erase + prompt)
                return True
            count = 1 if key in (b"\r", b"\n") else pager - 1
            chunk, rest = rest[:count], rest[count:]
            if rest and rest != [""]:
                self.send(erase + "\n".join(chunk) + "\n" + MORE)
            else:
                self.send(erase + "\n".join(chunk + rest) + prompt)
                return True
        self.send(prompt)
        return True


class App:
    def __init__(self, options):
        self.options = options
        text = ""
        if options.config:
            with open(options.config, encoding="utf-8") as handle:
                text = handle.read()
        self.device = Device(text, hostname=options.hostname,
                             last_ace_drops_binding=options.last_ace_drops_binding)
        self.device.set_enable_password(options.enable_password)
        self.faults = Faults({"drop_after": options.fault_drop_after, "fail": options.fault_fail,
                              "delay_ms": options.fault_delay_ms,
                              "reject_login": options.fault_reject_login}, options.control)
        self.log = CommandLog(options.log)
        self.host_key = paramiko.ECDSAKey.generate()
        self.stopping = threading.Event()
        self.transports = set()
        self.lock = threading.Lock()
        self.next_id = 0

    def serve(self, sock):
        sock.settimeout(0.2)
        while not self.stopping.is_set():
            try:
                conn, _ = sock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            threading.Thread(target=self.connection, args=(conn,), daemon=True).start()

    def connection(self, conn):
        transport = paramiko.Transport(conn)
        with self.lock:
            self.transports.add(transport)
        try:
            transport.add_server_key(self.host_key)
            server = SshServer(self.options, self.faults)
            transport.start_server(server=server)
            channel = transport.accept(30)
            if channel is None or not server.shell.wait(30):
                return
            with self.lock:
                self.next_id += 1
                sid = self.next_id
            CliSession(self, channel, sid).run()
        except (paramiko.SSHException, EOFError, OSError):
            pass
        finally:
            transport.close()
            with self.lock:
                self.transports.discard(transport)

    def stop(self):
        self.stopping.set()
        with self.lock:
            transports = list(self.transports)
        for transport in transports:
            transport.close()


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="hes-lab asa", description="Cisco ASA CLI emulator over SSH")
    parser.add_argument("--config", help="saved ASA running-config to boot from")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--hostname", help="hostname (default: the config's, else ciscoasa)")
    parser.add_argument("--username", default="admin")
    # Passwords come from the environment (HES_LAB_PASSWORD, HES_LAB_ENABLE_PASSWORD), where `ps`
    # does not show them; the options remain for a quick try by hand.
    parser.add_argument("--password", default=os.environ.get("HES_LAB_PASSWORD", "admin"))
    parser.add_argument("--enable-password", default=os.environ.get("HES_LAB_ENABLE_PASSWORD", "enablepw"))
    parser.add_argument("--log", help="JSON-lines log of every command received")
    parser.add_argument("--control", help="JSON file with fault settings, re-read when it changes")
    parser.add_argument("--fault-drop-after", type=int, default=None,
                        help="close a session when it sends configuration command N+1")
    parser.add_argument("--fault-fail", default=None, help="refuse commands matching this regex")
    parser.add_argument("--fault-delay-ms", type=int, default=0, help="delay every answer")
    parser.add_argument("--fault-reject-login", action="store_true", help="refuse every login")
    parser.add_argument("--start-enabled", action="store_true",
                        help="land in privileged EXEC (#) at login, like auto-enable")
    parser.add_argument("--last-ace-drops-binding", dest="last_ace_drops_binding",
                        action=argparse.BooleanOptionalAction, default=True,
                        help="removing an ACL's last entry also removes its access-group")
    return parser.parse_args(argv)


def main(argv=None):
    options = parse_args(sys.argv[1:] if argv is None else argv)
    logging.getLogger("paramiko").addHandler(logging.NullHandler())
    logging.getLogger("paramiko").propagate = False
    app = App(options)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", options.port))
    sock.listen(64)

    def on_signal(signum, frame):
        app.stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # capped: a caller that never reads stderr must not block the server on a full pipe
    for line in app.device.unparsed[:20]:
        print(f"hes-lab asa: kept verbatim, never matched by packet-tracer: {line}",
              file=sys.stderr, flush=True)
    if len(app.device.unparsed) > 20:
        print(f"hes-lab asa: … and {len(app.device.unparsed) - 20} more", file=sys.stderr, flush=True)
    print(f"READY {sock.getsockname()[1]}", flush=True)
    try:
        app.serve(sock)
    finally:
        sock.close()
        app.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
