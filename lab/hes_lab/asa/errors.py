"""The ASA's refusals: an error text, optionally pointing a caret at the offending token."""

INVALID_INPUT = "ERROR: % Invalid input detected at '^' marker."
INCOMPLETE = "ERROR: % Incomplete command"


class CliError(Exception):
    """A command the device refuses. `token` is the index of the token the caret points at."""

    def __init__(self, text, token=None):
        super().__init__(text)
        self.text = text
        self.token = token


def invalid(token):
    return CliError(INVALID_INPUT, token)


class Notice(Exception):
    """A command that changes nothing but prints a warning (ASA does not fail on these)."""

    def __init__(self, text):
        super().__init__(text)
        self.text = text
