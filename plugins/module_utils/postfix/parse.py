# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What postconf prints, and Postfix's list syntax.

``read_config(main_cf, effective, master, config_dir)`` builds the one model every other file
works on, from three outputs:

* ``postconf -c DIR -n`` (``main_cf``): the parameters main.cf sets, raw (``$name`` unexpanded),
  one line each even when main.cf continues a value over several lines;
* ``postconf -c DIR -x NAME...`` (``effective``) for ``EFFECTIVE_PARAMETERS``: the values Postfix
  uses, defaults and compatibility-level expressions evaluated;
* ``postconf -c DIR -M`` (``master``): the master.cf services, one line each with their ``-o``
  overrides.

Lists are split the way Postfix splits them: separators are whitespace and commas, and a
``{...}`` group (inline tables, ``-o { name = value }``) is one token.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.emailsec.hes.plugins.module_utils.postfix import PostfixError, config_dir_path

SMTPD_LISTS = (
    "smtpd_client_restrictions",
    "smtpd_helo_restrictions",
    "smtpd_sender_restrictions",
    "smtpd_relay_restrictions",
    "smtpd_recipient_restrictions",
    "smtpd_data_restrictions",
    "smtpd_end_of_data_restrictions",
)
EFFECTIVE_PARAMETERS = (
    "mail_version",
    "compatibility_level",
    "postscreen_access_list",
    "postscreen_dnsbl_sites",
    "postscreen_dnsbl_action",
    "mynetworks",
    "smtpd_delay_reject",
    "smtpd_restriction_classes",
) + SMTPD_LISTS

_PARAMETER_LINE = re.compile(r"([A-Za-z0-9_.-]+) =(?: (.*))?")
_LIST_SEPARATORS = " \t\r\n,"
_WORD_SEPARATORS = " \t\r\n"
# Restrictions whose next token is their argument (a table, a DNSBL domain, a policy server).
_TAKES_ARGUMENT = re.compile(
    r"check_[a-z_]+_access|check_policy_service|reject_rbl_client|reject_rhsbl_[a-z_]+"
    r"|permit_dnswl_client|permit_rhswl_client")


def parse_parameters(text, origin="postconf"):
    """``name = value`` lines -> {name: value}."""
    values = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        match = _PARAMETER_LINE.fullmatch(line.rstrip())
        if not match:
            raise PostfixError("%s printed a line that is not 'name = value': %r" % (origin, line))
        values[match.group(1)] = (match.group(2) or "").strip()
    return values


def _split(text, separators):
    tokens = []
    index, length = 0, len(text)
    while index < length:
        if text[index] in separators:
            index += 1
            continue
        start, depth = index, 0
        while index < length:
            char = text[index]
            if char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
                if depth < 0:
                    raise PostfixError("unbalanced '}' at offset %d of %r" % (index, text))
            elif depth == 0 and char in separators:
                break
            index += 1
        if depth:
            raise PostfixError("unbalanced '{' in %r" % (text,))
        tokens.append((text[start:index], start, index))
    return tokens


def split_list(value):
    """A Postfix list -> [(token, start, end)]: whitespace and commas separate, {...} groups."""
    return _split(value, _LIST_SEPARATORS)


def restriction_items(value):
    """A restriction list -> [{"name", "arg", "start", "end", "text"}], an item per restriction
    with its argument (``reject_rbl_client zen.example``) as one item."""
    tokens = split_list(value)
    items = []
    index = 0
    while index < len(tokens):
        name, start, end = tokens[index]
        arg = None
        if _TAKES_ARGUMENT.fullmatch(name) and index + 1 < len(tokens):
            arg, unused_start, end = tokens[index + 1]
            index += 1
        items.append({"name": name, "arg": arg, "start": start, "end": end, "text": value[start:end]})
        index += 1
    return items


def _service_overrides(args):
    """``-o name=value`` and ``-o { name = value }`` of a master.cf service -> {name: value}."""
    words = [word for word, unused_start, unused_end in _split(args, _WORD_SEPARATORS)]
    overrides = {}
    for index, word in enumerate(words):
        if word != "-o" or index + 1 >= len(words):
            continue
        option = words[index + 1]
        if option.startswith("{") and option.endswith("}"):
            option = option[1:-1]
        name, sep, value = option.partition("=")
        if sep:
            overrides[name.strip()] = value.strip()
    return overrides


def parse_master(text):
    """``postconf -M`` -> [{"service", "type", "chroot", "command", "overrides", "text"}]."""
    services = []
    for line in text.splitlines():
        words = line.split(None, 7)
        if not words:
            continue
        if len(words) < 8:
            raise PostfixError("postconf -M printed a line with fewer than 8 fields: %r" % line)
        command, unused_sep, args = words[7].partition(" ")
        services.append({
            "service": words[0],
            "type": words[1],
            "chroot": words[4],
            "command": command,
            "overrides": _service_overrides(args),
            "text": " ".join(line.split()),
        })
    return services


def read_config(main_cf, effective, master, config_dir):
    """The model of one Postfix instance (see the module docstring for the three inputs)."""
    model = {
        "config_dir": config_dir_path(config_dir),
        "main_cf": parse_parameters(main_cf, "postconf -n"),
        "effective": parse_parameters(effective, "postconf -x"),
        "services": parse_master(master),
    }
    # postconf -c adds config_directory to -n; main.cf does not set it.
    model["main_cf"].pop("config_directory", None)
    missing = [name for name in EFFECTIVE_PARAMETERS if name not in model["effective"]]
    if missing:
        raise PostfixError("postconf -x did not print %s (a Postfix older than 2.10?)" % ", ".join(missing))
    return model
