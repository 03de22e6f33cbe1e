# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PAN-OS connection shared by the modules: the ``provider`` argument spec, a pan-os-python
Firewall whose every request (keygen included) goes through a verified TLS context, and errors
turned into sentences that say what to check.

pan-python switches certificate checking off when it is given no SSL context, and pan-os-python
never gives one: a server that answers on the firewall's address would receive the password in
the keygen request. Here the context is always ours: the CA bundle in ``ca_path`` (else the
system's trust store) with hostname checking, or an exact SHA-256 pin of the firewall's
certificate, checked in the handshake before a byte of the request is sent. Only
``validate_certs: false`` turns checking off, and the modules warn when it does.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import hmac
import os
import re
import ssl

try:
    import http.client as http_client
    from urllib.parse import urlencode, urlsplit
except ImportError:  # Python 2 (the sanity test's compile step): the modules need Python 3 anyway
    http_client = None

try:
    from panos.base import PanDevice
    from panos.errors import PanDeviceError
    from panos.firewall import Firewall as SdkFirewall
    from pan.xapi import PanXapiError

    HAS_PANOS = True
    PANOS_ERRORS = (PanXapiError, PanDeviceError)
except ImportError:
    HAS_PANOS = False
    PANOS_ERRORS = ()

PROVIDER_SPEC = {
    "ip_address": {"type": "str", "required": True},
    "username": {"type": "str", "default": "admin"},
    "password": {"type": "str", "no_log": True},
    "api_key": {"type": "str", "no_log": True},
    "port": {"type": "int", "default": 443},
    "validate_certs": {"type": "bool", "default": True},
    "ca_path": {"type": "path"},
    "certificate_fingerprint": {"type": "str"},
}
FINGERPRINT_RE = re.compile(r"([0-9a-f]{64})")
TLS_FAILURE_MARKERS = ("CERTIFICATE_VERIFY_FAILED", "certificate verify failed", "Hostname mismatch",
                       "certificate fingerprint mismatch", "CertificateError")
PROBE_TIMEOUT = 10


def provider_argument_spec():
    return {"provider": {"type": "dict", "required": True, "options": PROVIDER_SPEC,
                         "required_one_of": [["password", "api_key"]],
                         "mutually_exclusive": [["ca_path", "certificate_fingerprint"]]},
            "vsys": {"type": "str", "default": "vsys1"},
            "timeout": {"type": "int", "default": 60}}


def provider_credentials(provider):
    """Password and API key with empty strings as absent: an AWX credential or inventory often
    carries ``api_key: ''``, which pan-os-python would send as a key and get HTTP 403 for."""
    password = provider.get("password") or None
    api_key = provider.get("api_key") or None
    if password is None and api_key is None:
        raise ValueError("provider: set password or api_key (both are empty)")
    return password, api_key


def colon_hex(digest):
    """``AB:CD:…``, the way ``openssl x509 -fingerprint -sha256`` and PAN-OS print fingerprints."""
    upper = digest.upper()
    return ":".join(upper[i:i + 2] for i in range(0, len(upper), 2))


def normalize_fingerprint(text):
    """The 64 lower-case hex digits of a SHA-256 fingerprint written with or without colons or
    spaces (and an optional ``sha256:`` prefix); ValueError naming the value otherwise."""
    unprefixed = re.sub(r"^\s*sha256:", "", text or "", flags=re.IGNORECASE)
    found = FINGERPRINT_RE.fullmatch(re.sub(r"[\s:]", "", unprefixed).lower())
    if not found:
        raise ValueError("provider.certificate_fingerprint %r is not a SHA-256 fingerprint (64 hex digits, "
                         "colons optional, e.g. from `openssl x509 -noout -fingerprint -sha256`)" % (text,))
    return found.group(1)


class PinnedContext(ssl.SSLContext):
    """A client context that accepts exactly one certificate, by its SHA-256 fingerprint. The
    check runs inside ``wrap_socket``, right after the handshake and before the HTTP request."""

    pinned = None

    def wrap_socket(self, *args, **kwargs):
        tls = super(PinnedContext, self).wrap_socket(*args, **kwargs)
        presented = hashlib.sha256(tls.getpeercert(binary_form=True) or b"").hexdigest()
        if not hmac.compare_digest(presented, self.pinned):
            tls.close()
            raise ssl.SSLCertVerificationError(
                "certificate fingerprint mismatch: the server presented SHA-256 %s, "
                "provider.certificate_fingerprint pins %s" % (colon_hex(presented), colon_hex(self.pinned)))
        return tls


def tls_context(provider):
    """The SSLContext every request of this provider goes through; ValueError when the provider's
    TLS options are unusable (the message names the option)."""
    if provider.get("certificate_fingerprint"):
        context = PinnedContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.pinned = normalize_fingerprint(provider["certificate_fingerprint"])
        return context
    if not provider.get("validate_certs", True):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    ca_path = provider.get("ca_path")
    if ca_path and not os.path.isfile(ca_path):
        raise ValueError("provider.ca_path %r: no such file (give the PEM file of the CA that signed the "
                         "firewall's management certificate)" % (ca_path,))
    try:
        return ssl.create_default_context(cafile=ca_path or None)
    except (ssl.SSLError, OSError) as exc:
        raise ValueError("provider.ca_path %r: not a readable PEM CA bundle (%s)" % (ca_path, exc))


READ_ONLY_CONFIG_ACTIONS = ("get", "show")


def read_only(query):
    """True when an API request changes nothing on the firewall, so that sending it again is safe."""
    kind = query.get("type")
    if kind in ("keygen", "version"):
        return True
    if kind == "config":
        return query.get("action") in READ_ONLY_CONFIG_ACTIONS
    cmd = query.get("cmd") or ""
    if isinstance(cmd, bytes):
        cmd = cmd.decode("utf-8", "replace")
    return kind == "op" and cmd.lstrip().startswith("<show>")


class Answer(object):
    """An HTTP answer read to the end (so that the connection is free for the next request), with
    what pan-python reads of one."""

    def __init__(self, response, body):
        self.status = response.status
        self.reason = response.reason
        self.headers = response.msg
        self.body = body

    def read(self):
        return self.body

    def getheader(self, name, default=None):
        return self.headers.get(name, default)

    def info(self):
        return self.headers


class Transport(object):
    """One HTTPS connection to a firewall, kept open for every request of a run: one TLS
    handshake per device instead of one per request (pan-python, through urllib, opens and closes
    a connection for each). A request that finds the kept connection closed by the firewall is
    sent again on a new one only when it changes nothing (``read_only``)."""

    def __init__(self, host, port, context):
        self.host = host
        self.port = port
        self.context = context
        self.connection = None
        self.used = False

    def post(self, url, body, timeout, resend):
        parts = urlsplit(url)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        reused = self.connection is not None and self.used
        try:
            return self._post(path, body, timeout)
        except (http_client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            self.close()
            if not (reused and resend):
                raise
            return self._post(path, body, timeout)

    def _post(self, path, body, timeout):
        if self.connection is None:
            self.connection = http_client.HTTPSConnection(self.host, self.port, context=self.context,
                                                          timeout=timeout)
            self.used = False
        self.connection.timeout = timeout
        try:
            self.connection.request("POST", path, body=body,
                                    headers={"Content-Type": "application/x-www-form-urlencoded"})
            response = self.connection.getresponse()
            answer = Answer(response, response.read())
        except BaseException:
            self.close()
            raise
        self.used = True
        if response.will_close:
            self.close()
        return answer

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None


if HAS_PANOS:
    class KeptXapi(PanDevice.XapiWrapper):
        """pan-os-python's XAPI wrapper sending every request over the firewall's Transport."""

        def __init__(self, *args, **kwargs):
            self.transport = kwargs.pop("transport")
            PanDevice.XapiWrapper.__init__(self, *args, **kwargs)

        # pan-python's own request method (private, hence the mangled name; pan-python is pinned
        # in requirements.txt): the body is built as pan-python builds it (the key appended
        # unencoded), and failures are reported in pan-python's words, which describe_error reads.
        def _PanXapi__api_request(self, query):  # pylint: disable=invalid-name
            if "key" in query:
                fields = dict(query)
                key = fields.pop("key")
                data = urlencode(fields) + "&key=" + key
            else:
                data = urlencode(query)
            try:
                answer = self.transport.post(self.uri, data.encode("utf-8"), self.timeout, read_only(query))
            except (OSError, http_client.HTTPException) as exc:
                self.status_detail = "URLError: reason: %s" % (exc,)
                return False
            if answer.status >= 400:
                self.status_detail = "URLError: code: %s reason: %s" % (answer.status, answer.reason)
                return False
            return answer

        def multi_config(self, element):
            """``type=config`` ``action=multi-config`` with ELEMENT, a ``<multi-configure-request>``:
            several edits in one request (pan-python has no method for it)."""
            self._PanXapi__type_config("multi-config", {"element": element})

    class Firewall(SdkFirewall):
        """pan-os-python's Firewall with every API request, keygen included, sent through our
        SSL context, over one kept connection (``close_firewall`` ends it). It keeps the class
        name: pan-os-python recognises parents by class name."""

        def __init__(self, *args, **kwargs):
            self.ssl_context = kwargs.pop("ssl_context")
            super(Firewall, self).__init__(*args, **kwargs)
            self.transport = Transport(self.hostname, self.port, self.ssl_context)

        def _xapi(self, **credentials):
            return KeptXapi(pan_device=self, hostname=self.hostname, port=self.port, timeout=self.timeout,
                            ssl_context=self.ssl_context, transport=self.transport, **credentials)

        def generate_xapi(self):
            return self._xapi(api_key=self.api_key)

        def _retrieve_api_key(self):
            xapi = self._xapi(api_username=self._api_username, api_password=self._api_password)
            xapi.keygen(retry_on_peer=False)
            return xapi.api_key


def connect_firewall(provider, vsys, timeout, warn=None):
    """A pan-os-python Firewall for the provider dict (the caller has checked HAS_PANOS).

    Raises ValueError when neither a password nor an API key is given, or when the TLS options
    are unusable. No request is sent yet: the key is generated on the first API call. WARN (e.g.
    ``module.warn``) hears about certificate checking switched off.
    """
    password, api_key = provider_credentials(provider)
    context = tls_context(provider)
    if warn is not None and not provider.get("validate_certs", True) and not provider.get("certificate_fingerprint"):
        warn("provider.validate_certs is false: the certificate of %s is not checked, so anyone able to "
             "answer on that address receives the credentials; give provider.ca_path or "
             "provider.certificate_fingerprint instead" % endpoint(provider))
    firewall = Firewall(provider["ip_address"], provider["username"], password, api_key=api_key,
                        port=provider["port"], vsys=vsys, ssl_context=context)
    firewall.timeout = timeout
    return firewall


def read_config(firewall, provider, action="get"):
    """The ``<config>`` element of the candidate (``get``) or running (``show``) configuration,
    in one request; ValueError saying what was wrong with the answer, or the firewall's error."""
    getattr(firewall.xapi, action)("/config")
    config = firewall.xapi.element_root.find("result/config")
    if config is None:
        raise ValueError("%s: the answer to %s /config holds no <config>" % (endpoint(provider), action))
    return config


def close_firewall(firewall):
    """End the firewall's kept connection (the run is over)."""
    firewall.transport.close()


def endpoint(provider):
    return "https://%s:%d/api/" % (provider["ip_address"], provider["port"])


def presented_fingerprint(provider, timeout=PROBE_TIMEOUT):
    """SHA-256 fingerprint (colon hex) of the certificate the server presents, from a handshake
    alone (nothing is sent after it); None when it cannot be had."""
    try:
        pem = ssl.get_server_certificate((provider["ip_address"], provider["port"]), timeout=timeout)
        return colon_hex(hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest())
    except (OSError, ValueError):
        return None


def tls_advice(provider, reason):
    where = endpoint(provider)
    presented = presented_fingerprint(provider)
    seen = ("it presents a certificate with SHA-256 fingerprint %s" % presented if presented
            else "its certificate could not be read")
    return ("TLS certificate check failed for %s (%s); nothing was sent to it, no password or API key. "
            "If this is your firewall, %s: compare that with the fingerprint the firewall shows for its "
            "management certificate (Device > Certificate Management > Certificates), then either pin it "
            "with provider.certificate_fingerprint, or give provider.ca_path the PEM file of the CA that "
            "signed it. provider.validate_certs: false switches checking off (not recommended)."
            % (where, reason, seen))


def describe_error(exc, provider, request=None):
    """A pan-os-python / pan-python exception as a sentence that says what to check (never a
    secret). REQUEST, when given, names what was sent, for a refusal by the firewall."""
    text = " | ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    where = endpoint(provider)
    if any(marker in text for marker in TLS_FAILURE_MARKERS):
        reason = text[len("URLError:"):].strip() if text.startswith("URLError:") else text
        if reason.startswith("reason:"):
            reason = reason[len("reason:"):].strip()
        return tls_advice(provider, reason)
    if "code: 403" in text or text.startswith("Invalid credentials") or "Invalid Credential" in text:
        return ("authentication failed at %s for user %r (HTTP 403): check the provider's "
                "username/password or api_key" % (where, provider["username"]))
    if text.startswith("URLError:"):
        return "cannot reach the PAN-OS XML API at %s: %s" % (where, text[len("URLError:"):].strip())
    if request:
        return "%s refused %s: %s" % (where, request, text or exc.__class__.__name__)
    return "%s: %s" % (where, text or exc.__class__.__name__)
