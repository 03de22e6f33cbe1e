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


def assert_goldens(folder, outputs):
    """Every ``(name, actual)`` of OUTPUTS against its NAME.ref; one failure listing every diff."""
    mismatches = [m for m in (golden_mismatch(folder, name, actual) for name, actual in outputs) if m]
    if mismatches:
        pytest.fail("\n".join(mismatches))


def assert_stated_outcome(case, expect, result):
    """A plan case's stated outcome: ``refused`` (the plan has errors) or ``hardened`` (no error,
    and the gate passed with no verdict change but TCP/25's)."""
    assert expect in ("hardened", "refused")
    if expect == "refused":
        assert result["errors"], "%s: expected a refusal, got a plan that passes the gate" % case
    else:
        assert not result["errors"], result["errors"]
        assert result["gate"]["ok"]
        assert result["gate"]["differential"].endswith("other flows: none")
