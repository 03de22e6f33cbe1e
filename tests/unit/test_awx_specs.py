"""The AWX content of awx/ checked the way the controller would check it when
playbooks/awx_configure.yml posts it, plus what only we know: every survey variable is one the
template's playbook (or a role it runs) declares, with a type that survives a survey answer."""
import glob
import json
import os
import re

import pytest
import yaml

from ansible_collections.emailsec.hes.tests.unit import awx_model

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

AWX = os.path.join(REPO, "awx")
SURVEY_FILES = sorted(glob.glob(os.path.join(AWX, "surveys", "*.json")))
JOB_TEMPLATE_KEYS = {  # options of awx.awx.job_template 24.6.1 that our files use
    "name", "description", "playbook", "job_type", "diff_mode", "become_enabled", "job_slice_count",
    "ask_job_slice_count_on_launch", "allow_simultaneous", "ask_limit_on_launch", "extra_vars"}


def load(path):
    with open(os.path.join(AWX, path), encoding="utf-8") as handle:
        return json.load(handle) if path.endswith(".json") else yaml.safe_load(handle)


TEMPLATES = load("job_templates.yml")["job_templates"]
BY_NAME = {t["name"]: t for t in TEMPLATES}


def playbook_roles(playbook, seen=None):
    """(role, entry point) pairs a playbook runs, following import_playbook."""
    seen = set() if seen is None else seen
    path = os.path.join(REPO, playbook)
    if path in seen:
        return set()
    seen.add(path)
    with open(path, encoding="utf-8") as handle:
        plays = yaml.safe_load(handle)
    found = set()
    for play in plays:
        if "ansible.builtin.import_playbook" in play:
            found |= playbook_roles(os.path.join(os.path.dirname(playbook), play["ansible.builtin.import_playbook"]), seen)
            continue
        for role in play.get("roles", []):
            found.add((role["role"] if isinstance(role, dict) else role, "main"))
        tasks = list(play.get("tasks", []))
        while tasks:
            task = tasks.pop(0)
            tasks.extend(task.get("block", []))
            include = task.get("ansible.builtin.include_role") or task.get("ansible.builtin.import_role")
            if include:
                found.add((include["name"], include.get("tasks_from", "main")))
    return found


def playbook_text(playbook, seen=None):
    seen = set() if seen is None else seen
    path = os.path.join(REPO, playbook)
    if path in seen:
        return ""
    seen.add(path)
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    for target in re.findall(r"import_playbook:\s*(\S+)", text):
        text += playbook_text(os.path.join(os.path.dirname(playbook), target), seen)
    return text


def declared_options(playbook):
    """Options of the argument specs of every role entry point the playbook runs."""
    options = {}
    for role, entry in playbook_roles(playbook):
        name = role.split(".")[-1]
        with open(os.path.join(REPO, "roles", name, "meta", "argument_specs.yml"), encoding="utf-8") as handle:
            specs = yaml.safe_load(handle)["argument_specs"]
        for option, spec in specs.get(entry, {}).get("options", {}).items():
            options.setdefault(option, spec)
    return options


@pytest.mark.parametrize("path", SURVEY_FILES, ids=os.path.basename)
def test_survey_spec_is_accepted_by_the_controller(path):
    spec = load(path)
    assert awx_model.spec_errors(spec) == []
    for question in spec["spec"]:
        assert question["question_name"] and question.get("question_description")
        if question.get("required"):
            assert "default" in question, "%s: a required question without default blocks schedules" % question["variable"]
        if "default" in question and question["type"] not in ("multiselect",):
            # The controller applies a default only when it passes its own question's validation.
            assert awx_model.element_errors(question, {question["variable"]: question["default"]}) == []


def test_spec_errors_catch_what_the_controller_refuses():
    bad = {"name": "x", "description": "", "spec": [
        {"type": "multiplechoice", "question_name": "q", "variable": "v", "required": True,
         "choices": "a\nb", "default": "c"},
        {"type": "integer", "question_name": "q", "variable": "v", "required": "yes", "default": "1"},
        {"type": "checkbox", "question_name": "q", "variable": "w", "required": False}]}
    errors = awx_model.spec_errors(bad)
    assert any("choices listed" in e for e in errors)
    assert any("duplicated" in e for e in errors)
    assert any("'required' expected to be boolean" in e for e in errors)
    assert any("expected to be integer" in e for e in errors)
    assert any("'checkbox' is not allowed" in e for e in errors)
    assert awx_model.spec_errors({"name": "x", "spec": []})


@pytest.mark.parametrize("entry", TEMPLATES, ids=lambda t: t["name"])
def test_job_template_file(entry):
    assert set(entry) - {"survey"} <= JOB_TEMPLATE_KEYS
    assert entry["job_type"] in ("run", "check")
    assert os.path.isfile(os.path.join(REPO, entry["playbook"])), entry["playbook"]
    assert os.path.isfile(os.path.join(AWX, "surveys", entry["survey"]))
    if entry.get("job_slice_count", 1) > 1:
        # Slices run wherever and whenever; only a playbook without whole-inventory steps may be sliced.
        assert "run_once" not in playbook_text(entry["playbook"]) or entry["name"] in KNOWN_NOT_SLICE_SAFE


KNOWN_NOT_SLICE_SAFE = {"HES harden"}  # playbooks/harden_asa.yml summary uses run_once: reported


@pytest.mark.parametrize("entry", TEMPLATES, ids=lambda t: t["name"])
def test_every_survey_variable_is_declared_by_the_playbook(entry):
    declared = declared_options(entry["playbook"])
    text = playbook_text(entry["playbook"])
    for question in load(os.path.join("surveys", entry["survey"]))["spec"]:
        variable = question["variable"]
        assert variable in declared or re.search(r"\b%s\b" % variable, text), \
            "%s: survey variable %s is declared by no role of %s" % (entry["name"], variable, entry["playbook"])
        spec = declared.get(variable)
        if spec is None:
            continue
        kind = spec.get("type", "str")
        if kind == "bool":
            # A text answer "false" is true in Jinja; a 0/1 integer is the only safe boolean.
            assert question["type"] == "integer" and (question.get("min"), question.get("max")) == (0, 1), variable
        elif kind == "list":
            assert question["type"] in ("multiselect", "text")
            if question["type"] == "text":
                # "" would become [""] (a list of one empty name); leave the answer out instead.
                assert question.get("default", None) != "", variable
        elif kind in ("str", "path"):
            assert question["type"] in ("text", "multiplechoice")
            if "choices" in spec:
                assert set(awx_model.choice_list(question)) <= set(spec["choices"])
        elif kind == "int":
            assert question["type"] == "integer"
    for key in entry.get("extra_vars", {}):
        assert key in declared or re.search(r"\b%s\b" % key, text), key


def test_launch_merges_template_vars_survey_defaults_and_answers_like_awx():
    spec = load("surveys/harden.json")
    merged = awx_model.launch_extra_vars({"hes_backup_dir": "/b", "hes_group_name": "OLD"}, spec, {"hes_site": ["eu"]})
    assert merged["hes_backup_dir"] == "/b"
    assert merged["hes_group_name"] == "TM_HES_IP_RANGE"  # a survey default beats the template's var
    assert merged["hes_site"] == ["eu"] and merged["hes_asa_save"] == 1
    assert "hes_panos_rules" not in merged  # optional, no default: left to the role's own default
    # A multiselect default is text in AWX and is not applied without an answer: schedules answer it.
    with pytest.raises(ValueError, match="'hes_site' value missing"):
        awx_model.launch_extra_vars({}, spec, {})
    with pytest.raises(ValueError, match="hes_asa_save"):
        awx_model.launch_extra_vars({}, spec, {"hes_asa_save": "false"})
    with pytest.raises(ValueError, match="expected to be one of"):
        awx_model.launch_extra_vars({}, spec, {"hes_site": ["mars"]})


def test_schedules_answer_what_an_unattended_launch_needs():
    for schedule in load("schedules.yml")["schedules"]:
        entry = BY_NAME[schedule["unified_job_template"]]
        spec = load(os.path.join("surveys", entry["survey"]))
        merged = awx_model.launch_extra_vars(entry.get("extra_vars"), spec, schedule.get("extra_data", {}))
        for question in spec["spec"]:
            if question["required"]:
                assert question["variable"] in merged, "%s: %s unanswered" % (schedule["name"], question["variable"])
        assert re.match(r"DTSTART[:;].*RRULE:FREQ=WEEKLY", schedule["rrule"])


def test_workflow_pins_ranges_before_the_sliced_harden():
    workflow = load("workflow.yml")["workflow_job_templates"][0]
    nodes = {n["identifier"]: n for n in workflow["workflow_nodes"]}
    order, current = [], "fetch-ranges"
    while current:
        order.append(nodes[current]["unified_job_template"]["name"])
        following = nodes[current].get("related", {}).get("success_nodes", [])
        current = following[0]["identifier"] if following else None
    assert order == ["HES fetch ranges", "HES harden", "HES verify"]
    assert BY_NAME["HES harden"]["job_slice_count"] > 1
    with open(os.path.join(REPO, "playbooks", "fetch_ranges.yml"), encoding="utf-8") as handle:
        fetch = yaml.safe_load(handle)
    stats = [t["ansible.builtin.set_stats"] for t in fetch[0]["tasks"] if "ansible.builtin.set_stats" in t]
    assert "hes_ranges" in stats[0]["data"] and fetch[0]["hosts"] == "localhost"
    # Every vendor role takes the pinned list and lets it win over hes_site.
    for role in ("asa", "panos", "nftables"):
        with open(os.path.join(REPO, "roles", role, "meta", "argument_specs.yml"), encoding="utf-8") as handle:
            assert "hes_ranges" in yaml.safe_load(handle)["argument_specs"]["main"]["options"]


def test_credential_types_keep_secrets_out_of_extra_vars():
    for ctype in load("credential_types.yml")["credential_types"]:
        assert ctype["kind"] in ("cloud", "net")
        fields = {f["id"]: f for f in ctype["inputs"]["fields"]}
        assert set(ctype["inputs"].get("required", [])) <= set(fields)
        assert "extra_vars" not in ctype["injectors"]
        for value in ctype["injectors"]["env"].values():
            for used in re.findall(r"{{\s*(\w+)\s*}}", value):
                assert used in fields
    panos = next(c for c in load("credential_types.yml")["credential_types"] if "PAN-OS" in c["name"])
    env, extra = awx_model.render_injectors(panos, {"username": "u", "api_key": "k"})
    assert env == {"HES_PANOS_USERNAME": "u", "HES_PANOS_PASSWORD": "", "HES_PANOS_API_KEY": "k"} and extra == {}
    with open(os.path.join(AWX, "group_vars", "panos.yml"), encoding="utf-8") as handle:
        provider = yaml.safe_load(handle)["hes_panos_provider"]
    for variable in env:
        assert "lookup('ansible.builtin.env', '%s')" % variable in provider


def test_slices_are_round_robin_over_sorted_names_like_awx():
    inventory = {"asa": {"hosts": ["b", "d", "a"], "vars": {"x": 1}}, "panos": {"hosts": ["c", "e"]},
                 "_meta": {"hostvars": {h: {} for h in "abcde"}}}
    slices = [awx_model.slice_inventory(inventory, n, 2) for n in (1, 2)]
    assert [sorted(s["_meta"]["hostvars"]) for s in slices] == [["a", "c", "e"], ["b", "d"]]
    assert slices[0]["asa"] == {"hosts": ["a"], "vars": {"x": 1}} and slices[0]["panos"] == {"hosts": ["c", "e"]}
    assert "panos" not in slices[1] and slices[1]["asa"]["hosts"] == ["b", "d"]
