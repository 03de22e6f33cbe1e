# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The commands of one Postfix instance, for the modules that run on the mail host.

Everything is run with ``-c <config_dir>`` and an argument vector (no shell). The decisions are
made by the pure files of this package; this only reads and writes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import pty
import select
import shlex
import subprocess
import tempfile
import time

from ansible_collections.emailsec.hes.plugins.module_utils.postfix import config_dir_path, table_paths
from ansible_collections.emailsec.hes.plugins.module_utils.postfix.parse import EFFECTIVE_PARAMETERS, read_config

BINARIES = ("postconf", "postmap", "postfix")
SEARCH_DIRS = ["/usr/sbin", "/usr/local/sbin", "/opt/postfix/sbin"]


def read_text(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError) as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise


def write_atomic(module, path, text, mode=0o644):
    """Readers (a reloading smtpd, postscreen) see the old file or the new one, never half."""
    directory = os.path.dirname(path)
    creating = not os.path.exists(path)
    handle, temporary = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        module.atomic_move(temporary, path)
        if creating:
            # atomic_move gives a new file the umask's mode; an existing one keeps its own.
            os.chmod(path, mode)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


class PostfixHost(object):
    """Runs postconf, postmap and postfix for one config directory; ``commands`` lists what wrote."""

    def __init__(self, module, config_dir, command_directory=None):
        self.module = module
        self.config_dir = config_dir_path(config_dir)
        self.binaries = dict((name, self._find(name, command_directory)) for name in BINARIES)
        self.commands = []

    def _find(self, name, command_directory):
        if command_directory:
            path = os.path.join(command_directory, name)
            if os.path.isfile(path) and os.access(path, os.X_OK):
                return path
            self.module.fail_json(msg="%s is not an executable file (command_directory %s)" % (path, command_directory))
        path = self.module.get_bin_path(name, required=False, opt_dirs=SEARCH_DIRS)
        if not path:
            self.module.fail_json(msg="%s was not found in PATH or %s: install Postfix, or set command_directory"
                                  % (name, ", ".join(SEARCH_DIRS)))
        return path

    def _record(self, name, args):
        self.commands.append(" ".join(shlex.quote(word) for word in [name, "-c", self.config_dir] + list(args)))

    def postconf(self, *args, **kwargs):
        """Run postconf; ``writes=True`` records it in ``commands``. Fails the module on error."""
        argv = [self.binaries["postconf"], "-c", self.config_dir] + list(args)
        if kwargs.get("writes"):
            self._record("postconf", args)
        rc, out, err = self.module.run_command(argv)
        if rc != 0:
            self.module.fail_json(msg="%s failed (rc %d): %s" % (" ".join(argv[:4]), rc, err.strip() or out.strip()),
                                  rc=rc, commands=self.commands)
        return out, err

    def read(self):
        """The model of ``parse.read_config`` and postconf's warnings (stderr lines)."""
        main_cf, warn_n = self.postconf("-n")
        effective, warn_x = self.postconf("-x", *EFFECTIVE_PARAMETERS)
        master, warn_m = self.postconf("-M")
        warnings = sorted(set(line.strip() for text in (warn_n, warn_x, warn_m) for line in text.splitlines() if line.strip()))
        return read_config(main_cf, effective, master, self.config_dir), warnings

    def main_cf_path(self):
        return os.path.join(self.config_dir, "main.cf")

    def tables(self):
        """{path: text or None} of our two tables."""
        return dict((path, read_text(path)) for path in table_paths(self.config_dir).values())

    def postmap_query(self, path, addresses):
        """``postmap -q - cidr:PATH`` for every address: ({address: answer}, error, warnings)."""
        argv = [self.binaries["postmap"], "-c", self.config_dir, "-q", "-", "cidr:" + path]
        rc, out, err = self.module.run_command(argv, data="\n".join(addresses))
        errors = [line.strip() for line in err.splitlines() if "fatal:" in line]
        warnings = [line.strip() for line in err.splitlines() if "warning:" in line]
        answers = {}
        for line in out.splitlines():
            key, unused_sep, value = line.partition("\t")
            answers[key.strip()] = value.strip()
        error = "; ".join(errors) if errors else (None if rc in (0, 1) else "postmap exited with %d" % rc)
        return answers, error, warnings

    def postfix(self, *args, **kwargs):
        """``postfix -c DIR ARGS``: (rc, its messages); recorded in ``commands`` unless
        ``writes=False``. postfix(1) writes its diagnostics to syslog, and to stderr only when
        stderr is a terminal, so it gets a pseudo-terminal."""
        argv = [self.binaries["postfix"], "-c", self.config_dir] + list(args)
        if kwargs.get("writes", True):
            self._record("postfix", args)
        master, slave = pty.openpty()
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, close_fds=True)
        except OSError as exc:
            os.close(master)
            os.close(slave)
            return 127, str(exc)
        os.close(slave)
        chunks = []
        deadline = time.monotonic() + 300
        try:
            while time.monotonic() < deadline:
                ready = select.select([master], [], [], 1.0)[0]
                if not ready:
                    if proc.poll() is not None:
                        break
                    continue
                try:
                    data = os.read(master, 4096)
                except OSError:
                    break
                if not data:
                    break
                chunks.append(data)
        finally:
            os.close(master)
        try:
            rc = proc.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        text = b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n").strip()
        return rc, text

    def running(self):
        """Whether this instance's master daemon runs (``postfix status``; not a write)."""
        return self.postfix("status", writes=False)[0] == 0
