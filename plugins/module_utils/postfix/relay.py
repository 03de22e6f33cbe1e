# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The relay-safety check: could a client in a HES range relay mail to a domain that is not ours?

Trend's delivery relays are shared by every Trend customer, so anything that permits relaying for
an address in those ranges makes this server an open relay for all of them. The classic ways:
the ranges in ``mynetworks`` behind ``permit_mynetworks``, or an access table answering ``OK``
before ``reject_unauth_destination``.

Postfix decides relaying in ``smtpd_relay_restrictions`` and then ``smtpd_recipient_restrictions``
(each runs left to right until PERMIT, REJECT or DEFER; a PERMIT ends only its own list). Mail to a
foreign domain is relayed unless one of the two lists rejects it. ``client_relay`` walks both lists
for a client in one range with a recipient in a foreign domain; restrictions it does not model
decide nothing, and what it had to assume is reported.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.emailsec.hes.plugins.module_utils.postfix.parse import restriction_items, split_list

RELAY_LISTS = ("smtpd_relay_restrictions", "smtpd_recipient_restrictions")
_REJECTS = ("reject_unauth_destination", "defer_unauth_destination", "reject", "defer", "defer_all")
_PERMITS = ("permit", "ok")
_BRACKETED = re.compile(r"\[([0-9A-Fa-f:.]+)\](/\d+)?")


def mynetworks_networks(value):
    """The networks of an expanded ``mynetworks`` and the entries that are not networks
    (tables, files, host names, ``!`` exclusions), which the check cannot evaluate."""
    nets, other = [], []
    for token, unused_start, unused_end in split_list(value):
        text = token
        bracketed = _BRACKETED.fullmatch(token)
        if bracketed:
            text = bracketed.group(1) + (bracketed.group(2) or "")
        try:
            nets.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            other.append(token)
    return nets, other


def _verdict(name, network, mynets):
    """(verdict, why) of one restriction (or table result) for the client and a foreign domain."""
    lowered = name.lower()
    if lowered in _PERMITS:
        return "permit", "%s permits every request" % name
    if lowered == "permit_mynetworks":
        covering = [str(net) for net in mynets if net.version == network.version and net.overlaps(network)]
        if covering:
            return "permit", "mynetworks %s covers (part of) %s" % (", ".join(covering), network)
        return None, None
    if lowered in _REJECTS:
        return "reject", None
    return None, None


def client_relay(lists, mynets, network, table_actions):
    """Walk the relay decision for a client in ``network`` (an ip_network) and a foreign domain.

    ``lists``: {name: value} for RELAY_LISTS (effective values); ``table_actions``: {"cidr:/path":
    answer} for the tables whose answer for this client is known (ours). Returns
    ``{"relays": bool, "rejected_by": "list: item" or None, "permitted_by": [...]}``.
    """
    permitted = []
    for list_name in RELAY_LISTS:
        warn_only = False
        for item in restriction_items(lists.get(list_name, "")):
            if item["name"] == "warn_if_reject":
                warn_only = True
                continue
            if item["name"] == "check_client_access" and item["arg"] in table_actions:
                verdict, why = _verdict(table_actions[item["arg"]], network, mynets)
                if why:
                    why = "%s answers %s: %s" % (item["arg"], table_actions[item["arg"]], why)
            else:
                verdict, why = _verdict(item["name"], network, mynets)
            if verdict == "reject" and warn_only:
                verdict = None
            warn_only = False
            if verdict == "reject":
                return {"relays": False, "rejected_by": "%s: %s" % (list_name, item["text"]), "permitted_by": permitted}
            if verdict == "permit":
                permitted.append("%s: %s (%s)" % (list_name, item["text"], why))
                break
    return {"relays": True, "rejected_by": None, "permitted_by": permitted}


def relay_check(lists, mynetworks, ranges, actions_for):
    """Every range's relay decision; ``actions_for(network)`` gives the ``table_actions`` of
    ``client_relay`` for a client in that range (the plan knows what our table will answer, verify
    asks postmap). Returns ``{"open": [{"range", "permitted_by"}], "assumptions": [...]}``;
    ``open`` empty means no client in the ranges can relay."""
    mynets, other = mynetworks_networks(mynetworks)
    assumptions = []
    if other:
        assumptions.append("mynetworks entries %s are not addresses or networks and were assumed not to "
                           "match the HES ranges" % ", ".join(other))
    networks = [ipaddress.ip_network(entry) for entry in ranges]
    known = set(arg for network in networks for arg in actions_for(network))
    unknown = sorted(set(
        "%s %s" % (item["name"], item["arg"]) for name in RELAY_LISTS for item in restriction_items(lists.get(name, ""))
        if item["arg"] and item["name"].startswith("check_") and item["arg"] not in known))
    if unknown:
        assumptions.append("these lookups were assumed to have no answer for the HES ranges: %s" % ", ".join(unknown))
    open_ranges = []
    for network in networks:
        outcome = client_relay(lists, mynets, network, actions_for(network))
        if outcome["relays"]:
            open_ranges.append({"range": str(network), "permitted_by": outcome["permitted_by"]})
    return {"open": open_ranges, "assumptions": assumptions}


def open_relay_reason(entry):
    """One refusal sentence for an open range of ``relay_check``."""
    how = "; ".join(entry["permitted_by"]) or "neither list holds reject_unauth_destination or another reject"
    return ("a client in HES range %s could relay mail to any domain (%s), and no reject in %s stops it: Trend's "
            "relays are shared by every Trend customer, so each of them could relay through this server. Take the "
            "HES ranges out of mynetworks and out of any table that answers OK or permit before "
            "reject_unauth_destination; DNSBL exemption needs neither" % (entry["range"], how, " or ".join(RELAY_LISTS)))
