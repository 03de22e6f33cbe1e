"""Throughput of the PAN-OS emulator: API requests per second (each one a new TLS connection, as
pan-python makes them), sequential and from parallel clients, plus one pan-os-python hardening
run with its request count. Prints figures; asserts nothing.

    .venv/bin/python -m hes_lab.bench_panos_emulator [--config FILE] [--requests N] [--threads T]
"""
import argparse
import os
import sys
import tempfile
import threading
import time

from hes_lab.panos import client
from hes_lab.panos.log import config_writes, read_log

DEFAULT_CONFIG = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "tests", "lab", "panos_configs", "fw-appdefault-smtp.xml",
)
VSYS = "/config/devices/entry[@name='localhost.localdomain']/vsys/entry[@name='vsys1']"


def start(config, log):
    import subprocess

    proc = subprocess.Popen(
        [sys.executable, "-m", "hes_lab.cli", "panos", "--config", config, "--port", "0", "--log", log],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    if not line.startswith("READY "):
        proc.kill()
        raise SystemExit(f"emulator did not start: {line!r}")
    return proc, int(line.split()[1])


def rate(port, key, params, requests, threads):
    per_thread = max(1, requests // threads)

    def worker():
        for _ in range(per_thread):
            client.api(port, dict(params, key=key))

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    began = time.perf_counter()
    for worker_thread in workers:
        worker_thread.start()
    for worker_thread in workers:
        worker_thread.join()
    elapsed = time.perf_counter() - began
    return per_thread * threads / elapsed


def harden_once(port):
    from panos.firewall import Firewall
    from panos.objects import AddressGroup, AddressObject
    from panos.policies import Rulebase, SecurityRule

    began = time.perf_counter()
    fw = Firewall("127.0.0.1", "admin", "admin", port=port)
    rulebase = Rulebase()
    fw.add(rulebase)
    names = []
    for index, cidr in enumerate(("192.0.2.0/25", "192.0.2.128/25", "198.51.100.0/24", "203.0.113.0/26"), 1):
        obj = AddressObject(f"TM_HES_{index}", cidr)
        fw.add(obj)
        obj.create()
        names.append(obj.name)
    group = AddressGroup("TM_HES_IP_RANGE", static_value=names)
    fw.add(group)
    group.create()
    smtp = SecurityRule("Inbound-SMTP")
    rulebase.add(smtp)
    smtp.refresh()
    smtp.source = ["TM_HES_IP_RANGE"]
    smtp.update("source")
    result = fw.commit(sync=True)
    return time.perf_counter() - began, result["result"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=DEFAULT_CONFIG)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as directory:
        log = os.path.join(directory, "requests.jsonl")
        proc, port = start(args.config, log)
        try:
            key = client.keygen(port)
            read = {"type": "config", "action": "get", "xpath": f"{VSYS}/rulebase/security/rules"}
            op = {"type": "op", "cmd": "<check><pending-changes/></check>"}
            match = {
                "type": "op",
                "cmd": "<test><security-policy-match><source>198.51.100.7</source><destination>203.0.113.25</destination>"
                "<protocol>6</protocol><application>smtp</application><destination-port>25</destination-port>"
                "<from>untrust</from><to>dmz</to></security-policy-match></test>",
            }
            print(f"PAN-OS emulator on 127.0.0.1:{port}, config {os.path.basename(args.config)}")
            for label, params in (("check pending-changes", op), ("get rulebase", read), ("security-policy-match", match)):
                sequential = rate(port, key, params, args.requests // 2, 1)
                parallel = rate(port, key, params, args.requests, args.threads)
                print(f"  {label:<24} {sequential:7.0f} req/s sequential   {parallel:7.0f} req/s with {args.threads} clients")
            before = len(read_log(log))
            seconds, outcome = harden_once(port)
            records = read_log(log)[before:]
            print(
                f"  pan-os-python hardening run: {seconds:.2f} s, {len(records)} API requests "
                f"({len(config_writes(records))} writes incl. commit), commit {outcome}"
            )
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
