"""A minimal client for the emulator, for tests and benchmarks that need raw API requests or the
lab-only endpoints (pan-os-python covers everything else). It verifies the emulator's certificate
against the lab CA (HES_LAB_CA_DIR or the default one, see tls.py)."""
import http.client
import json
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

from hes_lab.panos import tls


def _request(port, method, path, body=None, content_type="application/x-www-form-urlencoded", timeout=30):
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=tls.client_context(), timeout=timeout)
    try:
        headers = {"Content-Type": content_type} if body is not None else {}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read().decode("utf-8")
    finally:
        connection.close()


def api(port, params, timeout=30):
    """POST /api/ with `params`; returns (HTTP status, parsed <response> element)."""
    status, _, body = _request(port, "POST", "/api/", urlencode(params), timeout=timeout)
    return status, ET.fromstring(body)


def api_get(port, query, timeout=30):
    """GET /api?QUERY (QUERY already url-encoded); returns (HTTP status, Content-Type, parsed body)."""
    status, content_type, body = _request(port, "GET", f"/api?{query}", timeout=timeout)
    return status, content_type, ET.fromstring(body)


def keygen(port, user="admin", password="admin"):
    status, root = api(port, {"type": "keygen", "user": user, "password": password})
    if status != 200:
        raise PermissionError(f"keygen for {user} answered HTTP {status}")
    return root.findtext("result/key")


def lab_config(port, which="running"):
    """The running or candidate configuration as an element (lab-only endpoint)."""
    status, _, body = _request(port, "GET", f"/_lab/{which}")
    if status != 200:
        raise RuntimeError(f"/_lab/{which} answered HTTP {status}")
    return ET.fromstring(body)


def set_faults(port, **faults):
    status, _, body = _request(port, "POST", "/_lab/faults", json.dumps(faults), "application/json")
    if status != 200:
        raise RuntimeError(f"/_lab/faults answered HTTP {status}: {body}")
    return json.loads(body)


def reset(port):
    status, _, body = _request(port, "POST", "/_lab/reset", "")
    if status != 200:
        raise RuntimeError(f"/_lab/reset answered HTTP {status}: {body}")
