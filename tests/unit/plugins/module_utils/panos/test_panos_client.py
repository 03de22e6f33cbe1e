"""The PAN-OS connection (plugins/module_utils/panos/client.py): the TLS context each provider gets,
certificate pinning in the handshake, and error sentences."""
import hashlib
import ssl
import urllib.error
import urllib.request

import pytest
from ansible_collections.emailsec.hes.tests.unit.local_servers import HttpsServer

from ansible_collections.emailsec.hes.plugins.module_utils.panos import client

PROVIDER = {"ip_address": "127.0.0.1", "port": 9, "username": "automation", "password": "pw"}
PIN = "ab" * 32


def provider(**changes):
    return dict(PROVIDER, **changes)


@pytest.mark.parametrize("text", [
    PIN, PIN.upper(), ":".join(PIN[i:i + 2] for i in range(0, 64, 2)).upper(), "sha256:" + PIN,
    " ".join(PIN[i:i + 2] for i in range(0, 64, 2)),
])
def test_fingerprint_forms(text):
    assert client.normalize_fingerprint(text) == PIN


@pytest.mark.parametrize("text", ["", "ab" * 31, "ab" * 33, "zz" * 32, "md5:" + "ab" * 16, PIN + "\n00"])
def test_bad_fingerprints_name_the_value(text):
    with pytest.raises(ValueError, match=r"provider.certificate_fingerprint .* is not a SHA-256 fingerprint"):
        client.normalize_fingerprint(text)


def test_default_context_verifies_chain_and_name():
    context = client.tls_context(provider())
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname is True
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_pin_and_opt_out_contexts():
    pinned = client.tls_context(provider(certificate_fingerprint=PIN.upper()))
    assert isinstance(pinned, client.PinnedContext) and pinned.pinned == PIN
    unchecked = client.tls_context(provider(validate_certs=False))
    assert unchecked.verify_mode == ssl.CERT_NONE and not isinstance(unchecked, client.PinnedContext)
    assert isinstance(client.tls_context(provider(validate_certs=False, certificate_fingerprint=PIN)),
                      client.PinnedContext)


def test_ca_path_must_be_a_pem_bundle(tmp_path):
    with pytest.raises(ValueError, match="provider.ca_path '.*nope.pem': no such file"):
        client.tls_context(provider(ca_path=str(tmp_path / "nope.pem")))
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    with pytest.raises(ValueError, match="provider.ca_path '.*garbage.pem': not a readable PEM CA bundle"):
        client.tls_context(provider(ca_path=str(garbage)))


def fetch(server, context):
    try:
        with urllib.request.urlopen(server.url("/api/"), context=context, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_pin_is_checked_in_the_handshake_before_the_request():
    with HttpsServer({"/api/": (200, b"<response status='success'/>")}) as server:
        with open(server.cert_path, encoding="ascii") as handle:
            served = hashlib.sha256(ssl.PEM_cert_to_DER_cert(handle.read())).hexdigest()
        with pytest.raises(urllib.error.URLError, match="certificate fingerprint mismatch: the server presented "
                                                        "SHA-256 %s" % client.colon_hex(served)):
            fetch(server, client.tls_context(provider(certificate_fingerprint=PIN)))
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            fetch(server, client.tls_context(provider()))
        assert server.hits == []
        assert fetch(server, client.tls_context(provider(certificate_fingerprint=served))) == 200
        assert fetch(server, client.tls_context(provider(ca_path=server.cert_path))) == 200
        assert server.hits == ["/api/", "/api/"]
        assert client.presented_fingerprint(provider(port=server.port)) == client.colon_hex(served)


def test_tls_failure_is_described_with_the_pinning_advice():
    text = client.describe_error(Exception("URLError: reason: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify "
                                           "failed: self-signed certificate (_ssl.c:1006)"), provider(port=1))
    assert text.startswith("TLS certificate check failed for https://127.0.0.1:1/api/ ([SSL: CERTIFICATE_VERIFY_FAILED]")
    assert "nothing was sent to it, no password or API key" in text
    assert "its certificate could not be read" in text
    assert "provider.certificate_fingerprint" in text and "provider.ca_path" in text


def test_refusals_name_the_request_and_join_the_device_lines():
    error = Exception(" G -> static 'X' is not a valid reference\n G -> static is invalid")
    assert client.describe_error(error, provider(), "set vsys1 address-group G static [ X ]") == (
        "https://127.0.0.1:9/api/ refused set vsys1 address-group G static [ X ]: G -> static 'X' is not a valid "
        "reference | G -> static is invalid")
    assert client.describe_error(error, provider()).startswith("https://127.0.0.1:9/api/: G -> static")


def test_connect_warns_only_when_checking_is_off():
    heard = []
    firewall = client.connect_firewall(provider(validate_certs=False), "vsys1", 30, warn=heard.append)
    assert firewall.ssl_context.verify_mode == ssl.CERT_NONE and firewall.timeout == 30
    assert heard and heard[0].startswith("provider.validate_certs is false: the certificate of "
                                         "https://127.0.0.1:9/api/ is not checked")
    client.connect_firewall(provider(certificate_fingerprint=PIN, validate_certs=False), "vsys1", 30,
                            warn=heard.append)
    client.connect_firewall(provider(), "vsys1", 30, warn=heard.append)
    assert len(heard) == 1


def test_provider_credentials_treat_empty_as_absent():
    assert client.provider_credentials({"password": "pw", "api_key": ""}) == ("pw", None)
    assert client.provider_credentials({"password": None, "api_key": "KEY"}) == (None, "KEY")
    with pytest.raises(ValueError, match="set password or api_key"):
        client.provider_credentials({"password": "", "api_key": ""})


@pytest.mark.parametrize("query, safe", [
    ({"type": "keygen"}, True), ({"type": "version"}, True),
    ({"type": "config", "action": "get"}, True), ({"type": "config", "action": "show"}, True),
    ({"type": "op", "cmd": "<show><jobs><id>1</id></jobs></show>"}, True),
    ({"type": "op", "cmd": b"<show><system><info/></system></show>"}, True),
    ({"type": "config", "action": "multi-config"}, False), ({"type": "config", "action": "set"}, False),
    ({"type": "commit"}, False), ({"type": "op", "cmd": "<revert><config/></revert>"}, False),
    ({"type": "op", "cmd": "<test><security-policy-match/></test>"}, False),
])
def test_only_requests_that_change_nothing_count_as_read_only(query, safe):
    assert client.read_only(query) is safe


class FakeConnection:
    """http.client.HTTPSConnection as the transport uses it; ``plan`` says, per request, whether
    the firewall had closed the kept connection (the request then fails as on a real socket)."""

    made = []

    def __init__(self, host, port, context=None, timeout=None):
        self.requests = []
        self.closed = False
        FakeConnection.made.append(self)

    def request(self, method, path, body=None, headers=None):
        self.requests.append(body)
        if FakeConnection.plan.pop(0) == "stale":
            raise client.http_client.RemoteDisconnected("Remote end closed connection without response")

    def getresponse(self):
        response = type("Response", (), {"status": 200, "reason": "OK", "msg": {}, "will_close": False})()
        response.read = lambda: b"<response status='success'/>"
        return response

    def close(self):
        self.closed = True


@pytest.fixture
def fake(monkeypatch):
    FakeConnection.made = []
    monkeypatch.setattr(client.http_client, "HTTPSConnection", FakeConnection)
    return FakeConnection


def test_one_connection_carries_every_request(fake):
    fake.plan = ["ok", "ok", "ok"]
    transport = client.Transport("192.0.2.1", 443, None)
    for body in (b"a", b"b", b"c"):
        assert transport.post("https://192.0.2.1:443/api/", body, 30, resend=False).read().startswith(b"<response")
    assert len(fake.made) == 1 and fake.made[0].requests == [b"a", b"b", b"c"]


def test_a_closed_kept_connection_is_reopened_for_a_read_only_request(fake):
    fake.plan = ["ok", "stale", "ok"]
    transport = client.Transport("192.0.2.1", 443, None)
    transport.post("https://192.0.2.1:443/api/", b"get", 30, resend=True)
    transport.post("https://192.0.2.1:443/api/", b"show", 30, resend=True)
    assert len(fake.made) == 2 and fake.made[0].closed and fake.made[1].requests == [b"show"]


def test_a_write_is_never_sent_twice(fake):
    fake.plan = ["ok", "stale"]
    transport = client.Transport("192.0.2.1", 443, None)
    transport.post("https://192.0.2.1:443/api/", b"get", 30, resend=True)
    with pytest.raises(client.http_client.RemoteDisconnected):
        transport.post("https://192.0.2.1:443/api/", b"multi-config", 30, resend=False)
    assert len(fake.made) == 1 and fake.made[0].closed
