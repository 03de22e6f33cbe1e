"""Benchmark the nftables model and its plan gate on large host rulesets; prints figures, asserts nothing.

A host ruleset of N rules (``nft -j`` items, deterministic): an ``inet filter`` input chain with
policy drop whose rules accept or drop TCP ports from random public /16-/32 sources, jump into
per-service chains, look up named interval sets and a verdict map, plus an ``ip`` table at a lower
priority. For each size: the time to build the policy, the time of the whole plan (our table
rendered, both policies built, ``check_plan``), and ``flow_verdict`` throughput.

    .venv/bin/python -m hes_lab.bench_nftables_model [--sizes 100,1000,5000] [--flows 200]
"""
import argparse
import ipaddress
import os
import random
import sys
import time

RANGES = ["18.208.22.64/26", "18.208.22.128/25", "150.70.149.0/27"]
MAIL = "203.0.113.25"
PORTS = [22, 25, 80, 110, 143, 443, 465, 587, 993, 995, 2525, 8080]


def _collection_imports():
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    collections = os.path.join(repo, ".collections")
    sys.path.insert(0, collections)
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

    _AnsibleCollectionFinder(paths=[collections])._install()
    from ansible_collections.emailsec.hes.plugins.module_utils.nftables import model, plan

    return model, plan


def _match(protocol, field, right, op="=="):
    return {"match": {"op": op, "left": {"payload": {"protocol": protocol, "field": field}}, "right": right}}


def _source(rng):
    while True:
        net = ipaddress.ip_network("%d.%d.%d.%d/%d" % (rng.randint(1, 223), rng.randint(0, 255), rng.randint(0, 255),
                                                        rng.randint(0, 255), rng.choice([16, 20, 24, 28, 32])),
                                   strict=False)
        if net.is_global:
            return {"prefix": {"addr": str(net.network_address), "len": net.prefixlen}}


def host_ruleset(size, seed=7):
    rng = random.Random(seed)
    where = {"family": "inet", "table": "filter"}
    items = [{"table": {"family": "inet", "name": "filter"}},
             {"set": dict(where, name="blocked", type="ipv4_addr", flags=["interval"],
                          elem=[_source(rng) for _ in range(50)])},
             {"map": dict(where, name="services", type="inet_service", map="verdict",
                          elem=[[p, {"accept": None}] for p in (80, 443)])},
             {"chain": dict(where, name="input", type="filter", hook="input", prio=0, policy="drop")}]
    for name in ("ssh", "web"):
        items.append({"chain": dict(where, name=name)})
    rules = [[{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}},
              {"accept": None}],
             [_match("ip", "saddr", "@blocked"), {"drop": None}],
             [{"vmap": {"key": {"payload": {"protocol": "tcp", "field": "dport"}}, "data": "@services"}}]]
    for index in range(size):
        kind = rng.random()
        if kind < 0.1:
            rules.append([_match("tcp", "dport", 22), {"jump": {"target": "ssh"}}])
        elif kind < 0.15:
            rules.append([_match("tcp", "dport", {"range": [8000, 8999]}), {"goto": {"target": "web"}}])
        else:
            rules.append([_match("ip", "saddr", _source(rng)), _match("tcp", "dport", rng.choice(PORTS)),
                          {"accept": None} if rng.random() < 0.7 else {"drop": None}])
    rules.append([_match("tcp", "dport", 25), {"accept": None}])
    for exprs in rules:
        items.append({"rule": dict(where, chain="input", expr=exprs)})
    for chain, verdict in (("ssh", {"return": None}), ("web", {"drop": None})):
        for _ in range(max(1, size // 50)):
            items.append({"rule": dict(where, chain=chain, expr=[_match("ip", "saddr", _source(rng)), verdict])})
    items += [{"table": {"family": "ip", "name": "early"}},
              {"chain": {"family": "ip", "table": "early", "name": "pre", "type": "filter", "hook": "prerouting",
                         "prio": -150, "policy": "accept"}},
              {"rule": {"family": "ip", "table": "early", "chain": "pre",
                        "expr": [_match("ip", "saddr", _source(rng)), {"drop": None}]}}]
    return {"nftables": items}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,5000", help="rules in the host chain (comma separated)")
    parser.add_argument("--flows", type=int, default=200, help="flows asked one at a time per size")
    args = parser.parse_args(argv)
    model, plan = _collection_imports()
    print("%6s %10s %10s %14s %s" % ("rules", "policy s", "plan s", "flows/s", "gate"))
    for size in (int(s) for s in args.sizes.split(",")):
        ruleset = host_ruleset(size)
        began = time.perf_counter()
        policy = model.build_policy(ruleset)
        built = time.perf_counter() - began
        began = time.perf_counter()
        answer = plan.plan_table(ruleset, RANGES, destinations=[MAIL])
        planned = time.perf_counter() - began
        rng = random.Random(size)
        flows = [(str(ipaddress.IPv4Address(rng.randint(0x01000000, 0xDF000000))), rng.choice(PORTS))
                 for _ in range(args.flows)]
        began = time.perf_counter()
        for source, port in flows:
            model.flow_verdict(policy, "input", source, MAIL, port)
        rate = len(flows) / (time.perf_counter() - began)
        gate = "ok" if answer["gate"]["ok"] else "refused (%d reasons)" % len(answer["gate"]["refusals"])
        print("%6d %10.3f %10.3f %14.1f %s" % (size, built, planned, rate, gate))


if __name__ == "__main__":
    main()
