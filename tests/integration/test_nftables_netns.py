"""emailsec.hes.nftables against the Linux kernel in network namespaces (needs root).

Each test builds its own lab (hes_lab.netns, RFC 5737 addresses only) and tears it down in a
finally clause, whatever happened. Ansible reaches the firewall namespaces through the lab's
inventory (local connection, interpreter wrapped in `ip netns exec`). Every probe is sent for
real from the senders' namespace and also decided by the policy engine on the model of the
firewall's `nft -j list ruleset` (nftables.model): the two must agree.
"""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ansible_collections.emailsec.hes.plugins.module_utils.nftables.model import build_policy, flow_verdict
from ansible_collections.emailsec.hes.plugins.module_utils.nftables.parse import table_model_from_json

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "lab"))
from hes_lab.netns import LISTEN_PORTS, SENDERS, TARGETS, NetnsLab, _in_netns, _tcp_probe  # noqa: E402

pytestmark = [pytest.mark.netns, pytest.mark.slow]

PLAYBOOKS = os.path.join(REPO, "tests", "integration", "nftables")
REMOVE = os.path.join(REPO, "playbooks", "nftables_remove.yml")
ROLLBACK = os.path.join(REPO, "playbooks", "rollback_nftables.yml")
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
INSIDE = [name for name in SENDERS if name.startswith("in_")]
OUTSIDE = [name for name in SENDERS if name.startswith("out_")]
OTHER_PORTS = [port for port in LISTEN_PORTS if port != 25]
KERNEL_OUTCOME = {"accept": "greeting", "drop": "timeout", "reject": "refused"}
# The lab's links: senders reach both firewalls on eth0; the router forwards out of eth1.
INTERFACES = {"mail": {"iifname": "eth0"}, "server": {"iifname": "eth0", "oifname": "eth1"}}


@pytest.fixture
def lab():
    instance = NetnsLab()
    try:
        instance.up()
        yield instance
    finally:
        instance.down()
    assert not any(name.startswith(instance.prefix + "-") for name in
                   subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout.split())


def play(lab, playbook, *args, extra=None, env=None):
    """Run a playbook against the lab; returns (rc, per-host stats, task results, stdout)."""
    command = [ANSIBLE_PLAYBOOK, "-i", lab.inventory_path, playbook, *args]
    command += ["-e", json.dumps(dict({"hes_backup_dir": backup_dir(lab)}, **(extra or {})))]
    environment = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_NOCOLOR="1", **(env or {}))
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=environment, timeout=300, check=False)
    try:
        report = json.loads(proc.stdout[proc.stdout.index("{"):])
    except ValueError:
        pytest.fail("ansible-playbook printed no JSON: %s\n%s" % (proc.stdout, proc.stderr))
    results = {}
    for play_report in report["plays"]:
        for task in play_report["tasks"]:
            for host, result in task["hosts"].items():
                results.setdefault(host, []).append((task["task"]["name"], result))
    return proc.returncode, report["stats"], results, proc.stdout


def backup_dir(lab):
    return os.path.join(lab.state_dir, "backups")


def module_result(results, host):
    return [r for name, r in results[host] if "Table inet emailsec_hes" in name][-1]


def failure(results, host):
    return next(r for unused_name, r in results[host] if r.get("failed"))["msg"]


def harden(lab, *args, **kwargs):
    return play(lab, os.path.join(PLAYBOOKS, "harden.yml"), *args, **kwargs)


def all_probes(ports=(25,)):
    return [(sender, port, target) for target in TARGETS for sender in SENDERS for port in ports]


def policy_of(lab, target):
    return build_policy(lab.nft(target, "-j", "list", "ruleset").stdout, **INTERFACES[target])


def kernel_and_engine(lab, probes):
    """Kernel outcomes of real connections, and the engine's on each firewall's ruleset."""
    kernel = lab.probe_many(probes)
    policies = dict((target, policy_of(lab, target)) for target in TARGETS)
    decided = [flow_verdict(policies[target], TARGETS[target]["hook"], SENDERS[sender], TARGETS[target]["address"],
                            port) for sender, port, target in probes]
    return kernel, decided


def assert_engine_agrees(lab, probes):
    kernel, decided = kernel_and_engine(lab, probes)
    disagreements = [
        (probe, seen, result["verdict"], result["rule"], result["uncertain"])
        for probe, seen, result in zip(probes, kernel, decided)
        if KERNEL_OUTCOME.get(result["verdict"]) != seen
    ]
    assert disagreements == []
    return dict(zip(probes, kernel)), dict(zip(probes, decided))


def live_table(lab, target):
    listing = lab.nft(target, "-j", "list", "ruleset").stdout
    return table_model_from_json(listing)


class Monitor:
    """`nft monitor ruleset` in a namespace, line-buffered, stopped by pid."""

    def __init__(self, lab, target):
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", lab.firewall_ns(target), "stdbuf", "-oL", "nft", "monitor", "ruleset"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(0.3)

    def stop(self):
        time.sleep(0.3)
        os.kill(self.proc.pid, signal.SIGTERM)
        out = self.proc.communicate(timeout=10)[0]
        return [line for line in out.splitlines() if line.strip()]


def rule_of(answer):
    """The deciding rule's label without its handle (handles change with every load)."""
    return answer["rule"].split(" (handle")[0]


def test_only_senders_inside_the_set_complete_the_greeting_and_the_engine_agrees(lab):
    probes = all_probes(LISTEN_PORTS)
    before = assert_engine_agrees(lab, probes)[0]
    assert set(before.values()) == {"greeting"}

    rc, stats, results, out = harden(lab)
    assert rc == 0, out
    # the table, and its backup on the controller
    assert stats["mailhost"]["changed"] == 2 and stats["router"]["changed"] == 2

    after, decided = assert_engine_agrees(lab, probes)
    for (sender, port, target), seen in after.items():
        expected = "greeting" if sender in INSIDE or port != 25 else "timeout"
        assert seen == expected, (sender, port, target)
    assert rule_of(decided[("out_a_edge", 25, "mail")]) == "inet emailsec_hes hes_smtp: tcp dport 25 counter drop"
    assert rule_of(decided[("out_c", 25, "server")]) == \
        "inet emailsec_hes hes_smtp: tcp dport 25 ip daddr @hes_dst_v4 counter drop"
    assert module_result(results, "mailhost")["differential"] == (
        "verdict changes: TCP/25 from outside the ranges to 0.0.0.0/0, ::/0: allow -> deny; other flows: none")
    assert module_result(results, "router")["differential"] == (
        "verdict changes: TCP/25 from outside the ranges to 192.0.2.80: allow -> deny; other flows: none")
    assert module_result(results, "mailhost")["sets"]["hes_v4"] == ["198.51.100.0/25", "203.0.113.64/26"]


def test_configured_ports_and_reject_and_the_engine_agrees(lab):
    rc, unused_stats, unused_results, out = harden(lab, extra={"hes_nftables_ports": [25, 587], "hes_nftables_action": "reject"})
    assert rc == 0, out
    outcome = assert_engine_agrees(lab, all_probes(LISTEN_PORTS))[0]
    for (sender, port, target), seen in outcome.items():
        restricted = port in (25, 587) and sender in OUTSIDE
        assert seen == ("refused" if restricted else "greeting"), (sender, port, target)


def test_check_mode_shows_the_diff_and_changes_nothing(lab):
    monitors = [Monitor(lab, target) for target in TARGETS]
    rc, stats, results, out = harden(lab, "--check", "--diff")
    events = [m.stop() for m in monitors]
    assert rc == 0, out
    assert stats["mailhost"]["changed"] == 1
    diff = module_result(results, "mailhost")["diff"]
    assert diff[0] == {"prepared": "plan gate: verdict changes: TCP/25 from outside the ranges to 0.0.0.0/0, ::/0: "
                                   "allow -> deny; other flows: none\n"}
    shown = [r["msg"] for name, r in results["router"] if "What the plan gate proved" in name]
    assert shown == ["router: verdict changes: TCP/25 from outside the ranges to 192.0.2.80: allow -> deny; "
                     "other flows: none"]
    table_diff = diff[1]
    assert table_diff["before"] == ""
    assert "\t\ttcp dport 25 ip saddr @hes_v4 accept\n" in table_diff["after"]
    assert "elements = { 198.51.100.0/25, 203.0.113.64/26 }" in table_diff["after"]
    assert module_result(results, "mailhost")["commands"] == []
    assert events == [[], []]
    assert live_table(lab, "mail") is None and live_table(lab, "server") is None
    assert not os.path.exists(os.path.join(lab.host_dir("mailhost"), "emailsec_hes.nft"))
    assert "include" not in open(os.path.join(lab.host_dir("mailhost"), "nftables.conf")).read()
    assert set(lab.probe_many(all_probes())) == {"greeting"}


def test_second_run_reports_no_change_and_writes_nothing_to_nft(lab):
    rc, unused_stats, unused_results, out = harden(lab)
    assert rc == 0, out
    file_path = os.path.join(lab.host_dir("mailhost"), "emailsec_hes.nft")
    mtime = os.stat(file_path).st_mtime_ns
    monitors = [Monitor(lab, target) for target in TARGETS]
    rc, stats, results, out = harden(lab, "--diff")
    events = [m.stop() for m in monitors]
    assert rc == 0, out
    assert (stats["mailhost"]["changed"], stats["router"]["changed"]) == (0, 0)
    assert module_result(results, "mailhost")["commands"] == []
    assert events == [[], []]
    assert os.stat(file_path).st_mtime_ns == mtime

    # the monitor does see writes: a change in the ranges is one transaction on our table
    monitor = Monitor(lab, "mail")
    rc, stats, results, out = harden(lab, extra={"hes_ranges": ["198.51.100.0/26"], "hes_target": "mailhost"})
    seen = monitor.stop()
    assert rc == 0 and stats["mailhost"]["changed"] >= 1, out
    commands = module_result(results, "mailhost")["commands"]
    assert len(commands) == 1 and commands[0].startswith("nft -f "), commands
    # the replaced table is kept on the controller: the first run's (there was none) and this one's
    backups = sorted(name for name in os.listdir(backup_dir(lab)) if name.startswith("mailhost.nftables."))
    assert len(backups) == 2, backups
    assert oct(os.stat(backup_dir(lab)).st_mode & 0o777) == "0o700"
    with open(os.path.join(backup_dir(lab), backups[-1])) as handle:
        kept = json.load(handle)
    assert oct(os.stat(os.path.join(backup_dir(lab), backups[-1])).st_mode & 0o777) == "0o600"
    assert (kept["host"], kept["vendor"], kept["format"]) == ("mailhost", "nftables", "emailsec.hes/backup/1")
    assert kept["restore"]["table"].startswith("table inet emailsec_hes {") and "198.51.100.0/25" in kept["restore"]["table"]
    assert kept["restore"]["parameters"]["ranges"] == ["198.51.100.0/25", "203.0.113.64/26"]
    assert any("emailsec_hes" in line for line in seen)
    assert lab.connect("in_a_last", 25) == "timeout" and lab.connect("in_a", 25) == "greeting"

    # the rollback puts the previous table back through the same gate, and a second one finds
    # nothing to do; in check mode it says what it would restore and changes nothing
    rc, stats, results, out = play(lab, ROLLBACK, "--check", "--limit", "mailhost")
    assert rc == 0 and "would restore" in out, out
    assert lab.connect("in_a_last", 25) == "timeout"
    rc, stats, results, out = play(lab, ROLLBACK, "--limit", "mailhost")
    assert rc == 0 and stats["mailhost"]["changed"] >= 1, out
    assert lab.connect("in_a_last", 25) == "greeting" and lab.connect("out_c", 25, timeout=0.5) == "timeout"
    rc, stats, results, out = play(lab, ROLLBACK, "--limit", "mailhost")
    assert rc == 0, out


def test_persisted_ruleset_survives_a_reboot_of_the_namespace(lab):
    rc, unused_stats, results, out = harden(lab, extra={"hes_target": "mailhost"})
    assert rc == 0, out
    assert module_result(results, "mailhost")["persisted"] is True
    conf = os.path.join(lab.host_dir("mailhost"), "nftables.conf")
    lab.nft("mail", "flush", "ruleset")
    assert lab.connect("out_c", 25) == "greeting"
    lab.nft("mail", "-f", conf)  # what nftables.service does at boot
    assert lab.connect("out_c", 25, timeout=0.5) == "timeout" and lab.connect("in_b", 25) == "greeting"


def test_a_ruleset_that_fails_validation_loads_nothing_and_keeps_the_previous_rules(lab):
    rc, unused_stats, unused_results, out = harden(lab, extra={"hes_target": "mailhost"})
    assert rc == 0, out
    file_path = os.path.join(lab.host_dir("mailhost"), "emailsec_hes.nft")
    before_file = open(file_path).read()
    before_table = live_table(lab, "mail")
    monitor = Monitor(lab, "mail")
    bad = {"hes_target": "mailhost", "hes_nftables_priority": "dstnat", "hes_ranges": ["198.51.100.0/24"]}
    rc, unused_stats, results, out = harden(lab, extra=bad)
    events = monitor.stop()
    assert rc != 0
    message = failure(results, "mailhost")
    assert "nft -c rejected the rendered ruleset" in message
    assert "invalid priority expression value in this context" in message
    assert events == []
    assert live_table(lab, "mail") == before_table
    assert open(file_path).read() == before_file
    assert [f for f in os.listdir(lab.host_dir("mailhost")) if f.startswith(".")] == []
    assert lab.probe_many([("out_a_edge", 25, "mail"), ("in_a", 25, "mail")]) == ["timeout", "greeting"]


def test_no_nft_binary_is_a_clear_error(lab, tmp_path):
    no_nft = {"hes_target": "mailhost", "hes_test_path": str(tmp_path)}
    rc, unused_stats, results, out = play(lab, os.path.join(PLAYBOOKS, "harden_path.yml"), extra=no_nft)
    assert rc != 0
    message = failure(results, "mailhost")
    assert message.startswith("nft (nftables) was not found in PATH (%s)" % tmp_path), message
    assert "install the nftables package" in message
    assert live_table(lab, "mail") is None


@pytest.mark.parametrize("extra, message", [
    ({"hes_nftables_hook": "output"}, "hes_nftables_hook must be one of: input, forward, got: output"),
    ({"hes_nftables_ports": [70000]}, "ports: 70000 is not a TCP port"),
    ({"hes_ranges": ["198.51.100.300/25"]}, "198.51.100.300/25"),
    ({"hes_allow_reserved": False}, "198.51.100.0/25"),
    ({"hes_ranges": [], "hes_site": []}, "set hes_ranges (an explicit list) or hes_site"),
    ({"hes_nftables_destinations": ["mail.example.test"]}, "destinations: 'mail.example.test'"),
    ({"hes_nftables_priority": "filtre"}, "priority 'filtre' is neither an integer"),
])
def test_bad_variables_are_clear_errors_and_load_nothing(lab, extra, message):
    rc, unused_stats, results, out = harden(lab, extra=dict(extra, hes_target="mailhost"))
    assert rc != 0
    assert message in failure(results, "mailhost")
    assert live_table(lab, "mail") is None


def test_forward_hook_without_destinations_is_refused(lab):
    rc, unused_stats, results, unused_out = harden(lab, extra={"hes_target": "router", "hes_nftables_destinations": []})
    assert rc != 0
    assert "destinations is empty: on the forward hook" in failure(results, "router")
    assert live_table(lab, "server") is None


def test_composes_with_foreign_tables_and_the_engine_reads_them(lab):
    lab.nft("mail", "-f", os.path.join(PLAYBOOKS, "foreign.nft"))
    foreign_before = [i for i in json.loads(lab.nft("mail", "-j", "list", "ruleset").stdout)["nftables"]
                      if "metainfo" not in i]
    probes = [(sender, port, "mail") for sender in SENDERS for port in LISTEN_PORTS]
    before = assert_engine_agrees(lab, probes)[0]
    assert before[("out_c", 25, "mail")] == "greeting"  # the "any" SMTP rule of the host

    rc, unused_stats, unused_results, out = harden(lab, extra={"hes_target": "mailhost"})
    assert rc == 0, out
    after, decided = assert_engine_agrees(lab, probes)
    assert [after[(s, 25, "mail")] for s in INSIDE] == ["greeting"] * len(INSIDE)
    assert [after[(s, 25, "mail")] for s in OUTSIDE] == ["timeout"] * len(OUTSIDE)
    # the host's own restrictions still decide the other ports, and the engine names them
    assert after[("in_b", 80, "mail")] == "timeout"
    assert rule_of(decided[("in_b", 80, "mail")]) == "ip filter INPUT: ip saddr 203.0.113.64/26 tcp dport 80 counter drop"
    assert after[("in_a", 443, "mail")] == "refused"
    assert decided[("in_a", 443, "mail")]["rule"].startswith("ip filter INPUT: tcp dport 443")
    assert after[("in_a", 2525, "mail")] == "timeout"
    assert rule_of(decided[("in_a", 2525, "mail")]) == "inet filter deny_submission: drop"
    assert after[("out_c", 2525, "mail")] == "greeting"

    ruleset = json.loads(lab.nft("mail", "-j", "list", "ruleset").stdout)["nftables"]
    foreign_after = [i for i in ruleset if "metainfo" not in i and
                     next(iter(i.values())).get("table", next(iter(i.values())).get("name")) != "emailsec_hes"]
    assert strip_counters(foreign_after) == strip_counters(foreign_before)

    rc, stats, unused_results, out = play(lab, REMOVE, extra={"hes_nftables_hosts": "mailhost"})
    assert rc == 0 and stats["mailhost"]["changed"] == 1, out
    assert live_table(lab, "mail") is None
    assert not os.path.exists(os.path.join(lab.host_dir("mailhost"), "emailsec_hes.nft"))
    assert "include" not in open(os.path.join(lab.host_dir("mailhost"), "nftables.conf")).read()
    assert lab.connect("out_c", 25) == "greeting"
    assert lab.connect("in_b", 80, timeout=0.5) == "timeout"
    rc, stats, unused_results, out = play(lab, REMOVE, extra={"hes_nftables_hosts": "mailhost"})
    assert rc == 0 and stats["mailhost"]["changed"] == 0, out


def strip_counters(items):
    text = json.dumps(items, sort_keys=True)
    data = json.loads(text)
    for item in data:
        rule = item.get("rule")
        if rule:
            rule["expr"] = [e for e in rule["expr"] if "counter" not in e]
    return data


def test_site_ranges_from_the_bundled_dataset_are_loaded_and_judged_without_sending_from_them(lab):
    rc, unused_stats, results, out = harden(lab, extra={"hes_target": "mailhost", "hes_ranges": [],
                                                        "hes_site": ["us"], "hes_allow_reserved": False})
    assert rc == 0, out
    loaded = module_result(results, "mailhost")["sets"]["hes_v4"]
    assert loaded == ["18.188.9.192/26", "18.188.239.128/26", "18.208.22.64/26", "18.208.22.128/25"]
    assert live_table(lab, "mail")["sets"]["hes_v4"]["elements"] == loaded
    policy = policy_of(lab, "mail")
    assert flow_verdict(policy, "input", "18.208.22.70", "192.0.2.25", 25)["verdict"] == "accept"
    assert flow_verdict(policy, "input", "18.208.22.63", "192.0.2.25", 25)["verdict"] == "drop"
    assert lab.probe_many([("in_a", 25, "mail"), ("in_a", 587, "mail")], timeout=0.5) == ["timeout", "greeting"]


def test_the_gate_refuses_when_another_table_drops_part_of_the_ranges_and_nothing_changes(lab):
    blocker = ("table inet blocker {\n\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n"
               "\t\tip saddr 203.0.113.64/27 tcp dport 25 drop\n\t}\n}\n")
    subprocess.run(["ip", "netns", "exec", lab.firewall_ns("mail"), "nft", "-f", "-"], input=blocker, text=True,
                   check=True)
    monitor = Monitor(lab, "mail")
    rc, unused_stats, results, out = harden(lab, extra={"hes_target": "mailhost"})
    events = monitor.stop()
    assert rc != 0
    message = failure(results, "mailhost")
    assert message.startswith("refused by the plan gate, nothing was changed: after the plan: inet blocker input: "
                              "ip saddr 203.0.113.64/27 tcp dport 25 drop (handle 2) blocks TCP/25 from part of the "
                              "ranges: 203.0.113.64/27, e.g. tcp 203.0.113.71:40000 -> "), message
    assert events == []
    assert live_table(lab, "mail") is None
    assert not os.path.exists(os.path.join(lab.host_dir("mailhost"), "emailsec_hes.nft"))
    assert "include" not in open(os.path.join(lab.host_dir("mailhost"), "nftables.conf")).read()
    assert lab.connect("out_c", 25) == "greeting"


def test_loopback_and_internal_sources_keep_reaching_smtp(lab):
    rc, unused_stats, results, out = harden(lab, extra={"hes_target": "mailhost",
                                                        "hes_nftables_internal_sources": ["192.0.2.200/32"]})
    assert rc == 0, out
    assert module_result(results, "mailhost")["sets"]["hes_internal_v4"] == ["192.0.2.200/32"]
    # out_c (192.0.2.200) stands for an internal relay; the other outside senders stay out.
    assert lab.probe_many([("out_c", 25, "mail"), ("out_b_below", 25, "mail"), ("in_a", 25, "mail")]) == [
        "greeting", "timeout", "greeting"]
    # The host's own senders reach its SMTP through loopback, on its own address and on 127.0.0.1.
    for address in ("192.0.2.25", "127.0.0.1"):
        seen = _in_netns(lab.firewall_ns("mail"), lambda a=address: _tcp_probe(a, a, 25, 1.0))
        assert seen == "greeting", address


@pytest.mark.parametrize("variable", ["hes_nftables_file", "hes_nftables_conf"])
def test_a_path_with_a_quote_and_a_newline_is_refused_before_anything_is_written(lab, variable):
    conf = os.path.join(lab.host_dir("mailhost"), "nftables.conf")
    conf_before = open(conf).read()
    evil = os.path.join(lab.host_dir("mailhost"), 'x.nft"\ninclude "/tmp/evil.nft')
    rc, unused_stats, results, out = harden(lab, extra={"hes_target": "mailhost", variable: evil})
    assert rc != 0
    option = {"hes_nftables_file": "path", "hes_nftables_conf": "nftables_conf"}[variable]
    assert failure(results, "mailhost").startswith(
        "%s: %r is not an absolute path without quotes, backslashes, glob characters" % (option, evil))
    assert open(conf).read() == conf_before
    assert sorted(os.listdir(lab.host_dir("mailhost"))) == ["nftables.conf"]
    assert live_table(lab, "mail") is None
