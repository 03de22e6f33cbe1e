"""Answers to the operational commands whose real output reflects the device's state rather than
its configuration: `show system info`, `show high-availability all`, `show session info`,
`show session meter` and `show routing route`. The emulator passes no traffic, so sessions are
zero; everything else is derived from the running configuration and the device's identity
(model, serial, software version), in the element structure PAN-OS answers with and that
clients (panos_facts, pan-os-python) parse.
"""
import ipaddress
import time
import xml.etree.ElementTree as ET

DEFAULT_SERIAL = "007951000123456"
DEFAULT_MODEL = "PA-VM"
DEVICE_XPATH = "./devices/entry"
ROUTE_FLAGS_LEGEND = (
    "flags: A:active, ?:loose, C:connect, H:host, S:static, ~:internal, R:rip, O:ospf, B:bgp, "
    "Oi:ospf intra-area, Oo:ospf inter-area, O1:ospf ext-type-1, O2:ospf ext-type-2, E:ecmp, M:multicast"
)
# Session capacity of the models the lab boots as; anything else gets the PA-VM figure.
SESSION_CAPACITY = {"PA-VM": 250000, "PA-220": 64000, "PA-440": 64000, "PA-850": 192000, "PA-3220": 1000000,
                    "PA-3260": 3000000, "PA-5220": 4000000, "PA-5250": 8000000}


class Identity:
    """What a firewall knows about itself besides its configuration."""

    def __init__(self, model=DEFAULT_MODEL, serial=DEFAULT_SERIAL, sw_version="10.2.9", booted=None):
        self.model = model
        self.serial = serial
        self.sw_version = sw_version
        self.booted = time.time() if booted is None else booted

    @property
    def family(self):
        digits = "".join(c for c in self.model if c.isdigit())
        return "vm" if self.model.upper().startswith("PA-VM") or len(digits) < 3 else digits[:-2] + "00"


def _field(parent, tag, text):
    ET.SubElement(parent, tag).text = text


def _uptime(seconds):
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{days} days, {hours}:{minutes:02d}:{secs:02d}"


def _device(running):
    found = running.find(DEVICE_XPATH)
    return found if found is not None else ET.Element("entry")


def system_info(running, identity, now=None):
    """<result><system>…</system></result> from the running configuration's deviceconfig/system."""
    now = time.time() if now is None else now
    system_config = _device(running).find("./deviceconfig/system")
    system_config = system_config if system_config is not None else ET.Element("system")
    hostname = (system_config.findtext("hostname") or "").strip() or identity.model
    result = ET.Element("result")
    system = ET.SubElement(result, "system")
    fields = [
        ("hostname", hostname),
        ("ip-address", (system_config.findtext("ip-address") or "").strip() or "unknown"),
        ("public-ip-address", "unknown"),
        ("netmask", (system_config.findtext("netmask") or "").strip() or "unknown"),
        ("default-gateway", (system_config.findtext("default-gateway") or "").strip() or "unknown"),
        ("is-dhcp", "no" if system_config.findtext("ip-address") else "yes"),
        ("ipv6-address", (system_config.findtext("ipv6-address") or "").strip() or "unknown"),
        ("ipv6-link-local-address", "fe80::250:56ff:fe00:1/64"),
        ("mac-address", "00:50:56:00:00:01"),
        ("time", time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(now))),
        ("uptime", _uptime(now - identity.booted)),
        ("devicename", hostname),
        ("family", identity.family),
        ("model", identity.model),
        ("serial", identity.serial),
    ]
    if identity.family == "vm":
        fields.append(("vm-mode", "KVM"))
    fields += [
        ("sw-version", identity.sw_version),
        ("global-protect-client-package-version", "0.0.0"),
        ("app-version", "8799-8509"),
        ("app-release-date", "2024/01/01 00:00:00 UTC"),
        ("av-version", "0"),
        ("threat-version", "8799-8509"),
        ("wildfire-version", "0"),
        ("url-db", "paloaltonetworks"),
        ("url-filtering-version", "0000.00.00.000"),
        ("logdb-version", "10.2.1"),
        ("multi-vsys", "off"),
        ("operational-mode", "normal"),
        ("device-certificate-status", "None"),
    ]
    for tag, value in fields:
        _field(system, tag, value)
    return result


def high_availability(running):
    """HA state: `<enabled>no</enabled>` unless deviceconfig/high-availability enables it, then the
    local peer as the active member of its group (a lab firewall has no live peer)."""
    ha = _device(running).find("./deviceconfig/high-availability")
    result = ET.Element("result")
    if ha is None or (ha.findtext("enabled") or "").strip() != "yes":
        _field(result, "enabled", "no")
        return result
    _field(result, "enabled", "yes")
    group = ET.SubElement(result, "group")
    mode_config = ha.find("./group/mode")
    mode = "Active-Active" if mode_config is not None and mode_config.find("active-active") is not None \
        else "Active-Passive"
    _field(group, "mode", mode)
    local = ET.SubElement(group, "local-info")
    for tag, value in (("version", "1"), ("state", "active"), ("state-duration", "0"), ("mode", mode),
                       ("priority", (ha.findtext("./group/election-option/device-priority") or "100").strip()),
                       ("preemptive", (ha.findtext("./group/election-option/preemptive") or "no").strip())):
        _field(local, tag, value)
    peer = ET.SubElement(group, "peer-info")
    for tag, value in (("conn-status", "down"), ("state", "unknown"), ("mode", mode)):
        _field(peer, tag, value)
    return result


def session_info(identity):
    result = ET.Element("result")
    capacity = SESSION_CAPACITY.get(identity.model, SESSION_CAPACITY["PA-VM"])
    fields = (
        ("tmo-sctpshutdown", "60"), ("tcp-nonsyn-rej", "True"), ("tmo-tcpinit", "5"), ("tmo-tcp", "3600"),
        ("pps", "0"), ("tmo-tcp-delayed-ack", "25"), ("num-max", str(capacity)), ("age-scan-thresh", "80"),
        ("tmo-tcphalfclosed", "120"), ("num-active", "0"), ("tmo-sctp", "3600"), ("dis-def", "60"),
        ("num-mcast", "0"), ("icmp-unreachable-rate", "200"), ("tmo-tcptimewait", "15"), ("age-scan-ssf", "8"),
        ("tmo-udp", "30"), ("vardata-rate", "10485760"), ("age-scan-tmo", "10"), ("dis-sctp", "30"),
        ("dp", "*.dp0*"), ("dis-tcp", "90"), ("num-udp", "0"), ("tmo-icmp", "6"), ("max-pending-mcast", "0"),
        ("age-accel-thresh", "80"), ("tcp-diff-syn-rej", "True"), ("num-gtpc", "0"), ("oor-action", "drop"),
        ("tmo-def", "30"), ("num-predict", "0"), ("age-accel-en", "True"), ("age-accel-tsf", "2"),
        ("hw-offload", "True"), ("num-icmp", "0"), ("tmo-cp", "30"), ("tcp-strict-rst", "True"),
        ("strict-checksum", "True"), ("num-bcast", "0"), ("ipv6-fw", "True"), ("cps", "0"),
        ("num-installed", "0"), ("num-tcp", "0"), ("dis-udp", "60"), ("num-sctp-assoc", "0"),
        ("num-sctp-sess", "0"), ("tmo-tcphandshake", "10"), ("kbps", "0"),
    )
    for tag, value in fields:
        _field(result, tag, value)
    return result


def session_meter(running):
    """One entry per vsys: its number, current (0) and maximum sessions (0 = unlimited, or the
    vsys's import/resource/max-sessions)."""
    result = ET.Element("result")
    for vsys in _device(running).findall("./vsys/entry"):
        name = vsys.get("name") or ""
        entry = ET.SubElement(result, "entry")
        _field(entry, "vsys", name[4:] if name.startswith("vsys") else name)
        _field(entry, "current", "0")
        _field(entry, "throttled", "0")
        _field(entry, "maximum", (vsys.findtext("./import/resource/max-sessions") or "0").strip())
    return result


def _interface_addresses(device):
    """{interface name: [ip_interface, ...]} for layer-3 interfaces and subinterfaces with a
    literal address (an address-object name is skipped)."""
    found = {}
    for entry in device.iter("entry"):
        layer3 = entry.find("layer3")
        holder = layer3 if layer3 is not None else (entry if entry.find("ip") is not None else None)
        if holder is None:
            continue
        for ip in holder.findall("./ip/entry"):
            try:
                found.setdefault(entry.get("name"), []).append(ipaddress.ip_interface(ip.get("name") or ""))
            except ValueError:
                continue
    return found


def routing_route(running):
    """The routing table: per virtual router, connected and host routes of its interfaces'
    addresses, then its static routes (all active: the lab has no link state)."""
    device = _device(running)
    addresses = _interface_addresses(device)
    rows = []
    for vr in device.findall("./network/virtual-router/entry"):
        vr_name = vr.get("name")
        for name in [(m.text or "").strip() for m in vr.findall("./interface/member")]:
            for address in addresses.get(name, []):
                rows.append((vr_name, address.network, "0.0.0.0", "0", "A C", name))
                host = ipaddress.ip_network(f"{address.ip}/{address.max_prefixlen}")
                rows.append((vr_name, host, "0.0.0.0", "0", "A H", ""))
        for family in ("ip", "ipv6"):
            for static in vr.findall(f"./routing-table/{family}/static-route/entry"):
                try:
                    destination = ipaddress.ip_network((static.findtext("destination") or "").strip(), strict=False)
                except ValueError:
                    continue
                nexthop = static.find("nexthop")
                hop = "discard" if nexthop is not None and nexthop.find("discard") is not None else (
                    (static.findtext("./nexthop/ip-address") or static.findtext("./nexthop/ipv6-address")
                     or static.findtext("./nexthop/next-vr") or "0.0.0.0").strip())
                metric = (static.findtext("metric") or "10").strip()
                rows.append((vr_name, destination, hop, metric, "A S", (static.findtext("interface") or "").strip()))
    rows.sort(key=lambda r: (r[0], r[1].version, r[1].network_address, r[1].prefixlen))
    result = ET.Element("result")
    _field(result, "flags", ROUTE_FLAGS_LEGEND)
    for vr_name, destination, nexthop, metric, flags, interface in rows:
        entry = ET.SubElement(result, "entry")
        for tag, value in (("virtual-router", vr_name), ("destination", str(destination)), ("nexthop", nexthop),
                           ("metric", metric), ("flags", flags), ("age", ""), ("interface", interface),
                           ("route-table", "unicast")):
            _field(entry, tag, value)
    return result
