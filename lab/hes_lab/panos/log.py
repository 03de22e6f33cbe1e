"""The emulator's request log: one JSON object per API request, never holding a key or password."""
import json
import re
import threading
import time

CONFIG_WRITE_ACTIONS = ("set", "edit", "delete", "move", "rename", "multi-config")
SECRET_ELEMENTS = re.compile(r"(<(password|key|phash|new-password)>)(.*?)(</\2>)", re.S)


def redact_cmd(cmd):
    """An op/commit command with the text of password-like elements replaced."""
    if cmd is None:
        return None
    return SECRET_ELEMENTS.sub(r"\1******\4", cmd)


class RequestLog:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()

    def write(self, user, params, status, code):
        record = {
            "ts": time.time(),
            "user": user,
            "type": params.get("type"),
            "action": params.get("action"),
            "xpath": params.get("xpath"),
            "cmd": redact_cmd(params.get("cmd")),
            "status": status,
            "code": code,
        }
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
