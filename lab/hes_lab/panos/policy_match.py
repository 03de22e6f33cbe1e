"""`test security-policy-match` over the running configuration: top-down, first match,
disabled rules skipped, no match reported as an empty result (the implicit
intrazone/interzone defaults are never listed)."""
import ipaddress
import xml.etree.ElementTree as ET

from hes_lab.panos.objects import (
    APPLICATION_DEFAULTS,
    PROTOCOL_NUMBERS,
    ObjectIndex,
    address_contains,
    find_vsys,
    members,
    port_spec_contains,
)


class QueryError(ValueError):
    """A query the device would refuse (bad address, protocol or port)."""


def parse_query(elem):
    """Read a <security-policy-match> element into a plain dict."""
    query = {child.tag: (child.text or "").strip() for child in elem}
    for required in ("source", "destination", "protocol"):
        if not query.get(required):
            raise QueryError(f"test -> security-policy-match  is missing '{required}'")
    try:
        query["source"] = ipaddress.ip_address(query["source"])
        query["destination"] = ipaddress.ip_address(query["destination"])
    except ValueError as exc:
        raise QueryError(f"test -> security-policy-match -> {exc} is invalid") from None
    try:
        query["protocol"] = int(query["protocol"])
        if not 0 < query["protocol"] < 256:
            raise ValueError
    except ValueError:
        raise QueryError(f"test -> security-policy-match -> protocol '{query['protocol']}' is invalid") from None
    if query.get("destination-port"):
        try:
            query["destination-port"] = int(query["destination-port"])
            if not 0 <= query["destination-port"] <= 65535:
                raise ValueError
        except ValueError:
            raise QueryError(
                f"test -> security-policy-match -> destination-port '{query['destination-port']}' is invalid"
            ) from None
    else:
        query["destination-port"] = None
    return query


def _zones_match(rule, query):
    from_zones, to_zones = members(rule, "from"), members(rule, "to")
    src, dst = query.get("from"), query.get("to")
    if src and "any" not in from_zones and src not in from_zones:
        return False
    if dst and "any" not in to_zones and dst not in to_zones:
        return False
    rule_type = rule.findtext("rule-type") or "universal"
    if src and dst:
        if rule_type == "intrazone" and src != dst:
            return False
        if rule_type == "interzone" and src == dst:
            return False
    return True


def _address_match(index, names, ip, negate):
    hit = False
    for name in names:
        specs = index.address_specs(name) or []
        if any(address_contains(spec, ip) for spec in specs):
            hit = True
            break
    return hit != negate


def _ports_admit(specs, protocol, port):
    for proto, ports in specs:
        if PROTOCOL_NUMBERS.get(proto) != protocol:
            continue
        if port is None or port_spec_contains(ports, port):
            return True
    return False


def _rule_applications(index, rule):
    return [app for member in members(rule, "application") for app in index.applications(member)]


def _application_match(index, rule, query):
    apps = _rule_applications(index, rule)
    wanted = query.get("application")
    return not wanted or "any" in apps or wanted in apps


def _service_match(index, rule, query):
    services = members(rule, "service")
    protocol, port = query["protocol"], query["destination-port"]
    if "any" in services:
        return True
    if "application-default" in services:
        apps = _rule_applications(index, rule)
        wanted = query.get("application")
        if wanted:
            candidates = [wanted]
        elif "any" in apps:
            candidates = list(APPLICATION_DEFAULTS)
        else:
            candidates = apps
        specs = [spec for app in candidates for spec in APPLICATION_DEFAULTS.get(app, [])]
        if _ports_admit(specs, protocol, port):
            return True
    for name in services:
        specs = index.service_specs(name) or []
        if _ports_admit(specs, protocol, port):
            return True
    return False


def _listed_match(rule, tag, wanted):
    values = members(rule, tag)
    return not values or "any" in values or (wanted is not None and wanted in values)


def rule_matches(index, rule, query):
    if (rule.findtext("disabled") or "no") == "yes":
        return False
    return (
        _zones_match(rule, query)
        and _address_match(index, members(rule, "source"), query["source"], rule.findtext("negate-source") == "yes")
        and _address_match(
            index, members(rule, "destination"), query["destination"], rule.findtext("negate-destination") == "yes"
        )
        and _application_match(index, rule, query)
        and _service_match(index, rule, query)
        and _listed_match(rule, "source-user", query.get("source-user"))
        and _listed_match(rule, "category", query.get("category"))
    )


def evaluate(root, query, vsys_name="vsys1"):
    """[(index, rule element)] of matching rules: the first one, or all with show-all yes."""
    vsys = find_vsys(root, vsys_name)
    if vsys is None:
        return []
    index = ObjectIndex(root, vsys)
    rules = vsys.findall("./rulebase/security/rules/entry")
    show_all = query.get("show-all") == "yes"
    found = []
    for position, rule in enumerate(rules, 1):
        if rule_matches(index, rule, query):
            found.append((position, rule))
            if not show_all:
                break
    return found


def _member_list(tag, values):
    elem = ET.Element(tag)
    for value in values or ["any"]:
        ET.SubElement(elem, "member").text = value
    return elem


def result_element(matches):
    """The <result> of a policy-match response (§2.6 shape), empty when nothing matched."""
    result = ET.Element("result")
    if not matches:
        return result
    rules = ET.SubElement(result, "rules")
    for position, rule in matches:
        entry = ET.SubElement(rules, "entry", {"name": rule.get("name")})
        ET.SubElement(entry, "index").text = str(position)
        entry.append(_member_list("from", members(rule, "from")))
        entry.append(_member_list("source", members(rule, "source")))
        entry.append(_member_list("to", members(rule, "to")))
        entry.append(_member_list("destination", members(rule, "destination")))
        entry.append(_member_list("category", members(rule, "category")))
        entry.append(_member_list("application_service", _application_services(rule)))
        ET.SubElement(entry, "action").text = rule.findtext("action") or "allow"
        ET.SubElement(entry, "icmp-unreachable").text = rule.findtext("icmp-unreachable") or "no"
        ET.SubElement(entry, "terminal").text = "yes"
    return result


def _application_services(rule):
    apps = members(rule, "application") or ["any"]
    services = members(rule, "service") or ["any"]
    return [f"{app}/{service}" for app in apps for service in services]
