"""Property test: the engine's model of pfSense against the Linux kernel (needs root).

Hypothesis writes random WAN rule bases the way pfSense admins do (floating rules quick or not,
in/out/any, interface rules, aliases and port aliases, port ranges, tcp/udp, inet46, negation,
disabled rules, block and reject) into a config.xml. A `hes-lab pfsense` box loads it the way
pfSense does (filter_configure_sync, the lab's pfctl); the loaded ruleset is translated to an
nftables forward chain in the namespace lab's router (hes_lab.pfsense.nft: pf's last-match
semantics in first-match form), and every sender of the lab connects to the mail server behind it
on TCP/25 and TCP/587 for real. Every verdict the engine gives on the config.xml (the collection's
pfsense.model) must be the kernel's. RFC 5737 addresses only; the lab's namespaces are unique to
this process and removed at the end.

This is a second opinion on the rule semantics (quick and last-match, ordering of floating and
interface rules, aliases, ports, negation), not a claim that pf is emulated: both sides rest on
pfSense's rule generation as the lab renders it.
"""
import os
import subprocess
import sys
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "lab"))
from hes_lab.netns import SENDERS, TARGETS, NetnsLab  # noqa: E402
from hes_lab.pfsense import PfsenseBox  # noqa: E402
from hes_lab.pfsense import nft as pf_nft  # noqa: E402
from hes_lab.pfsense.pfctl import load_state  # noqa: E402

from ansible_collections.emailsec.hes.plugins.module_utils.pfsense import model, parse  # noqa: E402
from ansible_collections.emailsec.hes.plugins.module_utils.policy import engine, space  # noqa: E402

pytestmark = [pytest.mark.netns, pytest.mark.slow]

SERVER = TARGETS["server"]["address"]
PORTS = [25, 587]
EXAMPLES = int(os.environ.get("HES_PFSENSE_NETNS_EXAMPLES", "20"))
ALIASES = {"NET_IN": ("network", "198.51.100.0/25 203.0.113.64/26"),
           "SOME": ("network", "192.0.2.192/26 198.51.100.128/25"),
           "EMPTY": ("network", ""),
           "NESTED": ("network", "SOME 203.0.113.70/32"),
           "MAILHOST": ("host", SERVER),
           "MAIL_PORTS": ("port", "25 587"),
           "SMTP": ("port", "25"),
           "HIGH": ("port", "100:1000")}
SOURCES = [{"any": ""}, {"address": "NET_IN"}, {"address": "SOME"}, {"address": "EMPTY"}, {"address": "NESTED"},
           {"address": "198.51.100.0/24"}, {"address": "203.0.113.64"}, {"address": "192.0.2.200/32"},
           {"network": "opt1"}]
DESTINATIONS = [{"any": ""}, {"address": SERVER}, {"address": "MAILHOST"}, {"address": "192.0.2.64/27"},
                {"network": "opt1"}, {"address": "192.0.2.81"}]
DPORTS = [None, "25", "587", "20-30", "1-1024", "26-65535", "MAIL_PORTS", "SMTP", "HIGH"]


def side(choice, negate, port=None):
    out = dict(choice)
    if negate and "any" not in out:
        out["not"] = ""
    if port:
        out["port"] = port
    return out


@st.composite
def rules(draw):
    rule = {"type": draw(st.sampled_from(["pass", "pass", "block", "reject", "match"])),
            "ipprotocol": draw(st.sampled_from(["inet", "inet", "inet46", "inet6"])),
            "protocol": draw(st.sampled_from(["tcp", "tcp", "udp", "tcp/udp", "any", ""])),
            "descr": "random"}
    if draw(st.booleans()):
        rule.update(floating="yes", interface=draw(st.sampled_from(["wan", "wan,opt1", "opt1", ""])),
                    direction=draw(st.sampled_from(["in", "any", "out", ""])))
        if draw(st.booleans()):
            rule["quick"] = "yes"
    else:
        rule["interface"] = draw(st.sampled_from(["wan", "wan", "opt1"]))
    ports = rule["protocol"] in ("tcp", "udp", "tcp/udp", "")
    dport = draw(st.sampled_from(DPORTS)) if ports else None
    if rule["protocol"] == "" and dport is None:
        rule["protocol"] = "any"
    rule["source"] = side(draw(st.sampled_from(SOURCES)), draw(st.booleans()) and draw(st.booleans()))
    rule["destination"] = side(draw(st.sampled_from(DESTINATIONS)), draw(st.booleans()) and draw(st.booleans()), dport)
    if draw(st.integers(0, 7)) == 0:
        rule["disabled"] = ""
    return rule


def config_text(rule_list):
    config = {
        "version": "23.3",
        "system": {"hostname": "fw-netns", "domain": "example.test", "ipv6allow": ""},
        "interfaces": {
            "wan": {"enable": "", "if": "eth0", "descr": "WAN", "ipaddr": "192.0.2.62", "subnet": "27"},
            "opt1": {"enable": "", "if": "eth1", "descr": "MAILNET", "ipaddr": "192.0.2.65", "subnet": "27"}},
        "filter": {"rule": [dict(r, tracker=str(1700000000 + i)) for i, r in enumerate(rule_list)]},
        "aliases": {"alias": [{"name": n, "type": t, "address": a, "descr": ""} for n, (t, a) in ALIASES.items()]},
        "revision": {"time": "1732900000", "description": "random rule base", "username": "hypothesis"}}
    return parse.dump_config(config)


@pytest.fixture(scope="module")
def lab():
    instance = NetnsLab()
    try:
        instance.up()
        yield instance
    finally:
        instance.down()
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert not any(name.startswith(instance.prefix + "-") for name in listing.split())


def kernel_verdicts(lab, state):
    """Load the translated chain in the router and connect from every sender on every port."""
    lab.nft("server", "delete", "table", "inet", pf_nft.TABLE, check=False)
    with tempfile.NamedTemporaryFile("w", suffix=".nft", delete=False) as handle:
        handle.write(pf_nft.ruleset(state, "eth0"))
    try:
        lab.nft("server", "-f", handle.name)
    finally:
        os.unlink(handle.name)
    probes = [(sender, port, "server") for sender in SENDERS for port in PORTS]
    outcomes = lab.probe_many(probes, timeout=1.0)
    return dict(((sender, port), "permit" if outcome == "greeting" else "deny")
                for (sender, port, unused), outcome in zip(probes, outcomes))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])
@given(st.lists(rules(), min_size=1, max_size=7))
def test_the_engine_agrees_with_the_kernel_on_the_loaded_ruleset(lab, rule_list):
    text = config_text(rule_list)
    folder = tempfile.mkdtemp(prefix="hes-pfsense-netns-")
    box = PfsenseBox(os.path.join(folder, "box"))
    try:
        box.up(text)
        state = load_state(box.root)
        kernel = kernel_verdicts(lab, state)
    finally:
        box.down()
        os.rmdir(folder)
    path = model.build_policy(parse.parse_config(text)).paths["wan"]
    wrong = []
    for (sender, port), actual in sorted(kernel.items()):
        flow = space.make_flow(SENDERS[sender], SERVER, dport=port)
        answer = engine.evaluate_flow(path, flow)
        if answer["verdict"] != actual:
            wrong.append("%s -> %s:%d: engine %s (%s), kernel %s" % (
                SENDERS[sender], SERVER, port, answer["verdict"],
                next((r.label for r in reversed(answer["may"].trail) if r is not None), "default"), actual))
    assert not wrong, "\n".join(wrong + ["", text, pf_nft.ruleset(state, "eth0")])
