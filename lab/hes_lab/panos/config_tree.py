"""Configuration-tree operations with PAN-OS semantics: get/show selection, set (merge), edit
(replace), delete, move, rename, and the reference lookups that make a delete fail.

Everything here works on plain ElementTree roots and raises ApiError with the device's codes;
the candidate/running bookkeeping, locks and commits live in device.py.
"""
import copy
import xml.etree.ElementTree as ET

from hes_lab.panos import xpath as xp

DIRTY_ATTRIBUTES = ("admin", "dirtyId", "time")

# Object kinds that other configuration refers to by name, and the parent tags of the
# <member> elements that hold such references.
REFERENCE_HOLDERS = {
    "address": ("static", "source", "destination"),
    "address-group": ("static", "source", "destination"),
    "service": ("service", "members"),
    "service-group": ("service", "members"),
    "zone": ("from", "to"),
    "tag": ("tag",),
    "application-group": ("application", "members"),
}


class ApiError(Exception):
    """A PAN-OS error response: `code` (PAN-OS response code) and message lines."""

    def __init__(self, code, *lines, status="error", http_status=200):
        super().__init__("; ".join(lines))
        self.code = code
        self.lines = list(lines)
        self.status = status
        self.http_status = http_status


def parse_fragment(text):
    """The elements of an `element=` parameter (one or more siblings), dirty markers removed."""
    if text is None or not text.strip():
        raise ApiError(18, "Malformed Request")
    try:
        wrapper = ET.fromstring(f"<fragment>{text}</fragment>")
    except ET.ParseError as exc:
        raise ApiError(18, f"Malformed Request: {exc}") from None
    children = list(wrapper)
    if not children:
        raise ApiError(18, "Malformed Request")
    for child in children:
        strip_dirty(child)
    return children


def strip_dirty(elem):
    for node in elem.iter():
        strip_dirty_node(node)
    return elem


def strip_dirty_node(elem):
    for name in DIRTY_ATTRIBUTES:
        elem.attrib.pop(name, None)


def clean_copy(elem):
    return strip_dirty(copy.deepcopy(elem))


def select(root, expression):
    try:
        return xp.select(root, expression)
    except xp.XPathError as exc:
        raise ApiError(6, f"Bad Xpath: {exc}") from None


def result_children(nodes):
    """Elements to put inside <result> for selected nodes: elements as themselves, attributes
    as their owner's tag carrying only that attribute (what `.../entry/@name` returns)."""
    out = []
    for node in nodes:
        if node.kind == "element":
            out.append(node.elem)
        elif node.kind == "attribute":
            out.append(ET.Element(node.elem.tag, {node.name: node.value}))
        else:
            text_holder = ET.Element(node.elem.tag)
            text_holder.text = node.value
            out.append(text_holder)
    return out


def _resolve(root, expression, create):
    try:
        return xp.resolve_for_write(root, expression, create)
    except xp.XPathError as exc:
        raise ApiError(6, f"Bad Xpath: {exc}") from None


def split_last_step(expression):
    parts = xp.split_top_level(expression.strip(), "/")
    if len(parts) < 3 or "" in parts[1:]:
        raise ApiError(6, "Bad Xpath")
    return "/".join(parts[:-1]), parts[-1]


def merge_child(parent, new):
    """PAN-OS `set` merge: entries by name recurse, leaves are replaced, members are added."""
    if new.tag == "member":
        for existing in parent.findall("member"):
            if (existing.text or "") == (new.text or ""):
                return existing
        parent.append(copy.deepcopy(new))
        return parent[-1]
    name = new.get("name")
    existing = None
    for child in parent:
        if child.tag == new.tag and child.get("name") == name:
            existing = child
            break
    if existing is None:
        parent.append(copy.deepcopy(new))
        return parent[-1]
    existing.attrib.update(new.attrib)
    if len(new) == 0:
        if new.text is not None and new.text.strip():
            existing.text = new.text
        elif len(existing) == 0:
            existing.text = new.text
        return existing
    existing.text = None
    for child in new:
        merge_child(existing, child)
    return existing


def config_set(root, expression, element_text):
    """Merge the element(s) under every node the xpath addresses; returns the touched nodes."""
    fragment = parse_fragment(element_text)
    targets = _resolve(root, expression, create=True)
    if not targets:
        raise ApiError(12, f"Invalid object: cannot create {expression}")
    touched = []
    for target in targets:
        for child in fragment:
            touched.append(merge_child(target.elem, child))
    return touched


def config_edit(root, expression, element_text):
    """Replace the node the xpath addresses (creating it under an existing parent path)."""
    fragment = parse_fragment(element_text)
    if len(fragment) != 1:
        raise ApiError(12, "Edit breaks config validity")
    new = fragment[0]
    parent_path, last = split_last_step(expression)
    step = xp.parse(last)[0].steps[0]
    name = step.simple_name_predicate()
    if new.tag != step.test or (step.predicates and name is None):
        raise ApiError(12, "Edit breaks config validity")
    if name is not None:
        if new.get("name", name) != name:
            raise ApiError(12, "Edit breaks config validity")
        new.set("name", name)
    existing = _resolve(root, expression, create=False)
    if len(existing) > 1:
        raise ApiError(8, "Object not unique")
    if existing:
        node = existing[0]
        if "uuid" in node.elem.attrib and "uuid" not in new.attrib:
            new.set("uuid", node.elem.get("uuid"))
        index = list(node.parent).index(node.elem)
        node.parent.remove(node.elem)
        node.parent.insert(index, new)
        return new
    parents = _resolve(root, parent_path, create=True)
    if len(parents) != 1:
        raise ApiError(12, "Edit breaks config validity")
    parents[0].elem.append(new)
    return new


def config_delete(root, expression):
    """Remove every element the xpath selects; returns the removed Nodes (possibly none)."""
    nodes = [n for n in select(root, expression) if n.kind == "element"]
    if any(n.elem is root for n in nodes):
        raise ApiError(12, "Invalid object: the root cannot be deleted")
    for node in nodes:
        if node.elem in list(node.parent):
            node.parent.remove(node.elem)
    return nodes


def _single(root, expression):
    nodes = [n for n in _resolve(root, expression, create=False)]
    if not nodes:
        raise ApiError(7, "Object doesn't exist")
    if len(nodes) > 1:
        raise ApiError(8, "Object not unique")
    return nodes[0]


def config_move(root, expression, where, dst):
    """Reorder an entry among its siblings; returns True when the order changed."""
    if where not in ("top", "bottom", "before", "after"):
        raise ApiError(17, f"Invalid command: where={where!r} (top, bottom, before, after)")
    node = _single(root, expression)
    parent, elem = node.parent, node.elem
    before = list(parent)
    siblings = [c for c in parent if c.tag == elem.tag]
    if where in ("before", "after"):
        if not dst:
            raise ApiError(17, "Invalid command: dst is required for before/after")
        target = next((c for c in siblings if c.get("name") == dst), None)
        if target is None:
            raise ApiError(7, f"{dst} does not exist")
        if target is elem:
            raise ApiError(14, "Operation not possible: an entry cannot be moved relative to itself")
    parent.remove(elem)
    remaining = list(parent)
    if where == "top":
        first = next((c for c in remaining if c.tag == elem.tag), None)
        index = remaining.index(first) if first is not None else len(remaining)
    elif where == "bottom":
        same = [i for i, c in enumerate(remaining) if c.tag == elem.tag]
        index = same[-1] + 1 if same else len(remaining)
    else:
        index = remaining.index(target) + (1 if where == "after" else 0)
    parent.insert(index, elem)
    return list(parent) != before


def config_rename(root, expression, newname):
    """Rename an entry; returns (kind, old name, scope element) for reference updates."""
    if not newname:
        raise ApiError(17, "Invalid command: newname is required")
    node = _single(root, expression)
    if node.elem.get("name") is None:
        raise ApiError(12, "Invalid object: only named entries can be renamed")
    for sibling in node.parent:
        if sibling is not node.elem and sibling.tag == node.elem.tag and sibling.get("name") == newname:
            raise ApiError(12, f"{newname} already exists")
    old = node.elem.get("name")
    node.elem.set("name", newname)
    return old


def walk_with_labels(elem, labels=()):
    """(element, parent, labels) for every element below `elem`; labels read like PAN-OS paths
    (`vsys -> vsys1 -> address-group -> G -> static`)."""
    for child in elem:
        label = child.get("name") if child.tag == "entry" and child.get("name") else child.tag
        here = labels + (label,)
        yield child, elem, here
        yield from walk_with_labels(child, here)


def scope_labels(scope):
    return ("vsys", scope.get("name")) if scope.tag == "entry" else ()


def readable_path(labels):
    if labels[:2] == ("devices", "localhost.localdomain"):
        labels = labels[2:]
    return " -> ".join(labels)


def find_referrers(root, removed_nodes, container_of):
    """For removed object entries still referred to by remaining configuration, the PAN-OS
    message lines of a code-10 refusal. `container_of(kind_element)` gives the vsys entry or
    <shared> element that holds an object container such as <address>."""
    removed_ids = set()
    for node in removed_nodes:
        for sub in node.elem.iter():
            removed_ids.add(id(sub))
    lines = []
    for node in removed_nodes:
        kind = node.parent.tag if node.parent is not None else None
        if node.elem.tag != "entry" or kind not in REFERENCE_HOLDERS:
            continue
        container = container_of(node.parent)
        if container is None:
            continue
        name = node.elem.get("name")
        scope = root if container.tag == "shared" else container
        holders = REFERENCE_HOLDERS[kind]
        referrers = []
        for elem, parent, labels in walk_with_labels(scope, scope_labels(scope)):
            if (
                elem.tag == "member"
                and parent.tag in holders
                and (elem.text or "").strip() == name
                and id(elem) not in removed_ids
            ):
                referrers.append(readable_path(labels[:-1]))
        if referrers:
            lines.append(f" {name} cannot be deleted because of references from:")
            lines.extend(f" {r}" for r in referrers)
    return lines


def rename_references(scope, kind, old, new):
    """PAN-OS renames update every reference to the object inside its scope."""
    holders = REFERENCE_HOLDERS.get(kind, ())
    for parent in scope.iter():
        if parent.tag in holders:
            for member in parent.findall("member"):
                if (member.text or "").strip() == old:
                    member.text = new


def parent_map(root):
    parents = {}
    for parent in root.iter():
        for child in parent:
            parents[child] = parent
    return parents
