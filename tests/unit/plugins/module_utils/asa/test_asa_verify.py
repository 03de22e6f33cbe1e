"""Verify on the engine, ASA side (plugins/module_utils/asa/verify.py, policy/verify.py,
hes_verify.py) and the report renderings.

Golden files in verify_golden/: packet-tracer outputs ``pt-*.txt`` shaped like asa-cli.md §6.6
(9.x text with CRLF, 9.14+ text with Elapsed time / Time Taken / Drop-location, xml without a
single root) with their parse ``*.ref``, and the report renderings. A mismatch writes ``*.actual``
beside the ref and fails; approve a change by renaming ``.actual`` to ``.ref``.
"""
import json
import os
import xml.etree.ElementTree as ET

import pytest
from ansible_collections.emailsec.hes.tests.unit.golden_files import assert_golden

from ansible_collections.emailsec.hes.plugins.module_utils import hes_verify as hv
from ansible_collections.emailsec.hes.plugins.module_utils.asa import verify as av

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "verify_golden")
PT_FILES = sorted(n[:-4] for n in os.listdir(GOLDEN) if n.startswith("pt-") and n.endswith(".txt"))
RANGES = ["18.208.22.64/26", "150.70.149.0/27"]
MX = "203.0.113.25"
GENERATED = "2026-01-01T00:00:00Z"
GROUP = ("object-group network TM_HES_IP_RANGE\n network-object 18.208.22.64 255.255.255.192\n"
         " network-object 150.70.149.0 255.255.255.224\n")
HARDENED = ("interface G0\n nameif outside\n security-level 0\n!\ninterface G1\n nameif inside\n"
            " security-level 100\n!\n" + GROUP +
            "object network MX\n host 203.0.113.25\n"
            "access-list outside_in extended permit tcp object-group TM_HES_IP_RANGE object MX eq smtp\n"
            "access-list outside_in extended permit tcp any host 203.0.113.80 eq www\n"
            "access-list outside_in extended deny ip any any\n"
            "access-list inside_in extended permit ip any any\n"
            "access-group outside_in in interface outside\naccess-group inside_in in interface inside\n")


def golden(name, actual):
    assert_golden(GOLDEN, name, actual)


# ------------------------------------------------------------------------------- packet-tracer
@pytest.mark.parametrize("name", PT_FILES)
def test_parse_packet_tracer_golden(name):
    with open(os.path.join(GOLDEN, name + ".txt"), newline="") as handle:
        text = handle.read()
    parsed = av.parse_packet_tracer(text)
    golden(name, json.dumps(parsed, indent=2, sort_keys=True) + "\n")
    # an ASA ends its lines with CRLF; the golden inputs are stored with LF (sanity: line-endings)
    assert av.parse_packet_tracer(text.replace("\n", "\r\n")) == parsed


def test_packet_tracer_verdicts_and_deciding_rule():
    outputs = [open(os.path.join(GOLDEN, n + ".txt"), newline="").read()
               for n in ("pt-9x-allow", "pt-9x-drop-implicit", "pt-914-drop-explicit-detailed", "pt-xml-drop")]
    answers = av.device_answers(outputs)
    assert [a["verdict"] for a in answers] == ["allow", "deny", "deny", "deny"]
    assert answers[0]["rule"] == ("access-list outside_in extended permit tcp object-group TM_HES_IP_RANGE host "
                                  "203.0.113.25 eq smtp (access-group outside_in in interface outside)")
    assert answers[1]["rule"] == "Implicit Rule"
    assert answers[1]["detail"] == "(acl-drop) Flow is denied by configured rule"
    assert answers[2]["rule"].startswith("access-list outside_in extended deny tcp any host 203.0.113.25 eq smtp")


@pytest.mark.parametrize("output, message", [
    ("", "no output"),
    ("ERROR: % Invalid input detected at '^' marker.", "no 'Action: allow|drop' line"),
    ("<Phase><id>1</Phase>", "not well-formed"),
])
def test_parse_packet_tracer_rejects_garbage(output, message):
    with pytest.raises(hv.VerifyError, match=message):
        av.parse_packet_tracer(output)


# ------------------------------------------------------------------------------- the plan
def plan(config=HARDENED, servers=(MX,), **kw):
    return hv.plan("asa", config, RANGES, "TM_HES_IP_RANGE", mail_servers=list(servers), other_ports=kw.get("other_ports", {}),
                   interfaces=kw.get("interfaces", ["outside"]))


def test_probes_are_the_range_edges_and_carry_the_engines_answer():
    planned = plan()
    probes = planned["probes"]
    assert [(p["kind"], p["source"], p["expect"], p["engine"]) for p in probes] == [
        ("range-first", "18.208.22.64", "allow", "allow"), ("range-last", "18.208.22.127", "allow", "allow"),
        ("below-range", "18.208.22.63", "deny", "deny"), ("above-range", "18.208.22.128", "deny", "deny"),
        ("range-first", "150.70.149.0", "allow", "allow"), ("range-last", "150.70.149.31", "allow", "allow"),
        ("below-range", "150.70.148.255", "deny", "deny"), ("above-range", "150.70.149.32", "deny", "deny"),
    ]
    assert planned["commands"][0] == "packet-tracer input outside tcp 18.208.22.64 40000 203.0.113.25 25"
    assert probes[0]["engine_rule"].startswith("outside_in line 1 ")
    assert planned["mail_servers"] == [MX]


def test_a_leak_adds_its_witness_and_the_audit_discovers_the_server():
    leaky = HARDENED.replace("access-list outside_in extended deny ip any any\n",
                             "access-list outside_in extended permit tcp any object MX range 1 1024\n")
    planned = hv.plan("asa", leaky, RANGES, "TM_HES_IP_RANGE", other_ports={}, interfaces=["outside"])
    assert planned["mail_servers_discovered"] and planned["mail_servers"] == [MX]
    witness = [p for p in planned["probes"] if p["kind"] == "leak-witness"]
    assert len(witness) == 1 and witness[0]["engine"] == "allow" and witness[0]["expect"] == "deny"
    assert witness[0]["engine_rule"] == "outside_in line 3 'extended permit tcp any object MX range 1 1024'"


def report_for(config, device=None, servers=(MX,)):
    planned = plan(config, servers)
    outputs = device(planned["probes"]) if device else [_trace(p["engine"]) for p in planned["probes"]]
    return hv.evaluate("asa", config, outputs, planned["probes"], RANGES, "TM_HES_IP_RANGE", planned["mail_servers"],
                       "fw1", GENERATED, interfaces=["outside"], other_ports={})


def _trace(verdict):
    if verdict == "allow":
        return "Phase: 1\nType: ACCESS-LIST\nSubtype: log\nResult: ALLOW\nConfig:\n\nResult:\nAction: allow\n"
    return ("Phase: 1\nType: ACCESS-LIST\nSubtype:\nResult: DROP\nConfig:\nImplicit Rule\n\nResult:\nAction: drop\n"
            "Drop-reason: (acl-drop) Flow is denied by configured rule\n")


def checks_of(report):
    return dict((c["id"], c) for c in report["checks"])


def test_hardened_passes():
    report = report_for(HARDENED)
    assert report["status"] == "pass", report["checks"]
    assert checks_of(report)["group_members"]["detail"] == \
        "object-group network TM_HES_IP_RANGE holds exactly the ranges (2 members)"


ANY_RULE = "access-list outside_in extended permit tcp any object MX eq smtp\n"
DENY = "access-list outside_in extended deny ip any any\n"


@pytest.mark.parametrize("change, check, words", [
    ((DENY, ANY_RULE + DENY), "no_broader_permit",
     ["outside_in line 3 'extended permit tcp any object MX eq smtp' admits TCP/25 from every source outside the ranges"]),
    ((DENY, "access-list outside_in extended permit ip any host 203.0.113.25\n" + DENY), "no_broader_permit",
     ["'extended permit ip any host 203.0.113.25'", "e.g. tcp 1.0.0.7:40000 -> 203.0.113.25:25"]),
    (("access-list outside_in extended permit tcp object-group",
      "access-list outside_in extended permit tcp 192.0.2.0 255.255.255.0 object MX eq smtp\n"
      "access-list outside_in extended permit tcp object-group"), "no_broader_permit",
     ["outside_in line 1 'extended permit tcp 192.0.2.0 255.255.255.0 object MX eq smtp' admits TCP/25 from outside "
      "the ranges: 192.0.2.0/24"]),
    ((DENY, "access-list outside_in extended deny tcp any range 1024 65535 object MX eq smtp\n" + ANY_RULE + DENY),
     "no_broader_permit", ["line 4 'extended permit tcp any object MX eq smtp'", "tcp 1.0.0.7:1 -> 203.0.113.25:25"]),
    ((" network-object 150.70.149.0 255.255.255.224\n", ""), "group_members", ["missing 150.70.149.0/27"]),
    ((" network-object 150.70.149.0 255.255.255.224\n",
      " network-object 150.70.149.0 255.255.255.224\n network-object host 198.51.100.7\n"),
     "group_members", ["holds addresses outside the ranges: 198.51.100.7"]),
    (("object MX eq smtp\n", "object MX eq smtp inactive\n"), "smtp_rule",
     ["on outside, outside_in line 3 'extended deny ip any any' blocks TCP/25 from every address of the ranges"]),
    (("access-list outside_in extended permit tcp object-group",
      "access-list outside_in extended deny tcp object-group TM_HES_IP_RANGE object MX eq smtp time-range T\n"
      "access-list outside_in extended permit tcp object-group"), "smtp_rule",
     ["outside_in line 1 'extended deny tcp object-group TM_HES_IP_RANGE object MX eq smtp time-range T' blocks"]),
])
def test_failures_name_the_rule_and_a_witness(change, check, words):
    old, new = change
    assert old in HARDENED
    report = report_for(HARDENED.replace(old, new))
    found = checks_of(report)[check]
    assert found["status"] == "fail", report["checks"]
    for word in words:
        assert word in found["detail"], found["detail"]


def test_a_device_that_disagrees_with_the_engine_fails_and_both_answers_are_shown():
    def lying_device(probes):
        return [_trace("allow") for probe in probes]
    report = report_for(HARDENED, lying_device)
    probes = checks_of(report)["probes_smtp"]
    assert probes["status"] == "fail"
    assert "the device and the engine disagree on 4" in probes["detail"]
    assert "device allow" in probes["detail"] and "engine deny" in probes["detail"]
    assert all(not r["agree"] for r in report["failures"])


def test_bad_interface_and_missing_servers_are_named():
    with pytest.raises(hv.VerifyError, match="hes_verify_interfaces: dmz not found"):
        plan(interfaces=["dmz"])
    with pytest.raises(hv.VerifyError, match="no mail server given and none found"):
        hv.plan("asa", HARDENED.replace("object MX eq smtp", "object MX eq www"), RANGES, "TM_HES_IP_RANGE",
                other_ports={}, interfaces=["outside"])


# ------------------------------------------------------------------------------- reports
def sample_report(host="fw1", broken=True):
    config = HARDENED.replace(DENY, ANY_RULE + DENY) if broken else HARDENED
    planned = hv.plan("asa", config, RANGES, "TM_HES_IP_RANGE", mail_servers=[MX], other_ports={587: "deny"},
                      interfaces=["outside"])
    outputs = [_trace(p["engine"]) for p in planned["probes"]]
    return hv.evaluate("asa", config, outputs, planned["probes"], RANGES, "TM_HES_IP_RANGE", [MX], host, GENERATED,
                       interfaces=["outside"], other_ports={587: "deny"})


def test_report_status_and_summary():
    report = sample_report()
    assert report["status"] == "fail"
    assert report["summary"]["failed_checks"] == ["no_broader_permit", "probes_smtp"]
    # the engine's witness and the four edges just outside the ranges, all let in by the any rule
    assert report["summary"]["failed_probes"] == 5
    assert hv.summary(report)["checks"]["probes_other_ports"] == "pass"
    good = sample_report("fw2", broken=False)
    assert good["status"] == "pass" and good["failures"] == []


def test_report_renderings_golden():
    report = sample_report()
    golden("report.md", hv.render_markdown(report))
    junit = hv.render_junit(report)
    root = ET.fromstring(junit.split("\n", 1)[1])
    suite = root.find("testsuite")
    assert int(suite.get("failures")) == len(suite.findall(".//failure"))
    golden("report.junit.xml", junit)
    golden("report.json", json.dumps(report, indent=2, sort_keys=True) + "\n")
    golden("fleet.md", hv.render_fleet_markdown([sample_report("fw2", broken=False), report], GENERATED))


def test_markdown_escapes_pipes():
    report = sample_report()
    report["checks"][0]["detail"] = "a | b"
    assert "a \\| b" in hv.render_markdown(report)
