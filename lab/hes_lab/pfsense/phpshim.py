"""The lab box's ``/usr/local/bin/php``: Debian's php-cli with the box's ``etc/inc`` on the include
path (pfSense's php.ini puts /etc/inc there), so that ``require_once("config.inc")`` finds the
lab's stand-ins and pfSense's own xmlparse.inc.

Before it hands over, it plays what ``lab/control.json`` asks for, once each:

* ``"concurrent_edit": "text"``: another administrator saves a change (a rule description edited
  in the GUI) between the module's read and its write;
* ``"php_dies": "text"``: PHP exits with that fatal error before running the script.

Every run is logged to ``lab/commands.log`` (event ``php``, with the script's name and the
request's ``action`` when it has one).
"""
import json
import os
import subprocess
import sys
import time

CONCURRENT_EDIT = r"""<?php
require_once('config.inc');
$rules = config_get_path('filter/rule', array());
foreach ($rules as $i => $rule) {
	if (isset($rule['interface']) && !isset($rule['floating'])) {
		$rules[$i]['descr'] = (isset($rule['descr']) ? $rule['descr'] : '') . ' (%s)';
		break;
	}
}
config_set_path('filter/rule', $rules);
write_config('Firewall: Rules - saved/edited a firewall rule.');
"""


def read_control(root):
    path = os.path.join(root, "lab", "control.json")
    try:
        with open(path) as handle:
            return path, json.load(handle)
    except (OSError, ValueError):
        return path, {}


def consume(path, control, key):
    value = control.pop(key, None)
    if value is not None:
        with open(path, "w") as handle:
            json.dump(control, handle)
    return value


def log(root, data):
    data = dict(time=time.time(), event="php", **data)
    with open(os.path.join(root, "lab", "commands.log"), "a") as handle:
        handle.write(json.dumps(data) + "\n")


def php_command(root, binary, args):
    return [binary, "-d", "include_path=.:%s" % os.path.join(root, "etc", "inc"), "-d", "display_errors=stderr",
            "-d", "error_reporting=E_ALL & ~E_DEPRECATED & ~E_NOTICE & ~E_WARNING"] + args


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    root, binary, args = argv[0], argv[1], argv[2:]
    env = dict(os.environ, HES_LAB_PFSENSE_ROOT=root)
    path, control = read_control(root)
    stdin = sys.stdin.buffer.read() if not sys.stdin.isatty() else b""
    action = None
    try:
        action = json.loads(stdin.decode("utf-8")).get("action")
    except (ValueError, AttributeError, UnicodeError):
        pass
    log(root, {"args": args, "action": action})
    edit = consume(path, control, "concurrent_edit")
    if edit is not None:
        script = CONCURRENT_EDIT % str(edit).replace("'", "").replace("\\", "")
        subprocess.run(php_command(root, binary, ["-r", script[len("<?php"):]]), env=env, check=True,
                       stdout=subprocess.DEVNULL)
        log(root, {"args": ["(another administrator saves in the GUI)"], "action": "concurrent_edit"})
    death = consume(path, control, "php_dies")
    if death is not None:
        sys.stderr.write("PHP Fatal error:  %s\n" % death)
        return 255
    done = subprocess.run(php_command(root, binary, args), input=stdin, env=env)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
