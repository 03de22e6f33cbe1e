# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where Postfix checks DNSBLs, and the main.cf edits and tables that exempt the HES ranges.

``detect(model)`` reports what is there (``model`` from ``parse.read_config``):

* postscreen: in front when an ``inet`` service of master.cf runs ``postscreen``; it checks DNSBLs
  when ``postscreen_dnsbl_sites`` is not empty;
* smtpd: every ``smtpd_*_restrictions`` list with a check of the client's reputation
  (``CLIENT_DNSBL``, or a restriction class holding one); checks of the sender's, HELO's or
  recipient's domain (``MESSAGE_DNSBL``) judge the message, not the relay, and are only reported.

``plan(model, ranges, tables, state)`` returns the one plan shape::

    {"state", "findings", "edits": [{"parameter", "before", "after"}],   # None: not in main.cf
     "tables": [{"name", "path", "action", "before", "after", "changed"}],  # None: no file
     "commands", "changed", "messages", "warnings", "errors", "relay"}

Placement, and nothing else in main.cf changes:

* ``postscreen_access_list``: ``cidr:DIR/tm_hes_postscreen.cidr`` right after ``permit_mynetworks``
  (first when there is none); the table answers ``permit`` (postscreen knows no other allow);
* each list with a client DNSBL check: ``check_client_access cidr:DIR/tm_hes_smtpd.cidr``
  immediately before the first one (before its ``warn_if_reject``); the table answers
  ``permit_auth_destination``, which ends the list only for mail to this server's own domains.

Our references are first taken out wherever they are, then put where they belong, so a second
run finds nothing to do and ``state=absent`` removes exactly them (and ``postscreen_access_list``
again when only its default is left). ``errors`` are reasons not to apply anything: a DNSBL check
that main.cf reaches only through a ``$parameter``, or a configuration in which a client in a HES
range could relay (``relay.relay_check``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import RangeError, guard_restored
from ansible_collections.emailsec.hes.plugins.module_utils.postfix import (
    TABLE_ACTIONS,
    PostfixError,
    table_paths,
)
from ansible_collections.emailsec.hes.plugins.module_utils.postfix.formats import cidr_table, networks
from ansible_collections.emailsec.hes.plugins.module_utils.postfix.parse import (
    SMTPD_LISTS,
    restriction_items,
    split_list,
)
from ansible_collections.emailsec.hes.plugins.module_utils.postfix.relay import (
    RELAY_LISTS,
    open_relay_reason,
    relay_check,
)

# One line for postconf and for Python's splitlines() alike: no control character but the tab, no
# surrogate, no Unicode line or paragraph separator.
_ONE_LINE_RE = re.compile(r"[^\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]*")
# A Postfix macro: $$, $name, ${name}, $(name), ${name?text}, ${name:text}, ${name?{text}:{text}}.
_MACRO_RE = re.compile(r"\$(?:\$|[A-Za-z0-9_]+|\{[A-Za-z0-9_]+(?:[?:](?:[^${}]|\{[^${}]*\})*)?\}"
                       r"|\([A-Za-z0-9_]+(?:[?:][^$()]*)?\))")
CLIENT_DNSBL = ("reject_rbl_client", "reject_rhsbl_client", "reject_rhsbl_reverse_client")
MESSAGE_DNSBL = ("reject_rhsbl_sender", "reject_rhsbl_helo", "reject_rhsbl_recipient")
POSTSCREEN_LIST = "postscreen_access_list"
POSTSCREEN_DEFAULT = "permit_mynetworks"
EDITABLE = (POSTSCREEN_LIST,) + SMTPD_LISTS
# Lists evaluated before the recipient is known when smtpd_delay_reject = no.
_EARLY_LISTS = ("smtpd_client_restrictions", "smtpd_helo_restrictions", "smtpd_sender_restrictions")


def references(config_dir):
    """{"postscreen": "cidr:...", "smtpd": "cidr:..."}: how main.cf names our tables."""
    return dict((name, "cidr:" + path) for name, path in table_paths(config_dir).items())


def smtpd_item(config_dir):
    return "check_client_access " + references(config_dir)["smtpd"]


def restriction_classes(model):
    """{class name: its list} for the names in smtpd_restriction_classes."""
    names = [token for token, unused_start, unused_end in split_list(model["effective"]["smtpd_restriction_classes"])]
    return dict((name, model["main_cf"].get(name, "")) for name in names)


def _client_dnsbl(item, classes):
    if item["name"] in CLIENT_DNSBL:
        return True
    body = classes.get(item["name"])
    return body is not None and any(inner["name"] in CLIENT_DNSBL for inner in restriction_items(body))


def _separator(value):
    """The list's own separator: a space where it uses only spaces, else a comma."""
    return " " if "," not in value and len(split_list(value)) > 1 else ", "


def _remove(value, doomed):
    """``value`` without the items in ``doomed`` (and the separators that followed them)."""
    items = restriction_items(value)
    text = value
    for index in reversed([i for i, item in enumerate(items) if doomed(item)]):
        item = items[index]
        if index + 1 < len(items):
            text = text[:item["start"]] + text[items[index + 1]["start"]:]
        elif index > 0:
            text = text[:items[index - 1]["end"]] + text[item["end"]:]
        else:
            text = text[:item["start"]] + text[item["end"]:]
    return text.strip()


def postscreen_list(value, reference, wanted):
    """``postscreen_access_list`` with our table right after permit_mynetworks (or without it)."""
    text = _remove(value, lambda item: item["text"] == reference)
    if not wanted:
        return text
    items = restriction_items(text)
    anchor = next((item for item in items if item["name"] == POSTSCREEN_DEFAULT), None)
    if anchor is None:
        return reference + (_separator(text) + text if text else "")
    return text[:anchor["end"]] + _separator(text) + reference + text[anchor["end"]:]


def smtpd_list(value, reference, classes, wanted):
    """A restriction list with ``check_client_access <reference>`` immediately before its first
    client DNSBL check (or without it). A list without such a check gets nothing."""
    text = _remove(value, lambda item: item["name"] == "check_client_access" and item["arg"] == reference)
    if not wanted:
        return text
    items = restriction_items(text)
    position = next((i for i, item in enumerate(items) if _client_dnsbl(item, classes)), None)
    if position is None:
        return text
    if position > 0 and items[position - 1]["name"] == "warn_if_reject":
        position -= 1
    start = items[position]["start"]
    return text[:start] + "check_client_access " + reference + _separator(text) + text[start:]


def detect(model):
    """What the configuration holds (see the module docstring)."""
    effective = model["effective"]
    classes = restriction_classes(model)
    front = [s["text"] for s in model["services"] if s["type"] == "inet" and s["command"] == "postscreen"]
    sites = effective["postscreen_dnsbl_sites"]
    lists = []
    for name in SMTPD_LISTS:
        items = restriction_items(effective[name])
        client = [item["text"] for item in items if _client_dnsbl(item, classes)]
        message = [item["text"] for item in items if item["name"] in MESSAGE_DNSBL]
        if client or message:
            lists.append({"parameter": name, "client_dnsbl": client, "other_dnsbl": message})
    referenced = set(item["name"] for name in SMTPD_LISTS for item in restriction_items(effective[name]))
    hidden_classes = sorted(name for name, body in classes.items()
                            if name not in referenced and any(i["name"] in CLIENT_DNSBL for i in restriction_items(body)))
    overrides = []
    for service in model["services"]:
        for name, value in sorted(service["overrides"].items()):
            if name in EDITABLE and any(i["name"] in CLIENT_DNSBL for i in restriction_items(value)):
                overrides.append({"service": service["text"], "parameter": name, "value": value})
    return {
        "mail_version": effective["mail_version"],
        "compatibility_level": effective["compatibility_level"],
        "postscreen": {
            "in_front": bool(front),
            "services": front,
            "dnsbl_sites": sites,
            "dnsbl_action": effective["postscreen_dnsbl_action"],
            "access_list": effective[POSTSCREEN_LIST],
            "needs_exemption": bool(front and sites.strip()),
        },
        "smtpd": lists,
        "classes_with_dnsbl_not_in_a_list": hidden_classes,
        "master_overrides_with_dnsbl": overrides,
        "smtpd_delay_reject": effective["smtpd_delay_reject"],
    }


def _needs_smtpd(found):
    return [entry["parameter"] for entry in found["smtpd"] if entry["client_dnsbl"]]


def _table_plan(name, path, tables, referenced, ranges):
    after = cidr_table(ranges, TABLE_ACTIONS[name]) if referenced else None
    before = tables.get(path)
    return {"name": name, "path": path, "action": TABLE_ACTIONS[name], "before": before, "after": after,
            "changed": before != after}


def _commands(config_dir, edits, table_changes):
    commands = ["write %s (%d lines)" % (t["path"], len(t["after"].splitlines()))
                for t in table_changes if t["changed"] and t["after"] is not None]
    commands += ["postconf -c %s -e '%s = %s'" % (config_dir, edit["parameter"], edit["after"])
                 for edit in edits if edit["after"] is not None]
    commands += ["postconf -c %s -X %s" % (config_dir, edit["parameter"]) for edit in edits if edit["after"] is None]
    commands += ["remove %s" % t["path"] for t in table_changes if t["changed"] and t["after"] is None]
    return commands


def _result(state, model, found, edits, table_changes, messages, warnings, errors, relay=None):
    changed = bool(edits) or any(t["changed"] for t in table_changes)
    return {"state": state, "config_dir": model["config_dir"], "findings": found, "edits": edits,
            "tables": table_changes,
            "commands": _commands(model["config_dir"], edits, table_changes), "changed": changed,
            "messages": messages, "warnings": warnings, "errors": errors, "relay": relay}


def plan(model, ranges, tables, state="present"):
    """Plan ``state`` (present: the ranges exempted everywhere a DNSBL is checked; absent: our
    references and tables gone). ``tables``: {path: current text or None} of our two tables."""
    if state not in ("present", "absent"):
        raise PostfixError("state %r is not present or absent" % (state,))
    present = state == "present"
    if present:
        ranges = [str(net) for net in networks(ranges, "ranges")]
    found = detect(model)
    refs = references(model["config_dir"])
    paths = table_paths(model["config_dir"])
    main_cf, effective = model["main_cf"], model["effective"]
    classes = restriction_classes(model)
    edits, messages, warnings, errors = [], [], [], []

    postscreen = found["postscreen"]
    want_postscreen = present and postscreen["needs_exemption"]
    current = main_cf.get(POSTSCREEN_LIST)
    base = current if current is not None else effective[POSTSCREEN_LIST]
    after = postscreen_list(base, refs["postscreen"], want_postscreen)
    if after != base:
        if after == POSTSCREEN_DEFAULT and not want_postscreen:
            after = None
        edits.append({"parameter": POSTSCREEN_LIST, "before": current, "after": after})

    needed = _needs_smtpd(found) if present else []
    unreachable = []
    effective_after = {}
    for name in SMTPD_LISTS:
        raw = main_cf.get(name)
        raw_after = None if raw is None else smtpd_list(raw, refs["smtpd"], classes, name in needed)
        placed = raw_after is not None and smtpd_item(model["config_dir"]) in raw_after
        effective_after[name] = smtpd_list(effective[name], refs["smtpd"], classes, placed)
        if raw is None:
            continue
        if name in needed and not placed:
            unreachable.append(name)
            errors.append(
                "%s: its DNSBL check (%s) comes from a $parameter reference in main.cf (%s = %s), which this role "
                "does not rewrite; put '%s' immediately before that check yourself, or write the check into %s"
                % (name, ", ".join(next(e["client_dnsbl"] for e in found["smtpd"] if e["parameter"] == name)),
                   name, raw, smtpd_item(model["config_dir"]), name))
        if raw_after != raw:
            edits.append({"parameter": name, "before": raw, "after": raw_after})

    after_main = dict(main_cf)
    after_main.update((edit["parameter"], edit["after"]) for edit in edits)
    smtpd_used = any(item["name"] == "check_client_access" and item["arg"] == refs["smtpd"]
                     for name in SMTPD_LISTS for item in restriction_items(after_main.get(name) or ""))
    postscreen_used = any(item["text"] == refs["postscreen"]
                          for item in restriction_items(after_main.get(POSTSCREEN_LIST) or ""))
    table_changes = [
        _table_plan("postscreen", paths["postscreen"], tables, postscreen_used, ranges),
        _table_plan("smtpd", paths["smtpd"], tables, smtpd_used, ranges),
    ]

    relay = None
    if present:
        actions = {refs["smtpd"]: TABLE_ACTIONS["smtpd"]} if smtpd_used else {}
        relay = relay_check(dict((n, effective_after[n]) for n in RELAY_LISTS), effective["mynetworks"], ranges,
                            lambda network: actions)
        errors.extend(open_relay_reason(entry) for entry in relay["open"])
        _explain_present(found, needed, unreachable, effective_after, refs, edits, messages, warnings)
    elif not (edits or any(t["changed"] for t in table_changes)):
        messages.append("nothing of emailsec.hes is in %s/main.cf or beside it: nothing to remove" % model["config_dir"])
    else:
        messages.append("removing the emailsec.hes table references and tables; the DNSBL checks stay as they are")
    return _result(state, model, found, edits, table_changes, messages, warnings, errors, relay)


def _before_relay_control(value, reference):
    """Whether our check_client_access comes before the list's reject_unauth_destination."""
    items = restriction_items(value)
    ours = [i for i, item in enumerate(items) if item["name"] == "check_client_access" and item["arg"] == reference]
    control = [i for i, item in enumerate(items)
               if item["name"] in ("reject_unauth_destination", "defer_unauth_destination")]
    return bool(ours) and bool(control) and ours[0] < control[0]


def _explain_present(found, needed, unreachable, effective_after, refs, edits, messages, warnings):
    edited = dict((edit["parameter"], edit["before"] or "") for edit in edits)

    def change(name, reference):
        if name not in edited:
            return "already in place"
        return "moved" if reference in edited[name] else "added"

    postscreen = found["postscreen"]
    if postscreen["needs_exemption"]:
        how = change(POSTSCREEN_LIST, refs["postscreen"])
        how += " right after permit_mynetworks" if how != "already in place" else ""
        messages.append("postscreen (%s) checks postscreen_dnsbl_sites = %s with postscreen_dnsbl_action = %s: "
                        "tm_hes_postscreen.cidr (permit) %s in postscreen_access_list"
                        % ("; ".join(postscreen["services"]), postscreen["dnsbl_sites"], postscreen["dnsbl_action"], how))
        if postscreen["dnsbl_action"] == "ignore":
            messages.append("postscreen_dnsbl_action = ignore: postscreen only logs DNSBL listings today; the "
                            "exemption takes effect when it is enforce or drop")
    elif postscreen["dnsbl_sites"].strip():
        messages.append("postscreen_dnsbl_sites is set but no inet service of master.cf runs postscreen: nothing to "
                        "exempt there")
    for entry in found["smtpd"]:
        name = entry["parameter"]
        if entry["client_dnsbl"]:
            how = {"added": "inserted immediately before it", "moved": "moved immediately before it",
                   "already in place": "already immediately before it"}[change(name, refs["smtpd"])]
            if name in unreachable:
                how = "cannot be placed (see the errors)"
            messages.append("%s checks %s: check_client_access tm_hes_smtpd.cidr (permit_auth_destination) %s"
                            % (name, entry["client_dnsbl"][0], how))
            if name in RELAY_LISTS and name not in unreachable and _before_relay_control(effective_after[name], refs["smtpd"]):
                messages.append("%s: the exemption comes before reject_unauth_destination, which is safe only "
                                "because permit_auth_destination permits mail to this server's own domains and "
                                "nothing else (the relay check found no range that can relay)" % name)
        for other in entry["other_dnsbl"]:
            warnings.append("%s: '%s' judges a domain of the message, not the relay that delivers it: not exempted"
                            % (entry["parameter"], other))
    if not postscreen["needs_exemption"] and not needed:
        messages.append("no DNSBL check found: postscreen is %s, and no smtpd_*_restrictions list has %s: nothing to do"
                        % ("in front without postscreen_dnsbl_sites" if postscreen["in_front"] else "not in front",
                           ", ".join(CLIENT_DNSBL)))
    if found["smtpd_delay_reject"] == "no":
        early = [name for name in needed if name in _EARLY_LISTS]
        if early:
            warnings.append("smtpd_delay_reject = no: %s run before any recipient is known, so "
                            "permit_auth_destination has nothing to permit there and HES clients stay subject to "
                            "their DNSBL checks; set smtpd_delay_reject = yes (the default) or move the checks to "
                            "smtpd_recipient_restrictions" % ", ".join(early))
    for name in found["classes_with_dnsbl_not_in_a_list"]:
        warnings.append("restriction class %s holds a DNSBL check and is not named in any smtpd_*_restrictions list "
                        "(an access table may return it): not exempted" % name)
    for override in found["master_overrides_with_dnsbl"]:
        warnings.append("master.cf '%s' overrides %s with a DNSBL check: not exempted; add '%s' before it there"
                        % (override["service"], override["parameter"], "check_client_access cidr:.../tm_hes_smtpd.cidr"))


def backup_of(result, main_cf_text):
    """What a rollback needs: each edited parameter's and each changed table's content before."""
    return {
        "format": 1,
        "config_dir": result["config_dir"],
        "parameters": dict((edit["parameter"], edit["before"]) for edit in result["edits"]),
        "tables": dict((t["path"], t["before"]) for t in result["tables"] if t["changed"]),
        "main_cf": main_cf_text,
    }


def _checked_backup(backup, config_dir, paths):
    if not isinstance(backup, dict) or backup.get("format") != 1:
        raise PostfixError("restore: not an emailsec.hes Postfix backup (format 1 expected)")
    if backup.get("config_dir") != config_dir:
        raise PostfixError("restore: the backup is of config directory %r, not %r" % (backup.get("config_dir"), config_dir))
    parameters, tables = backup.get("parameters"), backup.get("tables")
    if not isinstance(parameters, dict) or not isinstance(tables, dict):
        raise PostfixError("restore: the backup has no 'parameters' and 'tables' maps")
    for name, value in parameters.items():
        if name not in EDITABLE:
            raise PostfixError("restore: parameter %r is not one this role edits (%s)" % (name, ", ".join(EDITABLE)))
        if value is not None and (not isinstance(value, str) or not _ONE_LINE_RE.fullmatch(value)):
            raise PostfixError("restore: the value of %s, %r, is not a one-line string" % (name, value))
        if value is not None and "$" in _MACRO_RE.sub("", value):
            raise PostfixError("restore: the value of %s, %r, has a malformed $ reference (postconf would stop "
                               "with 'macro processing error')" % (name, value))
        try:
            split_list(value or "")
        except PostfixError as exc:
            raise PostfixError("restore: the value of %s: %s" % (name, exc))
    actions = dict((path, TABLE_ACTIONS[name]) for name, path in paths.items())
    for path, text in tables.items():
        if path not in actions:
            raise PostfixError("restore: %r is not one of this config directory's tables (%s)"
                               % (path, ", ".join(sorted(paths.values()))))
        if text is not None:
            _check_table(path, text, actions[path])
    return parameters, tables


def _check_table(path, text, action):
    """A table as this role writes it: comments, blank lines and ``network<TAB>action`` lines with
    the table's own action and a range no broader than the loosest guard allows."""
    if not isinstance(text, str):
        raise PostfixError("restore: the content of %s is not text" % path)
    for number, line in enumerate(text.split("\n"), start=1):
        if not _ONE_LINE_RE.fullmatch(line):
            raise PostfixError("restore: %s line %d, %r, is not a line of text" % (path, number, line))
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if len(words) != 2 or words[1] != action:
            raise PostfixError("restore: %s line %d, %r, is not 'network %s'" % (path, number, line, action))
        try:
            guard_restored(words[0], "restore: %s line %d" % (path, number))
        except RangeError as exc:
            raise PostfixError(str(exc))


def plan_restore(model, backup, tables):
    """The plan that puts back what ``backup`` (of ``backup_of``) recorded, and nothing else."""
    paths = table_paths(model["config_dir"])
    parameters, saved_tables = _checked_backup(backup, model["config_dir"], paths)
    edits = []
    for name in EDITABLE:
        if name in parameters and model["main_cf"].get(name) != parameters[name]:
            edits.append({"parameter": name, "before": model["main_cf"].get(name), "after": parameters[name]})
    table_changes = []
    for name, path in sorted(paths.items()):
        if path in saved_tables:
            before, after = tables.get(path), saved_tables[path]
            table_changes.append({"name": name, "path": path, "action": TABLE_ACTIONS[name], "before": before,
                                  "after": after, "changed": before != after})
    messages = ["restoring %d parameter(s) and %d table(s) as the backup recorded them"
                % (len(edits), len([t for t in table_changes if t["changed"]]))]
    return _result("restore", model, detect(model), edits, table_changes, messages, [], [])
