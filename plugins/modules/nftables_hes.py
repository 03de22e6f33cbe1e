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
  - The chain always lets the O(ports) through from loopback (the host's own senders, input hook)
    and from the O(internal_sources) (internal relays, guarded separately from the ranges).
  - Before anything is written, the plan gate reads the whole ruleset (C(nft -j list ruleset)),
    builds the policy of every base chain on the hook in every table (emailsec.hes's exact
    engine), once as it is and once with our table replaced by the desired one, and refuses
    unless the only verdicts that change are those of TCP to the O(destinations) on the O(ports)
    from outside the allowed sources, from allow to deny (and from the allowed sources, from deny
    to allow), and afterwards nothing outside the allowed sources gets through while everything
    inside them does. A refusal changes nothing and names the rule that decides, with a witness flow. The
    gate's one-line differential is returned (RV(differential)) and shown in check and diff mode.
  - The ruleset is rendered, compared with the live table, written to O(path), checked with
    C(nft -c -f) and loaded with one C(nft -f) whose file creates, deletes and defines the table
    in one transaction. A ruleset that C(nft -c) rejects loads nothing, replaces no file and keeps
    the previous rules; the task fails with nft's message.
  - A second run with the same input finds no difference and runs no nft command that writes.
  - With O(persist=true) an C(include) line for O(path) is added to O(nftables_conf) (the file that
    C(nftables.service) loads at boot) when that file exists.
extends_documentation_fragment:
  - emailsec.hes.range_guard
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
  internal_sources:
    description:
      - Internal relays (IPv4/IPv6 addresses or CIDRs) that may also send to the O(ports), for
        example the host's own submission relay or a backup MX inside the network. Guarded
        separately from O(ranges), private space is allowed here, but nothing broader than /8
        (IPv4) or /16 (IPv6) and no loopback, multicast or unspecified space. They get their own
        sets (C(hes_internal_v4), C(hes_internal_v6)) and count as allowed sources for the gate.
      - Loopback needs no entry, it is always allowed.
    type: list
    elements: str
    default: []
  inbound_interface:
    description:
      - The interface inbound mail arrives on (for example V(eth0)). The gate then resolves
        C(iifname)/C(iif) matches of the host's rules exactly; without it a rule that matches a
        named interface other than loopback is uncertain and may make the gate refuse.
    type: str
  outbound_interface:
    description:
      - On the forward hook, the interface towards the mail servers; resolves C(oifname)/C(oif)
        matches like O(inbound_interface).
    type: str
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
    description:
      - File the ruleset is written to and loaded from. An absolute path without quotes,
        backslashes, glob characters or control characters (it is written into an C(include)
        line); anything else is refused before a file is touched.
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
    description: The ruleset file that C(nftables.service) loads at boot. Checked like O(path).
    type: path
    default: /etc/nftables.conf
  nft_binary:
    description:
      - The nft program, a name looked up in E(PATH) only, or an absolute path (checked like
        O(path)).
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
  - The gate and the verify role read the whole ruleset with one model
    (C(plugins/module_utils/nftables/model.py)); docs/nftables.md lists what it understands and
    what makes a rule uncertain. O(state=absent) has no gate, since removing the table is the request.
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

- name: Mail host with an internal submission relay; rules of the host name eth0
  emailsec.hes.nftables_hes:
    ranges: "{{ query('emailsec.hes.ranges', site='us') }}"
    internal_sources: [10.20.0.25, "fd00:20::/64"]
    inbound_interface: eth0

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
previous_parameters:
  description:
    - The options (ranges, internal_sources, destinations, hook, priority, ports, action) that
      render the live table as it was before this run; null when there was none, or when it was
      changed by hand so that no options render it. The role's backup keeps them, and its
      rollback applies them again through the same checks as a harden run.
  returned: when O(state=present)
  type: dict
differential:
  description:
    - The plan gate's verdict changes in one sentence (per port when several are restricted).
  returned: when O(state=present)
  type: str
  sample: "verdict changes: TCP/25 from outside the ranges to 203.0.113.25: allow -> deny; other flows: none"
gate:
  description:
    - The plan gate's answer. C(ok) false means the task failed without changing anything;
      C(refusals) say why, naming the rule and a witness flow; C(changes) are the verdict
      changes with witnesses; C(leaks) and C(blocked) are the findings after the plan; C(notes)
      list what the model does not cover on this host (for example NAT chains).
  returned: when O(state=present)
  type: dict
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
from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import RANGE_GUARD_ARGUMENT_SPEC, RangeError, guard_ranges
from ansible_collections.emailsec.hes.plugins.module_utils.nftables.parse import (
    TABLE_FAMILY,
    TABLE_NAME,
    NftablesError,
    table_model_from_json,
)
from ansible_collections.emailsec.hes.plugins.module_utils.nftables.plan import (
    check_file_path,
    guard_internal_sources,
    plan_table,
)
from ansible_collections.emailsec.hes.plugins.module_utils.nftables.render import render_table, table_parameters


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

    def ruleset_json(self):
        """The whole live ruleset (every table: the gate reads them all)."""
        rc, out, err = self.run(["-j", "list", "ruleset"])
        if rc != 0:
            self.module.fail_json(msg="nft -j list ruleset failed: %s" % err.strip(), rc=rc)
        return out


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


def plan_state(module, live_ruleset_json):
    params = module.params
    try:
        ranges = guard_ranges(
            params["ranges"] or [],
            "ranges",
            max_prefix=params["max_prefix"],
            max_prefix_v6=params["max_prefix_v6"],
            allow_reserved=params["allow_reserved"],
        )
        return plan_table(
            live_ruleset_json,
            ranges,
            hook=params["hook"],
            destinations=params["destinations"],
            ports=params["ports"],
            priority=params["priority"],
            action=params["action"],
            internal_sources=guard_internal_sources(params["internal_sources"]),
            iifname=params["inbound_interface"],
            oifname=params["outbound_interface"],
        )
    except (RangeError, NftablesError) as exc:
        module.fail_json(msg=str(exc))


def gate_result(gate):
    return dict((key, gate[key]) for key in ("ok", "refusals", "changes", "leaks", "blocked", "notes"))


def apply_present(module, nft, result, diffs):
    params = module.params
    path = params["path"]
    plan = plan_state(module, nft.ruleset_json())
    model, text, live, gate = plan["model"], plan["text"], plan["live"], plan["gate"]
    result["ruleset"] = text
    result["sets"] = {name: spec["elements"] for name, spec in model["sets"].items()}
    result["differential"] = gate["differential"]
    result["gate"] = gate_result(gate)
    if not gate["ok"]:
        module.fail_json(
            msg="refused by the plan gate, nothing was changed: %s" % " | ".join(gate["refusals"]),
            **dict(result, changed=False, commands=[])
        )
    diffs.append({"prepared": "plan gate: %s\n" % gate["differential"]})

    result["table_changed"] = plan["table_changed"]
    result["previous_table"] = render_table(live)
    result["previous_parameters"] = table_parameters(live)
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
    live = table_model_from_json(nft.ruleset_json())
    result["table_changed"] = live is not None
    current_file = read_text(path)
    result["file_changed"] = current_file is not None
    if result["table_changed"]:
        diffs.append({
            "before_header": "nft list table %s %s (live)" % (TABLE_FAMILY, TABLE_NAME),
            "after_header": "(table deleted)",
            "before": render_table(live),
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
            RANGE_GUARD_ARGUMENT_SPEC,
            state=dict(type="str", choices=["present", "absent"], default="present"),
            ranges=dict(type="list", elements="str"),
            internal_sources=dict(type="list", elements="str", default=[]),
            inbound_interface=dict(type="str"),
            outbound_interface=dict(type="str"),
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
    try:
        for option in ("path", "nftables_conf"):
            check_file_path(module.params[option], option)
        if "/" in module.params["nft_binary"]:
            check_file_path(module.params["nft_binary"], "nft_binary")
    except NftablesError as exc:
        module.fail_json(msg=str(exc))
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
