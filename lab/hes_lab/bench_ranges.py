"""Benchmark the ranges lookup and the aggregation it relies on; prints figures, asserts nothing.

    .venv/bin/python -m hes_lab.bench_ranges [--repeat 200] [--cidrs 10000]
"""
import argparse
import ipaddress
import os
import random
import statistics
import sys
import time


def _collection_imports():
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    collections = os.path.join(repo, ".collections")
    sys.path.insert(0, collections)
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

    _AnsibleCollectionFinder(paths=[collections])._install()
    from ansible.plugins.loader import lookup_loader
    from ansible_collections.emailsec.hes.plugins.module_utils import hes_dataset, hes_ranges

    return lookup_loader, hes_dataset, hes_ranges


def timed(function, repeat):
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), min(samples)


def random_public_cidrs(count, reserved_reason, seed=7):
    rng = random.Random(seed)
    result = []
    while len(result) < count:
        # /20 and longer: the guard refuses adjacent ranges that aggregate past max_prefix=16,
        # which 10,000 random /16s would sometimes do.
        prefix = rng.randint(20, 32)
        value = rng.getrandbits(32) & ~((1 << (32 - prefix)) - 1)
        net = ipaddress.ip_network((value, prefix))
        if reserved_reason(net) is None:
            result.append(str(net))
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--cidrs", type=int, default=10000)
    args = parser.parse_args(argv)
    lookup_loader, hes_dataset, hes_ranges = _collection_imports()
    lookup = lookup_loader.get("emailsec.hes.ranges")
    print("emailsec.hes.ranges benchmark (dataset %s, python %s)" % (hes_dataset.DATASET_VERSION, sys.version.split()[0]))
    print("%-44s %12s %12s" % ("case", "median ms", "min ms"))
    for site in list(hes_dataset.SITES) + ["all"]:
        median, best = timed(lambda: lookup.run([], variables={}, site=site), args.repeat)
        print("%-44s %12.3f %12.3f" % ("lookup site=%s" % site, median * 1e3, best * 1e3))
    cidrs = random_public_cidrs(args.cidrs, hes_ranges.reserved_reason)
    entries = [("bench", c) for c in cidrs]
    median, best = timed(lambda: hes_ranges.collect_ranges(entries, max_prefix=16), max(3, args.repeat // 40))
    result = hes_ranges.collect_ranges(entries, max_prefix=16)
    print("%-44s %12.3f %12.3f" % ("parse+guard+aggregate %d random CIDRs" % len(cidrs), median * 1e3, best * 1e3))
    print("  -> %d CIDRs after aggregation (%.0f CIDRs/s)" % (len(result), len(cidrs) / median))
    median, best = timed(lambda: lookup.run([], variables={}, ranges=cidrs), max(3, args.repeat // 40))
    print("%-44s %12.3f %12.3f" % ("lookup ranges=<%d random CIDRs>" % len(cidrs), median * 1e3, best * 1e3))
    return 0


if __name__ == "__main__":
    sys.exit(main())
