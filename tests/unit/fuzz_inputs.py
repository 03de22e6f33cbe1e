"""What every property-based fuzz test of the collection shares: the run settings, the hostile
values every text input meets, and the oracles that say what may reach a device command, XML or
a file.

Runs are bounded (max_examples) and derandomized by default, so the suite stays fast and
stable; HES_FUZZ_EXPLORE=1 runs ten times as many random examples. The oracles are written from
the rules (Unicode character categories, the XML 1.0 Char production), never from the code
under test.
"""
import os
import unicodedata

from hypothesis import HealthCheck, example, settings
from hypothesis import strategies as st

EXPLORE = os.environ.get("HES_FUZZ_EXPLORE") == "1"
# Settings of the fuzz files only (no global profile: other files use hypothesis with their own).
FUZZ = settings(derandomize=not EXPLORE, database=None, deadline=None, print_blob=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def bounded(examples):
    return settings(FUZZ, max_examples=examples * (10 if EXPLORE else 1))


# Seeds from the security review (issue 13) and from earlier fuzz runs: line breaks of every kind
# (Python's str.splitlines() splits on \x0b \x0c \x1c-\x1e \x85 \u2028 \u2029 as well), NUL,
# quotes, XML and shell metacharacters, path traversal, lengths at and past the limits, look-alike
# digits and letters, a lone surrogate and XML non-characters.
NASTY_TEXT = [
    "", " ", "\t", "x\n", "TM_HES_IP_RANGE\n", "x\r\n", "\n", "x\ry", "x\x00y", "\x00", "x\x0by", "x\x0cy",
    "x\x1cy", "x\x1ey", "x\x85y", "x\u2028y", "x\u2029y", "x\x7fy", "x\x9fy", "'", '"', "x'y", 'x"y',
    "x'\"y", "<x>", "x<y", "x>y", "&amp;", "a&b", "]]>", "<![CDATA[x]]>", "<!-- x -->", "../../etc/passwd",
    "..", ".", "/", "../", "/tmp/../etc", "a" * 31, "a" * 32, "a" * 63, "a" * 64, "a" * 65, "a" * 300,
    "\ufeffx", "\uff58", "\u0663", "x\u200by", "\udc80", "x\ufffey", "x\uffffy", "x y", " x", "x ", "x,y",
    "{x}", "$", "$x", "${x}", "${x", "x {", "x;y", "x|y", "x||y", "*", "x?", "[x]", "\\", "x\\y", "%s", "{{ x }}", "-x",
    "x\ny", "x\n\nwrite erase", "x\nno access-list y", "x\"; flush ruleset; \"", "x' or @name='y",
    "x</member><member>y", "0", "25", "-1", "1e3", "0x19", "True",
]
# Values of the wrong type where a string is expected.
NOT_TEXT = [None, 0, 1, -1, True, False, 1.5, float("nan"), [], ["x"], [["x"]], {}, {"x": "y"}, b"x",
            ("x",), object()]


def text_values(alphabet=None, max_size=40):
    """Hostile and random text: the seeds, arbitrary Unicode, and text from ``alphabet`` (what a
    valid value is made of) with a hostile character spliced in."""
    strategies = [st.sampled_from(NASTY_TEXT), st.text(max_size=max_size)]
    if alphabet:
        plain = st.text(alphabet=alphabet, min_size=1, max_size=max_size)
        strategies.append(plain)
        strategies.append(st.tuples(plain, st.sampled_from(NASTY_TEXT), plain).map("".join))
    return st.one_of(*strategies)


def any_values(alphabet=None, max_size=40):
    """Text as above, or a value of another type."""
    return st.one_of(text_values(alphabet, max_size), st.sampled_from(NOT_TEXT))


def with_examples(name, values):
    """``@example(name=value)`` for each of ``values``: hypothesis runs them first, every run."""
    def decorate(test):
        for value in reversed(values):
            test = example(**{name: value})(test)
        return test
    return decorate


# --- oracles ----------------------------------------------------------------------------------
# Control characters (Cc: C0, DEL, C1 with \x85), surrogates (Cs), line and paragraph separators.
_BREAKING = ("Cc", "Cs", "Zl", "Zp")


def breaking_characters(text):
    """The characters of ``text`` that can end a line or a command somewhere: control characters,
    surrogates, Unicode line and paragraph separators."""
    return sorted(set(ch for ch in text if unicodedata.category(ch) in _BREAKING))


def is_one_line(text):
    return isinstance(text, str) and not breaking_characters(text) and len(text.splitlines()) <= 1


def xml_legal(text):
    """XML 1.0 ``Char``: what an XML document may contain at all (escaping cannot help the rest)."""
    return all(ch in "\t\n\r" or "\x20" <= ch <= "\ud7ff" or "\ue000" <= ch <= "\ufffd"
               or "\U00010000" <= ch <= "\U0010ffff" for ch in text)


def names_value(message, value):
    """Whether an error message names the bad value: its repr, or the text itself when printable."""
    if repr(value) in message or (isinstance(value, str) and value and repr(value)[1:-1] in message):
        return True
    return isinstance(value, str) and value != "" and is_one_line(value) and value in message


def mentions(message, value):
    """Whether a message names ``value`` or, for a list or mapping, one of its items or keys."""
    if names_value(message, value):
        return True
    if isinstance(value, dict):
        return any(mentions(message, k) or mentions(message, v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(mentions(message, item) for item in value)
    return False


def check_validator(validate, value, error, prefix, legal, plain=False):
    """The property every validator has: the value comes back when the rule allows it (``legal``),
    otherwise ``error`` is raised with a message that starts with ``prefix`` and names the value;
    ``plain`` values (ones the rule certainly allows) must not be refused. Returns (accepted,
    what the validator returned)."""
    try:
        returned = validate(value)
    except error as exc:
        message = str(exc)
        assert message.startswith(prefix), message
        assert names_value(message, value), message
        assert not plain, "refused %r: %s" % (value, message)
        return False, None
    assert legal, "%r was accepted" % (value,)
    return True, returned
