# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files the collection writes on the controller (backups, reports): private, whole, where asked.

Directories are created 0700 and files written 0600 (firewall configurations and reports say how
a network is protected), atomically (a reader never sees half a file). Paths with control
characters are refused before anything is created.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import tempfile

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_path(path, option):
    if not isinstance(path, str) or not path or _CONTROL.search(path):
        raise ValueError("%s: %r is not a usable path (empty, or with control characters)" % (option, path))
    return path


def private_directory(path):
    """Create ``path`` (and its parents) 0700 when missing; an existing one is left as it is."""
    if not os.path.isdir(path):
        os.makedirs(path, mode=0o700)
        os.chmod(path, 0o700)
    return path


def write_private(path, text):
    """Write ``text`` to ``path`` atomically with mode 0600."""
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".tmp-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return path


def default_state_dir(environ):
    """The collection's state directory: ``$EMAILSEC_HES_STATE_DIR``, else
    ``$XDG_STATE_HOME/emailsec-hes``, else ``~/.local/state/emailsec-hes``, made absolute. Never
    derived from the playbook's location: an installed collection's folder is replaced on upgrade."""
    chosen = environ.get("EMAILSEC_HES_STATE_DIR")
    if chosen:
        return os.path.abspath(check_path(os.path.expanduser(chosen), "EMAILSEC_HES_STATE_DIR"))
    base = environ.get("XDG_STATE_HOME")
    if base:
        base = check_path(os.path.expanduser(base), "XDG_STATE_HOME")
    else:
        home = environ.get("HOME") or os.path.expanduser("~")
        base = os.path.join(check_path(home, "HOME"), ".local", "state")
    return os.path.abspath(os.path.join(base, "emailsec-hes"))
