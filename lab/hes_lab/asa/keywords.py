"""Keyword completion as the ASA parser does it: any unique prefix of a keyword stands for it.

The device stores and shows the full keyword. A prefix of two or more keywords (and no exact
match) is refused with `ERROR: % Ambiguous command:  "<the line as typed>"` (asa-cli.md §6.5).
Arguments (names, addresses, numbers, port literals, free text) are never completed: each parser
asks for completion only where its grammar expects a keyword.
"""
from .errors import INCOMPLETE, CliError, invalid


class Ambiguous(CliError):
    """A prefix of several keywords; the device quotes the whole line back, without a caret."""

    def __init__(self):
        super().__init__("")


def ambiguous_text(line):
    return f'ERROR: % Ambiguous command:  "{line.strip()}"'


def match(token, choices):
    """The keyword TOKEN stands for among CHOICES: itself, its unique completion, or None."""
    if token in choices:
        return token
    found = {choice for choice in choices if choice.startswith(token)}
    if len(found) == 1:
        return found.pop()
    if found:
        raise Ambiguous()
    return None


def complete(words, i, choices):
    """Complete words[i] in place when it is a keyword of CHOICES; None when it is not one."""
    if i >= len(words):
        return None
    found = match(words[i], choices)
    if found is not None:
        words[i] = found
    return found


def expect(words, i, choices):
    """The keyword at words[i], completed in place; refused with the caret on it otherwise."""
    if i >= len(words):
        raise CliError(INCOMPLETE)
    found = complete(words, i, choices)
    if found is None:
        raise invalid(i)
    return found
