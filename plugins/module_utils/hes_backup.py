# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One backup envelope for every vendor, and the names of the files the collection writes.

A backup is a JSON file ``<host>.<vendor>.<UTC time>.json`` in the backup directory::

    {"format": "emailsec.hes/backup/1", "host": "fw1", "vendor": "asa",
     "device": {"hostname": "edge-fw", "serial": "9A1B2C3D"},      # what the device said it was
     "written": "2026-11-30T12:00:00.123456Z",
     "plan": {"commands": [...], "differential": "verdict changes: ..."},   # what was sent
     "restore": {...}}                                          # the vendor's own restore data

Pure: the action plugin ``emailsec.hes.hes_backup`` does the file work. A host name becomes a
file name only through ``safe_host``: anything but letters, digits, ``-`` and ``_`` is replaced
and a short hash of the real name keeps two hosts apart, so ``../../x`` cannot leave the
directory and ``fw1`` never matches ``fw1-dr``'s files (the name pattern is exact).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import re

FORMAT = "emailsec.hes/backup/1"
VENDORS = ("asa", "panos", "nftables", "pfsense", "postfix")
_TIME = r"[0-9]{8}T[0-9]{12}Z"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class BackupError(ValueError):
    """A backup that must not be used; the message says why, naming the file or value."""


def safe_host(host):
    """A file-name part for an inventory host name: itself when it is plain, else the plain
    characters and an 8-hex-digit hash of the real name (``../../x`` -> ``x-3f2a9c1d``)."""
    if not isinstance(host, str) or not host:
        raise BackupError("host name %r is empty or not a string" % (host,))
    cleaned = _UNSAFE.sub("_", host).strip("_") or "host"
    if cleaned == host and len(host) <= 100:
        return host
    return "%s-%s" % (cleaned[:80], hashlib.sha256(host.encode("utf-8", "surrogatepass")).hexdigest()[:8])


def backup_name(host, vendor, stamp):
    """``fw1.asa.20261130T120000123456Z.json``; ``stamp`` is ``%Y%m%dT%H%M%S%fZ`` in UTC."""
    if vendor not in VENDORS:
        raise BackupError("vendor %r is not one of %s" % (vendor, ", ".join(VENDORS)))
    if not isinstance(stamp, str) or not re.fullmatch(_TIME, stamp):
        raise BackupError("time stamp %r is not YYYYMMDDTHHMMSSffffffZ" % (stamp,))
    return "%s.%s.%s.json" % (safe_host(host), vendor, stamp)


def name_pattern(host, vendor):
    """The exact pattern of this host's and vendor's backup file names."""
    return re.compile(r"%s\.%s\.%s\.json" % (re.escape(safe_host(host)), re.escape(vendor), _TIME))


def newest(names, host, vendor):
    """The newest of ``names`` (file names) that is this host's backup for this vendor, or None."""
    pattern = name_pattern(host, vendor)
    mine = sorted(name for name in names if pattern.fullmatch(name))
    return mine[-1] if mine else None


def envelope(host, vendor, device, plan, restore, written):
    return {"format": FORMAT, "host": host, "vendor": vendor, "device": dict(device or {}),
            "written": written, "plan": dict(plan or {}), "restore": restore}


def check_envelope(data, host, vendor, device=None, origin="backup"):
    """The restore data of a backup, after checking that it is ours, this host's and this
    vendor's, and (when ``device`` is given) written on the same device: every identity field
    both sides know must agree. Raises BackupError naming what is wrong."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BackupError("%s: not an emailsec.hes backup (format %r, expected %s)"
                          % (origin, data.get("format") if isinstance(data, dict) else type(data).__name__, FORMAT))
    if data.get("host") != host:
        raise BackupError("%s: written for host %r, not %r; refusing to restore another host's backup"
                          % (origin, data.get("host"), host))
    if data.get("vendor") != vendor:
        raise BackupError("%s: a %s backup, not %s" % (origin, data.get("vendor"), vendor))
    saved = data.get("device") or {}
    if not isinstance(saved, dict):
        raise BackupError("%s: device identity is malformed" % origin)
    for key, value in sorted((device or {}).items()):
        if value and saved.get(key) and saved[key] != value:
            raise BackupError("%s: written on a device whose %s was %r; this one's is %r: refusing"
                              % (origin, key, saved[key], value))
    if "restore" not in data:
        raise BackupError("%s: no restore data" % origin)
    return data["restore"]
