"""A tiny SMTP greeter for the namespace lab: `220 <name> ESMTP` on every port it listens on.

Started inside a lab namespace (`ip netns exec NS python -m hes_lab.smtp_listener --ports 25,587`),
it prints one line `READY <port>,<port>...` once every socket listens, answers EHLO/HELO/NOOP/
QUIT well enough for a client to see a mail server, and stops on SIGTERM. Every port greets the
same way (also 22, 80, 443), so a probe measures reachability the same way on every port.
"""
import argparse
import selectors
import signal
import socket
import sys

GREETING = "220 {name} ESMTP hes-lab\r\n"


def _reply(line):
    verb = line.strip().split(b" ", 1)[0].upper()
    if verb in (b"EHLO", b"HELO"):
        return b"250 hes-lab\r\n", False
    if verb == b"NOOP":
        return b"250 OK\r\n", False
    if verb == b"QUIT":
        return b"221 Bye\r\n", True
    return b"502 Command not implemented\r\n", False


def serve(ports, address, name, out=sys.stdout):
    selector = selectors.DefaultSelector()
    listeners = []
    for port in ports:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(64)
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, "listen")
        listeners.append(sock)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    print("READY " + ",".join(str(p) for p in ports), file=out, flush=True)
    greeting = GREETING.format(name=name).encode()
    buffers = {}
    while not stopping:
        for key, _ in selector.select(timeout=0.5):
            sock = key.fileobj
            if key.data == "listen":
                try:
                    conn, _ = sock.accept()
                except BlockingIOError:
                    continue
                conn.setblocking(False)
                try:
                    conn.send(greeting)
                except OSError:
                    conn.close()
                    continue
                buffers[conn] = b""
                selector.register(conn, selectors.EVENT_READ, "client")
                continue
            try:
                data = sock.recv(4096)
            except OSError:
                data = b""
            close = not data
            buffers[sock] = buffers.get(sock, b"") + data
            while b"\n" in buffers[sock] and not close:
                line, buffers[sock] = buffers[sock].split(b"\n", 1)
                answer, close = _reply(line)
                try:
                    sock.send(answer)
                except OSError:
                    close = True
            if close:
                selector.unregister(sock)
                buffers.pop(sock, None)
                sock.close()
    for sock in list(buffers) + listeners:
        sock.close()
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m hes_lab.smtp_listener", description=__doc__.splitlines()[0])
    parser.add_argument("--ports", default="25", help="comma-separated TCP ports (default 25)")
    parser.add_argument("--address", default="0.0.0.0", help="address to bind (default all IPv4)")
    parser.add_argument("--name", default="mail.example.test", help="host name in the greeting")
    args = parser.parse_args(argv)
    ports = [int(p) for p in args.ports.split(",") if p]
    return serve(ports, args.address, args.name)


if __name__ == "__main__":
    sys.exit(main())
