"""`packet-tracer input IFC tcp|udp SRC SPORT DST DPORT [detailed] [xml]` (asa-cli.md §6.6).

The ACCESS-LIST verdict follows the ASA: the ACL bound inbound on the input interface (first
match, `inactive` skipped), then the global ACL, then the implicit deny; with neither bound, the
security levels decide (lower to higher is denied by the implicit rule).
"""
import ipaddress
from xml.sax.saxutils import escape

from . import acl as acls
from .errors import INCOMPLETE, CliError, invalid
from .ports import port_number

ACL_DROP = "(acl-drop) Flow is denied by configured rule"
NO_ROUTE = "(no-route) No route to host"


def routes(device):
    """(network, egress nameif, gateway or None): connected subnets first, then static routes."""
    out = []
    ifcs = device.interfaces()
    for name, info in ifcs.items():
        if info["ip"] and info["mask"]:
            out.append((ipaddress.ip_network(f"{info['ip']}/{info['mask']}", strict=False), name, None))
    for line in device.raw_lines("route "):
        parts = line.split()
        if len(parts) >= 5 and parts[1] in ifcs:
            try:
                net = ipaddress.ip_network(f"{parts[2]}/{parts[3]}", strict=False)
            except ValueError:
                continue
            out.append((net, parts[1], parts[4]))
    return out


def route_lookup(device, dst):
    best = None
    for net, ifc, gw in routes(device):
        if net.version == dst.version and dst in net and (best is None or net.prefixlen > best[0].prefixlen):
            best = (net, ifc, gw)
    return best


def _parse(device, words):
    if len(words) < 2:
        raise CliError(INCOMPLETE)
    if not "input".startswith(words[1]):
        raise invalid(1)
    if len(words) < 3:
        raise CliError(INCOMPLETE)
    ifc = words[2]
    if ifc not in device.interfaces():
        raise invalid(2)
    if len(words) < 4:
        raise CliError(INCOMPLETE)
    proto = words[3]
    if proto not in ("tcp", "udp", "icmp"):
        raise invalid(3)
    if len(words) < 8:
        raise CliError(INCOMPLETE)
    try:
        src = ipaddress.ip_address(device.names.get(words[4], words[4]))
    except ValueError:
        raise invalid(4) from None
    if proto == "icmp":
        if not (words[5].isdigit() and words[6].isdigit()):
            raise invalid(5 if not words[5].isdigit() else 6)
        sport, dport, dst_idx = int(words[5]), int(words[6]), 7
    else:
        sport = port_number(words[5], proto)
        if sport is None:
            raise invalid(5)
        dst_idx = 6
    try:
        dst = ipaddress.ip_address(device.names.get(words[dst_idx], words[dst_idx]))
    except ValueError:
        raise invalid(dst_idx) from None
    if proto != "icmp":
        dport = port_number(words[7], proto)
        if dport is None:
            raise invalid(7)
    if src.version != dst.version:
        raise invalid(dst_idx)
    flags = words[8:]
    for k, flag in enumerate(flags, 8):
        if flag not in ("detailed", "xml", "trace"):
            raise invalid(k)
    return {"ifc": ifc, "proto": proto, "src": src, "sport": sport, "dst": dst, "dport": dport,
            "detailed": "detailed" in flags, "xml": "xml" in flags}


def evaluate_acl(device, name, packet):
    """First matching active ACE of ACL NAME: (ace, element) or None."""
    for ace in device.acls.get(name, []):
        if ace.kind != "extended" or ace.inactive:
            continue
        for element in acls.elements(ace, device):
            if acls.element_matches(element, packet):
                return ace, element
    return None


def decide(device, packet, egress):
    """The ACCESS-LIST verdict: (allowed, config lines, matched ace, matched element)."""
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


def _count_hit(ace, element):
    ace.hitcnt += 1
    if acls.expands(ace):
        src, dst, svc = element
        child = acls.render_extended(ace, ace.port_proto, src.text, dst.text, svc, True)
        hits = getattr(ace, "leaf_hits", None)
        if hits is None:
            hits = ace.leaf_hits = {}
        hits[child] = hits.get(child, 0) + 1


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
        allowed, config, ace, element = decide(device, packet, egress)
        extra = []
        if packet["detailed"]:
            extra = _detailed(packet, ace, allowed)
        if ace is not None:
            _count_hit(ace, element)
            phases.append(("ACCESS-LIST", "log", "ALLOW" if allowed else "DROP", config, extra))
        else:
            phases.append(("ACCESS-LIST", "", "ALLOW" if allowed else "DROP", config, extra))
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
    proto = {"tcp": 6, "udp": 17, "icmp": 1}[packet["proto"]]
    return [
        " Forward Flow based lookup yields rule:",
        f" in  id=0x7f3a2c1b{(hash(ace.text if ace else 'implicit') & 0xFFFF):04x}, "
        f"priority={13 if ace else 111}, domain={'permit' if allowed else 'deny'}, "
        f"deny={'false' if allowed else 'true'}",
        f"        hits={ace.hitcnt + 1 if ace else 1}, user_data=0x0, cs_id=0x0, use_real_ip=0x0, "
        f"flags=0x0, protocol={proto}",
        f"        src ip/id={packet['src']}, mask=255.255.255.255, port={packet['sport']}, tag=any",
        f"        dst ip/id={packet['dst']}, mask=255.255.255.255, port={packet['dport']}, "
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
