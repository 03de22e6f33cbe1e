"""A Postfix configuration directory read and edited with the real postconf, for the golden and
verify tests of plugins/module_utils/postfix/."""
import os
import shutil
import subprocess
import time

import pytest

from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import (
    bundled_entries,
    collect_ranges,
    resolve_sites,
)
from ansible_collections.emailsec.hes.plugins.module_utils.postfix import table_paths
from ansible_collections.emailsec.hes.plugins.module_utils.postfix import parse, plan
from ansible_collections.emailsec.hes.plugins.module_utils.postfix.parse import EFFECTIVE_PARAMETERS

GOLDEN = os.path.join(os.path.dirname(__file__), "golden")
STAND_IN = "/etc/postfix"
POSTCONF = shutil.which("postconf", path=os.environ.get("PATH", "") + ":/usr/sbin")


def site_ranges(site):
    return [str(n) for n in collect_ranges(bundled_entries(resolve_sites(site)))]


class ConfigDir:
    """A Postfix configuration directory read and edited with the real postconf."""

    def __init__(self, path):
        if not POSTCONF:
            pytest.fail("postconf is not installed: run make setup as root (it installs Debian's postfix)")
        self.path = str(path)

    @classmethod
    def from_case(cls, case, tmp_path):
        target = tmp_path / "etc"
        target.mkdir()
        for name in os.listdir(os.path.join(GOLDEN, case)):
            if name.endswith((".cf", ".cidr")):
                with open(os.path.join(GOLDEN, case, name)) as handle:
                    (target / name).write_text(handle.read().replace(STAND_IN, str(target)))
        config = cls(target)
        config.settle()
        return config

    def settle(self):
        """Postfix reads a table or main.cf modified within the last second only after it has
        stopped changing (it polls for up to a few seconds); backdate what the test just wrote."""
        past = time.time() - 60
        for name in os.listdir(self.path):
            os.utime(os.path.join(self.path, name), (past, past))

    def postconf(self, *args):
        return subprocess.run([POSTCONF, "-c", self.path, *args], capture_output=True, text=True, check=True).stdout

    def read(self):
        return parse.read_config(self.postconf("-n"), self.postconf("-x", *EFFECTIVE_PARAMETERS),
                                 self.postconf("-M"), self.path)

    def tables(self):
        found = {}
        for path in table_paths(self.path).values():
            found[path] = open(path).read() if os.path.exists(path) else None
        return found

    def main_cf(self):
        with open(os.path.join(self.path, "main.cf")) as handle:
            return handle.read()

    def plan(self, ranges, state="present"):
        return plan.plan(self.read(), ranges, self.tables(), state)

    def apply(self, result):
        """What the module does on the host, minus postfix check and reload."""
        for table in result["tables"]:
            if table["changed"] and table["after"] is not None:
                with open(table["path"], "w") as handle:
                    handle.write(table["after"])
        sets = ["%s = %s" % (e["parameter"], e["after"]) for e in result["edits"] if e["after"] is not None]
        removals = [e["parameter"] for e in result["edits"] if e["after"] is None]
        if sets:
            self.postconf("-e", *sets)
        if removals:
            self.postconf("-X", *removals)
        for table in result["tables"]:
            if table["changed"] and table["after"] is None:
                os.unlink(table["path"])
        self.settle()

    def portable(self, text):
        return text.replace(self.path, STAND_IN)
