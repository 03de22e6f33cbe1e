# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backup files on the controller: written before a change, read for a rollback.

The action ``emailsec.hes.hes_backup`` and the actions that back up inside their own task
(``emailsec.hes.asa_hes``) call these, so that there is one envelope and one name scheme
(``module_utils/hes_backup.py``) and one way to write and to find a backup.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os

from ansible_collections.emailsec.hes.plugins.module_utils.hes_backup import (
    BackupError,
    backup_name,
    check_envelope,
    envelope,
    newest,
    safe_host,
)
from ansible_collections.emailsec.hes.plugins.plugin_utils.files import check_path, private_directory, write_private


def backup_path(directory, host, vendor, now=None):
    """The file a backup written now would go to, and the time it records."""
    check_path(directory, "directory")
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return os.path.join(directory, backup_name(host, vendor, now.strftime("%Y%m%dT%H%M%S%fZ"))), now


def write_backup(directory, host, vendor, device, plan, restore):
    """Write a backup (directory 0700, file 0600, atomically); returns its path."""
    path, now = backup_path(directory, host, vendor)
    private_directory(directory)
    data = envelope(host, vendor, device, plan, restore, now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    write_private(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path


def read_backup(directory, host, vendor, device=None, path=None):
    """The newest backup of this host and vendor in ``directory`` (or ``path``), checked:
    ``(path, envelope)``. Raises BackupError naming what is wrong."""
    if path:
        check_path(path, "file")
    else:
        check_path(directory, "directory")
        names = os.listdir(directory) if os.path.isdir(directory) else []
        name = newest(names, host, vendor)
        if name is None:
            raise BackupError("no %s backup of host %s in %s (expected %s.%s.<UTC time>.json)"
                              % (vendor, host, directory, safe_host(host), vendor))
        path = os.path.join(directory, name)
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except ValueError as exc:
        raise BackupError("%s is not JSON: %s" % (path, exc))
    check_envelope(data, host, vendor, device, origin=path)
    return path, data
