"""Benchmark the exact policy engine on a large PAN-OS rulebase; prints figures, asserts nothing.

    .venv/bin/python -m hes_lab.bench_engine_panos [--rules 2000] [--zones 6] [--repeat 3] [--seed 7]

The rulebase is what a big perimeter firewall carries: thousands of allow and deny rules between
a handful of zones, to hosts and subnets, with nested address groups, custom services and service
groups, application lists with application-default, a few rules for any application, some
disabled, and one inbound SMTP rule (application smtp, application-default, from any) in the
middle. Figures: parse of the candidate /config, the policy model (one path per zone pair),
Q1+Q2 (leaks and blocked for the mail server over the whole header space, on the inbound path),
and the whole plan with its gate (the edits applied to the configuration, both policies compared
on every zone pair).
"""
import argparse
import os
import random
import statistics
import sys
import time
import xml.etree.ElementTree as ET

MAIL = "203.0.113.25"
RANGES = ["18.188.9.192/26", "18.188.239.128/26", "18.208.22.64/26", "18.208.22.128/25", "150.70.149.0/27"]
APPS = ["ssl", "web-browsing", "ssh", "dns", "ntp", "ftp", "imap", "pop3", "ldap", "ms-rdp", "snmp", "syslog"]
ZONE_NAMES = ["untrust", "dmz", "trust", "dmz2", "vpn", "guest", "lab", "mgmt"]


def _collection_imports():
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.path.insert(0, os.path.join(repo, ".collections"))
    from ansible_collections.emailsec.hes.plugins.module_utils.panos import model, parse, plan
    from ansible_collections.emailsec.hes.plugins.module_utils.policy import engine, model as policy_model, space

    return model, parse, plan, engine, policy_model, space


def _members(tag, values):
    return "<%s>%s</%s>" % (tag, "".join("<member>%s</member>" % v for v in values), tag)


def panos_config(rules, zones, seed):
    """A candidate /config with ``rules`` security rules between ``zones`` zones."""
    rng = random.Random(seed)
    names = ZONE_NAMES[:zones]
    out = ["<config><shared><address>"]
    for i in range(40):
        out.append("<entry name='shared-net-%d'><ip-netmask>%d.%d.%d.0/24</ip-netmask></entry>"
                   % (i, rng.randint(1, 223), rng.randint(0, 255), rng.randint(0, 255)))
    out.append("</address></shared><devices><entry name='localhost.localdomain'><vsys><entry name='vsys1'><zone>")
    out.extend("<entry name='%s'><network><layer3/></network></entry>" % z for z in names)
    out.append("</zone><address><entry name='mail-server-public'><ip-netmask>%s/32</ip-netmask></entry>" % MAIL)
    for i in range(300):
        if i % 7 == 0:
            prefix = "10.%d.%d." % (i % 256, rng.randint(0, 255))
            first = rng.randint(1, 200)
            out.append("<entry name='host-%d'><ip-range>%s%d-%s%d</ip-range></entry>"
                       % (i, prefix, first, prefix, first + rng.randint(1, 50)))
        else:
            out.append("<entry name='host-%d'><ip-netmask>10.%d.%d.%d/%d</ip-netmask></entry>" % (
                i, rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254), rng.choice([32, 32, 28, 24])))
    out.append("</address><address-group>")
    for g in range(60):
        members = ["host-%d" % rng.randrange(300) for _ in range(rng.randint(2, 10))]
        if g % 5 == 4:
            members.append("servers-%d" % (g - 1))
        out.append("<entry name='servers-%d'>%s</entry>" % (g, _members("static", sorted(set(members)))))
    for g in range(30):
        out.append("<entry name='partners-%d'>%s</entry>" % (g, _members("static", sorted(
            set("shared-net-%d" % rng.randrange(40) for _ in range(rng.randint(1, 6)))))))
    out.append("</address-group><service>")
    for s in range(40):
        low = rng.randint(1025, 60000)
        port = rng.choice(["%d" % low, "%d-%d" % (low, low + rng.randint(1, 100)), "%d,%d" % (low, low + 7)])
        protocol = rng.choice(["tcp", "tcp", "udp"])
        out.append("<entry name='svc-%d'><protocol><%s><port>%s</port></%s></protocol></entry>"
                   % (s, protocol, port, protocol))
    out.append("</service><service-group>")
    for g in range(10):
        out.append("<entry name='svc-group-%d'>%s</entry>" % (g, _members("members", sorted(
            set("svc-%d" % rng.randrange(40) for _ in range(rng.randint(2, 5)))))))
    out.append("</service-group><rulebase><security><rules>")
    middle = rules // 2
    for index in range(rules):
        if index == middle:
            out.append("<entry name='Inbound-SMTP'>%s%s%s%s%s%s<action>allow</action></entry>" % (
                _members("from", ["untrust"]), _members("to", ["dmz"]), _members("source", ["any"]),
                _members("destination", ["mail-server-public"]), _members("application", ["smtp"]),
                _members("service", ["application-default"])))
            continue
        source = rng.choice([["any"], ["partners-%d" % rng.randrange(30)], ["host-%d" % rng.randrange(300)],
                             ["%d.%d.0.0/16" % (rng.randint(1, 223), rng.randint(0, 255))]])
        destination = rng.choice([["servers-%d" % rng.randrange(60)], ["host-%d" % rng.randrange(300)],
                                  ["10.%d.%d.0/24" % (rng.randint(0, 255), rng.randint(0, 255))]])
        app = rng.choice([["any"], [rng.choice(APPS)], rng.sample(APPS, 2)] + [[rng.choice(APPS)]] * 3)
        service = rng.choice([["application-default"]] * 3 + [["svc-%d" % rng.randrange(40)],
                                                              ["svc-group-%d" % rng.randrange(10)], ["any"]])
        if app == ["any"] and service == ["application-default"]:
            service = ["svc-%d" % rng.randrange(40)]
        from_zone = rng.choice([["any"]] + [[z] for z in names])
        to_zone = rng.choice([[z] for z in names if z != "untrust"])
        extra = "<disabled>yes</disabled>" if rng.random() < 0.03 else ""
        out.append("<entry name='rule-%d'>%s%s%s%s%s%s<action>%s</action>%s</entry>" % (
            index, _members("from", from_zone), _members("to", to_zone), _members("source", source),
            _members("destination", destination), _members("application", app), _members("service", service),
            "deny" if rng.random() < 0.15 else "allow", extra))
    out.append("</rules></security></rulebase></entry></vsys></entry></devices></config>")
    return "".join(out)


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
    parser.add_argument("--rules", type=int, default=2000)
    parser.add_argument("--zones", type=int, default=6, choices=range(2, len(ZONE_NAMES) + 1))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    model, parse, plan, engine, policy_model, space = _collection_imports()
    import ipaddress

    text = panos_config(args.rules, args.zones, args.seed)
    parse_s, config = timed(lambda: parse.parse_config(ET.fromstring(text), "vsys1"), args.repeat)
    model_s, policy = timed(lambda: model.build_policy(config), args.repeat)
    path = policy.paths[model.path_name("untrust", "dmz")]
    ranges = space.address_sets([ipaddress.ip_network(r) for r in RANGES])
    mail = space.address_sets([ipaddress.ip_network(MAIL)])
    smtp = space.interval(policy_model.SMTP_APP, policy_model.SMTP_APP)
    questions_s, answers = timed(lambda: (engine.leaks(path, ranges, mail), engine.blocked(path, ranges, mail, smtp_apps=smtp)),
                                 args.repeat)
    root = ET.fromstring(text)
    plan_s, result = timed(lambda: plan.plan_hardening(root, RANGES, mail_servers=[MAIL]), args.repeat)
    print("engine benchmark: PAN-OS rulebase of %d rules, %d zones (%d paths), %d address objects, "
          "%d groups; median of %d runs" % (len(config["rules"]), len(config["zones"]), len(policy.paths),
                                            len(config["addresses"]), len(config["groups"]), args.repeat))
    print("  parse the candidate /config %8.3f s" % parse_s)
    print("  build the policy model      %8.3f s" % model_s)
    print("  Q1 + Q2 (leaks, blocked)    %8.4f s   (%d leak findings, %d blocked, path untrust->dmz of %d rules)"
          % (questions_s, len(answers[0]), len(answers[1]), len(path.stages[0].chains[path.name].rules)))
    print("  analysis (model + Q1 + Q2)  %8.3f s" % (model_s + questions_s))
    print("  plan + gate, end to end     %8.3f s   (%d edits, gate %s: %s)"
          % (plan_s, len(result["edits"]), "passed" if result["gate"]["ok"] else "refused",
             result["gate"]["differential"]))
    for error in result["errors"][:3]:
        print("    refusal: %s" % error[:200])
    return 0


if __name__ == "__main__":
    sys.exit(main())
