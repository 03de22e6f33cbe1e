"""ASA port literals (asa-cli.md §9): numbers print as names, per protocol."""

TCP = {
    5190: "aol", 179: "bgp", 19: "chargen", 3020: "cifs", 1494: "citrix-ica", 514: "rsh",
    2748: "ctiqbe", 13: "daytime", 9: "discard", 53: "domain", 7: "echo", 512: "exec",
    79: "finger", 21: "ftp", 20: "ftp-data", 70: "gopher", 1720: "h323", 101: "hostname",
    80: "www", 443: "https", 113: "ident", 143: "imap4", 194: "irc", 750: "kerberos",
    543: "klogin", 544: "kshell", 389: "ldap", 636: "ldaps", 513: "login", 1352: "lotusnotes",
    515: "lpd", 139: "netbios-ssn", 2049: "nfs", 119: "nntp", 5631: "pcanywhere-data",
    496: "pim-auto-rp", 109: "pop2", 110: "pop3", 1723: "pptp", 554: "rtsp", 5060: "sip",
    25: "smtp", 1521: "sqlnet", 22: "ssh", 111: "sunrpc", 49: "tacacs", 517: "talk",
    23: "telnet", 540: "uucp", 43: "whois",
}
UDP = {
    512: "biff", 68: "bootpc", 67: "bootps", 3020: "cifs", 9: "discard", 195: "dnsix",
    53: "domain", 7: "echo", 500: "isakmp", 750: "kerberos", 434: "mobile-ip", 42: "nameserver",
    138: "netbios-dgm", 137: "netbios-ns", 2049: "nfs", 123: "ntp", 5632: "pcanywhere-status",
    496: "pim-auto-rp", 1645: "radius", 1646: "radius-acct", 520: "rip", 5510: "secureid-udp",
    5060: "sip", 161: "snmp", 162: "snmptrap", 111: "sunrpc", 514: "syslog", 49: "tacacs",
    517: "talk", 69: "tftp", 37: "time", 4789: "vxlan", 513: "who", 80: "www", 177: "xdmcp",
}
# Input-only synonyms: accepted on input, printed under their canonical name.
TCP_ALIASES = {"http": 80, "cmd": 514}
UDP_ALIASES = {"http": 80}

_TABLES = {"tcp": (TCP, TCP_ALIASES), "udp": (UDP, UDP_ALIASES)}
_BY_NAME = {proto: {name: num for num, name in table.items()} for proto, (table, _) in _TABLES.items()}
for _proto, (_, _aliases) in _TABLES.items():
    _BY_NAME[_proto].update(_aliases)


def protocols_for(proto):
    """The literal tables that apply to a protocol keyword (tcp-udp needs a name valid in both)."""
    if proto in ("tcp", "udp"):
        return (proto,)
    if proto == "tcp-udp":
        return ("tcp", "udp")
    return ()


def port_number(token, proto):
    """The number a port token means for PROTO, or None when it is not a valid port there."""
    if token.isdigit():
        value = int(token)
        return value if 0 <= value <= 65535 else None
    tables = protocols_for(proto) or ("tcp", "udp")
    numbers = {_BY_NAME[p].get(token) for p in tables}
    if None in numbers or len(numbers) != 1:
        return None
    return numbers.pop()


def port_literal(number, proto):
    """How an ASA prints port NUMBER for PROTO: its literal when it has one, else the number."""
    tables = protocols_for(proto)
    names = {_TABLES[p][0].get(number) for p in tables}
    if tables and len(names) == 1 and None not in names:
        return names.pop()
    return str(number)
