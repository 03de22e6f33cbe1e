# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files of a pfSense box that the modules read, under ``root`` (``/`` on a firewall, a
``hes-lab pfsense`` directory in the lab): config.xml, and the run-time tables the model resolves
(bogons, urltable files)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.emailsec.hes.plugins.module_utils.pfsense.parse import as_list, get_path

CONFIG = "cf/conf/config.xml"
PHP = "usr/local/bin/php"
PFCTL = "sbin/pfctl"
TABLE_FILES = (("bogons", "etc/bogons"), ("bogonsv6", "etc/bogonsv6"))
MAX_TABLE_BYTES = 64 * 1024 * 1024


def box_path(root, relative):
    return os.path.join(root, relative)


def read_bytes(module, path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (IOError, OSError) as exc:
        module.fail_json(msg="cannot read %s: %s" % (path, exc))


def read_table(path):
    """The networks of a pf table file (one per line, '#' comments), or None when unreadable."""
    try:
        if os.path.getsize(path) > MAX_TABLE_BYTES:
            return None
        with open(path, "r") as handle:
            return [line.split("#")[0].strip() for line in handle if line.split("#")[0].strip()]
    except (IOError, OSError, UnicodeError):
        return None


def read_tables(root, config):
    """The run-time tables the model resolves: bogons, and the file of every urltable alias."""
    tables = {}
    for name, relative in TABLE_FILES:
        rows = read_table(box_path(root, relative))
        if rows is not None:
            tables[name] = rows
    for alias in as_list(get_path(config, "aliases/alias")):
        if isinstance(alias, dict) and alias.get("type") == "urltable" and \
                re.fullmatch(r"[A-Za-z0-9_]{1,31}", alias.get("name") or ""):
            rows = read_table(box_path(root, "var/db/aliastables/%s.txt" % alias["name"]))
            if rows is not None:
                tables["urltable:%s" % alias["name"]] = rows
    return tables
