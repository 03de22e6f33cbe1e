"""Schema, value and reference checks of the configuration, run twice like on a firewall:

* at write time (`set`, `edit`): a refusal with code 12 and the first problem's lines, the paths
  starting at the element that was sent (`TM_HES_1 -> ip-netmask ...`), nothing changed;
* at commit, over the whole configuration (for anything that slipped in: a booted file, a partial
  commit whose references live in another administrator's uncommitted changes): the job fails
  with `Validation Error:`, the first invalid object (PAN-OS names one at a time), then each
  ancestor section `is invalid`. Checks that only a commit makes (required children, choices
  that exclude each other, `any` mixed with members) are marked `commit_only`.

Wording: docs/lab-panos.md lists which messages are device captures and which are inferred.
"""
import ipaddress
import re

from hes_lab.panos.objects import PREDEFINED_SERVICES, ObjectIndex, members, parse_literal_address

# Object name rules: 63 characters (zones 31), letters, digits, '_', '-', '.' and space, starting
# with a letter, digit or '_'.
NAME_LIMITS = {"address": 63, "address-group": 63, "service": 63, "service-group": 63, "rules": 63, "zone": 31}
NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\- ]*")
FQDN_RE = re.compile(r"(?=.{1,255}\Z)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
                     r"(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?")
PORT_LIST_RE = re.compile(r"\d{1,5}(?:-\d{1,5})?(?:,\d{1,5}(?:-\d{1,5})?)*")
REGION_RE = re.compile(r"[A-Z]{2}")
ADDRESS_TYPES = ("ip-netmask", "ip-range", "fqdn", "ip-wildcard")
PROTOCOLS = ("tcp", "udp", "sctp")
RULE_ACTIONS = ("allow", "deny", "drop", "reset-client", "reset-server", "reset-both")
RULE_TYPES = ("universal", "intrazone", "interzone")
YES_NO_FIELDS = ("disabled", "negate-source", "negate-destination", "log-start", "log-end")
REQUIRED_RULE_FIELDS = ("from", "to", "source", "destination", "application", "service", "action")
DESCRIPTION_LIMITS = {"rules": 1024}
DESCRIPTION_LIMIT = 1023
# Kinds that share one name space within a scope: an address group cannot take an address
# object's name, nor a service group a service's.
SHARED_NAME_SPACES = {"address": ("address-group", "an address group"),
                      "address-group": ("address", "an address object"),
                      "service": ("service-group", "a service group"),
                      "service-group": ("service", "a service")}


class Problem:
    """One invalid node. `node` is the element at fault; `lines` are (anchor, text) pairs, each
    rendered as ' <path to anchor><text>' (anchor None: the text alone)."""

    def __init__(self, node, lines, commit_only=False):
        self.node = node
        self.lines = lines
        self.commit_only = commit_only


class Context:
    """What the checks need besides the entry: name lookups and document line numbers."""

    def __init__(self, root, scope, index):
        self.root = root
        self.scope = scope
        self.index = index
        self._lines = None
        self._names = {}

    def scope_names(self, kind):
        """Names of the KIND entries defined in this scope itself (not inherited from shared)."""
        if kind not in self._names:
            self._names[kind] = {e.get("name") for e in self.scope.findall(f"./{kind}/entry")}
        return self._names[kind]

    def line_of(self, elem):
        if self._lines is None:
            self._lines = {id(e): n for n, e in enumerate(self.root.iter(), start=1)}
        return self._lines.get(id(elem), 0)


# ---- values ------------------------------------------------------------------------------

def _netmask_ok(value):
    address, slash, length = value.partition("/")
    if slash and not length.isdigit():
        return False
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return bool(address)


def _range_ok(value):
    first, _, last = value.partition("-")
    try:
        low, high = ipaddress.ip_address(first.strip()), ipaddress.ip_address(last.strip())
    except ValueError:
        return False
    return low.version == high.version and low <= high


def _wildcard_ok(value):
    address, slash, mask = value.partition("/")
    try:
        return bool(slash) and ipaddress.ip_address(address).version == ipaddress.ip_address(mask).version == 4
    except ValueError:
        return False


def ports_ok(value):
    if not PORT_LIST_RE.fullmatch(value):
        return False
    for part in value.split(","):
        low, _, high = part.partition("-")
        if int(low) > 65535 or (high and not int(low) <= int(high) <= 65535):
            return False
    return True


def _address_value_problem(elem):
    value = (elem.text or "").strip()
    if elem.tag == "ip-netmask" and not _netmask_ok(value):
        return [(elem, f" {value} is an invalid ipv4/v6 address")]
    if elem.tag == "ip-range":
        if "-" not in value:
            return [(elem, f" {value} range separator('-') not found")]
        if not _range_ok(value):
            return [(elem, f" {value} is an invalid ipv4/v6 address range")]
    if elem.tag == "fqdn" and not FQDN_RE.fullmatch(value):
        return [(elem, f" {value} is an invalid fqdn")]
    if elem.tag == "ip-wildcard" and not _wildcard_ok(value):
        return [(elem, f" {value} is an invalid ip wildcard mask")]
    return None


# ---- checks per object -------------------------------------------------------------------

def check_name(ctx, container, entry, limit):
    name = entry.get("name") or ""
    if len(name) > limit:
        yield Problem(entry, [
            (container, f" -> {name} Node can be at most {limit} characters, but current length: {len(name)} "
                        f"value: {name}..."),
            (container, " is invalid"),
        ])
    elif not NAME_RE.fullmatch(name):
        yield Problem(entry, [(container, f" -> {name} '{name}' is not a valid name"), (container, " is invalid")])
    if container.tag in SHARED_NAME_SPACES:
        other, what = SHARED_NAME_SPACES[container.tag]
        if name in ctx.scope_names(other):
            yield Problem(entry, [(container, f" -> {name}  is invalid. {what[0].upper()}{what[1:]} with this "
                                              f"name already exists")])
    description = entry.find("description")
    limit = DESCRIPTION_LIMITS.get(container.tag, DESCRIPTION_LIMIT)
    text = "" if description is None else description.text or ""
    if len(text) > limit:
        yield Problem(description, [(description, f" can be at most {limit} characters, but current length: "
                                                  f"{len(text)} value: {text[:32]}..."), (entry, " is invalid")])


def _exclusive(ctx, entry, children):
    if len(children) > 1:
        first, second = children[:2]
        yield Problem(entry, [(entry, f" Node {first.tag}(line {ctx.line_of(first)}) and {second.tag}"
                                      f"(line {ctx.line_of(second)}) are mutually exclusive")], commit_only=True)


def _missing(holder, child):
    return Problem(holder, [(holder, f" is missing '{child}'")], commit_only=True)


def check_address(ctx, entry):
    kinds = [child for child in entry if child.tag in ADDRESS_TYPES]
    yield from _exclusive(ctx, entry, kinds)
    for kind in kinds:
        lines = _address_value_problem(kind)
        if lines:
            yield Problem(kind, lines)


def _unresolved(holder, member, value, alternatives):
    """PAN-OS lists why each way of reading a member failed, then the holder `is invalid`."""
    texts = {
        "keyword": f" '{value}' is not an allowed keyword",
        "address": f" {value} is an invalid ipv4/v6 address",
        "reference": f" '{value}' is not a valid reference",
        "range": (f" {value} is an invalid ipv4/v6 address range" if "-" in value
                  else f" {value} range separator('-') not found"),
    }
    return Problem(member, [(holder, texts[a]) for a in alternatives] + [(holder, " is invalid")])


def check_address_group(ctx, entry):
    static, dynamic = entry.find("static"), entry.find("dynamic")
    yield from _exclusive(ctx, entry, [c for c in (static, dynamic) if c is not None])
    if static is None:
        if dynamic is None:
            yield _missing(entry, "static")
        return
    found = static.findall("member")
    if not found:
        yield Problem(static, [(static, " is missing 'member'"), (static, " is invalid")], commit_only=True)
    index = ctx.index
    for member in found:
        value = (member.text or "").strip()
        if value not in index.addresses and value not in index.groups:
            yield _unresolved(static, member, value, ("reference",))


def check_service(ctx, entry):
    protocol = entry.find("protocol")
    if protocol is None:
        yield _missing(entry, "protocol")
        return
    for child in protocol:
        if child.tag not in PROTOCOLS:
            yield Problem(child, [(protocol, f" -> {child.tag} unexpected here"), (protocol, " is invalid")])
    chosen = [child for child in protocol if child.tag in PROTOCOLS]
    yield from _exclusive(ctx, protocol, chosen)
    for proto in chosen:
        port = proto.find("port")
        if port is None:
            yield _missing(proto, "port")
        for field in (port, proto.find("source-port")):
            if field is not None and not ports_ok((field.text or "").strip()):
                yield Problem(field, [(field, f" {(field.text or '').strip()} is an invalid port or port range")])


def _service_reference_ok(index, name):
    return name in PREDEFINED_SERVICES or name in index.services or name in index.service_groups


def check_service_group(ctx, entry):
    holder = entry.find("members")
    found = [] if holder is None else holder.findall("member")
    if not found:
        yield Problem(entry if holder is None else holder,
                      [(entry if holder is None else holder, " is missing 'member'")], commit_only=True)
    for member in found:
        value = (member.text or "").strip()
        if not _service_reference_ok(ctx.index, value):
            yield _unresolved(holder, member, value, ("reference",))


def _keyword_field(entry, tag, allowed):
    field = entry.find(tag)
    if field is not None and (field.text or "").strip() not in allowed:
        yield Problem(field, [(field, f" '{(field.text or '').strip()}' is not an allowed keyword")])


def _address_member_ok(index, value):
    return (
        value == "any"
        or value in index.addresses
        or value in index.groups
        or parse_literal_address(value) is not None
        or REGION_RE.fullmatch(value) is not None
    )


def check_rule(ctx, entry):
    index = ctx.index
    for field in REQUIRED_RULE_FIELDS:
        if entry.find(field) is None or (field != "action" and not members(entry, field)):
            yield _missing(entry, field)
    yield from _keyword_field(entry, "action", RULE_ACTIONS)
    yield from _keyword_field(entry, "rule-type", RULE_TYPES)
    for tag in YES_NO_FIELDS:
        yield from _keyword_field(entry, tag, ("yes", "no"))
    for tag in ("from", "to"):
        holder = entry.find(tag)
        for member in [] if holder is None else holder.findall("member"):
            value = (member.text or "").strip()
            if value != "any" and value not in index.zones:
                yield _unresolved(holder, member, value, ("keyword", "reference"))
    for tag in ("source", "destination"):
        holder = entry.find(tag)
        found = [] if holder is None else holder.findall("member")
        for member in found:
            value = (member.text or "").strip()
            if not _address_member_ok(index, value):
                yield _unresolved(holder, member, value, ("keyword", "address", "reference", "range"))
        if len(found) > 1 and "any" in [(m.text or "").strip() for m in found]:
            yield Problem(holder, [(holder, " 'any' cannot be combined with other members"), (holder, " is invalid")],
                          commit_only=True)
    holder = entry.find("service")
    found = [] if holder is None else holder.findall("member")
    values = [(m.text or "").strip() for m in found]
    for member, value in zip(found, values):
        if value not in ("any", "application-default") and not _service_reference_ok(index, value):
            yield _unresolved(holder, member, value, ("keyword", "reference"))
    if "application-default" in values and len(values) > 1:
        yield Problem(holder, [(None, "'application-default' should not be used with another service"),
                               (holder, " is invalid")])


# ---- walking the configuration -----------------------------------------------------------

CHECKS = (
    ("zone", None),
    ("address", check_address),
    ("address-group", check_address_group),
    ("service", check_service),
    ("service-group", check_service_group),
    ("rulebase/security/rules", check_rule),
)


def scopes(root):
    """(scope element, ObjectIndex, tail lines of a commit failure) for shared and every vsys."""
    shared = root.find("./shared")
    if shared is not None:
        yield shared, ObjectIndex(root, None), [" shared is invalid"]
    for vsys in root.findall("./devices/entry/vsys/entry"):
        yield vsys, ObjectIndex(root, vsys), [" vsys is invalid", " devices is invalid"]


def problems(root, scope, index, wanted=None):
    """Every Problem of one scope (of the entries WANTED accepts), in configuration order:
    (container, entry, Problem)."""
    ctx = Context(root, scope, index)
    for path, check in CHECKS:
        container = scope.find(path)
        if container is None:
            continue
        limit = NAME_LIMITS[path.rsplit("/", 1)[-1]]
        for entry in container.findall("entry"):
            if wanted is not None and not wanted(entry):
                continue
            for problem in check_name(ctx, container, entry, limit):
                yield container, entry, problem
            if check is not None:
                for problem in check(ctx, entry):
                    yield container, entry, problem


def parent_map(root):
    return {child: parent for parent in root.iter() for child in parent}


def label(elem):
    return elem.get("name") if elem.tag == "entry" and elem.get("name") is not None else elem.tag


def render(problem, base, parents):
    """The problem's lines with paths from just below BASE (an anchor outside: its own label)."""
    lines = []
    for anchor, text in problem.lines:
        if anchor is None:
            lines.append(" " + text)
            continue
        chain, node = [], anchor
        while node is not None and node is not base:
            chain.append(label(node))
            node = parents.get(node)
        if node is None or not chain:
            chain = [label(anchor)]
        lines.append(" " + " -> ".join(reversed(chain)) + text)
    return lines


def write_errors(root, touched):
    """Message lines of a code-12 refusal of a write that changed the TOUCHED elements of ROOT,
    or [] when they are valid. Only problems inside what was written count (a name counts for
    the entry written into)."""
    parents = parent_map(root)
    inside = {id(node) for elem in touched for node in elem.iter()}
    above = set()
    for elem in touched:
        node = parents.get(elem)
        while node is not None:
            above.add(id(node))
            node = parents.get(node)
    def related(entry):
        return id(entry) in inside or id(entry) in above

    for scope, index, _tail in scopes(root):
        for _container, entry, problem in problems(root, scope, index, related):
            if problem.commit_only:
                continue
            if problem.node is entry or id(problem.node) in inside:
                written = next((e for e in touched if id(problem.node) in {id(n) for n in e.iter()}), None)
                base = parents.get(written) if written is not None else parents.get(entry)
                return render(problem, base, parents)
    return []


def negate_any_errors(root):
    lines = []
    for vsys in root.findall("./devices/entry/vsys/entry"):
        for rule in vsys.findall("./rulebase/security/rules/entry"):
            for side, field in (("source", "negate-source"), ("destination", "negate-destination")):
                if rule.findtext(field) == "yes" and "any" in members(rule, side):
                    lines.append(f"Negate cannot be enabled for security rule {rule.get('name')} with {side} "
                                 f"address as 'any'")
    return lines


def validate(root):
    """Detail lines of a failed commit validation, or [] when the configuration can be committed."""
    parents = parent_map(root)
    for scope, index, tail in scopes(root):
        for container, _entry, problem in problems(root, scope, index):
            section = container
            while parents.get(section) is not scope:
                section = parents[section]
            return ["Validation Error:"] + render(problem, scope, parents) + [f" {section.tag} is invalid"] + tail
    negated = negate_any_errors(root)
    if negated:
        return negated + ["Configuration is invalid"]
    return []
