"""The emulator's request log: one JSON object per API request, never holding a key or password.

Every record names the request (type, action, xpath, command), its outcome and the number of
the TLS connection it came on (one per client connection, counted from 1). With bodies on
(`hes-lab panos --log-bodies`) it also holds every request parameter and the response body, so a
fidelity question ("what exactly did the client send, what did the firewall answer?") can be
answered from the log alone; API keys, passwords and password hashes are replaced by `******`
wherever they appear (parameters, XML elements in a command or element, the keygen answer).
"""
import json
import re
import threading
import time

CONFIG_WRITE_ACTIONS = ("set", "edit", "delete", "move", "rename", "multi-config")
REDACTED = "******"
SECRET_ELEMENTS = re.compile(r"(<(password|key|phash|new-password|api-key|secret)>)(.*?)(</\2>)", re.S)
SECRET_PARAMETERS = ("key", "password")


def redact_cmd(cmd):
    """XML text (a command, an element, a response) with the text of secret elements replaced."""
    if cmd is None:
        return None
    return SECRET_ELEMENTS.sub(r"\1" + REDACTED + r"\4", cmd)


def redact_params(params):
    return {name: REDACTED if name in SECRET_PARAMETERS else redact_cmd(value) for name, value in params.items()}


class RequestLog:
    def __init__(self, path, bodies=False):
        self.path = path
        self.bodies = bodies
        self.lock = threading.Lock()

    def write(self, user, params, status, code, http_status=200, response=None, connection=None):
        record = {
            "ts": time.time(),
            "connection": connection,
            "user": user,
            "type": params.get("type"),
            "action": params.get("action"),
            "xpath": params.get("xpath"),
            "cmd": redact_cmd(params.get("cmd")),
            "status": status,
            "code": code,
        }
        if self.bodies:
            record["http_status"] = http_status
            record["request"] = redact_params(params)
            record["response"] = redact_cmd(response)
        if not self.path:
            return record
        line = json.dumps(record, sort_keys=True)
        with self.lock, open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
        return record


def read_log(path):
    """Every record of a request log, in order."""
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def config_writes(records):
    """Records of requests that change configuration: type=config writes and every type=commit."""
    return [
        r
        for r in records
        if r.get("type") == "commit" or (r.get("type") == "config" and r.get("action") in CONFIG_WRITE_ACTIONS)
    ]
