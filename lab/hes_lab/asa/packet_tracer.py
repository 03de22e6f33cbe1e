"""`packet-tracer input IFC PROTO SRC … DST … [detailed] [xml]` (asa-cli.md §6.6).

The ACCESS-LIST verdict follows the ASA: the ACL bound inbound on the input interface (first
match, `inactive` skipped), then the global ACL, then the implicit deny; with neither bound, the
security levels decide (lower to higher is denied by the implicit rule). A flow the inbound
check allows is then checked against the ACL bound outbound on the egress interface (first
match, then its implicit deny). A packet-tracer packet carries no user and no security tag, so
identity conditions hold only for `user none`; an `fqdn` object matches nothing (it is never
resolved); `time-range` entries count as active.
"""
import ipaddress
from xml.sax.saxutils import escape

from . import acl as acls
from .errors import INCOMPLETE, CliError, invalid
from .keywords import expect
from .ports import port_number

ACL_DROP = "(acl-drop) Flow is denied by configured rule"
NO_ROUTE = "(no-route) No route to host"
PROTOCOLS = ("tcp", "udp", "icmp", "sctp", "rawip")
# rawip is for the protocols packet-tracer has no form of its own for
RAWIP_REFUSED = (1, 6, 17, 58, 132)


def routes(device):
    """(network, egress nameif, gateway or None): connected subnets first, then static routes."""
    out = []
    ifcs = device.interfaces()
    for name, info in ifcs.items():
        if info["ip"] and info["mask"]:
            out.append((ipaddress.ip_network(f"{info['ip']}/{info['mask']}", strict=False), name, None))
        out += [(ip6.network, name, None) for ip6 in info["ip6"]]
    for line in device.raw_lines("route ") + device.raw_lines("ipv6 route "):
        parts = line.split()
        if parts[0] == "ipv6":
            parts = parts[1:]
            spec = parts[2] if len(parts) >= 4 else None
            gw = parts[3] if len(parts) >= 4 else None
        else:
            spec = f"{parts[2]}/{parts[3]}" if len(parts) >= 5 else None
            gw = parts[4] if len(parts) >= 5 else None
        if spec is None or parts[1] not in ifcs:
            continue
        try:
            out.append((ipaddress.ip_network(spec, strict=False), parts[1], gw))
        except ValueError:
            continue
    return out


def route_lookup(device, dst):
    best = None
    for net, ifc, gw in routes(device):
        if net.version == dst.version and dst in net and (best is None or net.prefixlen > best[0].prefixlen):
            best = (net, ifc, gw)
    return best


def _address(device, words, i):
    try:
        return ipaddress.ip_address(device.names.get(words[i], words[i]))
    except ValueError:
        raise invalid(i) from None


def _number(words, i, top):
    if not (words[i].isdigit() and int(words[i]) <= top):
        raise invalid(i)
    return int(words[i])


def _parse(device, words):
    """The packet: input IFC, then `tcp|udp|sctp SRC SPORT DST DPORT`,
    `icmp SRC TYPE CODE DST` or `rawip SRC PROTO DST`."""
    expect(words, 1, ("input",))
    if len(words) < 3:
        raise CliError(INCOMPLETE)
    ifc = words[2]
    if ifc not in device.interfaces():
        raise invalid(2)
    proto = expect(words, 3, PROTOCOLS)
    count = 7 if proto == "rawip" else 8
    if len(words) < count:
        raise CliError(INCOMPLETE)
    packet = {"ifc": ifc, "proto": proto, "src": _address(device, words, 4), "sport": None,
              "dport": None, "icmp_type": None, "icmp_code": None}
    if proto == "icmp":
        packet["icmp_type"], packet["icmp_code"] = _number(words, 5, 255), _number(words, 6, 255)
        dst_idx = 7
    elif proto == "rawip":
        number = _number(words, 5, 255)
        if number in RAWIP_REFUSED:
            raise invalid(5)
        packet["proto"], dst_idx = str(number), 6
    else:
        packet["sport"] = port_number(words[5], proto)
        packet["dport"] = port_number(words[7], proto)
        if packet["sport"] is None:
            raise invalid(5)
        if packet["dport"] is None:
            raise invalid(7)
        dst_idx = 6
    packet["dst"] = _address(device, words, dst_idx)
    if packet["src"].version != packet["dst"].version:
        raise invalid(dst_idx)
    if proto == "icmp" and packet["src"].version == 6:
        packet["proto"] = "icmp6"
    flags = words[count:]
    for k in range(count, len(words)):
        expect(words, k, ("detailed", "xml", "trace"))
    packet["detailed"], packet["xml"] = "detailed" in flags, "xml" in flags
    return packet


def evaluate_acl(device, name, packet):
    """First matching active ACE of ACL NAME: (ace, element) or None."""
    for ace in device.acls.get(name, []):
        if ace.kind != "extended" or ace.inactive or not ace.identity_matches():
            continue
        for element in acls.elements(ace, device):
            if acls.element_matches(element, packet):
                return ace, element
    return None


def decide(device, packet, egress):
    """The inbound ACCESS-LIST verdict: (allowed, config lines, matched ace, matched element)."""
    ifc = packet["ifc"]
    bound = [(device.acl_binding(ifc), f"in interface {ifc}"), (device.acl_binding("global"), "global")]
    bound = [(name, where) for name, where in bound if name]
    for name, where in bound:
        hit = evaluate_acl(device, name, packet)
        if hit:
            ace, element = hit
            config = [f"access-group {name} {where}", f"access-list {name} {ace.text}"]
            return ace.action == "permit", config, ace, element
    if bound:
        return False, ["Implicit Rule"], None, None
    ifcs = device.interfaces()
    src_level, dst_level = ifcs[ifc]["security"], ifcs[egress]["security"]
    if src_level == dst_level:
        allowed = bool(device.raw_lines("same-security-traffic permit inter-interface")) \
            if ifc != egress else bool(device.raw_lines("same-security-traffic permit intra-interface"))
    else:
        allowed = src_level > dst_level
    return allowed, ["Implicit Rule"], None, None


def decide_outbound(device, packet, egress):
    """The ACL bound outbound on EGRESS, if any: (allowed, config, ace, element) or None."""
    name = device.acl_binding(egress, "out")
    if name is None:
        return None
    hit = evaluate_acl(device, name, packet)
    if hit is None:
        return False, ["Implicit Rule"], None, None
    ace, element = hit
    return (ace.action == "permit", [f"access-group {name} out interface {egress}",
                                     f"access-list {name} {ace.text}"], ace, element)


def _count_hit(ace, element):
    ace.hitcnt += 1
    if acls.expands(ace):
        src, dst, svc = element
        child = acls.render_extended(ace, src.text, dst.text, svc, True)
        ace.leaf_hits[child] = ace.leaf_hits.get(child, 0) + 1


def packet_tracer(device, words, tokens):
    packet = _parse(device, words)
    timed = device.version_tuple() >= (9, 14)
    phases = [("ACCESS-LIST", "", "ALLOW", ["Implicit Rule"], ["MAC Access list"])]
    route = route_lookup(device, packet["dst"])
    egress = None
    drop_reason = None
    if route is None:
        phases.append(("ROUTE-LOOKUP", "Resolve Egress Interface", "DROP", [],
                       [f"no route to host {packet['dst']}"]))
        drop_reason = NO_ROUTE
    else:
        net, egress, gw = route
        hop = gw or packet["dst"]
        phases.append(("ROUTE-LOOKUP", "Resolve Egress Interface", "ALLOW", [],
                       [f"found next-hop {hop} using egress ifc  {egress}"]))
        checks = [decide(device, packet, egress)]
        if checks[0][0]:
            checks.append(decide_outbound(device, packet, egress))
        for check in filter(None, checks):
            allowed, config, ace, element = check
            extra = _detailed(packet, ace, allowed) if packet["detailed"] else []
            if ace is not None:
                _count_hit(ace, element)
            phases.append(("ACCESS-LIST", "log" if ace else "", "ALLOW" if allowed else "DROP",
                           config, extra))
        if allowed:
            phases += _allowed_phases(packet, egress)
        else:
            drop_reason = ACL_DROP
    result = {
        "input-interface": packet["ifc"], "input-status": "up", "input-line-status": "up",
        "output-interface": egress or "NP Identity Ifc", "output-status": "up",
        "output-line-status": "up", "action": "drop" if drop_reason else "allow",
    }
    if packet["xml"]:
        return _xml(phases, result, drop_reason)
    return _text(phases, result, drop_reason, timed)


def _allowed_phases(packet, egress):
    out = [
        ("NAT", "per-session", "ALLOW", [], []),
        ("IP-OPTIONS", "", "ALLOW", [], []),
    ]
    if packet["proto"] == "tcp" and packet["dport"] == 25:
        out.append(("INSPECT", "np-inspect", "ALLOW", [
            "class-map inspection_default", " match default-inspection-traffic",
            "policy-map global_policy", " class inspection_default", "  inspect esmtp ",
            "service-policy global_policy global"], []))
    out.append(("FLOW-CREATION", "", "ALLOW", [], [
        "New flow created with id 1, packet dispatched to next module"]))
    return out


def _detailed(packet, ace, allowed):
    proto = acls.protocol_number(packet["proto"])
    return [
        " Forward Flow based lookup yields rule:",
        f" in  id=0x7f3a2c1b{(hash(ace.text if ace else 'implicit') & 0xFFFF):04x}, "
        f"priority={13 if ace else 111}, domain={'permit' if allowed else 'deny'}, "
        f"deny={'false' if allowed else 'true'}",
        f"        hits={ace.hitcnt + 1 if ace else 1}, user_data=0x0, cs_id=0x0, use_real_ip=0x0, "
        f"flags=0x0, protocol={proto}",
        f"        src ip/id={packet['src']}, mask=255.255.255.255, port={packet['sport'] or 0}, tag=any",
        f"        dst ip/id={packet['dst']}, mask=255.255.255.255, port={packet['dport'] or 0}, "
        "tag=any, dscp=0x0",
        f"        input_ifc={packet['ifc']}, output_ifc=any",
    ]


def _text(phases, result, drop_reason, timed):
    out = [""]
    for number, (ptype, subtype, res, config, extra) in enumerate(phases, 1):
        out += [f"Phase: {number}", f"Type: {ptype}", f"Subtype: {subtype}", f"Result: {res}"]
        if timed:
            out.append(f"Elapsed time: {1200 + 317 * number} ns")
        out += ["Config:"] + config + ["Additional Information:"] + extra + [""]
    out.append("Result:")
    out += [f"{key}: {value}" for key, value in result.items() if key != "action"]
    out.append(f"Action: {result['action']}")
    if timed:
        out.append(f"Time Taken: {1200 * len(phases) + 4387} ns")
    if drop_reason:
        location = ", Drop-location: frame 0x00005611d409b518 flow (NA)/NA" if timed else ""
        out.append(f"Drop-reason: {drop_reason}{location}")
    return "\n".join(out)


def _xml(phases, result, drop_reason):
    out = []
    for number, (ptype, subtype, res, config, extra) in enumerate(phases, 1):
        out += ["<Phase>", f"<id>{number}</id>", f"<type>{ptype}</type>",
                f"<subtype>{escape(subtype)}</subtype>", f"<result>{res}</result>",
                f"<config>{escape(chr(10).join(config))}</config>",
                f"<extra>{escape(chr(10).join(extra))}</extra>", "</Phase>"]
    out.append("<result>")
    out += [f"<{key}>{value}</{key}>" for key, value in result.items()]
    if drop_reason:
        out.append(f"<drop-reason>{escape(drop_reason)}</drop-reason>")
    out.append("</result>")
    return "\n".join(out)
