"""The emulator's command log (`--log FILE`): JSON lines, one per command received.

Tests and benchmarks read it back with `read_log()` and count configuration commands with
`config_commands()`.
"""
import json

# EXEC commands an ASA also accepts inside configuration modes; they change nothing.
_NON_CONFIG_VERBS = ("show", "packet-tracer", "end", "exit", "quit", "dir", "more", "ping",
                     "terminal")


def _verb(word, choices, minimum=2):
    """The keyword an (possibly abbreviated) word stands for among CHOICES, or None."""
    for choice in choices:
        if len(word) >= min(minimum, len(choice)) and choice.startswith(word):
            return choice
    return None


def is_config_command(mode, command):
    """True when COMMAND, received in MODE, enters or changes the configuration or saves it."""
    words = command.split()
    if not words:
        return False
    verb = words[0]
    if verb == "configure" or _verb(verb, ("configure",), 4):
        return True
    if _verb(verb, ("write",)):
        return len(words) == 1 or bool(_verb(words[1], ("memory",), 1))
    if _verb(verb, ("copy",), 3):
        return len(words) >= 3 and words[-1].startswith("start")
    if not mode.startswith("config"):
        return False
    return _verb(verb, _NON_CONFIG_VERBS) is None


def read_log(path):
    """All records of a `--log` file, in the order received."""
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def config_commands(records):
    """The records that entered, changed or saved the configuration."""
    return [r for r in records if r["command"] != "<password>" and
            is_config_command(r["mode"], r["command"])]
