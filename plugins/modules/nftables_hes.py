#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: nftables_hes
author: emailsec.hes maintainers (@emailsec)
version_added: "0.1.0"
short_description: Restrict inbound SMTP to the HES ranges with an nftables table of our own
description:
  - Owns one nftables table, C(inet emailsec_hes), and nothing else. The table holds two named
    interval sets (C(hes_v4), C(hes_v6)) with the allowed ranges and one base chain
    (C(hes_smtp)) at the O(hook) that lets the O(ports) (TCP) through only from those sets, for the
    O(destinations) (or every local address on the input hook), and drops (or rejects) the rest of
    that traffic. The chain's policy is accept, so every other packet is left to the host's own
    firewall (nftables or iptables-nft tables are never read or edited).
  - The ruleset is rendered, compared with the live table (C(nft -j list table inet emailsec_hes)),
    written to O(path), checked with C(nft -c -f) and loaded with one C(nft -f) whose file creates,
    deletes and defines the table in one transaction. A ruleset that C(nft -c) rejects loads
    nothing, replaces no file and keeps the previous rules; the task fails with nft's message.
  - A second run with the same input finds no difference and runs no nft command that writes.
  - With O(persist=true) an C(include) line for O(path) is added to O(nftables_conf) (the file that
    C(nftables.service) loads at boot) when that file exists.
options:
  state:
    description:
      - V(present) makes the table, the file and the include line match the input.
      - V(absent) deletes the table, removes O(path) and the include line.
    type: str
    choices: [present, absent]
    default: present
  ranges:
    description:
      - The allowed source ranges (IPv4 and IPv6 CIDRs), usually from the
        C(emailsec.hes.ranges) lookup. Validated again here by the lookup's own guard (see
        O(allow_reserved), O(max_prefix)); an empty list is refused.
      - Required with O(state=present).
    type: list
    elements: str
  allow_reserved:
    description:
      - Accept ranges in IANA special-purpose space (private, documentation such as RFC 5737,
        6to4, NAT64...), as the lookup's O(allow_reserved) does. Only for a lab or a relay in
        private space. Multicast, broadcast and unspecified addresses are refused even then.
    type: bool
    default: false
  max_prefix:
    description: Refuse any IPv4 range broader than this prefix length (V(8) to V(32)).
    type: int
    default: 16
  max_prefix_v6:
    description: Refuse any IPv6 range broader than this prefix length (V(16) to V(128)).
    type: int
    default: 32
  hook:
    description:
      - V(input) for a mail host (the chain filters packets to this host's own addresses),
        V(forward) for a Linux router in front of the mail servers (O(destinations) required).
    type: str
    choices: [input, forward]
    default: input
  priority:
    description:
      - Priority of our base chain, an integer or a standard name with an optional offset
        (C(filter - 10)). Our chain only drops, so its place among the host's chains changes no
        verdict; it runs before the C(filter) chains by default so that its counters see every
        SMTP connection attempt. nft decides whether a name is valid at the O(hook).
    type: raw
    default: -10
  destinations:
    description:
      - Addresses or CIDRs of the mail servers whose O(ports) are restricted. Empty means every
        local address (input hook only). After DNAT the forward hook sees the translated address,
        so list the servers' inside addresses.
    type: list
    elements: str
    default: []
  ports:
    description: TCP destination ports restricted to the ranges. Other ports are not touched.
    type: list
    elements: int
    default: [25]
  action:
    description:
      - What happens to the restricted ports' traffic from outside the ranges. V(drop) (senders
        time out) or V(reject) (a TCP reset, so senders see "connection refused" at once).
    type: str
    choices: [drop, reject]
    default: drop
  path:
    description: File the ruleset is written to and loaded from.
    type: path
    default: /etc/nftables.d/emailsec_hes.nft
  persist:
    description:
      - Add C(include "<path>") to O(nftables_conf) so that the table is loaded at boot by
        C(nftables.service). When O(nftables_conf) does not exist the module warns and reports
        RV(persisted=false); other boot mechanisms must then load O(path).
    type: bool
    default: true
  nftables_conf:
    description: The ruleset file that C(nftables.service) loads at boot.
    type: path
    default: /etc/nftables.conf
  nft_binary:
    description:
      - The nft program, a name looked up in E(PATH) only, or an absolute path.
    type: str
    default: nft
requirements:
  - nft (nftables) 0.9.3 or later on the managed host, and a kernel with nf_tables.
  - Root, or CAP_NET_ADMIN, on the managed host.
attributes:
  check_mode:
    support: full
    description: Reports the changes and the diff; runs no nft command that writes and writes no file.
  diff_mode:
    support: full
    description: Ruleset text of the live table against the desired one, and of the files changed.
  platform:
    support: full
    description: Linux hosts with nf_tables (mail hosts, routers).
    platforms: posix
seealso:
  - name: nft(8)
    description: The nftables command line tool.
    link: https://www.netfilter.org/projects/nftables/manpage.html
notes:
  - Only the table C(inet emailsec_hes) is ever loaded, changed or deleted.
  - The verify role's evaluator (C(hes_nftables.evaluate_tcp_probe)) reads the whole ruleset to
    tell whether another table drops or allows what this one does not.
"""

EXAMPLES = r"""
- name: Mail host, only Trend Micro HES (US site) may reach TCP/25
  emailsec.hes.nftables_hes:
    ranges: "{{ query('emailsec.hes.ranges', site='us') }}"

- name: Linux router in front of two mail servers, submission port too, reject instead of drop
  emailsec.hes.nftables_hes:
    ranges: "{{ query('emailsec.hes.ranges', site='eu') }}"
    hook: forward
    destinations: [203.0.113.25, 203.0.113.26]
    ports: [25, 587]
    action: reject

- name: Remove the table, its file and its include line
  emailsec.hes.nftables_hes:
    state: absent
"""

RETURN = r"""
ruleset:
  description: The rendered ruleset file (empty with O(state=absent)).
  returned: always
  type: str
sets:
  description: The allowed ranges as loaded, per set.
  returned: when O(state=present)
  type: dict
  sample: {"hes_v4": ["18.208.22.64/26", "18.208.22.128/25"], "hes_v6": []}
table_changed:
  description: Whether the live table differed from the desired one (and was, or would be, replaced).
  returned: always
  type: bool
file_changed:
  description: Whether O(path) differed (and was, or would be, rewritten or removed).
  returned: always
  type: bool
persisted:
  description: Whether O(nftables_conf) includes O(path) after the run.
  returned: always
  type: bool
previous_table:
  description:
    - The live table before this run, as nft input (empty when there was none), so that a caller can
      keep a backup of what was replaced.
  returned: when O(state=present)
  type: str
commands:
  description: The nft commands that wrote to the kernel (none in check mode or when nothing changed).
  returned: always
  type: list
  elements: str
  sample: ["nft -f /etc/nftables.d/.emailsec_hes.nft.k2j4x1"]
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.emailsec.hes.plugins.module_utils.hes_nftables import (
    TABLE_FAMILY,
    TABLE_NAME,
    NftablesError,
    desired_table,
    parse_priority,
    render_ruleset_file,
    render_table,
    table_model_from_json,
)
from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import RangeError, guard_ranges


class Nft(object):
    """Runs nft; every command that can write is recorded for the `commands` return value."""

    def __init__(self, module, binary):
        self.module = module
        self.binary = binary
        self.commands = []

    def run(self, args, writes=False):
        if writes:
            self.commands.append(" ".join(["nft"] + args))
        return self.module.run_command([self.binary] + args)

    def live_table_json(self):
        rc, out, err = self.run(["-j", "list", "table", TABLE_FAMILY, TABLE_NAME])
        if rc == 0:
            return out
        if "No such file or directory" in err:
            return None
        self.module.fail_json(msg="nft -j list table %s %s failed: %s" % (TABLE_FAMILY, TABLE_NAME, err.strip()), rc=rc)


def find_nft(module, name):
    if "/" in name:
        if os.path.isfile(name) and os.access(name, os.X_OK):
            return name
        module.fail_json(msg="nft_binary %s does not exist or is not executable" % name)
    search = os.environ.get("PATH", "")
    for directory in search.split(os.pathsep):
        candidate = os.path.join(directory, name)
        if directory and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    module.fail_json(
        msg="%s (nftables) was not found in PATH (%s) on this host: install the nftables package, "
            "or set nft_binary to its absolute path" % (name, search or "empty")
    )


def include_line(path):
    return 'include "%s"' % path


def read_text(path):
    try:
        with open(path) as handle:
            return handle.read()
    except IOError:
        return None


def write_atomic(module, path, text, mode=0o644):
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, mode)
    module.atomic_move(tmp, path)


def conf_with_include(conf_text, path, present):
    """The boot config with our include line added (present) or removed (absent)."""
    line = include_line(path)
    lines = conf_text.splitlines()
    if present:
        if line in (item.strip() for item in lines):
            return conf_text
        return conf_text + ("" if not conf_text or conf_text.endswith("\n") else "\n") + line + "\n"
    kept = [item for item in lines if item.strip() != line]
    if len(kept) == len(lines):
        return conf_text
    return "\n".join(kept) + ("\n" if kept else "")


def desired_state(module):
    params = module.params
    try:
        ranges = guard_ranges(
            params["ranges"] or [],
            "ranges",
            max_prefix=params["max_prefix"],
            max_prefix_v6=params["max_prefix_v6"],
            allow_reserved=params["allow_reserved"],
        )
        model = desired_table(
            ranges,
            hook=params["hook"],
            destinations=params["destinations"],
            ports=params["ports"],
            priority=params["priority"],
            action=params["action"],
        )
        priority_text = parse_priority(params["priority"])[0]
    except (RangeError, NftablesError) as exc:
        module.fail_json(msg=str(exc))
    return model, render_ruleset_file(model, priority_text)


def apply_present(module, nft, result, diffs):
    params = module.params
    path = params["path"]
    model, text = desired_state(module)
    result["ruleset"] = text
    result["sets"] = {name: spec["elements"] for name, spec in model["sets"].items()}

    live = table_model_from_json(nft.live_table_json() or "")
    result["table_changed"] = live != model
    result["previous_table"] = render_table(live)
    current_file = read_text(path)
    result["file_changed"] = current_file != text
    if result["table_changed"]:
        diffs.append({
            "before_header": "nft list table %s %s (live)" % (TABLE_FAMILY, TABLE_NAME),
            "after_header": "nft list table %s %s (desired)" % (TABLE_FAMILY, TABLE_NAME),
            "before": render_table(live),
            "after": render_table(model),
        })
    if result["file_changed"]:
        diffs.append({"before_header": path, "after_header": path, "before": current_file or "", "after": text})

    if (result["table_changed"] or result["file_changed"]) and not module.check_mode:
        directory = os.path.dirname(path) or "."
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            os.chmod(tmp, 0o644)
            rc, out, err = nft.run(["-c", "-f", tmp])
            if rc != 0:
                module.fail_json(
                    msg="nft -c rejected the rendered ruleset; nothing was loaded, %s was not replaced and "
                        "the previous rules are kept. nft said: %s" % (path, err.strip() or out.strip()),
                    ruleset=text,
                    rc=rc,
                )
            if result["table_changed"]:
                rc, out, err = nft.run(["-f", tmp], writes=True)
                if rc != 0:
                    module.fail_json(
                        msg="nft -f failed to load the ruleset (the transaction was rolled back, the previous "
                            "rules are kept): %s" % (err.strip() or out.strip()),
                        ruleset=text,
                        rc=rc,
                        commands=nft.commands,
                    )
            if result["file_changed"]:
                module.atomic_move(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    persist(module, result, diffs, present=True)


def persist(module, result, diffs, present):
    params = module.params
    conf = params["nftables_conf"]
    conf_text = read_text(conf)
    if conf_text is None:
        result["persisted"] = False
        if present and params["persist"]:
            module.warn(
                "%s does not exist, so the table is not loaded at boot by nftables.service; "
                "load %s from your own boot mechanism or set nftables_conf" % (conf, params["path"])
            )
        return
    wanted = conf_with_include(conf_text, params["path"], present and params["persist"])
    result["persisted"] = include_line(params["path"]) in (line.strip() for line in wanted.splitlines())
    if wanted == conf_text:
        return
    result["conf_changed"] = True
    diffs.append({"before_header": conf, "after_header": conf, "before": conf_text, "after": wanted})
    if not module.check_mode:
        write_atomic(module, conf, wanted, os.stat(conf).st_mode & 0o7777)


def apply_absent(module, nft, result, diffs):
    path = module.params["path"]
    live_json = nft.live_table_json()
    result["table_changed"] = live_json is not None
    current_file = read_text(path)
    result["file_changed"] = current_file is not None
    if result["table_changed"]:
        diffs.append({
            "before_header": "nft list table %s %s (live)" % (TABLE_FAMILY, TABLE_NAME),
            "after_header": "(table deleted)",
            "before": render_table(table_model_from_json(live_json)),
            "after": "",
        })
    if result["file_changed"]:
        diffs.append({"before_header": path, "after_header": "(file removed)", "before": current_file, "after": ""})
    if not module.check_mode:
        if result["table_changed"]:
            rc, out, err = nft.run(["delete", "table", TABLE_FAMILY, TABLE_NAME], writes=True)
            if rc != 0:
                module.fail_json(msg="nft delete table %s %s failed: %s" % (TABLE_FAMILY, TABLE_NAME, err.strip()), rc=rc)
        if result["file_changed"]:
            os.unlink(path)
    persist(module, result, diffs, present=False)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", choices=["present", "absent"], default="present"),
            ranges=dict(type="list", elements="str"),
            allow_reserved=dict(type="bool", default=False),
            max_prefix=dict(type="int", default=16),
            max_prefix_v6=dict(type="int", default=32),
            hook=dict(type="str", choices=["input", "forward"], default="input"),
            priority=dict(type="raw", default=-10),
            destinations=dict(type="list", elements="str", default=[]),
            ports=dict(type="list", elements="int", default=[25]),
            action=dict(type="str", choices=["drop", "reject"], default="drop"),
            path=dict(type="path", default="/etc/nftables.d/emailsec_hes.nft"),
            persist=dict(type="bool", default=True),
            nftables_conf=dict(type="path", default="/etc/nftables.conf"),
            nft_binary=dict(type="str", default="nft"),
        ),
        required_if=[("state", "present", ("ranges",))],
        supports_check_mode=True,
    )
    nft = Nft(module, find_nft(module, module.params["nft_binary"]))
    result = {"changed": False, "ruleset": "", "table_changed": False, "file_changed": False, "persisted": False}
    diffs = []
    if module.params["state"] == "present":
        apply_present(module, nft, result, diffs)
    else:
        apply_absent(module, nft, result, diffs)
    result["changed"] = bool(result["table_changed"] or result["file_changed"] or result.pop("conf_changed", False))
    result["commands"] = nft.commands
    if module._diff and diffs:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
