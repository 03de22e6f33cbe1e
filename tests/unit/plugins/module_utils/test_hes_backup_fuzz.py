"""Property-based fuzzing of the backup envelope and of the names of the files the collection
writes (plugins/module_utils/hes_backup.py): host names, vendors, time stamps, and the envelope a
rollback reads back.

The properties, for any input: a host name becomes a file-name part of plain characters that
cannot leave its directory, distinct hosts never share backups (one host's name pattern never
matches another host's or vendor's file), and a backup is restored only when it is ours, this
host's, this vendor's and this device's; otherwise BackupError names what is wrong. Never another
exception. The oracles are written from those rules, not from the code.
"""
import re

from hypothesis import example, given
from hypothesis import strategies as st

from ansible_collections.emailsec.hes.plugins.module_utils import hes_backup as hb
from ansible_collections.emailsec.hes.tests.unit.fuzz_inputs import (
    any_values,
    bounded,
    check_validator,
    mentions,
    names_value,
    with_examples,
)

PLAIN = re.compile(r"[A-Za-z0-9_-]+")
STAMP_RULE = re.compile(r"[0-9]{8}T[0-9]{12}Z")
STAMP = "20261130T120000123456Z"
hosts = st.one_of(st.sampled_from(["fw1", "fw1-dr", "fw1.example.com", "FW1", "fw_1"]), any_values("fw1.-_/ ", 30),
                  st.from_regex(r"[a-z0-9][a-z0-9.-]{0,20}", fullmatch=True))
stamps = st.one_of(st.just(STAMP), st.from_regex(STAMP_RULE, fullmatch=True),
                   st.sampled_from(["2026113\u0660T120000123456Z", STAMP + "\n", "latest", "", STAMP.replace("Z", "z"),
                                    "\uff12" + STAMP[1:]]), any_values("0123456789TZ", 24))


@bounded(300)
@with_examples("host", ["fw1", "../../x", "..", ".", "fw1\n", "\udc80", "a" * 100, "a" * 101, "", None, ["fw1"],
                        "fw1/../../etc", "\u00e9t\u00e9", "x\u2028y"])
@given(host=hosts)
def test_fuzz_safe_host(host):
    accepted, name = check_validator(hb.safe_host, host, hb.BackupError, "host name ",
                                     legal=isinstance(host, str) and host != "", plain=isinstance(host, str) and host)
    if not accepted:
        return
    assert PLAIN.fullmatch(name) and len(name) <= 100, "%r became %r" % (host, name)
    if PLAIN.fullmatch(host) and len(host) <= 100 and not host.startswith("_") and not host.endswith("_"):
        assert name == host
    else:
        assert name != host and re.fullmatch(r"[A-Za-z0-9_-]*-[0-9a-f]{8}", name), (host, name)


@bounded(300)
@example(pair=("fw1", "fw1-dr"))
@example(pair=("fw1", "fw1.example.com"))
@example(pair=("a/b", "a_b"))
@example(pair=("x", "x-2d711642"))
@example(pair=("fw\u0661", "fw1"))
@given(pair=st.tuples(hosts, hosts).filter(lambda p: all(isinstance(h, str) and h for h in p) and p[0] != p[1]))
def test_fuzz_distinct_hosts_never_share_backups(pair):
    first, second = pair
    assert hb.safe_host(first) != hb.safe_host(second), pair
    for vendor in hb.VENDORS:
        mine = hb.backup_name(first, vendor, STAMP)
        assert hb.name_pattern(first, vendor).fullmatch(mine)
        assert not hb.name_pattern(second, vendor).fullmatch(mine), (pair, vendor)
        assert not hb.name_pattern(first, "panos" if vendor != "panos" else "asa").fullmatch(mine)


@bounded(300)
@with_examples("stamp", ["2026113\u0660T120000123456Z", "\uff12" + STAMP[1:], STAMP + "\n", STAMP])
@given(stamp=stamps)
def test_fuzz_backup_names_and_the_newest(stamp):
    try:
        name = hb.backup_name("fw1", "asa", stamp)
    except hb.BackupError as exc:
        assert not (isinstance(stamp, str) and STAMP_RULE.fullmatch(stamp)), "refused %r" % (stamp,)
        assert names_value(str(exc), stamp), str(exc)
    else:
        assert isinstance(stamp, str) and STAMP_RULE.fullmatch(stamp), "%r was accepted" % (stamp,)
        assert name == "fw1.asa.%s.json" % stamp
    # A file in the directory with this stamp is this host's backup only when the stamp is one.
    planted = "fw1.asa.%s.json" % stamp if isinstance(stamp, str) else "fw1.asa.x.json"
    found = hb.newest(["fw1.asa.%s.json" % STAMP, planted], "fw1", "asa")
    expected = max(n for n in ["fw1.asa.%s.json" % STAMP, planted]
                   if re.fullmatch(r"fw1\.asa\.[0-9]{8}T[0-9]{12}Z\.json", n))
    assert found == expected, (planted, found)


# --- the envelope -----------------------------------------------------------------------------
DEVICE = {"hostname": "edge-fw", "serial": "9A1B2C3D"}
GOOD = hb.envelope("fw1", "asa", DEVICE, {"commands": []}, {"format": 1}, "2026-11-30T12:00:00Z")
DELETE = object()


@st.composite
def envelopes(draw):
    data = dict(GOOD, device=dict(DEVICE))
    key = draw(st.sampled_from(["format", "host", "vendor", "device", "device.hostname", "device.serial", "restore",
                                "whole", None]))
    value = draw(st.one_of(any_values("fw1asa", 12), st.just(DELETE),
                           st.sampled_from(["fw1", "fw1 ", "FW1", "panos", "edge-fw", "other", hb.FORMAT,
                                            "emailsec.hes/backup/2", {}, {"hostname": "edge-fw"}])))
    if key == "whole":
        return value
    if key and key.startswith("device."):
        target, key = data["device"], key.split(".")[1]
    else:
        target = data
    if key is not None:
        if value is DELETE:
            target.pop(key, None)
        else:
            target[key] = value
    return data


def must_restore(data, host, vendor, device):
    """The rule: ours, this host's, this vendor's, restore data present, and every identity field
    both sides know the same."""
    if not isinstance(data, dict) or data.get("format") != hb.FORMAT or "restore" not in data:
        return False
    if data.get("host") != host or data.get("vendor") != vendor:
        return False
    saved = data.get("device") or {}
    if not isinstance(saved, dict):
        return False
    return all(not value or not saved.get(key) or saved[key] == value for key, value in device.items())


@bounded(300)
@example(data=dict(GOOD, host="fw1-dr"), device=DEVICE)
@example(data=dict(GOOD, device={"hostname": "edge-fw", "serial": "OTHER"}), device=DEVICE)
@example(data=dict(GOOD, device="edge-fw"), device=DEVICE)
@example(data=["not", "a", "backup"], device=DEVICE)
@given(data=envelopes(), device=st.sampled_from([DEVICE, {}, {"hostname": "edge-fw"}, {"serial": "OTHER"},
                                                 {"hostname": None, "serial": ""}]))
def test_fuzz_check_envelope(data, device):
    try:
        restore = hb.check_envelope(data, "fw1", "asa", device, origin="backups/fw1.asa.%s.json" % STAMP)
    except hb.BackupError as exc:
        message = str(exc)
        assert message.startswith("backups/fw1.asa.%s.json: " % STAMP), message
        assert not must_restore(data, "fw1", "asa", device), "refused: %s" % message
        assert mentions(message, data) or any(w in message for w in ("format", "restore data", "device")), message
        return
    assert must_restore(data, "fw1", "asa", device), "restored %r" % (data,)
    assert restore is data["restore"]
