# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HES ranges in the DNSBL approved-list formats of other MTAs and filters (Exim, rspamd,
SpamAssassin, Sendmail). The renderers are in module_utils/postfix/formats.py, beside the Postfix
cidr table; each filter's documentation is in the YAML file of its name."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import RangeError
from ansible_collections.emailsec.hes.plugins.module_utils.postfix import PostfixError
from ansible_collections.emailsec.hes.plugins.module_utils.postfix import formats


def _rendered(name, render, ranges, **options):
    try:
        return render(ranges, **options)
    except (RangeError, PostfixError) as exc:
        raise AnsibleFilterError("emailsec.hes.%s: %s" % (name, to_native(exc)))


def exim_hostlist(ranges):
    """CIDRs -> the value of an Exim hostlist."""
    return _rendered("exim_hostlist", formats.exim_hostlist, ranges)


def rspamd_exclude_ip_map(ranges):
    """CIDRs -> an rspamd embedded IP map for local_exclude_ip_map."""
    return _rendered("rspamd_exclude_ip_map", formats.rspamd_ip_map, ranges)


def spamassassin_trusted_networks(ranges):
    """CIDRs -> the arguments of a SpamAssassin trusted_networks line."""
    return _rendered("spamassassin_trusted_networks", formats.spamassassin_networks, ranges)


def sendmail_access(ranges, hosts=False):
    """CIDRs -> Sendmail access db lines (whole octets; ``hosts`` lists longer ranges by address)."""
    return _rendered("sendmail_access", formats.sendmail_access, ranges, hosts=bool(hosts))


class FilterModule(object):
    def filters(self):
        return {
            "exim_hostlist": exim_hostlist,
            "rspamd_exclude_ip_map": rspamd_exclude_ip_map,
            "spamassassin_trusted_networks": spamassassin_trusted_networks,
            "sendmail_access": sendmail_access,
        }
