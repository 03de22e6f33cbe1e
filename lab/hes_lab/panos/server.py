"""`hes-lab panos`: the PAN-OS XML API emulator over HTTPS on 127.0.0.1.

API: `/api` and `/api/` (GET or form POST) as pan-python calls them. Lab-only endpoints, not part
of PAN-OS: `GET /_lab/running`, `GET /_lab/candidate` (configuration XML without dirty markers),
`GET|POST /_lab/faults` (JSON: commit_fail, lock_by, drop_after, delay_ms), `POST /_lab/reset`.

TLS: a certificate for localhost/127.0.0.1/::1 issued at start by the lab CA (tls.py); the line
`TLS sha256 <fingerprint> ca <CA file>` on stderr says what a client verifies against (stdout
keeps its one `READY <port>` line).
"""
import argparse
import functools
import json
import os
import signal
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

from hes_lab.panos import tls
from hes_lab.panos.config_tree import ApiError
from hes_lab.panos.device import Device, Faults, error_response
from hes_lab.panos.log import RequestLog
from hes_lab.panos.opstate import DEFAULT_MODEL, DEFAULT_SERIAL, Identity

XML_TYPE = "application/xml; charset=UTF-8"
INVALID_CREDENTIAL = ApiError(403, "Invalid Credential", http_status=403)


def parse_params(raw):
    """Form parameters, with `key` taken raw: pan-python appends it unencoded, so a `+` in it
    must not become a space."""
    params = dict(parse_qsl(raw, keep_blank_values=True))
    for part in raw.split("&"):
        if part.startswith("key="):
            params["key"] = unquote(part[4:])
    return params


class PanosServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, device, request_log, ssl_context):
        super().__init__(address, Handler)
        self.device = device
        self.request_log = request_log
        self.ssl_context = ssl_context
        self.connections = 0
        self.connections_lock = threading.Lock()

    def finish_request(self, request, client_address):
        # The TLS handshake runs here, in the request's own thread, so that one slow client
        # cannot hold up accept().
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        with self.connections_lock:
            self.connections += 1
            connection = self.connections
        try:
            handler = functools.partial(self.RequestHandlerClass, connection=connection)
            handler(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass


class Handler(BaseHTTPRequestHandler):
    server_version = "PAN-OS-emulator"
    sys_version = ""
    # Keep-alive as PAN-OS's web server does: a client may send many requests on one TLS
    # connection (urllib, and so pan-python, asks to close after each). Every log record names
    # its connection, so that tests can count TLS sessions per device.
    protocol_version = "HTTP/1.1"

    def __init__(self, *args, connection=None, **kwargs):
        self.connection_number = connection
        super().__init__(*args, **kwargs)

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass

    def do_GET(self):
        self._dispatch(urlsplit(self.path).query)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        query = urlsplit(self.path).query
        self._dispatch("&".join(p for p in (query, body) if p))

    def _dispatch(self, raw):
        path = urlsplit(self.path).path
        if path.startswith("/_lab/"):
            self._lab(path, raw)
            return
        if path not in ("/api", "/api/"):
            self._send(404, "<response status=\"error\"><msg><line>Not Found</line></msg></response>")
            return
        device = self.server.device
        params = parse_params(raw)
        if self.headers.get("X-PAN-KEY") and "key" not in params:
            params["key"] = self.headers["X-PAN-KEY"]
        if device.should_drop():
            self.server.request_log.write(device.user_for_key(params.get("key")), params, "dropped", None, None,
                                          connection=self.connection_number)
            self.close_connection = True
            return
        delay = device.faults.delay_ms
        if delay:
            time.sleep(delay / 1000.0)
        user = None
        try:
            request_type = params.get("type")
            if request_type == "keygen":
                user = params.get("user")
                key = device.keygen(user, params.get("password"))
                if key is None:
                    raise INVALID_CREDENTIAL
                body = f'<response status = \'success\'><result><key>{key}</key></result></response>'
            else:
                user = device.user_for_key(params.get("key"))
                if user is None:
                    raise INVALID_CREDENTIAL
                body = self._api(device, user, request_type, params)
            self._send(200, body)
            self.server.request_log.write(user, params, "success", _code_of(body), 200, body,
                                          connection=self.connection_number)
        except ApiError as exc:
            body = error_response(exc)
            self._send(exc.http_status, body)
            code = exc.http_status if exc.http_status != 200 else exc.code
            self.server.request_log.write(user, params, exc.status, code, exc.http_status, body,
                                          connection=self.connection_number)

    @staticmethod
    def _api(device, user, request_type, params):
        if request_type == "config":
            return device.config(user, params)
        if request_type == "op":
            return device.op(user, params.get("cmd"), params.get("vsys"))
        if request_type == "commit":
            return device.commit(user, params.get("cmd"))
        if request_type == "version":
            return device.version()
        if not request_type:
            raise ApiError(400, 'Parameter "type" is required', http_status=400)
        raise ApiError(400, f"Invalid type {request_type}", http_status=400)

    def _lab(self, path, raw):
        device = self.server.device
        if path in ("/_lab/running", "/_lab/candidate") and self.command == "GET":
            self._send(200, device.dump(path.rsplit("/", 1)[1]))
        elif path == "/_lab/faults":
            if self.command == "POST":
                try:
                    changes = json.loads(raw or "{}")
                    state = device.update_faults(changes)
                except (ValueError, TypeError) as exc:
                    self._send(400, json.dumps({"error": str(exc)}), "application/json")
                    return
            else:
                state = device.faults.as_dict()
            self._send(200, json.dumps(state), "application/json")
        elif path == "/_lab/reset" and self.command == "POST":
            device.reset()
            self._send(200, json.dumps({"reset": True}), "application/json")
        else:
            self._send(404, json.dumps({"error": f"unknown lab endpoint {self.command} {path}"}), "application/json")

    def _send(self, status, body, content_type=XML_TYPE):
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _code_of(body):
    marker = ' code="'
    start = body.find(marker, 0, 200)
    if start < 0:
        return None
    end = body.find('"', start + len(marker))
    value = body[start + len(marker):end]
    return int(value) if value.isdigit() else None


def build_parser():
    parser = argparse.ArgumentParser(prog="hes-lab panos", description="PAN-OS XML API emulator over HTTPS")
    parser.add_argument("--config", required=True, help="firewall configuration XML to boot from")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--username", default="admin")
    # The password comes from the environment (HES_LAB_PASSWORD), where `ps` does not show it.
    parser.add_argument("--password", default=os.environ.get("HES_LAB_PASSWORD", "admin"))
    parser.add_argument("--admin", action="append", default=[], metavar="USER:PASSWORD", help="another administrator")
    parser.add_argument("--log", help="JSON-lines request log")
    parser.add_argument("--log-bodies", action="store_true",
                        help="log every request parameter and response body too (keys and passwords redacted)")
    parser.add_argument("--sw-version", default="10.2.9")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="model `show system info` reports (default PA-VM)")
    parser.add_argument("--serial", default=DEFAULT_SERIAL)
    parser.add_argument("--ca-dir", default=None, help="lab CA directory, created if missing "
                        "(default $HES_LAB_CA_DIR or ~/.local/share/hes-lab/ca)")
    parser.add_argument("--commit-seconds", type=float, default=0.2, help="how long a commit job stays ACT")
    parser.add_argument("--fault-commit-fail", action="store_true")
    parser.add_argument("--fault-lock-by", metavar="ADMIN")
    parser.add_argument("--fault-drop-after", type=int, metavar="N")
    parser.add_argument("--fault-delay-ms", type=int, default=0, metavar="D")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    admins = {args.username: args.password}
    for spec in args.admin:
        user, sep, password = spec.partition(":")
        if not sep or not user:
            print(f"hes-lab panos: --admin wants USER:PASSWORD, got {spec!r}", file=sys.stderr)
            return 2
        admins[user] = password
    try:
        with open(args.config, encoding="utf-8") as handle:
            config_xml = handle.read()
        faults = Faults(args.fault_commit_fail, args.fault_lock_by, args.fault_drop_after, args.fault_delay_ms)
        identity = Identity(args.model, args.serial, args.sw_version)
        device = Device(config_xml, admins, identity, faults, args.commit_seconds)
    except (OSError, SyntaxError) as exc:
        print(f"hes-lab panos: cannot boot from {args.config}: {exc}", file=sys.stderr)
        return 1
    try:
        context, served = tls.server_context(args.ca_dir)
    except (OSError, ValueError) as exc:
        print(f"hes-lab panos: cannot set up TLS from the lab CA in {args.ca_dir or tls.default_ca_dir()}: {exc}",
              file=sys.stderr)
        return 1
    server = PanosServer(("127.0.0.1", args.port), device, RequestLog(args.log, args.log_bodies), context)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    print(f"TLS sha256 {served} ca {tls.ca_file(args.ca_dir)}", file=sys.stderr, flush=True)
    print(f"READY {server.server_address[1]}", flush=True)
    while not stop.wait(1.0):
        pass
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
