"""Golden files, Aerleon capture style: NAME.ref beside the test holds the expected output; a
mismatch writes NAME.actual beside it and fails with a diff. Approve a change by renaming
`.actual` to `.ref` after reading the diff."""
import difflib
import os

import pytest


def golden_mismatch(folder, name, actual):
    """None when ``actual`` equals NAME.ref, else the diff (and ``actual`` written to NAME.actual)."""
    ref = os.path.join(folder, name + ".ref")
    out = os.path.join(folder, name + ".actual")
    expected = None
    if os.path.exists(ref):
        with open(ref, encoding="utf-8") as handle:
            expected = handle.read()
    if actual == expected:
        if os.path.exists(out):
            os.remove(out)
        return None
    with open(out, "w", encoding="utf-8") as handle:
        handle.write(actual)
    diff = "".join(difflib.unified_diff((expected or "").splitlines(True), actual.splitlines(True), ref, out))
    return "%s differs (wrote %s):\n%s" % (ref, out, diff or "(no .ref yet)")


def assert_golden(folder, name, actual):
    mismatch = golden_mismatch(folder, name, actual)
    if mismatch:
        pytest.fail(mismatch)
