"""Benchmark: commands per second one emulated ASA sustains with 10 concurrent SSH sessions.

Run: `python -m hes_lab.bench_asa_emulator [--sessions 10] [--commands 200]`. Each session
logs in, enables, turns the pager off, then loops over a mix of show, configuration and
packet-tracer commands, waiting for the prompt after each as network_cli does. Prints figures.
"""
import argparse
import os
import re
import subprocess
import sys
import threading
import time

import paramiko

CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                      "tests", "lab", "asa_configs", "fpr-9.18-hq.cfg")
PROMPT = re.compile(rb"[\w\-.:/\[\]]+(?:\([^)]+\)){,3}[>#] $")
PASSWORD = re.compile(rb"Password: $")


def mix(index):
    """The command mix of session INDEX: reads, config changes in its own ACL, a trace."""
    return [
        "show access-list outside_access_in",
        "configure terminal",
        f"access-list bench_{index} extended permit tcp any host 192.0.2.{index + 1} eq smtp",
        f"no access-list bench_{index} extended permit tcp any host 192.0.2.{index + 1} eq smtp",
        "end",
        "sh running-config object-group",
        "packet-tracer input outside tcp 198.51.100.7 40000 192.0.2.25 25",
        "show running-config | include checksum:",
    ]


def session(port, index, count, results):
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect("127.0.0.1", port=port, username="admin", password="admin",
                   look_for_keys=False, allow_agent=False)
    channel = client.invoke_shell()

    def send(command, until=PROMPT):
        if command is not None:
            channel.send(command + "\r")
        buf = b""
        while not until.search(buf[-64:]):
            chunk = channel.recv(65535)
            if not chunk:
                raise EOFError(command)
            buf += chunk

    send(None)
    send("enable", PASSWORD)
    send("enablepw")
    send("no terminal pager")
    commands = mix(index)
    started = time.monotonic()
    for k in range(count):
        send(commands[k % len(commands)])
    results[index] = (count, time.monotonic() - started)
    client.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--commands", type=int, default=200, help="commands per session")
    args = parser.parse_args(argv)
    proc = subprocess.Popen([sys.executable, "-m", "hes_lab.cli", "asa", "--config", CONFIG,
                             "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline().split()[1])
        results = {}
        threads = [threading.Thread(target=session, args=(port, i, args.commands, results))
                   for i in range(args.sessions)]
        wall = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.monotonic() - wall
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    total = sum(n for n, _ in results.values())
    slowest = max(t for _, t in results.values())
    print(f"sessions: {len(results)}  commands: {total}  wall: {wall:.2f} s (incl. logins)")
    print(f"commands/second (all sessions, command phase): {total / slowest:.0f}")
    print(f"mean round trip per command: {1000 * slowest / args.commands:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
