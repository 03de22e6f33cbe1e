"""Loopback servers for source tests: a DNS server answering from a dict, an HTTPS server with a
self-signed certificate. Both run in a thread of the test process and are stopped by the test."""
import datetime
import http.server
import os
import socket
import ssl
import tempfile
import threading

import dns.exception
import dns.message
import dns.rcode
import dns.rrset
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
import ipaddress


class SocketThread:
    """A loop (`_serve`) over ``self.sock`` in a daemon thread, from the ``with`` block's start to its end."""

    def _init_thread(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _close(self):
        self.sock.close()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)
        self._close()


class DnsServer(SocketThread):
    """UDP DNS server on 127.0.0.1: ``records`` maps (name, type) to a list of rdata texts.

    ``delay`` seconds pass before each answer. Records can be replaced while it runs
    (`set_records`). An answer it cannot build (rdata text that does not parse) is a SERVFAIL,
    so that the server outlives any test input.
    """

    def __init__(self, records, delay=0.0):
        self.set_records(records)
        self.delay = delay
        self.queries = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._init_thread()

    def set_records(self, records):
        self.records = {(name.rstrip(".").lower(), rtype): values for (name, rtype), values in records.items()}

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def _serve(self):
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            if self._stop.wait(self.delay):
                return
            query = dns.message.from_wire(data)
            self.sock.sendto(self._answer(query).to_wire(), peer)

    def _answer(self, query):
        response = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        rtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, rtype))
        values = self.records.get((name, rtype))
        if values is None:
            if not any(key[0] == name for key in self.records):
                response.set_rcode(dns.rcode.NXDOMAIN)
            return response
        try:
            response.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", rtype, values))
        except dns.exception.DNSException:
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.SERVFAIL)
        return response


def self_signed_certificate(directory, common_name="localhost"):
    """Write cert.pem and key.pem for 127.0.0.1/localhost; returns their paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = os.path.join(directory, "cert.pem")
    key_path = os.path.join(directory, "key.pem")
    with open(cert_path, "wb") as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return cert_path, key_path


class HttpsServer:
    """HTTPS (or, with ``tls=False``, plain HTTP) on 127.0.0.1 serving ``routes``; counts requests.

    A route maps a path to ``(status, body bytes)`` or to a callable ``route(handler, stopping)``
    that writes the whole answer itself (see the hostile routes below); ``stopping`` is set when
    the test leaves the ``with`` block, so that endless answers end with it.
    """

    def __init__(self, routes, tls=True):
        self.routes = routes
        self.hits = []
        self.tls = tls
        self.stopping = threading.Event()
        self._dir = tempfile.mkdtemp(prefix="hes-https-")
        self.cert_path, key_path = self_signed_certificate(self._dir)
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                server.hits.append(self.path)
                route = server.routes.get(self.path, (404, b"not found"))
                self.close_connection = True
                if callable(route):
                    try:
                        route(self, server.stopping)
                    except (OSError, ssl.SSLError):
                        pass  # the client gave up, as it should
                    return
                status, body = route
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.cert_path, key_path)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path):
        return "%s://127.0.0.1:%d%s" % ("https" if self.tls else "http", self.port, path)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


# Hostile feed routes: each is what a feed server under an attacker's control could answer.

def redirect_to(location, status=302):
    """A redirect, for example from https to a plain http URL."""
    def route(handler, stopping):
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
    return route


def endless_body(line=b"18.208.22.64/26\n", content_length=None):
    """A body that never ends (no Content-Length), or that announces ``content_length`` bytes and
    then sends without end: the client's body cap must stop it."""
    def route(handler, stopping):
        handler.send_response(200)
        handler.send_header("Content-Type", "text/plain")
        if content_length is not None:
            handler.send_header("Content-Length", str(content_length))
        handler.end_headers()
        block = line * max(1, 65536 // len(line))
        while not stopping.is_set():
            handler.wfile.write(block)
    return route


def drip(body=b"18.208.22.64/26\n" * 64, interval=1.0, headers=False):
    """One byte every ``interval`` seconds, of the body or, with ``headers``, of the whole answer
    from the status line on: every single read is quick, only an overall deadline stops it."""
    def route(handler, stopping):
        if headers:
            payload = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (
                len(body), body)
        else:
            handler.send_response(200)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.flush()
            payload = body
        for index in range(len(payload)):
            if stopping.wait(interval):
                return
            handler.wfile.write(payload[index:index + 1])
            handler.wfile.flush()
    return route


class Tarpit(SocketThread):
    """TCP on 127.0.0.1 that accepts connections and never says a word (not even a TLS hello)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = []
        self._init_thread()

    def url(self, path):
        return "https://127.0.0.1:%d%s" % (self.port, path)

    def _serve(self):
        while not self._stop.is_set():
            try:
                connection, unused_peer = self.sock.accept()
            except socket.timeout:
                continue
            self.accepted.append(connection)

    def _close(self):
        for connection in self.accepted:
            connection.close()
        self.sock.close()
