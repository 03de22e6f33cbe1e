"""Role READMEs, defaults and meta/argument_specs.yml cannot drift apart.

argument_specs is the source of truth: every option appears in the README, every row of the
README's variable tables names a declared option, every variable in defaults/main.yml is declared
with the same default, and every declared option has a description and a type.
"""
import os
import re

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES = sorted(r for r in os.listdir(os.path.join(REPO, "roles"))
               if os.path.exists(os.path.join(REPO, "roles", r, "meta", "argument_specs.yml")))


def role_file(role, *parts):
    return os.path.join(REPO, "roles", role, *parts)


def declared_options(role):
    with open(role_file(role, "meta", "argument_specs.yml")) as handle:
        specs = yaml.safe_load(handle)["argument_specs"]
    options = {}
    for entry_point in specs.values():
        options.update(entry_point.get("options", {}))
    return options


def test_every_role_has_argument_specs():
    assert ROLES == ["asa", "nftables", "panos", "pfsense", "postfix", "verify"]


@pytest.mark.parametrize("role", ROLES)
def test_every_option_is_documented_in_the_readme(role):
    with open(role_file(role, "README.md")) as handle:
        readme = handle.read()
    missing = [name for name in declared_options(role) if "`%s`" % name not in readme]
    assert missing == [], "roles/%s/README.md does not mention %s" % (role, missing)


@pytest.mark.parametrize("role", ROLES)
def test_readme_variable_rows_name_declared_options(role):
    with open(role_file(role, "README.md")) as handle:
        rows = [line for line in handle if line.startswith("| `hes_")]
    named = set()
    for row in rows:
        named.update(re.findall(r"`(hes_[a-z0-9_]+)`", row.split("|")[1]))
    assert rows, "roles/%s/README.md has no variable table" % role
    assert sorted(named - set(declared_options(role))) == []


@pytest.mark.parametrize("role", ROLES)
def test_defaults_are_declared_with_the_same_value(role):
    path = role_file(role, "defaults", "main.yml")
    with open(path) as handle:
        defaults = yaml.safe_load(handle) or {}
    options = declared_options(role)
    undeclared = sorted(set(defaults) - set(options))
    assert undeclared == [], "defaults not in argument_specs: %s" % undeclared
    different = {name: (value, options[name].get("default")) for name, value in defaults.items()
                 if options[name].get("default") != value}
    assert different == {}


@pytest.mark.parametrize("role", ROLES)
def test_every_option_has_description_and_type(role):
    incomplete = [name for name, spec in declared_options(role).items()
                  if not spec.get("description") or not spec.get("type")]
    assert incomplete == []
