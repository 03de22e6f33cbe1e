"""The XPath subset that pan-os-python, pan-python scripts and hand-written API calls send.

lxml is not available, and ElementTree's own XPath has neither unions, `or`, `concat()` nor a
way to return attributes, so paths are parsed here and walked over ElementTree elements.

Supported: absolute and relative location paths, `//`, `*`, `.`, `..`, unions with `|`,
a trailing `/@attr` or `/text()`, and predicates built from `@attr`, `text()`, child paths
(`static/member='x'`),
string literals in either quote, `concat(...)`, numbers (position), `=`, `!=`, `and`, `or`,
`not(...)` and parentheses.
"""
import re
import xml.etree.ElementTree as ET


class XPathError(ValueError):
    """The expression is outside the supported subset or malformed (PAN-OS code 6, Bad Xpath)."""


class Node:
    """A selected element, with its parent (ElementTree elements do not know their parent)."""

    __slots__ = ("elem", "parent")
    kind = "element"

    def __init__(self, elem, parent):
        self.elem = elem
        self.parent = parent


class AttrNode:
    __slots__ = ("elem", "name", "value")
    kind = "attribute"

    def __init__(self, elem, name, value):
        self.elem = elem
        self.name = name
        self.value = value


class TextNode:
    __slots__ = ("elem", "value")
    kind = "text"

    def __init__(self, elem, value):
        self.elem = elem
        self.value = value


class Step:
    __slots__ = ("axis", "test", "predicates")

    def __init__(self, axis, test, predicates):
        self.axis = axis  # "child" or "descendant"
        self.test = test  # element name, "*", "@name", "@*", "text()", ".", ".."
        self.predicates = predicates

    def simple_name_predicate(self):
        """The name in `[@name='x']` when that is the step's only predicate, else None."""
        if len(self.predicates) != 1:
            return None
        pred = self.predicates[0]
        if (
            pred[0] == "cmp"
            and pred[1] == "="
            and pred[2] == ("attr", "name")
            and pred[3][0] == "literal"
        ):
            return pred[3][1]
        return None


class LocationPath:
    __slots__ = ("absolute", "steps")

    def __init__(self, absolute, steps):
        self.absolute = absolute
        self.steps = steps


def split_top_level(text, separator):
    """Split on `separator` outside quotes, brackets and parentheses."""
    parts, depth, quote, start = [], 0, None, 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
            if depth < 0:
                raise XPathError(f"unbalanced '{ch}' in {text!r}")
        elif ch == separator and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if quote or depth:
        raise XPathError(f"unterminated quote or bracket in {text!r}")
    parts.append(text[start:])
    return parts


def parse(expression):
    """Parse an expression into a list of location paths (more than one for a union)."""
    if expression is None or not expression.strip():
        raise XPathError("empty xpath")
    return [_parse_path(part.strip()) for part in split_top_level(expression, "|")]


def _parse_path(text):
    if not text:
        raise XPathError("empty path in union")
    absolute = text.startswith("/")
    raw_steps = split_top_level(text, "/")
    steps, axis = [], "child"
    # split gives "" for the leading "/" and for each "//"
    for index, raw in enumerate(raw_steps):
        raw = raw.strip()
        if raw == "":
            if index == 0 and absolute:
                continue
            if axis == "descendant":
                raise XPathError(f"'///' in {text!r}")
            axis = "descendant"
            continue
        steps.append(_parse_step(raw, axis))
        axis = "child"
    if axis == "descendant" or not steps:
        raise XPathError(f"path ends with '/': {text!r}")
    return LocationPath(absolute, steps)


_STEP_RE = re.compile(r"^(@\*|@[\w.:-]+|text\(\)|\.\.|\.|\*|[\w.:-]+)(.*)$", re.S)


def _parse_step(raw, axis):
    match = _STEP_RE.match(raw)
    if not match:
        raise XPathError(f"bad step {raw!r}")
    test, rest = match.group(1), match.group(2).strip()
    predicates = []
    while rest:
        if not rest.startswith("["):
            raise XPathError(f"unexpected {rest!r} in step {raw!r}")
        depth, quote, end = 0, None, None
        for i, ch in enumerate(rest):
            if quote:
                if ch == quote:
                    quote = None
            elif ch in "'\"":
                quote = ch
            elif ch == "[":
                depth += 1
            elif ch == "]":
                depth -= 1
                if depth == 0:
                    end = i
                    break
        if end is None:
            raise XPathError(f"unterminated predicate in {raw!r}")
        predicates.append(_PredicateParser(rest[1:end]).parse())
        rest = rest[end + 1:].strip()
    return Step(axis, test, predicates)


_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<string>'[^']*'|"[^"]*")
      | (?P<number>\d+(?:\.\d+)?)
      | (?P<op>!=|=|\(|\)|,)
      | (?P<attr>@[\w.:-]+)
      | (?P<text>text\(\))
      | (?P<name>[\w.:-]+(?:/[\w.:-]+)*)
    )""",
    re.X,
)


class _PredicateParser:
    """Recursive descent over one predicate's tokens, producing a small expression tree."""

    def __init__(self, text):
        self.tokens = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            match = _TOKEN_RE.match(text, pos)
            if not match or match.end() == pos:
                raise XPathError(f"bad predicate [{text}]")
            pos = match.end()
            kind = match.lastgroup
            self.tokens.append((kind, match.group(kind)))
            while pos < len(text) and text[pos].isspace():
                pos += 1
        self.pos = 0
        self.text = text

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None)

    def take(self):
        token = self.peek()
        self.pos += 1
        return token

    def expect(self, value):
        kind, got = self.take()
        if got != value:
            raise XPathError(f"expected {value!r} in [{self.text}], got {got!r}")

    def parse(self):
        if not self.tokens:
            raise XPathError("empty predicate")
        expr = self.or_expr()
        if self.pos != len(self.tokens):
            raise XPathError(f"trailing tokens in [{self.text}]")
        return expr

    def or_expr(self):
        left = self.and_expr()
        while self.peek() == ("name", "or"):
            self.take()
            left = ("or", left, self.and_expr())
        return left

    def and_expr(self):
        left = self.comparison()
        while self.peek() == ("name", "and"):
            self.take()
            left = ("and", left, self.comparison())
        return left

    def comparison(self):
        left = self.operand()
        kind, value = self.peek()
        if kind == "op" and value in ("=", "!="):
            self.take()
            return ("cmp", value, left, self.operand())
        return ("exists", left)

    def operand(self):
        kind, value = self.take()
        if kind == "string":
            return ("literal", value[1:-1])
        if kind == "number":
            return ("number", float(value))
        if kind == "attr":
            return ("attr", value[1:])
        if kind == "text":
            return ("text",)
        if kind == "op" and value == "(":
            inner = self.or_expr()
            self.expect(")")
            return ("group", inner)
        if kind == "name" and value in ("concat", "not") and self.peek() == ("op", "("):
            self.take()
            if value == "not":
                inner = self.or_expr()
                self.expect(")")
                return ("not", inner)
            parts = [self.operand()]
            while self.peek() == ("op", ","):
                self.take()
                parts.append(self.operand())
            self.expect(")")
            if any(part[0] != "literal" for part in parts):
                raise XPathError("concat() takes string literals only")
            return ("literal", "".join(part[1] for part in parts))
        if kind == "name":
            return ("child", value)
        raise XPathError(f"unexpected {value!r} in [{self.text}]")


def _values(operand, elem):
    kind = operand[0]
    if kind == "literal":
        return [operand[1]]
    if kind == "number":
        return [operand[1]]
    if kind == "attr":
        value = elem.get(operand[1])
        return [] if value is None else [value]
    if kind == "text":
        return [elem.text or ""]
    if kind == "child":
        level = [elem]
        for tag in operand[1].split("/"):
            level = [child for node in level for child in node if child.tag == tag]
        return [node.text or "" for node in level]
    raise XPathError(f"cannot compare {kind}")


def _truth(expr, elem, position):
    kind = expr[0]
    if kind == "or":
        return _truth(expr[1], elem, position) or _truth(expr[2], elem, position)
    if kind == "and":
        return _truth(expr[1], elem, position) and _truth(expr[2], elem, position)
    if kind == "cmp":
        left, right = _values(expr[2], elem), _values(expr[3], elem)
        if expr[1] == "=":
            return any(_equal(a, b) for a in left for b in right)
        return any(not _equal(a, b) for a in left for b in right)
    if kind == "exists":
        operand = expr[1]
        if operand[0] == "number":
            return position == operand[1]
        if operand[0] == "group":
            return _truth(operand[1], elem, position)
        if operand[0] == "not":
            return not _truth(operand[1], elem, position)
        if operand[0] == "literal":
            return operand[1] != ""
        return bool(_values(operand, elem))
    if kind == "group":
        return _truth(expr[1], elem, position)
    if kind == "not":
        return not _truth(expr[1], elem, position)
    raise XPathError(f"bad predicate node {kind}")


def _equal(a, b):
    if isinstance(a, float) or isinstance(b, float):
        try:
            return float(a) == float(b)
        except ValueError:
            return False
    return a == b


def _filter(candidates, predicates):
    for predicate in predicates:
        candidates = [
            node for position, node in enumerate(candidates, 1) if _truth(predicate, node.elem, position)
        ]
    return candidates


def _descendants(elem):
    for child in elem:
        yield Node(child, elem)
        yield from _descendants(child)


def _apply_step(context, step, parents):
    """Apply one step to a list of element nodes, returning nodes of any kind."""
    out = []
    for node in context:
        elem = node.elem
        if step.test.startswith("@"):
            pool = [Node(elem, node.parent)] if step.axis == "child" else list(_descendants(elem))
            for holder in pool:
                names = list(holder.elem.attrib) if step.test == "@*" else [step.test[1:]]
                for name in names:
                    if name in holder.elem.attrib:
                        out.append(AttrNode(holder.elem, name, holder.elem.attrib[name]))
            continue
        if step.test == "text()":
            out.append(TextNode(elem, elem.text or ""))
            continue
        if step.test == ".":
            candidates = [node]
        elif step.test == "..":
            parent = parents.get(id(elem))
            candidates = [Node(parent, parents.get(id(parent)))] if parent is not None else []
        elif step.axis == "descendant":
            candidates = [n for n in _descendants(elem) if step.test in ("*", n.elem.tag)]
        else:
            candidates = [Node(child, elem) for child in elem if step.test in ("*", child.tag)]
        out.extend(_filter(candidates, step.predicates))
    return out


def select(root, expression, context=None):
    """Evaluate `expression` against the tree rooted at `root`; returns nodes in document order
    per union branch (union results are concatenated without duplicates)."""
    document = ET.Element("#document")
    document.append(root)
    parents = {id(root): document}
    for parent in root.iter():
        for child in parent:
            parents[id(child)] = parent
    results, seen = [], set()
    for path in parse(expression):
        nodes = [Node(document, None)] if path.absolute or context is None else [context]
        for index, step in enumerate(path.steps):
            if any(n.kind != "element" for n in nodes):
                raise XPathError("a step after @attribute or text() selects nothing")
            nodes = _apply_step(nodes, step, parents)
        for node in nodes:
            key = (node.kind, id(node.elem), getattr(node, "name", None))
            if key not in seen:
                seen.add(key)
                results.append(node)
    return [n for n in results if not (n.kind == "element" and n.elem is document)]


def resolve_for_write(root, expression, create):
    """Nodes addressed by a single location path, creating missing `name` / `name[@name='x']`
    steps when `create` is true. Returns a list of Node (element nodes only)."""
    paths = parse(expression)
    if len(paths) != 1:
        raise XPathError("a union cannot be written to")
    path = paths[0]
    if not path.absolute:
        raise XPathError("write xpaths must be absolute")
    document = ET.Element("#document")
    document.append(root)
    nodes = [Node(document, None)]
    for index, step in enumerate(path.steps):
        if step.axis != "child" or step.test.startswith("@") or step.test in ("text()", ".", "..", "*"):
            raise XPathError(f"cannot write through step {step.test!r}")
        found = []
        for node in nodes:
            matches = _apply_step([node], step, {})
            if not matches and create and node.elem is not document:
                name = step.simple_name_predicate()
                if step.predicates and name is None:
                    continue
                child = ET.SubElement(node.elem, step.test)
                if name is not None:
                    child.set("name", name)
                matches = [Node(child, node.elem)]
            found.extend(matches)
        nodes = found
        if not nodes:
            return []
    return nodes
