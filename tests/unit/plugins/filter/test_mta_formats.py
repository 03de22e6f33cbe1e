"""The allowed list in other MTAs' formats (plugins/filter/mta.py), loaded through Ansible's
plugin loader, and the Postfix cidr table checked with the real postmap."""
import os
import shutil
import subprocess

import pytest
from ansible.errors import AnsibleFilterError
from ansible.plugins.loader import filter_loader

from ansible_collections.emailsec.hes.plugins.module_utils.postfix.formats import cidr_table

RANGES = ["203.0.113.64/26", "198.51.100.0/25", "198.51.100.128/25"]
POSTMAP = shutil.which("postmap", path=os.environ.get("PATH", "") + ":/usr/sbin")


def mta_filter(name):
    return filter_loader.get("emailsec.hes.%s" % name).j2_function


def test_exim_hostlist_aggregates_and_switches_separator_for_ipv6():
    assert mta_filter("exim_hostlist")(RANGES) == "198.51.100.0/24 : 203.0.113.64/26"
    assert mta_filter("exim_hostlist")(RANGES + ["2001:db8::/32"]) == "<; 198.51.100.0/24 ; 203.0.113.64/26 ; 2001:db8::/32"
    assert mta_filter("exim_hostlist")("192.0.2.7/32") == "192.0.2.7/32"


def test_rspamd_exclude_ip_map_is_a_ucl_array():
    assert mta_filter("rspamd_exclude_ip_map")(RANGES) == '["198.51.100.0/24", "203.0.113.64/26"]'


def test_spamassassin_trusted_networks():
    assert mta_filter("spamassassin_trusted_networks")(RANGES + ["2001:db8::/32"]) == \
        "198.51.100.0/24 203.0.113.64/26 2001:db8::/32"


def test_sendmail_access_on_octet_boundaries_and_expanded_between_them():
    assert mta_filter("sendmail_access")(["198.51.100.0/24", "203.0.112.0/23", "10.0.0.0/8", "192.0.2.9/32"]) == [
        "Connect:10 OK", "Connect:192.0.2.9 OK", "Connect:198.51.100 OK", "Connect:203.0.112 OK", "Connect:203.0.113 OK"]
    assert len(mta_filter("sendmail_access")(["172.16.0.0/12"])) == 16


def test_sendmail_access_refuses_what_it_cannot_express_and_names_it():
    with pytest.raises(AnsibleFilterError, match=r"203\.0\.113\.64/26, 2001:db8::/32 cannot be written"):
        mta_filter("sendmail_access")(["198.51.100.0/24", "203.0.113.64/26", "2001:db8::/32"])


def test_sendmail_access_lists_hosts_of_longer_ranges_when_asked():
    lines = mta_filter("sendmail_access")(["203.0.113.64/26"], hosts=True)
    assert len(lines) == 64 and lines[0] == "Connect:203.0.113.64 OK" and lines[-1] == "Connect:203.0.113.127 OK"
    assert not any("RELAY" in line for line in lines)


@pytest.mark.parametrize("name", ["exim_hostlist", "rspamd_exclude_ip_map", "spamassassin_trusted_networks",
                                  "sendmail_access"])
def test_every_filter_names_a_bad_entry_and_refuses_an_empty_list(name):
    with pytest.raises(AnsibleFilterError, match="'198.51.100.1/25' has host bits set"):
        mta_filter(name)(["198.51.100.1/25"])
    with pytest.raises(AnsibleFilterError, match="no ranges"):
        mta_filter(name)([])


def test_the_cidr_table_answers_for_every_range_edge_in_postmap(tmp_path):
    if not POSTMAP:
        pytest.fail("postmap is not installed: run make setup as root (it installs Debian's postfix)")
    (tmp_path / "main.cf").write_text("compatibility_level = 3.6\n")
    table = tmp_path / "t.cidr"
    table.write_text(cidr_table(RANGES + ["2001:db8::/32"], "permit"))
    past = os.path.getmtime(table) - 60
    for path in (table, tmp_path / "main.cf"):
        os.utime(path, (past, past))
    keys = ["198.51.100.0", "198.51.100.255", "203.0.113.64", "203.0.113.127", "2001:db8::", "2001:db8:ffff::1",
            "198.51.99.255", "203.0.113.63", "203.0.113.128", "2001:db9::"]
    out = subprocess.run([POSTMAP, "-c", str(tmp_path), "-q", "-", "cidr:%s" % table], input="\n".join(keys),
                         capture_output=True, text=True, check=False)
    assert out.stderr == ""
    answers = dict(line.split("\t") for line in out.stdout.splitlines())
    assert answers == dict((key, "permit") for key in keys[:6])
