# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One allowed list, rendered for each MTA or filter that checks DNSBLs.

Every renderer parses its input strictly (``hes_ranges.parse_network``: host bits set is an
error, never silently cleared, because Postfix skips such a cidr line and Exim or SpamAssassin
would widen it), aggregates, and refuses what the target cannot express, naming it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.emailsec.hes.plugins.module_utils.hes_ranges import aggregate_networks, parse_network
from ansible_collections.emailsec.hes.plugins.module_utils.postfix import PostfixError

CIDR_TABLE_HEADER = (
    "# Managed by emailsec.hes (role emailsec.hes.postfix): do not edit, changes are overwritten.\n"
    "# Trend Micro Email Security (HES) delivery ranges, exempted from DNSBL checks.\n"
)


def networks(ranges, origin):
    """Parsed, aggregated and sorted networks; an empty list is refused."""
    if isinstance(ranges, str):
        ranges = [ranges]
    if not ranges:
        raise PostfixError("%s: no ranges; refusing an empty allowed list" % origin)
    return aggregate_networks([parse_network(entry, "%s item %d" % (origin, i + 1)) for i, entry in enumerate(ranges)])


def cidr_table(ranges, action):
    """A Postfix cidr table (cidr_table(5)): one ``network<TAB>action`` per range, IPv6 plain."""
    lines = ["%s\t%s\n" % (net, action) for net in networks(ranges, "ranges")]
    return CIDR_TABLE_HEADER + "".join(lines)


def exim_hostlist(ranges):
    """The value of an Exim ``hostlist``: ``a/n : b/m``, or ``<; a/n ; v6/m`` when IPv6 is in it
    (a colon is Exim's list separator, so lists holding IPv6 change it with ``<;``)."""
    nets = networks(ranges, "exim_hostlist")
    if any(net.version == 6 for net in nets):
        return "<; " + " ; ".join(str(net) for net in nets)
    return " : ".join(str(net) for net in nets)


def rspamd_ip_map(ranges):
    """An rspamd embedded IP map (a UCL array of CIDR strings), for ``local_exclude_ip_map``."""
    return "[%s]" % ", ".join('"%s"' % net for net in networks(ranges, "rspamd_exclude_ip_map"))


def spamassassin_networks(ranges):
    """The arguments of a SpamAssassin ``trusted_networks`` line: CIDRs separated by spaces."""
    return " ".join(str(net) for net in networks(ranges, "spamassassin_trusted_networks"))


def sendmail_access(ranges, hosts=False):
    """Sendmail access db lines ``Connect:a.b.c OK``. A key is a whole-octet prefix of an IPv4
    address: a range on an octet boundary is one line, a range between boundaries (/17../23,
    /9../15, /1../7) is the exact set of lines of the next boundary. A range longer than /24 has no
    key of its own: it is refused by name, or with ``hosts`` written as one line per address (at
    most 128 per range). IPv6 is refused (matched as truncated text, where ``::`` compression
    makes prefixes unreliable). ``OK`` skips ``FEATURE(dnsbl)`` for that client without letting
    it relay (``RELAY`` would)."""
    nets = networks(ranges, "sendmail_access")
    refused = [str(net) for net in nets
               if net.version == 6 or net.prefixlen == 0 or (24 < net.prefixlen < 32 and not hosts)]
    if refused:
        raise PostfixError(
            "sendmail_access: %s cannot be written as Sendmail access db keys (whole IPv4 octets only: /8, /16, "
            "/24 or a host; no IPv6); for IPv4 ranges longer than /24 set hosts=true to list every address"
            % ", ".join(refused))
    lines = []
    for net in nets:
        boundary = 32 if net.prefixlen > 24 else -(-net.prefixlen // 8) * 8
        for part in net.subnets(new_prefix=boundary):
            octets = str(part.network_address).split(".")[:boundary // 8]
            lines.append("Connect:%s OK" % ".".join(octets))
    return lines
