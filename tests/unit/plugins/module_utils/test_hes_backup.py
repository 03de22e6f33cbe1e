"""The backup envelope and the names of backup files (plugins/module_utils/hes_backup.py)."""
import re

import pytest

from ansible_collections.emailsec.hes.plugins.module_utils import hes_backup as hb

STAMP = "20261130T120000123456Z"


@pytest.mark.parametrize("host, expected", [
    ("fw1", "fw1"),
    ("edge-fw_2", "edge-fw_2"),
])
def test_plain_host_names_are_kept(host, expected):
    assert hb.safe_host(host) == expected


@pytest.mark.parametrize("host", ["../../x", "fw1/../../etc", "a b", "fw1.example.com", "x\ny", "\u00e9t\u00e9"])
def test_other_host_names_cannot_leave_the_directory_and_stay_apart(host):
    name = hb.safe_host(host)
    assert "/" not in name and "." not in name and "\n" not in name and name
    assert name != hb.safe_host(host + "z")


def test_a_file_with_look_alike_digits_is_no_backup():
    """Found by test_hes_backup_fuzz.py: it matched the pattern and, sorting last, was the newest."""
    planted = "fw1.asa.2026113\u0660T120000123456Z.json"
    assert hb.newest([hb.backup_name("fw1", "asa", STAMP), planted], "fw1", "asa") == "fw1.asa.%s.json" % STAMP


def test_a_host_name_python_cannot_encode_still_gets_a_file_name():
    assert re.fullmatch(r"fw-[0-9a-f]{8}", hb.safe_host("fw\udc80"))


def test_the_name_pattern_is_exact():
    names = [hb.backup_name("fw1", "asa", STAMP), hb.backup_name("fw1-dr", "asa", "20261130T130000000000Z"),
             hb.backup_name("fw1", "panos", "20261130T140000000000Z"), "fw1.asa.latest.json", "fw1.asa.json"]
    assert hb.newest(names, "fw1", "asa") == "fw1.asa.%s.json" % STAMP
    assert hb.newest(names, "fw1-dr", "asa") == "fw1-dr.asa.20261130T130000000000Z.json"
    assert hb.newest(names, "fw2", "asa") is None


@pytest.mark.parametrize("vendor, stamp, message", [
    ("cisco", STAMP, "vendor 'cisco'"),
    ("asa", "yesterday", "time stamp"),
    ("asa", STAMP + "\n", "time stamp"),
    # Found by test_hes_backup_fuzz.py: look-alike digits passed, a number crashed.
    ("asa", "2026113\u0660T120000123456Z", "time stamp"),
    ("asa", 1, "time stamp 1"),
])
def test_bad_names_are_refused(vendor, stamp, message):
    with pytest.raises(hb.BackupError, match=message):
        hb.backup_name("fw1", vendor, stamp)


def test_envelope_round_trip_and_refusals():
    data = hb.envelope("fw1", "asa", {"hostname": "edge", "serial": "S1"}, {"commands": ["x"]}, {"k": 1}, "t")
    assert hb.check_envelope(data, "fw1", "asa", {"hostname": "edge"}) == {"k": 1}
    assert hb.check_envelope(data, "fw1", "asa", {"serial": ""}) == {"k": 1}
    with pytest.raises(hb.BackupError, match="written for host 'fw1', not 'fw1-dr'"):
        hb.check_envelope(data, "fw1-dr", "asa")
    with pytest.raises(hb.BackupError, match="a asa backup, not panos"):
        hb.check_envelope(data, "fw1", "panos")
    with pytest.raises(hb.BackupError, match="serial was 'S1'; this one's is 'S2'"):
        hb.check_envelope(data, "fw1", "asa", {"serial": "S2"})
    with pytest.raises(hb.BackupError, match="not an emailsec.hes backup"):
        hb.check_envelope({"format": 1}, "fw1", "asa")
