# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PHP the module runs on the firewall with pfSense's own ``/usr/local/bin/php``, and how to
read its answer.

The program gets one JSON request on standard input (never values pasted into PHP source) and
prints one line ``EMAILSEC_HES_RESULT {json}``; the module reads that line and ignores the exit
status and anything else PHP prints (notices, pfSense's own output). It uses pfSense's API only:

* ``config_read_file()`` (2.8) or ``parse_config(true)`` (2.7) to read config.xml afresh, after
  checking that the file is still the one the module planned on (SHA-256): another administrator's
  save in between is refused, nothing written;
* ``config_get_path()`` / ``config_set_path()`` (pfSense 2.7 and later) for the edits, each
  checked against what it expects to find first;
* ``write_config("emailsec.hes: ...")``, which takes pfSense's config lock, copies the previous
  file into the history (``/cf/conf/backup/config-<time>.xml``), logs the change and syncs HA
  peers;
* ``filter_configure_sync()`` (returns 0 once pfctl loaded the ruleset), then the dirty flags of
  aliases, filter and NAT cleared;
* ``config_restore()`` for a rollback, in either signature (2.7: ``($path)`` returning 0; 2.8:
  ``($path, $descr)`` returning true). When the new ruleset does not load, the previous revision
  is restored at once and the filter reloaded, and the answer says so.

Limit: the SHA-256 check and ``write_config()`` run back to back in one PHP process, but not under
one lock (``write_config`` takes pfSense's config lock itself, and a second lock on the same file
in the same process would deadlock); a save landing in those few milliseconds is not detected.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

MARKER = "EMAILSEC_HES_RESULT "

PROGRAM = r"""<?php
/* emailsec.hes: edit, apply or restore config.xml through pfSense's own functions. */
$emailsec_finished = false;
function emailsec_answer($result) {
    global $emailsec_finished;
    $emailsec_finished = true;
    echo "\n" . "EMAILSEC_HES_RESULT " . json_encode($result) . "\n";
    exit(0);
}
register_shutdown_function(function () {
    global $emailsec_finished;
    if (!$emailsec_finished) {
        $last = error_get_last();
        echo "\n" . "EMAILSEC_HES_RESULT " . json_encode(array('ok' => false,
            'error' => 'PHP stopped before answering: ' . ($last ? $last['message'] : 'no message'))) . "\n";
    }
});
$request = json_decode(file_get_contents('php://stdin'), true);
if (!is_array($request) || !isset($request['action'])) {
    emailsec_answer(array('ok' => false, 'error' => 'no request on standard input'));
}
require_once('globals.inc');
require_once('config.inc');
require_once('functions.inc');
require_once('filter.inc');
require_once('util.inc');
global $g, $config;

function emailsec_config_file() {
    global $g;
    return $g['conf_path'] . '/config.xml';
}

function emailsec_reload() {
    global $config;
    if (function_exists('config_read_file')) {
        config_read_file(false, false);
    } else {
        $config = parse_config(true);
    }
}

function emailsec_revision() {
    return array('time' => config_get_path('revision/time'), 'description' => config_get_path('revision/description'),
        'username' => config_get_path('revision/username'));
}

function emailsec_filter() {
    $rc = filter_configure_sync();
    clear_subsystem_dirty('aliases');
    clear_subsystem_dirty('filter');
    clear_subsystem_dirty('natconf');
    return $rc === 0;
}

function emailsec_restore($path, $descr) {
    $restore = new ReflectionFunction('config_restore');
    if ($restore->getNumberOfParameters() >= 2) {
        return config_restore($path, $descr) === true;
    }
    return config_restore($path) === 0;
}

function emailsec_apply_edits($edits) {
    foreach ($edits as $n => $edit) {
        foreach ((isset($edit['expect']) ? $edit['expect'] : array()) as $path => $wanted) {
            $found = config_get_path($path);
            if ($found !== $wanted) {
                return sprintf('edit %d: %s is %s, expected %s', $n, $path, json_encode($found), json_encode($wanted));
            }
        }
        if ($edit['op'] == 'set') {
            config_set_path($edit['path'], $edit['value']);
        } elseif ($edit['op'] == 'insert') {
            $list = config_get_path($edit['path'], array());
            if (!is_array($list)) {
                $list = array();
            }
            array_splice($list, (int)$edit['index'], 0, array($edit['value']));
            config_set_path($edit['path'], $list);
        } else {
            return sprintf('edit %d: unknown op %s', $n, $edit['op']);
        }
    }
    return null;
}

$file = emailsec_config_file();
$sha = hash_file('sha256', $file);
if ($sha !== $request['expect_sha256']) {
    emailsec_reload();
    emailsec_answer(array('ok' => false, 'concurrent' => true, 'sha256' => $sha, 'revision' => emailsec_revision(),
        'error' => 'config.xml changed since it was read'));
}
emailsec_reload();
$before = emailsec_revision();

if ($request['action'] == 'apply') {
    $problem = emailsec_apply_edits($request['edits']);
    if ($problem !== null) {
        emailsec_answer(array('ok' => false, 'error' => $problem, 'revision' => $before));
    }
    $saved = $g['cf_conf_path'] . '/backup/config-' . (int)$before['time'] . '.xml';
    $written = write_config($request['description']);
    if ($written === false || $written === -1) {
        emailsec_answer(array('ok' => false, 'error' => 'write_config() refused or failed to write config.xml',
            'revision' => $before));
    }
    $after = emailsec_revision();
    $answer = array('ok' => true, 'revision_before' => $before, 'revision_after' => $after,
        'saved' => array('path' => $saved, 'sha256' => file_exists($saved) ? hash_file('sha256', $saved) : null),
        'written_sha256' => hash_file('sha256', $file), 'filter_loaded' => emailsec_filter());
    if (!$answer['filter_loaded']) {
        $answer['reverted'] = file_exists($saved) && emailsec_restore($saved, 'emailsec.hes: the new ruleset did not load');
        $answer['filter_loaded_after_revert'] = $answer['reverted'] ? emailsec_filter() : false;
        $answer['revision_after'] = emailsec_revision();
        $answer['written_sha256'] = hash_file('sha256', $file);
    }
    emailsec_answer($answer);
}

if ($request['action'] == 'restore') {
    $path = $request['path'];
    if (!file_exists($path)) {
        emailsec_answer(array('ok' => false, 'error' => 'no such file: ' . $path));
    }
    if (!emailsec_restore($path, $request['description'])) {
        emailsec_answer(array('ok' => false, 'error' => 'config_restore() failed for ' . $path, 'revision' => $before));
    }
    emailsec_reload();
    emailsec_answer(array('ok' => true, 'revision_before' => $before, 'revision_after' => emailsec_revision(),
        'written_sha256' => hash_file('sha256', $file), 'filter_loaded' => emailsec_filter()));
}
emailsec_answer(array('ok' => false, 'error' => 'unknown action ' . $request['action']));
"""


class PhpAnswerError(ValueError):
    """The PHP program gave no answer the module can read."""


def request(action, expect_sha256, **fields):
    data = {"action": action, "expect_sha256": expect_sha256}
    data.update(fields)
    return json.dumps(data)


def answer(stdout):
    """The JSON object of the last ``EMAILSEC_HES_RESULT`` line of the PHP output."""
    for line in reversed((stdout or "").splitlines()):
        if line.startswith(MARKER):
            try:
                data = json.loads(line[len(MARKER):])
            except ValueError as exc:
                raise PhpAnswerError("the PHP answer is not JSON (%s): %s" % (exc, line[:200]))
            if isinstance(data, dict):
                return data
    raise PhpAnswerError("pfSense's PHP gave no answer (no %s line)" % MARKER.strip())
