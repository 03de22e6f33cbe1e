"""The pfSense lab box itself, and the collection's config.xml reader/writer against pfSense's own
xmlparse.inc run by Debian's php-cli.

Round trip: for every golden case, the configuration the planner produces, written by our
``dump_config``, is parsed by pfSense's ``parse_xml_config()`` into the same array our
``parse_config`` gives, and ``dump_xml_config()`` writes it back byte for byte. So what check mode
shows is what pfSense writes, and what pfSense writes is what the module reads back.
"""
import glob
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "lab"))
from hes_lab.pfsense import PfsenseBox  # noqa: E402
from hes_lab.pfsense.pfctl import PfSyntaxError, parse_ruleset  # noqa: E402

from ansible_collections.emailsec.hes.plugins.module_utils.pfsense import parse, plan  # noqa: E402

GOLDEN = os.path.join(REPO, "tests", "unit", "plugins", "module_utils", "pfsense", "golden")
XMLPARSE = os.path.join(REPO, "lab", "hes_lab", "pfsense", "inc", "xmlparse.inc")
CASES = sorted(os.path.basename(os.path.dirname(p)) for p in glob.glob(os.path.join(GOLDEN, "*", "config.xml")))
ROUND_TRIP = r"""
function logger($l, $m, $p = '') { fwrite(STDERR, $m . "\n"); }
function localize_text($f, ...$a) { return vsprintf($f, $a); }
define('LOG_PREFIX_CONFIG', 'config');
require_once(getenv('XMLPARSE'));
$parsed = parse_xml_config($argv[1], 'pfsense');
file_put_contents($argv[2], json_encode($parsed));
echo dump_xml_config($parsed, 'pfsense');
"""


def php_round_trip(tmp_path, text):
    source = tmp_path / "config.xml"
    source.write_text(text)
    as_json = tmp_path / "parsed.json"
    done = subprocess.run(["php", "-r", ROUND_TRIP, str(source), str(as_json)], capture_output=True, text=True,
                          env=dict(os.environ, XMLPARSE=XMLPARSE), check=True)
    return json.loads(as_json.read_text()), done.stdout


def php_array(value):
    """json_encode gives [] for an empty PHP array; our reader keeps '' for an empty element and
    {} never occurs."""
    if isinstance(value, dict):
        return dict((k, php_array(v)) for k, v in value.items())
    if isinstance(value, list):
        return [php_array(v) for v in value]
    return value


@pytest.mark.parametrize("case", CASES)
def test_pfsense_xmlparse_reads_what_we_read_and_writes_what_we_write(case, tmp_path):
    with open(os.path.join(GOLDEN, case, "config.xml")) as handle:
        text = handle.read()
    config = parse.parse_config(text)
    with open(os.path.join(GOLDEN, "tables.json")) as handle:
        tables = json.load(handle)
    with open(os.path.join(GOLDEN, case, "params.json")) as handle:
        params = json.load(handle)
    params.pop("expect"), params.pop("why")
    site = params.pop("site")
    ranges = ["18.208.22.64/26", "18.188.9.192/26"] if site else []
    after = plan.plan_hardening(config, ranges, tables=tables, now=1732950000, **params)["after"]
    ours = parse.dump_config(after)
    parsed, dumped = php_round_trip(tmp_path, ours)
    assert php_array(parsed) == after
    assert dumped == ours
    parsed, unused = php_round_trip(tmp_path, text)
    assert php_array(parsed) == config


def test_entities_and_cdata_are_read_as_pfsense_reads_them(tmp_path):
    text = ('<?xml version="1.0"?>\n<pfsense>\n\t<filter>\n\t\t<rule>\n\t\t\t<descr><![CDATA[A &amp; B < C]]></descr>\n'
            '\t\t\t<tag>x &amp;amp; y</tag>\n\t\t\t<os>line one\nline two &#38;amp;</os>\n\t\t\t<source>\n\t\t\t\t<any></any>\n\t\t\t</source>\n\t\t</rule>\n'
            '\t\t<rule></rule>\n\t</filter>\n\t<aliases>\n\t</aliases>\n</pfsense>\n')
    parsed, dumped = php_round_trip(tmp_path, text)
    assert php_array(parsed) == parse.parse_config(text)
    assert parse.parse_config(text)["filter"]["rule"] == [
        {"descr": "A & B < C", "tag": "x &amp; y", "os": "line one\nline two &amp;", "source": {"any": ""}}]
    assert dumped == parse.dump_config(parse.parse_config(text))


@pytest.fixture
def box(tmp_path):
    with open(os.path.join(GOLDEN, "plain_wan_rule", "config.xml")) as handle:
        instance = PfsenseBox(str(tmp_path / "box")).up(handle.read())
    yield instance
    instance.down()


def test_booting_loads_the_ruleset_and_pfctl_answers_from_it(box):
    rules = box.pfctl("-sr").stdout
    assert 'pass in quick on vtnet0 inet proto tcp from any to 198.51.100.25 port = smtp flags S/SA keep state ' \
           'label "USER_RULE: Inbound SMTP to mail relay" ridentifier 1700000101' in rules
    assert box.pfctl("-sT").stdout.split() == ["bogons", "bogonsv6"]
    missing = box.pfctl("-t", "TM_HES_IP_RANGE", "-T", "show")
    assert missing.returncode != 0 and missing.stderr == "pfctl: Table does not exist.\n"
    assert box.pfctl("-t", "bogons", "-T", "test", "198.51.100.7").returncode == 0
    assert box.pfctl("-t", "bogons", "-T", "test", "18.208.22.70").stderr == "0/1 addresses match.\n"


def test_a_logged_rule_renders_log_after_the_direction_as_filter_inc_does(tmp_path):
    with open(os.path.join(GOLDEN, "plain_wan_rule", "config.xml")) as handle:
        text = handle.read()
    logged = text.replace("<descr><![CDATA[Inbound SMTP to mail relay]]></descr>",
                          "<descr><![CDATA[Inbound SMTP to mail relay]]></descr>\n\t\t\t<log></log>", 1)
    assert logged != text
    instance = PfsenseBox(str(tmp_path / "box")).up(logged)
    try:
        assert 'pass in log quick on vtnet0 inet proto tcp from any to 198.51.100.25 port = smtp' in \
            instance.pfctl("-sr").stdout
    finally:
        instance.down()


def test_a_ruleset_pfctl_cannot_parse_is_not_loaded(box, tmp_path):
    before = box.pfctl("-sr").stdout
    bad = tmp_path / "bad.rules"
    bad.write_text("pass in quick on vtnet0 proto tcp from any to any port = 25 keep state\npass in frobnicate\n")
    done = box.pfctl("-o", "basic", "-f", str(bad))
    assert done.returncode == 1 and done.stderr.startswith("%s:2: syntax error" % bad)
    assert box.pfctl("-sr").stdout == before
    with pytest.raises(PfSyntaxError):
        parse_ruleset("table <x> { 300.1.1.1 }", "t")


def test_write_config_keeps_history_and_bumps_the_revision(box):
    done = box.php("require_once('config.inc'); config_set_path('system/hostname', 'fw2');"
                   " echo json_encode(is_array(write_config('test change')));")
    assert done.stdout == "true", done.stderr
    config = parse.parse_config(box.config_text())
    assert config["system"]["hostname"] == "fw2"
    assert config["revision"]["description"] == "(system): test change" and config["revision"]["username"] == "(system)"
    assert box.history() == ["config-1732900000.xml"]
    with open(box.path("cf", "conf", "backup", "config-1732900000.xml")) as handle:
        assert parse.parse_config(handle.read())["system"]["hostname"] == "fw1"
    assert [e["event"] for e in box.events() if e["event"] in ("backup_config", "write_config", "carp_sync_client")] == [
        "backup_config", "write_config", "carp_sync_client"]


def test_pfssh_exit_status_is_zero_even_when_the_code_fails(box):
    done = subprocess.run([box.path("usr", "local", "sbin", "pfSsh.php")], input="throw new Exception('boom');\nexec\n",
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "boom" in done.stdout
    done = subprocess.run([box.path("usr", "local", "sbin", "pfSsh.php")],
                          input="echo config_get_path('system/hostname');\nexec\n", capture_output=True, text=True,
                          check=False)
    assert done.stdout.strip() == "fw1"


def test_hes_lab_pfsense_prints_ready_and_refuses_a_used_directory(tmp_path):
    config = os.path.join(GOLDEN, "plain_wan_rule", "config.xml")
    command = [sys.executable, "-m", "hes_lab.cli", "pfsense", "--config", config, "--dir", str(tmp_path / "b")]
    done = subprocess.run(command, capture_output=True, text=True, cwd=os.path.join(REPO, "lab"), check=False)
    assert done.returncode == 0 and done.stdout == "READY %s\n" % (tmp_path / "b"), done.stderr
    again = subprocess.run(command, capture_output=True, text=True, cwd=os.path.join(REPO, "lab"), check=False)
    assert again.returncode == 1 and "already holds a pfSense box" in again.stderr
    PfsenseBox(str(tmp_path / "b")).down()
