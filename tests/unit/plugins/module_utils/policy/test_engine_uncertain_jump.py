"""An unresolved jump, goto or return refuses only the flows it is in doubt about.

Found by the nftables model (``meta mark 0x1 tcp dport 7015 jump web`` in a host's input chain):
the engine raised CannotProve for every flow that walked the chain, TCP/25 included, although
the rule can only ever match TCP/7015.
"""
import ipaddress

import pytest

from ansible_collections.emailsec.hes.plugins.module_utils.policy import engine, space
from ansible_collections.emailsec.hes.plugins.module_utils.policy.model import Chain, Path, Rule, Stage

ANY = space.any_addresses()
TCP = space.interval(space.TCP, space.TCP)


def port(number):
    return space.match_cubes(ANY, ANY, protocols=TCP, dport=space.interval(number, number))


def path_with(jump):
    entry = Chain("input", [jump, Rule("smtp", "tcp dport 25 accept", "permit", port(25)),
                            Rule("end", "drop", "deny", space.universe())])
    web = Chain("web", [Rule("web-drop", "drop", "deny", space.universe())])
    return Path("input", [Stage("input", "input", [entry, web], "deny")])


def flow(dport):
    return space.make_flow(ipaddress.ip_address("198.51.100.7"), ipaddress.ip_address("192.0.2.25"), dport=dport)


def test_flows_outside_an_uncertain_jump_are_decided():
    jump = Rule("mark", "meta mark 1 tcp dport 7015 jump web", "jump", port(7015), [], uncertain=["meta mark"],
                target="web")
    path = path_with(jump)
    assert engine.evaluate_flow(path, flow(25))["verdict"] == "permit"
    with pytest.raises(engine.CannotProve, match="meta mark 1 tcp dport 7015 jump web"):
        engine.evaluate_flow(path, flow(7015))


def test_flows_the_jump_surely_takes_are_decided_too():
    # Certain for TCP/7015 from 198.51.100.0/24, in doubt for the rest of TCP/7015.
    certain = space.match_cubes(space.address_sets([ipaddress.ip_network("198.51.100.0/24")]), ANY,
                                protocols=TCP, dport=space.interval(7015, 7015))
    jump = Rule("partly", "tcp dport 7015 jump web", "jump", port(7015), certain, uncertain=["something"],
                target="web")
    path = path_with(jump)
    assert engine.evaluate_flow(path, flow(7015))["verdict"] == "deny"
    other = space.make_flow(ipaddress.ip_address("203.0.113.7"), ipaddress.ip_address("192.0.2.25"), dport=7015)
    with pytest.raises(engine.CannotProve):
        engine.evaluate_flow(path, other)
