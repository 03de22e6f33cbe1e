"""Benchmark the exact policy engine on a large ASA rule base; prints figures, asserts nothing.

    .venv/bin/python -m hes_lab.bench_engine [--aces 5000] [--repeat 3] [--seed 7]

The rule base is what a big edge ASA carries: thousands of permits and denies to hosts and
subnets on every kind of port, object-groups nested two deep, port groups, a few broad rules, and
one inbound SMTP rule from any in the middle. Figures: parse, model, Q1+Q2 (leaks and blocked for
the mail server over the whole header space), and the whole plan with its gate (the plan applied
to the configuration and both policies compared).
"""
import argparse
import os
import random
import statistics
import sys
import time

MAIL = "203.0.113.25"
RANGES = ["18.188.9.192/26", "18.188.239.128/26", "18.208.22.64/26", "18.208.22.128/25", "150.70.149.0/27"]
PORTS = ["www", "https", "ssh", "domain", "ftp", "8080", "8443", "3389", "1433", "5060", "imap4", "pop3", "587"]


def _collection_imports():
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    collections = os.path.join(repo, ".collections")
    sys.path.insert(0, collections)
    from ansible_collections.emailsec.hes.plugins.module_utils.asa import model, parse, plan
    from ansible_collections.emailsec.hes.plugins.module_utils.policy import engine, space

    return model, parse, plan, engine, space


def asa_config(aces, seed):
    """A running-config with ``aces`` entries in the outside ACL."""
    rng = random.Random(seed)
    lines = ["hostname bench", "interface GigabitEthernet0/0", " nameif outside", " security-level 0",
             " ip address 198.51.100.1 255.255.255.0", "!", "interface GigabitEthernet0/1", " nameif inside",
             " security-level 100", " ip address 10.0.0.1 255.255.0.0", "!"]
    for g in range(60):
        lines.append("object-group network SERVERS_%d" % g)
        for _ in range(rng.randint(2, 12)):
            lines.append(" network-object host 10.%d.%d.%d" % (rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254)))
        if g % 5 == 4:
            lines.append(" group-object SERVERS_%d" % (g - 1))
    for g in range(40):
        lines.append("object-group network PARTNERS_%d" % g)
        for _ in range(rng.randint(1, 8)):
            lines.append(" network-object %d.%d.%d.0 255.255.255.0" % (rng.randint(1, 223), rng.randint(0, 255), rng.randint(0, 255)))
    for g in range(20):
        lines.append("object-group service APP_%d tcp" % g)
        for _ in range(rng.randint(1, 5)):
            lines.append(" port-object eq %d" % rng.randint(1025, 60000))
    middle = aces // 2
    written = set()
    index = -1
    while len(written) < aces:
        index += 1
        if len(written) == middle and "smtp" not in written:
            written.add("smtp")
            lines.append("access-list outside_in extended permit tcp any host %s eq smtp" % MAIL)
            continue
        action = "deny" if rng.random() < 0.15 else "permit"
        src = rng.choice(["any", "object-group PARTNERS_%d" % rng.randrange(40),
                          "host %d.%d.%d.%d" % (rng.randint(1, 223), rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254)),
                          "%d.%d.0.0 255.255.0.0" % (rng.randint(1, 223), rng.randint(0, 255))])
        dst = rng.choice(["object-group SERVERS_%d" % rng.randrange(60),
                          "host 10.%d.%d.%d" % (rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254)),
                          "10.%d.%d.0 255.255.255.0" % (rng.randint(0, 255), rng.randint(0, 255))])
        service = rng.choice(["tcp", "tcp", "udp", "tcp", "ip" if rng.random() < 0.02 else "tcp"])
        port = ""
        if service == "tcp":
            port = rng.choice([" eq %s" % rng.choice(PORTS), " object-group APP_%d" % rng.randrange(20),
                               " range %d %d" % (lambda a: (a, a + rng.randint(1, 50)))(rng.randint(1025, 60000))])
        elif service == "udp":
            port = " eq %d" % rng.choice([53, 123, 161, 500, 4500, 5060])
        ace = "access-list outside_in extended %s %s %s %s%s" % (action, service, src, dst, port)
        if ace not in written:
            written.add(ace)
            lines.append(ace)
    lines.append("access-group outside_in in interface outside")
    return "\n".join(lines) + "\n"


def timed(function, repeat):
    samples = []
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aces", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    model, parse, plan, engine, space = _collection_imports()
    import ipaddress

    text = asa_config(args.aces, args.seed)
    parse_s, config = timed(lambda: parse.parse_running_config(text), args.repeat)
    model_s, policy = timed(lambda: model.build_policy(config), args.repeat)
    path = policy.paths["outside"]
    ranges = space.address_sets([ipaddress.ip_network(r) for r in RANGES])
    mail = space.address_sets([ipaddress.ip_network(MAIL)])
    questions_s, answers = timed(lambda: (engine.leaks(path, ranges, mail), engine.blocked(path, ranges, mail)), args.repeat)
    plan_s, result = timed(lambda: plan.plan_hardening(config, RANGES, mail_servers=[MAIL]), args.repeat)
    print("engine benchmark: ASA rule base of %d ACEs (%d object-groups), median of %d runs"
          % (len(config["acls"]["outside_in"]), len(config["groups"]), args.repeat))
    print("  parse show running-config   %8.3f s" % parse_s)
    print("  build the policy model      %8.3f s" % model_s)
    print("  Q1 + Q2 (leaks, blocked)    %8.3f s   (%d leak findings, %d blocked)" % (questions_s, len(answers[0]), len(answers[1])))
    print("  analysis (model + Q1 + Q2)  %8.3f s" % (model_s + questions_s))
    print("  plan + gate, end to end     %8.3f s   (%d commands, gate %s: %s)"
          % (plan_s, len(result["commands"]), "passed" if result["gate"]["ok"] else "refused", result["gate"]["differential"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
