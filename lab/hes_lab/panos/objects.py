"""Named objects of one vsys (its own, then shared ones), as the policy engine and the commit
validator see them: zones, addresses, address groups, services, service groups."""
import ipaddress

# PAN-OS ships exactly two predefined services.
PREDEFINED_SERVICES = {
    "service-http": [("tcp", "80,8080")],
    "service-https": [("tcp", "443")],
}

# Standard ports of the App-ID applications the lab's configurations use; `application-default`
# admits an application only on these.
APPLICATION_DEFAULTS = {
    "smtp": [("tcp", "25")],
    "smtp-base": [("tcp", "25")],
    "ssl": [("tcp", "443")],
    "web-browsing": [("tcp", "80")],
    "ssh": [("tcp", "22")],
    "dns": [("tcp", "53"), ("udp", "53")],
    "dns-base": [("tcp", "53"), ("udp", "53")],
    "ntp": [("udp", "123")],
    "ntp-base": [("udp", "123")],
    "ftp": [("tcp", "21")],
    "pop3": [("tcp", "110")],
    "imap": [("tcp", "143")],
    "ldap": [("tcp", "389")],
    "ms-rdp": [("tcp", "3389")],
    "snmp": [("udp", "161")],
    "syslog": [("udp", "514")],
}

PROTOCOL_NUMBERS = {"tcp": 6, "udp": 17, "sctp": 132}


def vsys_entries(root):
    return root.findall("./devices/entry/vsys/entry")


def find_vsys(root, name):
    for entry in vsys_entries(root):
        if entry.get("name") == name:
            return entry
    return None


def members(elem, tag):
    holder = elem.find(tag)
    if holder is None:
        return []
    return [(m.text or "").strip() for m in holder.findall("member")]


def parse_literal_address(text):
    """An ip_network for `192.0.2.1`, `192.0.2.0/24` or a (first, last) pair for
    `192.0.2.1-192.0.2.9`; None when the text is not an address literal."""
    try:
        if "-" in text:
            first, last = (ipaddress.ip_address(p.strip()) for p in text.split("-", 1))
            return (first, last) if first.version == last.version and first <= last else None
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


class Wildcard:
    """An ip-wildcard object `198.51.100.5/0.0.0.240`: every address whose bits outside the mask
    equal the base's (a wildcard mask marks the bits that may vary, as on Cisco ACLs)."""

    def __init__(self, base, mask):
        self.base, self.mask, self.version = base, mask, base.version

    def __contains__(self, ip):
        care = ~int(self.mask) & ((1 << self.base.max_prefixlen) - 1)
        return (int(ip) & care) == (int(self.base) & care)


def parse_wildcard(text):
    """A Wildcard for `base/mask` (both IPv4 dotted quads); None when the text is not one."""
    base, _, mask = text.partition("/")
    try:
        base, mask = ipaddress.IPv4Address(base.strip()), ipaddress.IPv4Address(mask.strip())
    except ValueError:
        return None
    return Wildcard(base, mask)


def address_contains(spec, ip):
    if isinstance(spec, tuple):
        return spec[0].version == ip.version and spec[0] <= ip <= spec[1]
    return spec.version == ip.version and ip in spec


def port_spec_contains(spec, port):
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            low, high = part.split("-", 1)
            if int(low) <= port <= int(high):
                return True
        elif int(part) == port:
            return True
    return False


class ObjectIndex:
    """Name lookups for one vsys, falling back to /config/shared like PAN-OS does (VSYS None:
    the shared objects alone, which may refer to nothing else)."""

    def __init__(self, root, vsys):
        self.vsys = vsys
        scopes = [root.find("./shared"), vsys]
        self.addresses, self.groups, self.services, self.service_groups = {}, {}, {}, {}
        self.application_groups = {}
        for scope in scopes:
            if scope is None:
                continue
            for entry in scope.findall("./address/entry"):
                self.addresses[entry.get("name")] = entry
            for entry in scope.findall("./address-group/entry"):
                self.groups[entry.get("name")] = entry
            for entry in scope.findall("./service/entry"):
                self.services[entry.get("name")] = entry
            for entry in scope.findall("./service-group/entry"):
                self.service_groups[entry.get("name")] = entry
            for entry in scope.findall("./application-group/entry"):
                self.application_groups[entry.get("name")] = entry
        self.zones = set() if vsys is None else {entry.get("name") for entry in vsys.findall("./zone/entry")}

    def address_specs(self, name, seen=None):
        """Networks/ranges/wildcards an address member stands for; None when the name resolves to
        nothing. FQDN objects resolve to an empty list: the lab has no DNS, so they never match."""
        if name == "any":
            return [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
        if name in self.addresses:
            entry = self.addresses[name]
            for tag in ("ip-netmask", "ip-range"):
                value = entry.findtext(tag)
                if value:
                    spec = parse_literal_address(value.strip())
                    return [spec] if spec is not None else []
            value = entry.findtext("ip-wildcard")
            if value:
                spec = parse_wildcard(value.strip())
                return [spec] if spec is not None else []
            return []
        if name in self.groups:
            seen = set() if seen is None else seen
            if name in seen:
                return []
            seen.add(name)
            specs = []
            for member in members(self.groups[name], "static"):
                specs.extend(self.address_specs(member, seen) or [])
            return specs
        literal = parse_literal_address(name)
        return [literal] if literal is not None else None

    def applications(self, name, seen=None):
        """The applications an application member stands for: a group's members, nested groups
        resolved; a name that is not a group stands for itself."""
        if name not in self.application_groups:
            return [name]
        seen = set() if seen is None else seen
        if name in seen:
            return []
        seen.add(name)
        found = []
        for member in members(self.application_groups[name], "members"):
            found.extend(self.applications(member, seen))
        return found

    def service_specs(self, name, seen=None):
        """(protocol, port-spec) pairs of a service member; None when it resolves to nothing."""
        if name in PREDEFINED_SERVICES:
            return PREDEFINED_SERVICES[name]
        if name in self.services:
            protocol = self.services[name].find("protocol")
            specs = []
            if protocol is not None:
                for proto in protocol:
                    port = proto.findtext("port")
                    if port:
                        specs.append((proto.tag, port.strip()))
            return specs
        if name in self.service_groups:
            seen = set() if seen is None else seen
            if name in seen:
                return []
            seen.add(name)
            specs = []
            for member in members(self.service_groups[name], "members"):
                specs.extend(self.service_specs(member, seen) or [])
            return specs
        return None
