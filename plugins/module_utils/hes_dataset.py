# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bundled Trend Micro HES / Email Security delivery ranges, with provenance.

Every CIDR carries where it comes from, when, and how much we trust it. `documented` is True
when Trend lists the CIDR for firewall allow-lists; False when only its SPF record authorises it
(the Singapore upper /26, see docs/ranges.md for the choice).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DATASET_VERSION = "2025.03.1"

_KB_LEGACY = ("Trend KB KA-0001342; HES Administrator Guide 'About TLS Peers' (EN, DE); "
              "same lists as KB 000199043 'Accepting emails coming only from HES servers'")
_DOCS_2025 = ("Trend Vision One docs 'Configuring a domain' / 'Adding domain TLS peers' / "
              "'Office 365 inbound connectors' (2025)")

CURRENT_SITES = ("us", "eu", "anz", "jp", "sg", "in", "uae")
LEGACY_SITES = ("hes-emea", "hes-global")

SITE_INFO = {
    "hes-emea": {
        "description": "Legacy Hosted Email Security, EMEA (in.hes.trendmicro.eu)",
        "spf": "spf.hes.trendmicro.com",
        "legacy": True,
    },
    "hes-global": {
        "description": "Legacy Hosted Email Security, all other regions (in.hes.trendmicro.com)",
        "spf": "spf.hes.trendmicro.com",
        "legacy": True,
    },
    "us": {"description": "North America, Latin America & Asia Pacific",
           "spf": "spf-us.tmes.trendmicro.com", "domain": "tmes.trendmicro.com"},
    "eu": {"description": "Europe & Africa",
           "spf": "spf.tmes.trendmicro.eu", "domain": "tmes.trendmicro.eu"},
    "anz": {"description": "Australia & New Zealand",
            "spf": "spf.tmes-anz.trendmicro.com", "domain": "tmes-anz.trendmicro.com"},
    "jp": {"description": "Japan",
           "spf": "spf.tmems-jp.trendmicro.com", "domain": "tmems-jp.trendmicro.com"},
    "sg": {"description": "Singapore",
           "spf": "spf.tmes-sg.trendmicro.com", "domain": "tmes-sg.trendmicro.com"},
    "in": {"description": "India",
           "spf": "spf.tmes-in.trendmicro.com", "domain": "tmes-in.trendmicro.com"},
    "uae": {"description": "Middle East (UAE)",
            "spf": "spf.tmes-uae.trendmicro.com", "domain": "tmes-uae.trendmicro.com"},
}


def _entry(cidr, source, date, confidence, documented=True, note=None):
    item = {"cidr": cidr, "source": source, "date": date, "confidence": confidence,
            "documented": documented}
    if note:
        item["note"] = note
    return item


SITES = {
    "hes-emea": [
        _entry("52.48.127.192/26", _KB_LEGACY, "2021-02-10", "medium-high"),
        _entry("52.58.62.192/26", _KB_LEGACY, "2021-02-10", "medium-high"),
        _entry("52.58.63.0/25", _KB_LEGACY, "2021-02-10", "medium-high"),
    ],
    "hes-global": [
        _entry("54.86.63.64/26", _KB_LEGACY, "2021-02-10", "medium-high"),
        _entry("54.219.188.0/26", _KB_LEGACY, "2021-02-10", "medium-high"),
        _entry("54.219.191.0/25", _KB_LEGACY, "2021-02-10", "medium-high"),
    ],
    "us": [
        _entry(c, _DOCS_2025 + "; SPF spf-us.tmes.trendmicro.com (2025-03); mail headers",
               "2025-03", "high")
        for c in ("18.208.22.64/26", "18.208.22.128/25", "18.188.9.192/26", "18.188.239.128/26")
    ],
    "eu": [
        _entry(c, _DOCS_2025 + "; SPF spf.tmes.trendmicro.eu (2025-03); mail headers",
               "2025-03", "high")
        for c in ("18.185.115.0/25", "18.185.115.128/26", "34.253.238.128/26", "34.253.238.192/26")
    ],
    "anz": [
        _entry(c, _DOCS_2025 + "; SPF spf.tmes-anz.trendmicro.com (2025-03)", "2025-03", "high")
        for c in ("13.238.202.0/25", "13.238.202.128/26")
    ],
    "jp": [
        _entry(c, _DOCS_2025 + "; SPF spf.tmems-jp.trendmicro.com (2025-03); Trend JP KB 000296568",
               "2025-03", "high")
        for c in ("18.176.203.128/26", "18.176.203.192/26", "18.177.156.0/26", "18.177.156.64/26")
    ] + [
        _entry(c, "Trend JP KB 000296568 (Osaka, added 2024-08-21); " + _DOCS_2025,
               "2024-08-21", "high")
        for c in ("15.168.56.0/25", "15.168.49.64/26", "15.168.56.128/26")
    ],
    "sg": [
        _entry("13.213.174.128/25", _DOCS_2025 + "; SPF spf.tmes-sg.trendmicro.com (2025-03)",
               "2025-03", "high"),
        _entry("13.213.220.0/26", _DOCS_2025 + "; SPF spf.tmes-sg.trendmicro.com (2025-03)",
               "2025-03", "high"),
        _entry("13.213.220.64/26", "SPF spf.tmes-sg.trendmicro.com (2025-03) authorises 13.213.220.0/25",
               "2025-03", "medium", documented=False,
               note="Docs list 13.213.220.0/26, Trend's SPF authorises the /25. Included by default "
                    "(blocking Trend's own sender would stop mail); documented_only=true drops it."),
    ],
    "in": [
        _entry(c, _DOCS_2025, "2025", "medium") for c in ("3.110.59.128/25", "3.110.71.192/26")
    ],
    "uae": [
        _entry(c, _DOCS_2025, "2025", "medium") for c in ("3.29.202.0/25", "3.29.194.192/26")
    ],
}
