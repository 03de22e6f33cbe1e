"""The lab's ``pfctl``: loads a ruleset file the way ``pfctl -o basic -f FILE`` does (all or nothing:
a line it cannot parse fails the load with ``FILE:LINE: syntax error`` and keeps the ruleset that was
loaded), and answers from what was loaded: ``-sr`` (filter rules), ``-sn`` (translation rules),
``-sT`` (table names), ``-t NAME -T show|test|kill``, ``-e``/``-d``, ``-s info``. It parses the
subset of pf.conf(5) that pfSense writes for the lab's boxes; it does not filter packets (the
namespace tests translate the loaded rules to nftables for that).

The loaded state is ``var/db/hes-lab-pf.json`` under the box: rules as parsed (a dict per rule),
tables with their addresses, and the rule lines as ``pfctl -sr`` prints them. ``lab/control.json``
``{"pfctl_load_fails": "message"}`` makes the next loads fail.
"""
import argparse
import ipaddress
import json
import os
import re
import socket
import sys
import time

STATE = "var/db/hes-lab-pf.json"
TOKEN = re.compile(r'"[^"]*"|<[^>]*>|\{|\}|->|!|[^\s{}!]+')


class PfSyntaxError(Exception):
    pass


def tokens(line):
    return TOKEN.findall(line)


def _list(words, index):
    """A ``{ a b }`` list or one word at ``index``: (items, next index)."""
    if words[index] == "{":
        end = words.index("}", index)
        return [w.rstrip(",") for w in words[index + 1:end] if w.rstrip(",")], end + 1
    return [words[index]], index + 1


def _address(words, index):
    negate = False
    if words[index] == "!":
        negate, index = True, index + 1
    items, index = _list(words, index)
    for item in items:
        if item in ("any", "(self)") or item.startswith("<"):
            continue
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise PfSyntaxError("address %s" % item)
    return {"not": negate, "items": items}, index


def _ports(words, index):
    """After ``port``: ``= N``, ``N:M``, ``{ ... }``; -> list of [low, high]."""
    if words[index] == "=":
        index += 1
    items, index = _list(words, index)
    ranges = []
    for item in items:
        item = item.lstrip("=")
        low, sep, high = item.partition(":")
        if not low.isdigit() or (sep and not high.isdigit()):
            raise PfSyntaxError("port %s" % item)
        ranges.append([int(low), int(high or low)])
    return ranges, index


def _endpoint(rule, word, words, index):
    """``from|to ADDRESS [port PORTS]`` into the rule; the index after it."""
    rule[word], index = _address(words, index)
    if index < len(words) and words[index] == "port":
        rule["sport" if word == "from" else "dport"], index = _ports(words, index + 1)
    return index


def parse_rule(words):
    rule = {"action": words[0], "direction": None, "quick": False, "on": [], "af": None, "proto": [],
            "from": {"not": False, "items": ["any"]}, "sport": None, "to": {"not": False, "items": ["any"]},
            "dport": None, "label": None, "ridentifier": None, "return": False}
    index = 1
    if rule["action"] == "block" and index < len(words) and words[index] in ("drop", "return"):
        rule["return"] = words[index] == "return"
        index += 1
    while index < len(words):
        word = words[index]
        if word in ("in", "out"):
            rule["direction"] = word
            index += 1
        elif word in ("log", "allow-opts"):
            index += 1
        elif word == "quick":
            rule["quick"] = True
            index += 1
        elif word == "on":
            rule["on"], index = _list(words, index + 1)
        elif word in ("inet", "inet6"):
            rule["af"], index = word, index + 1
        elif word == "proto":
            rule["proto"], index = _list(words, index + 1)
        elif word == "all":
            index += 1
        elif word in ("from", "to"):
            index = _endpoint(rule, word, words, index + 1)
        elif word == "flags":
            index += 2
        elif word in ("keep", "no"):
            index += 2
        elif word == "label":
            rule["label"] = words[index + 1].strip('"')
            index += 2
        elif word == "ridentifier":
            rule["ridentifier"] = words[index + 1]
            index += 2
        else:
            raise PfSyntaxError(word)
    return rule


def parse_rdr(words):
    rule = {"pass": False, "on": [], "af": None, "proto": [], "from": None, "sport": None, "to": None, "dport": None,
            "target": None, "target_port": None}
    index = 1
    if words[index] == "pass":
        rule["pass"], index = True, index + 1
    while index < len(words):
        word = words[index]
        if word == "on":
            rule["on"], index = _list(words, index + 1)
        elif word in ("inet", "inet6"):
            rule["af"], index = word, index + 1
        elif word == "proto":
            rule["proto"], index = _list(words, index + 1)
        elif word in ("from", "to"):
            index = _endpoint(rule, word, words, index + 1)
        elif word == "->":
            rule["target"] = words[index + 1]
            index += 2
            if index < len(words) and words[index] == "port":
                rule["target_port"] = int(words[index + 1].split(":")[0])
                index += 2
        else:
            raise PfSyntaxError(word)
    return rule


def read_table_file(path):
    with open(path) as handle:
        return [line.split("#")[0].strip() for line in handle if line.split("#")[0].strip()]


def parse_ruleset(text, origin):
    state = {"rules": [], "nat": [], "tables": {}, "lines": [], "nat_lines": []}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip() if not raw.strip().startswith("#") else ""
        if not line:
            continue
        words = tokens(line)
        try:
            if words[0] == "table":
                name = words[1].strip("<>")
                entries = []
                if "file" in words:
                    path = words[words.index("file") + 1].strip('"')
                    entries = read_table_file(path) if os.path.exists(path) else []
                if "{" in words:
                    entries, unused = _list(words, words.index("{"))
                for entry in entries:
                    ipaddress.ip_network(entry, strict=False)
                state["tables"][name] = entries
            elif words[0] in ("pass", "block", "match"):
                state["rules"].append(parse_rule(words))
                state["lines"].append(line)
            elif words[0] == "rdr":
                state["nat"].append(parse_rdr(words))
                state["nat_lines"].append(line)
            elif words[0] in ("set", "scrub", "anchor", "nat-anchor", "rdr-anchor", "no"):
                continue
            else:
                raise PfSyntaxError(words[0])
        except (PfSyntaxError, ValueError, IndexError):
            raise PfSyntaxError("%s:%d: syntax error" % (origin, number))
    return state


def _port_name(port):
    try:
        return socket.getservbyport(port, "tcp")
    except OSError:
        return str(port)


def show_line(line):
    """A rule as ``pfctl -sr`` prints it: well-known ports by name, ``port = 25`` -> ``port = smtp``."""
    return re.sub(r"port = (\d+)", lambda m: "port = %s" % _port_name(int(m.group(1))), line)


def show_address(entry):
    net = ipaddress.ip_network(entry, strict=False)
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)


def load_state(root):
    path = os.path.join(root, STATE)
    if not os.path.exists(path):
        return {"enabled": False, "rules": [], "nat": [], "tables": {}, "lines": [], "nat_lines": [], "loads": 0}
    with open(path) as handle:
        return json.load(handle)


def save_state(root, state):
    path = os.path.join(root, STATE)
    tmp = path + ".%d" % os.getpid()
    with open(tmp, "w") as handle:
        json.dump(state, handle, indent=1)
    os.replace(tmp, path)


def log(root, argv, rc):
    with open(os.path.join(root, "lab", "commands.log"), "a") as handle:
        handle.write(json.dumps({"time": time.time(), "event": "pfctl", "args": argv, "rc": rc}) + "\n")


def control(root):
    try:
        with open(os.path.join(root, "lab", "control.json")) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def run(root, argv, out, err):
    parser = argparse.ArgumentParser(prog="pfctl", add_help=False)
    parser.add_argument("-o")
    parser.add_argument("-f")
    parser.add_argument("-O", action="store_true")
    parser.add_argument("-s")
    parser.add_argument("-t")
    parser.add_argument("-T")
    parser.add_argument("-e", action="store_true")
    parser.add_argument("-d", action="store_true")
    args, rest = parser.parse_known_args(argv)
    if any(a.startswith("-") for a in rest):
        err.write("pfctl: unknown option %s\n" % rest[0])
        return 1
    state = load_state(root)
    if args.O and args.f:
        return 0
    if args.f:
        failure = control(root).get("pfctl_load_fails")
        try:
            if failure:
                raise PfSyntaxError("%s:1: %s" % (args.f, failure))
            with open(args.f) as handle:
                loaded = parse_ruleset(handle.read(), args.f)
        except OSError as exc:
            err.write("pfctl: %s: %s\n" % (args.f, exc.strerror))
            return 1
        except PfSyntaxError as exc:
            err.write("%s\npfctl: Syntax error in config file: pf rules not loaded\n" % exc)
            return 1
        loaded.update(enabled=state.get("enabled", True), loads=state.get("loads", 0) + 1)
        save_state(root, loaded)
        return 0
    if args.e or args.d:
        state["enabled"] = bool(args.e)
        save_state(root, state)
        err.write("pf %s\n" % ("enabled" if args.e else "disabled"))
        return 0
    if args.s in ("r", "rules"):
        out.write("".join(show_line(line) + "\n" for line in state["lines"]))
        return 0
    if args.s in ("n", "nat"):
        out.write("".join(show_line(line) + "\n" for line in state["nat_lines"]))
        return 0
    if args.s in ("T", "Tables"):
        out.write("".join(name + "\n" for name in sorted(state["tables"])))
        return 0
    if args.s in ("i", "info"):
        out.write("Status: %s\n" % ("Enabled" if state.get("enabled") else "Disabled"))
        return 0
    if args.t and args.T:
        if args.t not in state["tables"]:
            err.write("pfctl: Table does not exist.\n")
            return 255
        entries = state["tables"][args.t]
        if args.T == "show":
            out.write("".join("   %s\n" % show_address(e) for e in entries))
            return 0
        if args.T == "test":
            nets = [ipaddress.ip_network(e, strict=False) for e in entries]
            hits = [a for a in rest if any(ipaddress.ip_address(a) in n for n in nets if n.version == ipaddress.ip_address(a).version)]
            err.write("%d/%d addresses match.\n" % (len(hits), len(rest)))
            return 0 if len(hits) == len(rest) else 1
        if args.T == "kill":
            del state["tables"][args.t]
            save_state(root, state)
            err.write("1 table deleted.\n")
            return 0
    err.write("pfctl: this lab stand-in does not implement %s\n" % " ".join(argv))
    return 1


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m hes_lab.pfsense.pfctl")
    parser.add_argument("--root", required=True)
    args, rest = parser.parse_known_args(argv)
    if rest and rest[0] == "--":
        rest = rest[1:]
    rc = run(args.root, rest, sys.stdout, sys.stderr)
    log(args.root, rest, rc)
    return rc


if __name__ == "__main__":
    sys.exit(main())
