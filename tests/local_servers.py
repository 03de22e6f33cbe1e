"""Loopback servers for source tests: a DNS server answering from a dict, an HTTPS server with a
self-signed certificate. Both run in a thread of the test process and are stopped by the test."""
import datetime
import http.server
import os
import socket
import ssl
import tempfile
import threading

import dns.message
import dns.rcode
import dns.rrset
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
import ipaddress


class DnsServer:
    """UDP DNS server on 127.0.0.1: ``records`` maps (name, type) to a list of rdata texts."""

    def __init__(self, records):
        self.records = {(name.rstrip(".").lower(), rtype): values for (name, rtype), values in records.items()}
        self.queries = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def _serve(self):
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text().rstrip(".").lower()
            rtype = dns.rdatatype.to_text(question.rdtype)
            self.queries.append((name, rtype))
            values = self.records.get((name, rtype))
            if values is None:
                known = any(key[0] == name for key in self.records)
                if not known:
                    response.set_rcode(dns.rcode.NXDOMAIN)
            else:
                response.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", rtype, values))
            self.sock.sendto(response.to_wire(), peer)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


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
    """HTTPS on 127.0.0.1 serving ``routes`` (path -> (status, body bytes)); counts requests."""

    def __init__(self, routes):
        self.routes = routes
        self.hits = []
        self._dir = tempfile.mkdtemp(prefix="hes-https-")
        self.cert_path, key_path = self_signed_certificate(self._dir)
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.hits.append(self.path)
                status, body = server.routes.get(self.path, (404, b"not found"))
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, key_path)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path):
        return "https://127.0.0.1:%d%s" % (self.port, path)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)
