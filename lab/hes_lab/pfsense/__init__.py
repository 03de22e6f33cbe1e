"""``hes-lab pfsense``: a directory laid out like a pfSense box, for the role to run against through
``ansible_connection: local`` with ``hes_pfsense_root: DIR``.

    DIR/cf/conf/config.xml        the configuration (DIR/conf -> cf/conf, as on the box)
    DIR/cf/conf/backup/           the history write_config() keeps (config-<time>.xml, backup.cache)
    DIR/etc/inc/*.inc             pfSense's own xmlparse.inc and the lab's stand-ins (inc/README.md)
    DIR/etc/bogons, bogonsv6      the bogons tables (the IANA special-purpose blocks unless given)
    DIR/usr/local/bin/php         Debian's php-cli with DIR/etc/inc on the include path
    DIR/usr/local/sbin/pfSsh.php  pfSense's PHP shell: reads commands until 'exec', exit status 0
    DIR/sbin/pfctl                loads rules.debug, answers -sr, -sn, -sT, -t NAME -T show|test
    DIR/var/db/hes-lab-pf.json    what pfctl loaded
    DIR/lab/commands.log          every php, pfctl, write_config, config_restore, filter reload
    DIR/lab/control.json          faults to play: concurrent_edit, php_dies, pfctl_load_fails,
                                  write_config_fails

Booting loads the ruleset once (``filter_configure_sync()``), as pfSense does at start, then
``hes-lab pfsense --config FILE --dir DIR`` prints ``READY DIR`` and exits: the box is files, there
is no process to stop. ``PfsenseBox`` is the Python API (``make demo``, tests): ``up``, ``down``,
``control``, ``events``, ``config_text``, ``pfctl``, ``php``.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RELEASES = {"2.7.2": "2.7.2-RELEASE", "2.8.0": "2.8.0-RELEASE"}
# The bogons lists always hold the IANA special-purpose blocks (RFC 6890), RFC 5737's among them.
DEFAULT_BOGONS = ("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
                  "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
                  "203.0.113.0/24", "224.0.0.0/3")
DEFAULT_BOGONS_V6 = ("::/8", "100::/64", "2001:db8::/32", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8")
PFSSH = r"""#!%(php)s
<?php
/* hes-lab pfsense: stand-in for pfSsh.php. Reads PHP lines on standard input until a line 'exec'
 * (or the end), runs them with pfSense's includes loaded; its exit status is always 0, as people
 * who drive the real one have found. */
require_once('globals.inc');
require_once('config.inc');
require_once('functions.inc');
require_once('filter.inc');
require_once('util.inc');
$code = '';
while (($line = fgets(STDIN)) !== false) {
	if (trim($line) == 'exec' || trim($line) == 'exec;') {
		break;
	}
	$code .= $line;
}
try {
	eval($code);
} catch (\Throwable $e) {
	echo $e->getMessage() . "\n";
}
exit(0);
"""


class LabError(RuntimeError):
    pass


def php_binary():
    found = shutil.which("php")
    if not found:
        raise LabError("php-cli is not installed (apt-get install php-cli php-xml; make setup does it as root)")
    return found


def _script(path, text, mode=0o755):
    with open(path, "w") as handle:
        handle.write(text)
    os.chmod(path, mode)


class PfsenseBox:
    def __init__(self, directory):
        self.root = os.path.abspath(directory)

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    # ------------------------------------------------------------ lifecycle
    def up(self, config_text, release="2.7.2", bogons=DEFAULT_BOGONS, bogons_v6=DEFAULT_BOGONS_V6, tables=None):
        """Lay the box out with ``config_text`` as config.xml and load its ruleset."""
        if release not in RELEASES:
            raise LabError("release %s is not one of %s" % (release, ", ".join(RELEASES)))
        if os.path.exists(self.path("cf", "conf", "config.xml")):
            raise LabError("%s already holds a pfSense box; hes-lab pfsense lays out a new one" % self.root)
        php = php_binary()
        for sub in ("cf/conf/backup", "etc/inc", "usr/local/bin", "usr/local/sbin", "sbin", "tmp", "var/run",
                    "var/db/aliastables", "var/log", "lab"):
            os.makedirs(self.path(sub), exist_ok=True)
        os.symlink("cf/conf", self.path("conf"))
        with open(self.path("cf", "conf", "config.xml"), "w") as handle:
            handle.write(config_text)
        for name in os.listdir(os.path.join(HERE, "inc")):
            if name.endswith(".inc"):
                shutil.copy(os.path.join(HERE, "inc", name), self.path("etc", "inc", name))
        with open(self.path("etc", "version"), "w") as handle:
            handle.write(RELEASES[release] + "\n")
        with open(self.path("etc", "hes-lab-release"), "w") as handle:
            handle.write(release + "\n")
        with open(self.path("etc", "bogons"), "w") as handle:
            handle.write("".join(b + "\n" for b in bogons))
        with open(self.path("etc", "bogonsv6"), "w") as handle:
            handle.write("".join(b + "\n" for b in bogons_v6))
        for name, rows in (tables or {}).items():
            with open(self.path("var", "db", "aliastables", "%s.txt" % name), "w") as handle:
                handle.write("".join(r + "\n" for r in rows))
        with open(self.path("lab", "python"), "w") as handle:
            handle.write(sys.executable + "\n")
        with open(self.path("lab", "control.json"), "w") as handle:
            handle.write("{}\n")
        open(self.path("lab", "commands.log"), "a").close()
        quoted = dict(python=sys.executable, root=self.root, php=php)
        _script(self.path("usr", "local", "bin", "php"),
                '#!/bin/sh\n# hes-lab pfsense: stand-in for pfSense\'s /usr/local/bin/php\n'
                'exec "%(python)s" -m hes_lab.pfsense.phpshim "%(root)s" "%(php)s" "$@"\n' % quoted)
        _script(self.path("sbin", "pfctl"),
                '#!/bin/sh\n# hes-lab pfsense: stand-in for pfctl\n'
                'exec "%(python)s" -m hes_lab.pfsense.pfctl --root "%(root)s" -- "$@"\n' % quoted)
        _script(self.path("usr", "local", "sbin", "pfSsh.php"), PFSSH % {"php": self.path("usr", "local", "bin", "php")})
        answer = self.php("require_once('filter.inc'); echo json_encode(filter_configure_sync());")
        if answer.returncode != 0 or answer.stdout.strip() != "0":
            raise LabError("the box's first filter_configure_sync() failed: %s %s" % (answer.stdout, answer.stderr))
        return self

    def down(self):
        """Remove the box (it is only files)."""
        if os.path.exists(self.path("cf", "conf")):
            shutil.rmtree(self.root)

    # ------------------------------------------------------------ looking in
    def php(self, code, stdin=""):
        return subprocess.run([self.path("usr", "local", "bin", "php"), "-r", code], input=stdin,
                              capture_output=True, text=True)

    def pfctl(self, *args):
        return subprocess.run([self.path("sbin", "pfctl")] + list(args), capture_output=True, text=True)

    def config_text(self):
        with open(self.path("cf", "conf", "config.xml")) as handle:
            return handle.read()

    def history(self):
        return sorted(n for n in os.listdir(self.path("cf", "conf", "backup")) if n.startswith("config-"))

    def control(self, **faults):
        with open(self.path("lab", "control.json"), "w") as handle:
            json.dump(faults, handle)

    def events(self, name=None):
        with open(self.path("lab", "commands.log")) as handle:
            rows = [json.loads(line) for line in handle if line.strip()]
        return [r for r in rows if name is None or r["event"] == name]

    def dirty(self):
        return sorted(n[:-len(".dirty")] for n in os.listdir(self.path("var", "run")) if n.endswith(".dirty"))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="hes-lab pfsense", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="config.xml to boot from")
    parser.add_argument("--dir", required=True, help="directory to lay the box out in (new or empty)")
    parser.add_argument("--release", default="2.7.2", choices=sorted(RELEASES),
                        help="whose config_restore()/config_read_file() signatures to follow")
    parser.add_argument("--bogons", help="file for etc/bogons (default: the IANA special-purpose blocks)")
    args = parser.parse_args(argv)
    try:
        with open(args.config) as handle:
            text = handle.read()
        bogons = DEFAULT_BOGONS
        if args.bogons:
            with open(args.bogons) as handle:
                bogons = [line.strip() for line in handle if line.strip() and not line.startswith("#")]
        PfsenseBox(args.dir).up(text, release=args.release, bogons=bogons)
    except (OSError, LabError) as exc:
        print("hes-lab pfsense: %s" % exc, file=sys.stderr)
        return 1
    print("READY %s" % os.path.abspath(args.dir), flush=True)
    return 0
