"""Commit-time validation: the checks whose failure turns a commit job into result FAIL, with
detail lines worded like PAN-OS (`Validation Error:` then the offending node, then each
ancestor `is invalid`)."""
from hes_lab.panos.objects import (
    PREDEFINED_SERVICES,
    ObjectIndex,
    members,
    parse_literal_address,
    vsys_entries,
)

ADDRESS_FIELDS = ("source", "destination")
REQUIRED_RULE_FIELDS = ("from", "to", "source", "destination", "application", "service")
RULE_PATH = "rulebase -> security -> rules"


def _failure(specific, section):
    return [f" {line}" for line in specific] + [f" {section} is invalid", " vsys is invalid", " devices is invalid"]


def _address_reference_ok(index, name):
    return (
        name == "any"
        or name in index.addresses
        or name in index.groups
        or parse_literal_address(name) is not None
        or (len(name) == 2 and name.isalpha() and name.isupper())
    )


def _service_reference_ok(index, name):
    return (
        name in ("any", "application-default")
        or name in PREDEFINED_SERVICES
        or name in index.services
        or name in index.service_groups
    )


def _group_problems(index, vsys):
    for group in vsys.findall("./address-group/entry"):
        name = group.get("name")
        static = group.find("static")
        if static is None:
            if group.find("dynamic") is None:
                yield _failure([f"address-group -> {name}  is missing 'static'"], "address-group")
            continue
        static_members = members(group, "static")
        if not static_members:
            yield _failure(
                [f"address-group -> {name} -> static is missing 'member'", f"address-group -> {name} -> static is invalid"],
                "address-group",
            )
        for member in static_members:
            if member not in index.addresses and member not in index.groups:
                yield _failure(
                    [
                        f"address-group -> {name} -> static '{member}' is not a valid reference",
                        f"address-group -> {name} -> static is invalid",
                    ],
                    "address-group",
                )
    for group in vsys.findall("./service-group/entry"):
        name = group.get("name")
        for member in members(group, "members"):
            if not _service_reference_ok(index, member) or member in ("any", "application-default"):
                yield _failure(
                    [
                        f"service-group -> {name} -> members '{member}' is not a valid reference",
                        f"service-group -> {name} -> members is invalid",
                    ],
                    "service-group",
                )


def _rule_problems(index, vsys):
    for rule in vsys.findall("./rulebase/security/rules/entry"):
        name = rule.get("name")
        where = f"{RULE_PATH} -> {name}"
        for field in REQUIRED_RULE_FIELDS:
            if not members(rule, field):
                yield _failure([f"{where}  is missing '{field}'"], "rulebase")
        for field in ("from", "to"):
            for zone in members(rule, field):
                if zone != "any" and zone not in index.zones:
                    yield _failure(
                        [f"{where} -> {field} '{zone}' is not a valid reference", f"{where} -> {field} is invalid"],
                        "rulebase",
                    )
        for field in ADDRESS_FIELDS:
            values = members(rule, field)
            if "any" in values and len(values) > 1:
                yield _failure(
                    [f"{where} -> {field} 'any' cannot be combined with other members", f"{where} -> {field} is invalid"],
                    "rulebase",
                )
            for value in values:
                if not _address_reference_ok(index, value):
                    yield _failure(
                        [f"{where} -> {field} '{value}' is not a valid reference", f"{where} -> {field} is invalid"],
                        "rulebase",
                    )
        for value in members(rule, "service"):
            if not _service_reference_ok(index, value):
                yield _failure(
                    [f"{where} -> service '{value}' is not a valid reference", f"{where} -> service is invalid"],
                    "rulebase",
                )


def validate(root):
    """Detail lines of a failed validation, or [] when the configuration can be committed."""
    problems = []
    for vsys in vsys_entries(root):
        index = ObjectIndex(root, vsys)
        problems.extend(_group_problems(index, vsys))
        problems.extend(_rule_problems(index, vsys))
    if not problems:
        return []
    lines = ["Validation Error:"]
    for problem in problems:
        lines.extend(line for line in problem[:-3] if line not in lines)
    lines.extend(problems[0][-3:])
    return lines
