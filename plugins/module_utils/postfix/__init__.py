# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Postfix: the HES ranges in the mail server's DNSBL approved list.

Pure logic, one concern per file; nothing here runs a command (``host.py`` is the one exception:
the thin layer the modules use to run ``postconf``, ``postmap`` and ``postfix``):

* ``parse``   - what ``postconf -n``, ``postconf -x NAME...`` and ``postconf -M`` print, and
  Postfix's own list syntax (separators, ``{...}`` groups, restrictions that take an argument);
* ``formats`` - the one allowed list rendered for Postfix (cidr table) and for Exim, rspamd,
  SpamAssassin and Sendmail (the ``emailsec.hes`` MTA filters);
* ``plan``    - where the DNSBL checks are, the ``main.cf`` edits that exempt the ranges from them,
  the table contents, the restoration of a backup;
* ``relay``   - the relay-safety check: would a client in a HES range be able to relay mail to any
  domain (every Trend customer shares those relays);
* ``verify``  - what to ask ``postmap -q`` and how to judge the answers and the positions.

Names shared by all of them live here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

POSTSCREEN_TABLE = "tm_hes_postscreen.cidr"
SMTPD_TABLE = "tm_hes_smtpd.cidr"
# postscreen accepts only permit, reject and dunno; anything else (OK) is ignored with a warning
# and allowlists nothing.
POSTSCREEN_ACTION = "permit"
# Trend's relays are shared by all its customers: the smtpd action may only permit mail to this
# server's own domains, never relaying (OK or permit before reject_unauth_destination would).
SMTPD_ACTION = "permit_auth_destination"
DEFAULT_CONFIG_DIR = "/etc/postfix"

# Characters a config directory may have: the path goes into main.cf lists, where whitespace,
# commas and braces are syntax.
_CONFIG_DIR_RE = re.compile(r"/[A-Za-z0-9._/+@-]*")


class PostfixError(ValueError):
    """Input the Postfix logic cannot work with; the message names the value."""


def config_dir_path(config_dir):
    """The validated, normalised config directory (absolute, no trailing slash)."""
    text = str(config_dir or "")
    if not _CONFIG_DIR_RE.fullmatch(text) or "/../" in text + "/":
        raise PostfixError(
            "config_dir %r: expected an absolute path of letters, digits and . _ / + @ - only "
            "(it is written into main.cf lists, where spaces, commas and braces are syntax)" % (config_dir,))
    return os.path.normpath(text)


def table_paths(config_dir):
    """{"postscreen": path, "smtpd": path} of our two tables in ``config_dir``."""
    directory = config_dir_path(config_dir)
    return {"postscreen": os.path.join(directory, POSTSCREEN_TABLE), "smtpd": os.path.join(directory, SMTPD_TABLE)}


TABLE_ACTIONS = {"postscreen": POSTSCREEN_ACTION, "smtpd": SMTPD_ACTION}
