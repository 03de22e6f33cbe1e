# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ASA CLI conversation on an interactive SSH channel, for the connection plugin
``emailsec.hes.asa_cli``: log in, ``enable``, ``no terminal pager``, then one command at a time.

It says what ``ansible.netcommon.network_cli`` with the ``cisco.asa`` terminal and cliconf plugins
says (the same commands, the same error patterns, answers cleaned the same way), with one
difference: an answer is complete when the channel ends with this device's own prompt (the
hostname seen at login, an optional mode in brackets, ``>`` or ``#``), so nothing waits after it.
network_cli matches any prompt-like text and then waits ``persistent_buffer_read_timeout`` (0.1 s)
for more output, in case the match was inside the answer; an answer ending in this device's exact
prompt line cannot be one that continues.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import socket
import time

PASSWORD_PROMPT = re.compile(rb"[\r\n]?[Pp]assword: $")
ANY_PROMPT = re.compile(rb"(?:^|[\r\n])([\w+\-.:/\[\]]+)(?:\([^)\r\n]*\))?[>#] ?$")
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
CHUNK = 65536
LINE_MAX = 4096


def error_patterns():
    """cisco.asa's own patterns, so that a command fails here exactly when it fails over
    network_cli (imported when first needed: cisco.asa is a dependency of the roles, not of
    this file)."""
    from ansible_collections.cisco.asa.plugins.terminal.asa import TerminalModule

    return TerminalModule.terminal_stderr_re


def _last_line(text):
    return text[text.rfind(b"\n") + 1:]


class AsaCliError(Exception):
    """The device refused a command, or the session failed; the message says which and why."""


class AsaShell(object):
    """One interactive session. ``channel`` is a paramiko Channel from ``invoke_shell``."""

    def __init__(self, channel, command_timeout=30):
        self.channel = channel
        self.command_timeout = command_timeout
        self.prompt_re = None
        self.prompt = b""

    # ------------------------------------------------------------------ session
    def open(self, become=False, become_pass=None):
        """Read the login prompt, learn the hostname, ``enable`` when asked and disable paging."""
        text = self._read_until(ANY_PROMPT.search, "the login prompt")
        base = ANY_PROMPT.search(_last_line(text)).group(1)
        self.prompt_re = re.compile(rb"(?:^|[\r\n])(%s(?:\([^)\r\n]*\))?[>#]) ?$" % re.escape(base))
        self.prompt = self.prompt_re.search(_last_line(text)).group(1)
        if become and self.prompt.endswith(b">"):
            self._enable(become_pass)
        if self.prompt.endswith(b"#"):
            try:
                self.send("no terminal pager")
            except AsaCliError:
                raise AsaCliError("unable to disable terminal pager")
        return self

    def _enable(self, password):
        self.channel.sendall(b"enable\r")
        text = self._read_until(lambda buf: PASSWORD_PROMPT.search(buf) or self.prompt_re.search(buf),
                                "enable")
        if PASSWORD_PROMPT.search(_last_line(text)):
            self.channel.sendall(b"%s\r" % (password or "").encode("utf-8"))
            text = self._read_until(lambda buf: PASSWORD_PROMPT.search(buf) or self.prompt_re.search(buf),
                                    "the enable password")
        match = self.prompt_re.search(_last_line(text))
        if not match or not match.group(1).endswith(b"#"):
            raise AsaCliError("unable to elevate privilege to enable mode")
        self.prompt = match.group(1)

    def close(self):
        try:
            self.channel.close()
        except (OSError, EOFError):
            pass

    # ------------------------------------------------------------------ commands
    def send(self, command):
        """Send one command; its answer (echo and prompt removed), or AsaCliError with the
        device's error text."""
        if "\n" in command or "\r" in command:
            raise AsaCliError("command %r spans lines" % command)
        try:
            self.channel.sendall(command.encode("utf-8") + b"\r")
        except (OSError, EOFError) as exc:
            raise AsaCliError("the session closed while sending %r: %s" % (command, exc))
        text = self._read_until(self.prompt_re.search, command)
        self.prompt = self.prompt_re.search(_last_line(text)).group(1)
        for pattern in error_patterns():
            if pattern.search(text):
                raise AsaCliError(self._sanitize(text, command) or "%r was refused" % command)
        return self._sanitize(text, command)

    def get(self, command):
        return self.send(command)

    def run_commands(self, commands, check_rc=True):
        answers = []
        for command in commands:
            try:
                answers.append(self.send(command))
            except AsaCliError as exc:
                if check_rc:
                    raise
                answers.append(str(exc))
        return answers

    def edit_config(self, candidate):
        """``configure terminal``, the lines in order, ``end``: stops at the first line the device
        refuses (after leaving configuration mode) and raises with its error."""
        self.send("configure terminal")
        try:
            for line in candidate:
                self.send(line)
        except AsaCliError:
            try:
                self.send("end")
            except AsaCliError:
                pass
            raise
        self.send("end")

    # ------------------------------------------------------------------ reading
    def _read_until(self, done, what):
        """Read until ``done(the last line so far)``; the whole text read, ANSI codes removed."""
        deadline = time.monotonic() + self.command_timeout
        chunks = []
        line = b""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AsaCliError("timeout (%s s) waiting for the prompt after %s" % (self.command_timeout, what))
            self.channel.settimeout(remaining)
            try:
                data = self.channel.recv(CHUNK)
            except socket.timeout:
                raise AsaCliError("timeout (%s s) waiting for the prompt after %s" % (self.command_timeout, what))
            except (OSError, EOFError) as exc:
                raise AsaCliError("the session closed during %s: %s" % (what, exc))
            if not data:
                raise AsaCliError("the device closed the session during %s" % what)
            chunks.append(data)
            line = _last_line(line + data)[-LINE_MAX:]
            if done(ANSI.sub(b"", line)):
                return ANSI.sub(b"", b"".join(chunks))

    def _sanitize(self, text, command):
        """As network_cli: no echo of the command, no line holding the prompt, stripped."""
        prompt = self.prompt.strip()
        lines = [line for line in text.splitlines()
                 if line.strip() != command.encode("utf-8").strip() and prompt not in line]
        return b"\n".join(lines).strip().decode("utf-8", "replace")
