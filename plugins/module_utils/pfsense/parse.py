# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pfSense ``config.xml`` <-> the array pfSense's own PHP works on, both ways, as pfSense does it.

``parse_config(text)`` gives what pfSense's ``parse_xml_config()`` (src/etc/inc/xmlparse.inc)
gives PHP: tag names lower-cased; an element that has neither text nor children is ``""``; the
tags of ``LIST_TAGS`` are always lists (``<rule>`` once is a one-item list), any other tag that
occurs twice is an error; text is handled chunk by chunk as PHP's xml extension delivers it (see
``_Reader``), which the lab checks against the real xmlparse.inc under php-cli.

``dump_element(tag, value, indent)`` writes one element the way ``dump_xml_config_sub()`` does:
tab indentation, ``<x></x>`` for empty values, CDATA for the descriptive fields, ``htmlentities``
(XML 1 flavour) inside. Check mode shows the changed elements in this form, and the lab's round
trip through the real xmlparse.inc holds our dump to it byte for byte.

Also here: ``config_sha256`` (what "the config we read" means when we refuse a concurrent edit),
``revision`` (the ``<revision>`` pfSense's ``write_config()`` stamps), and path access
(``get_path`` / ``set_path`` / ``insert_at``) with the semantics of pfSense's ``config_get_path``
/ ``config_set_path`` (``a/b/3/c``; an empty string on the way counts as an empty array), which is
how edits are applied here and, identically, by the PHP on the firewall.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import hashlib
import re
from xml.parsers import expat

# xmlparse.inc listtags(): these tags are lists wherever they occur.
LIST_TAGS = frozenset((
    "acls", "alias", "aliasurl", "allowedip", "allowedhostname", "authserver",
    "bridged", "build_port_path",
    "ca", "cacert", "cert", "crl", "clone", "config",
    "container", "columnitem", "checkipservice",
    "depends_on_package", "disk", "dnsserver", "dnsupdate", "domainoverrides", "dyndns",
    "earlyshellcmd", "element", "encryption-algorithm-option",
    "field", "fieldname",
    "gateway_item", "gateway_group", "gif", "gre", "group",
    "hash-algorithm-option", "hosts", "ifgroupentry", "igmpentry", "interface_array", "item", "key",
    "lagg", "laggroup", "lbaction", "lbpool", "l7rules", "lbprotocol",
    "member", "menu", "tab", "mobilekey", "mobilegroup", "monitor_type", "mount",
    "npt", "ntpserver",
    "onetoone", "openvpn-server", "openvpn-client", "openvpn-csc", "option",
    "package", "passthrumac", "phase1", "phase2", "ppp", "pppoe", "priv", "proxyarpnet", "pool",
    "qinqentry", "queue",
    "pages", "pipe", "radnsserver", "roll", "route", "row", "rrddatafile", "rule",
    "schedule", "service", "servernat", "servers", "sshkeyfile",
    "serversdisabled", "shellcmd", "staticmap", "subqueue", "switch", "swport",
    "timerange", "tunnel", "user", "vip", "virtual_server", "vlan", "vlangroup", "voucherdbfile",
    "vxlan", "wgpeer", "winsserver", "wolentry", "widget", "xmldatafile",
))
# xmlparse.inc is_cdata_entity(): tags starting with one of these are written as CDATA.
CDATA_PREFIXES = (
    "aclname", "auth_pass", "auth_prompt", "auth_user", "certca", "certname", "city", "common_name",
    "descr", "detail", "email", "encryption_password", "hint", "ldap_attr",
    "ldap_authcn", "ldap_basedn", "ldap_basedomain", "ldap_bind", "ldapbinddn",
    "ldapbindpass", "ldap_extended_query", "ldap_filter", "ldap_pam_groupdn", "ldap_pass", "ldap_user",
    "login_banner", "organization", "password", "proxypass", "proxyuser", "rangedescr", "state", "text",
    "username", "varusersusername", "varuserspassword",
)
ROOT_TAG = "pfsense"
_ENTITY = re.compile(r"&(amp|lt|gt|quot|apos|#[0-9]+|#[xX][0-9a-fA-F]+);")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_ESCAPE = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;"}


class ConfigError(ValueError):
    """config.xml that pfSense itself would not load; the message says where."""


def _decode_entities(text):
    """PHP html_entity_decode(ENT_QUOTES | ENT_XML1): the XML entities and numeric references."""
    def one(match):
        name = match.group(1)
        if name in _NAMED:
            return _NAMED[name]
        try:
            code = int(name[2:], 16) if name[1] in "xX" else int(name[1:])
            return chr(code)
        except (ValueError, OverflowError):
            return match.group(0)
    return _ENTITY.sub(one, text)


class _Reader(object):
    """xmlparse.inc's handlers, fed as PHP's xml extension feeds them: a run of character data is one
    chunk up to an entity reference, the reference is a chunk of its own, a CDATA section is one
    chunk. Each chunk loses surrounding tabs and newlines and is html_entity_decode()d on its own
    (so CDATA is decoded twice, ``&amp;amp;`` in plain text once); an element without data or
    children is ``""``; list tags are lists."""

    def __init__(self, source):
        self.source = source
        self.root = {}
        self.stack = [[self.root, None, ""]]
        self.pending = None
        self.pending_entity = False
        self.in_cdata = False
        self.parser = None

    def start(self, name, attributes):
        self.flush()
        tag = name.lower()
        top = self.stack[-1]
        if not isinstance(top[0], dict):
            top[0] = {}
            if top[1] is not None:
                top[1][0][top[1][1]] = top[0]
        parent, path = top[0], top[2]
        if tag in LIST_TAGS:
            items = parent.get(tag)
            if not isinstance(items, list):
                items = parent[tag] = []
            items.append("")
            slot = (items, len(items) - 1)
        elif tag in parent:
            raise ConfigError("XML error: %s at %s cannot occur more than once" % (tag, path or "/"))
        else:
            parent[tag] = ""
            slot = (parent, tag)
        self.stack.append([None, slot, path + "/" + tag])

    def end(self, name):
        self.flush()
        value, (container, key), path = self.stack.pop()
        if value is None:
            container[key] = ""
        # xmlparse.inc drops a list element that is an empty string.
        if isinstance(container, list) and container[key] == "":
            container.pop()

    def data(self, text):
        entity = not self.in_cdata and self.source[self.parser.CurrentByteIndex:self.parser.CurrentByteIndex + 1] == b"&"
        if self.pending is not None and (entity or self.pending_entity):
            self.flush()
        self.pending = (self.pending or "") + text
        self.pending_entity = entity

    def cdata_start(self):
        self.flush()
        self.in_cdata = True

    def cdata_end(self):
        self.flush()
        self.in_cdata = False

    def flush(self):
        if self.pending is None:
            return
        text, self.pending = self.pending.strip("\t\n\r"), None
        top = self.stack[-1]
        if text == "" or isinstance(top[0], dict) or top[1] is None:
            return
        if isinstance(top[0], str):
            top[0] = top[0] + _decode_entities(text)
        elif text.strip(" ") != "":
            top[0] = _decode_entities(text)
        else:
            return
        top[1][0][top[1][1]] = top[0]


def parse_config(text):
    """config.xml text -> the pfSense configuration array (dicts, lists and strings)."""
    source = text.encode("utf-8") if isinstance(text, str) else text
    reader = _Reader(source)
    parser = reader.parser = expat.ParserCreate()
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.data
    parser.StartCdataSectionHandler = reader.cdata_start
    parser.EndCdataSectionHandler = reader.cdata_end
    try:
        parser.Parse(source, True)
    except expat.ExpatError as exc:
        raise ConfigError("config.xml is not well-formed XML: %s" % exc)
    if list(reader.root) != [ROOT_TAG]:
        raise ConfigError("config.xml: the root element is <%s>, not <%s>" % ("/".join(reader.root), ROOT_TAG))
    config = reader.root[ROOT_TAG]
    return config if isinstance(config, dict) else {}


def config_sha256(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def revision(config):
    """``{"time": int|None, "description": str, "username": str}`` of the configuration."""
    rev = config.get("revision")
    if not isinstance(rev, dict):
        return {"time": None, "description": "", "username": ""}
    try:
        when = int(rev.get("time") or 0)
    except ValueError:
        when = None
    return {"time": when, "description": rev.get("description") or "",
            "username": rev.get("username") or ""}


def revision_text(rev):
    return "%s by %s: %s" % (rev.get("time"), rev.get("username") or "?", rev.get("description") or "?")


# ---------------------------------------------------------------- writing, as dump_xml_config does

def _is_cdata(tag):
    return tag.startswith(CDATA_PREFIXES)


def _escape(text):
    return "".join(_ESCAPE.get(ch, ch) for ch in text)


def _scalar(tag, value, indent):
    pad = "\t" * indent
    if value == "":
        return "%s<%s></%s>\n" % (pad, tag, tag)
    if _is_cdata(tag):
        return "%s<%s><![CDATA[%s]]></%s>\n" % (pad, tag, _escape(value), tag)
    return "%s<%s>%s</%s>\n" % (pad, tag, _escape(value), tag)


def dump_element(tag, value, indent=1):
    """One element (and its children) as pfSense writes it; a list is one element per item."""
    pad = "\t" * indent
    if isinstance(value, list):
        out = []
        for item in value:
            if isinstance(item, dict):
                out.append(dump_element(tag, item, indent) if item else "%s<%s></%s>\n" % (pad, tag, tag))
            else:
                out.append(_scalar(tag, item, indent))
        return "".join(out)
    if isinstance(value, dict):
        if not value:
            return "%s<%s></%s>\n" % (pad, tag, tag)
        return "%s<%s>\n%s%s</%s>\n" % (pad, tag, dump_children(value, indent + 1), pad, tag)
    return _scalar(tag, value, indent)


def dump_children(mapping, indent):
    return "".join(dump_element(tag, value, indent) for tag, value in mapping.items())


def dump_config(config):
    """The whole file, as ``dump_xml_config($config, 'pfsense')`` writes it."""
    return '<?xml version="1.0"?>\n<%s>\n%s</%s>\n' % (ROOT_TAG, dump_children(config, 1), ROOT_TAG)


# ---------------------------------------------------------------- paths, as config_get_path / config_set_path

def _keys(path):
    return [key for key in path.split("/") if key != ""]


def _step(node, key):
    if isinstance(node, list):
        if not key.isdigit() or int(key) >= len(node):
            return None
        return node[int(key)]
    if isinstance(node, dict):
        return node.get(key)
    return None


def get_path(config, path, default=None):
    node = config
    for key in _keys(path):
        node = _step(node, key)
        if node is None:
            return default
    if default is not None and node == "":
        return default
    return node


def as_list(value):
    """A list tag's value: ``""`` (an empty element) or missing is no items."""
    return value if isinstance(value, list) else []


def set_path(config, path, value):
    """Set ``value`` at ``path``, making arrays of missing or empty intermediaries."""
    keys = _keys(path)
    node = config
    for index, key in enumerate(keys[:-1]):
        nxt = _step(node, key)
        if nxt is None or nxt == "":
            nxt = [] if keys[index + 1].isdigit() else {}
            _assign(node, key, nxt, path)
        elif not isinstance(nxt, (dict, list)):
            raise ConfigError("%s: %s holds a value, not an array" % (path, key))
        node = nxt
    _assign(node, keys[-1], value, path)


def _assign(node, key, value, path):
    if isinstance(node, list):
        position = int(key)
        if position == len(node):
            node.append(value)
        elif position < len(node):
            node[position] = value
        else:
            raise ConfigError("%s: index %d is past the end of the list (%d items)" % (path, position, len(node)))
    else:
        node[key] = value


def insert_at(config, path, index, value):
    """Insert ``value`` into the list at ``path`` before position ``index``."""
    items = list(as_list(get_path(config, path)))
    items.insert(index, value)
    set_path(config, path, items)


def apply_edits(config, edits):
    """The configuration after ``edits`` (what the PHP on the firewall does with the same list):
    each ``{"op": "set"|"insert", "path", "value", "index"?, "expect"?}``; ``expect``
    (``{path: value}``) must hold before the edit, else ConfigError."""
    after = copy.deepcopy(config)
    for edit in edits:
        for path, wanted in (edit.get("expect") or {}).items():
            found = get_path(after, path)
            if found != wanted:
                raise ConfigError("%s is %r, expected %r: the configuration is not the one the plan was made on"
                                  % (path, found, wanted))
        if edit["op"] == "set":
            set_path(after, edit["path"], copy.deepcopy(edit["value"]))
        elif edit["op"] == "insert":
            insert_at(after, edit["path"], edit["index"], copy.deepcopy(edit["value"]))
        else:
            raise ConfigError("edit %r: unknown op" % (edit,))
    return after


def without_revision(config):
    """The configuration less ``<revision>`` (what a restoration must bring back)."""
    out = dict(config)
    out.pop("revision", None)
    return out
