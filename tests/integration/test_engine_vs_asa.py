"""Property test: the exact engine against the ASA emulator's packet-tracer.

Hypothesis writes random rule bases the way admins do (object-groups of every kind, names,
source and destination ports, an interface ACL, a global one and an out ACL on the DMZ where the
mail servers live, inactive entries), types them
into one emulated ASA over SSH, reads `show running-config` back (so the engine parses the
device's own output), and puts random flows and the engine's own witnesses to packet-tracer.
Every verdict the engine is sure of must be the device's; where the engine is unsure
(time-ranges, fqdn objects) the device's verdict must be one the engine allows. A disagreement
is a bug in one of them: the failing example is printed with both answers.
"""
import ipaddress
import os
import re
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lab_fixtures import REPO_ROOT, AsaCli, start_lab  # noqa: E402

from ansible_collections.emailsec.hes.plugins.module_utils.asa.model import build_policy  # noqa: E402
from ansible_collections.emailsec.hes.plugins.module_utils.asa.parse import parse_running_config  # noqa: E402
from ansible_collections.emailsec.hes.plugins.module_utils.policy import engine, space  # noqa: E402

BASE = os.path.join(REPO_ROOT, "tests", "unit", "plugins", "module_utils", "asa", "golden", "seed_single_rule",
                    "running-config.cfg")
HOSTS = ["192.0.2.1", "192.0.2.7", "192.0.2.130", "198.51.100.7", "198.51.100.200", "203.0.113.25", "203.0.113.26",
         "203.0.113.80", "18.208.22.70"]
NETS = ["192.0.2.0 255.255.255.0", "192.0.2.0 255.255.255.128", "198.51.100.0 255.255.255.0",
        "203.0.113.0 255.255.255.224", "18.208.22.64 255.255.255.192"]
PORTS = [1, 24, 25, 26, 53, 80, 443, 587, 1023, 1024, 40000, 65535]
LITERALS = ["smtp", "www", "https", "domain", "ssh"]

# The groups every example may use; defined once on the device.
GROUPS = """name 203.0.113.25 mail-public
object network MX
 host 203.0.113.25
object network WEBNET
 subnet 203.0.113.0 255.255.255.224
object network RANGE7
 range 192.0.2.1 192.0.2.7
object-group network MAILS
 network-object object MX
 network-object host 203.0.113.26
object-group network PARTNERS
 network-object 198.51.100.0 255.255.255.0
 group-object MAILS
object-group service SMTP_ONLY tcp
 port-object eq smtp
object-group service HIGH tcp
 port-object range 1024 65535
object-group service WEBMAIL tcp-udp
 port-object eq 443
 port-object eq 25
object-group service MIXED
 service-object tcp destination eq smtp
 service-object udp destination eq domain
 service-object icmp echo
object-group service SRCLOW
 service-object tcp source range 1 1023
object-group protocol TCPUDP
 protocol-object tcp
 protocol-object udp
object service SUBMISSION
 service tcp destination eq 587
"""

addresses = st.one_of(
    st.sampled_from(["any", "any4"]),
    st.sampled_from(HOSTS).map(lambda h: "host " + h),
    st.sampled_from(NETS),
    st.sampled_from(["object MX", "object WEBNET", "object RANGE7", "object-group MAILS", "object-group PARTNERS",
                     "host mail-public"]),
)
port_ops = st.one_of(
    st.sampled_from(PORTS + LITERALS).map(lambda p: "eq %s" % p),
    st.sampled_from(PORTS).map(lambda p: "neq %s" % p),
    st.sampled_from([p for p in PORTS if p > 1]).map(lambda p: "lt %s" % p),
    st.sampled_from([p for p in PORTS if p < 65535]).map(lambda p: "gt %s" % p),
    st.tuples(st.sampled_from(PORTS), st.sampled_from(PORTS)).map(lambda t: "range %d %d" % (min(t), max(t))),
)


@st.composite
def aces(draw):
    action = draw(st.sampled_from(["permit", "deny"]))
    kind = draw(st.sampled_from(["tcp", "tcp", "udp", "ip", "svc", "proto", "icmp", "object"]))
    src = draw(addresses)
    dst = draw(addresses)
    suffix = draw(st.sampled_from(["", "", "", " inactive", " log"]))
    if kind in ("tcp", "udp"):
        sport = draw(st.one_of(st.just(""), port_ops.map(lambda p: " " + p),
                               st.just(" object-group HIGH") if kind == "tcp" else st.just("")))
        dport = draw(st.one_of(st.just(""), port_ops.map(lambda p: " " + p),
                               st.sampled_from([" object-group SMTP_ONLY", " object-group WEBMAIL"])
                               if kind == "tcp" else st.just(" object-group WEBMAIL")))
        if kind == "udp":
            sport = sport.replace("smtp", "25").replace("www", "80").replace("https", "443").replace("ssh", "22")
            dport = dport.replace("smtp", "25").replace("https", "443").replace("ssh", "22")
        return "extended %s %s %s%s %s%s%s" % (action, kind, src, sport, dst, dport, suffix)
    if kind == "svc":
        group = draw(st.sampled_from(["MIXED", "SRCLOW"]))
        return "extended %s object-group %s %s %s%s" % (action, group, src, dst, suffix)
    if kind == "proto":
        dport = draw(st.one_of(st.just(""), port_ops.map(lambda p: " " + p).filter(lambda p: not re.search("[a-z]+$", p))))
        return "extended %s object-group TCPUDP %s %s%s%s" % (action, src, dst, dport, suffix)
    if kind == "object":
        return "extended %s object SUBMISSION %s %s%s" % (action, src, dst, suffix)
    if kind == "icmp":
        return "extended %s icmp %s %s%s" % (action, src, dst, draw(st.sampled_from(["", " echo", " echo-reply"])))
    return "extended %s ip %s %s%s" % (action, src, dst, suffix)


flows = st.tuples(st.sampled_from(["tcp", "tcp", "udp"]), st.sampled_from(HOSTS), st.sampled_from(PORTS),
                  st.sampled_from(HOSTS), st.sampled_from(PORTS))


@pytest.fixture(scope="module")
def asa(tmp_path_factory):
    with open(BASE, encoding="utf-8") as handle:
        config = handle.read()
    path = tmp_path_factory.mktemp("asa") / "base.cfg"
    path.write_text(config.replace("ftp mode passive\n", "ftp mode passive\n" + GROUPS))
    proc = start_lab("asa", "--config", str(path), "--port", 0)
    cli = AsaCli(proc.port)
    try:
        yield cli
    finally:
        cli.close()
        proc.stop()


COUNTER = {"n": 0}


def trace(cli, proto, src, sport, dst, dport):
    out = cli.run("packet-tracer input outside %s %s %d %s %d" % (proto, src, sport, dst, dport))
    action = re.search(r"^Action: (\w+)", out, re.M)
    assert action, out
    return "permit" if action.group(1) == "allow" else "deny"


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(interface_acl=st.lists(aces(), min_size=1, max_size=8), global_acl=st.lists(aces(), max_size=4),
       out_acl=st.lists(aces(), max_size=3), probes=st.lists(flows, min_size=10, max_size=16))
def test_engine_agrees_with_packet_tracer(asa, interface_acl, global_acl, out_acl, probes):
    COUNTER["n"] += 1
    name, global_name, out_name = "PT%d" % COUNTER["n"], "GL%d" % COUNTER["n"], "OUT%d" % COUNTER["n"]
    commands = ["configure terminal"]
    commands += ["access-list %s %s" % (name, ace) for ace in interface_acl]
    commands += ["access-list %s %s" % (global_name, ace) for ace in global_acl]
    commands += ["access-list %s %s" % (out_name, ace) for ace in out_acl]
    if COUNTER.get("out"):
        commands.append("no access-group %s out interface dmz" % COUNTER.pop("out"))
    if out_acl:
        # The DMZ (203.0.113.0/24) is where the mail servers live: its out ACL is a second stage.
        commands.append("access-group %s out interface dmz" % out_name)
        COUNTER["out"] = out_name
    commands.append("access-group %s in interface outside" % name)
    if global_acl:
        commands.append("access-group %s global" % global_name)
    elif COUNTER.get("global"):
        commands.append("no access-group %s global" % COUNTER.pop("global"))
    if global_acl:
        COUNTER["global"] = global_name
    commands.append("end")
    for command in commands:
        out = asa.run(command)
        assert "ERROR" not in out, (command, out)
    config = parse_running_config(asa.run("show running-config"))
    path = build_policy(config, ["outside"]).paths["outside"]

    asked = list(probes)
    mail = space.address_sets([ipaddress.ip_network("203.0.113.25/32")])
    ranges = space.address_sets([ipaddress.ip_network("18.208.22.64/26")])
    for finding in engine.leaks(path, ranges, mail) + engine.blocked(path, ranges, mail):
        flow = finding.witness
        asked.append(("tcp", flow.source, flow[space.SPORT], flow.destination, flow[space.DPORT]))
    for proto, src, sport, dst, dport in asked:
        flow = space.make_flow(src, dst, 6 if proto == "tcp" else 17, sport, dport)
        answer = engine.evaluate_flow(path, flow)
        device = trace(asa, proto, src, sport, dst, dport)
        allowed = {answer["may"].verdict, answer["must"].verdict}
        assert device in allowed, (
            "%s %s:%d -> %s:%d: device %s, engine %s (decided by %s)\n%s" % (
                proto, src, sport, dst, dport, device, answer["verdict"],
                [r.label if r else None for r in answer["may"].trail],
                "\n".join(c for c in commands)))
