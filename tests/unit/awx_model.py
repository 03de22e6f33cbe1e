"""What AWX does between "launch" and ansible-runner, re-implemented from the AWX source so that
tests can run our job templates the way a controller would, without a controller.

Each function names the AWX code it follows (ansible/awx, devel):
- survey validation and defaults: awx/main/models/mixins.py, SurveyJobTemplateMixin
  (_survey_element_validation, _update_unified_job_kwargs) and the spec checks of
  awx/api/views/__init__.py JobTemplateSurveySpec._validate_spec_data;
- slicing: awx/main/models/inventory.py Inventory.get_script_data (hosts ordered by name,
  `hosts[slice_number - 1::slice_count]`, groups keep only the slice's hosts);
- the private data dir: awx/main/tasks/jobs.py BaseTask/RunJob (build_inventory writes an
  executable script printing the JSON inventory, build_args -> env/cmdline, build_extra_vars_file
  -> env/extravars, passwords answer the prompts of get_password_prompts);
- custom credential injection: awx/main/models/credential/__init__.py
  CredentialType.inject_credential (sandboxed Jinja on the inputs; env injectors into the job's
  environment, extra_vars injectors into a private file passed as `-e @file`).
"""
import json
import os
import shlex
import stat
import tempfile

import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment

ALLOWED_TYPES = {"text": str, "textarea": str, "password": str, "multiplechoice": str,
                 "multiselect": str, "integer": int, "float": float}


def choice_list(element):
    choices = element["choices"]
    if isinstance(choices, str):
        return [c for c in choices.splitlines() if c.strip() != ""]
    return list(choices)


def spec_errors(survey):
    """The controller's refusals when the survey spec is POSTed (JobTemplateSurveySpec)."""
    errors = []
    for field, kind in (("name", str), ("description", str), ("spec", list)):
        if not isinstance(survey.get(field), kind):
            errors.append("field %r missing or not a %s" % (field, kind.__name__))
    if errors:
        return errors
    if not survey["spec"]:
        errors.append("'spec' doesn't contain any items.")
    seen = set()
    for idx, item in enumerate(survey["spec"]):
        missing = [key for key in ("type", "question_name", "variable", "required") if key not in item]
        if missing:
            errors.append("question %d: %s missing" % (idx, ", ".join(missing)))
            continue
        if not isinstance(item["required"], bool):
            errors.append("question %d: 'required' expected to be boolean" % idx)
        if item["variable"] in seen:
            errors.append("'variable' %r duplicated in survey question %d" % (item["variable"], idx))
        seen.add(item["variable"])
        qtype = item["type"]
        if qtype not in ALLOWED_TYPES:
            errors.append("question %d: type %r is not allowed" % (idx, qtype))
            continue
        if "default" in item and item["default"] != "" and not isinstance(item["default"], ALLOWED_TYPES[qtype]):
            errors.append("Default value %r in survey question %d expected to be %s" % (item["default"], idx, qtype))
        for key in ("min", "max"):
            if key in item and item[key] is not None and not isinstance(item[key], int):
                errors.append("The %s limit in survey question %d expected to be integer." % (key, idx))
        if qtype in ("multiselect", "multiplechoice"):
            if "choices" not in item:
                errors.append("Survey question %d of type %s must specify choices." % (idx, qtype))
                continue
            if "default" in item:
                defaults = item["default"].splitlines() if isinstance(item["default"], str) else item["default"]
                if qtype == "multiplechoice" and len(defaults) > 1:
                    errors.append("Multiple Choice (Single Select) can only have one default value.")
                if any(d not in choice_list(item) for d in defaults):
                    errors.append("question %d: Default choice must be answered from the choices listed." % idx)
    return errors


def element_errors(element, data):
    """SurveyJobTemplateMixin._survey_element_validation: an answer checked against its question."""
    var, qtype = element["variable"], element["type"]
    if var not in data:
        return ["'%s' value missing" % var] if element["required"] else []
    value = data[var]
    errors = []
    if qtype in ("text", "textarea", "password"):
        if not isinstance(value, str):
            return ["Value %s for '%s' expected to be a string." % (value, var)]
        if element.get("min") not in ("", None) and len(value) < int(element["min"]):
            errors.append("'%s' value %s is too small" % (var, value))
        if element.get("max") not in ("", None) and len(value) > int(element["max"]):
            errors.append("'%s' value %s is too large" % (var, value))
    elif qtype == "integer":
        if isinstance(value, bool) or not isinstance(value, int):  # AWX refuses bool here too
            return ["Value %s for '%s' expected to be an integer." % (value, var)]
        if element.get("min") not in ("", None) and value < int(element["min"]):
            errors.append("'%s' value %s is too small" % (var, value))
        if element.get("max") not in ("", None) and value > int(element["max"]):
            errors.append("'%s' value %s is too large" % (var, value))
    elif qtype == "float":
        if type(value) not in (float, int):
            return ["Value %s for '%s' expected to be a numeric type." % (value, var)]
    elif qtype == "multiselect":
        if not isinstance(value, list):
            return ["'%s' value is expected to be a list." % var]
        errors += ["Value %s for '%s' expected to be one of %s." % (v, var, choice_list(element))
                   for v in value if v not in choice_list(element)]
    elif qtype == "multiplechoice":
        if value not in choice_list(element):
            errors.append("Value %s for '%s' expected to be one of %s." % (value, var, choice_list(element)))
    return errors


def ui_answers(survey):
    """What the launch form submits when the user accepts every pre-filled default: the UI
    turns a multiselect's text default into a list and leaves empty optional answers out."""
    answers = {}
    for element in survey["spec"]:
        if "default" not in element or element["default"] in ("", None):
            continue
        default = element["default"]
        answers[element["variable"]] = default.splitlines() if element["type"] == "multiselect" else default
    return answers


def launch_extra_vars(template_extra_vars, survey, runtime_extra_vars):
    """SurveyJobTemplateMixin._update_unified_job_kwargs: the template's extra vars, overwritten
    by every survey default that passes its own question's validation, then by the launch's
    answers. A bad answer, or a required question left without an answer or applicable default,
    refuses the launch (variables_needed_to_start)."""
    extra_vars = dict(template_extra_vars or {})
    survey_defaults = {}
    for element in survey["spec"]:
        default = element.get("default")
        if default is not None and not element_errors(element, {element["variable"]: default}):
            survey_defaults[element["variable"]] = default
    extra_vars.update(survey_defaults)
    extra_vars.update(runtime_extra_vars)
    answered = dict(survey_defaults, **runtime_extra_vars)
    errors = [e for element in survey["spec"] for e in element_errors(element, answered)]
    if errors:
        raise ValueError("variables_needed_to_start: %s" % "; ".join(errors))
    return extra_vars


def slice_inventory(inventory, slice_number, slice_count):
    """Inventory.get_script_data for one slice: hosts sorted by name, every slice_count-th host
    from slice_number - 1; each group keeps only the hosts of the slice, and its vars."""
    hostvars = inventory["_meta"]["hostvars"]
    names = sorted(hostvars)
    if slice_count > 1:
        names = names[slice_number - 1::slice_count]
    chosen = set(names)
    data = {"all": {"vars": dict(inventory.get("all", {}).get("vars", {}))}}
    grouped = set()
    for group, body in inventory.items():
        if group in ("_meta", "all"):
            continue
        info = {}
        hosts = [h for h in body.get("hosts", []) if h in chosen]
        if hosts:
            info["hosts"] = hosts
            grouped.update(hosts)
        if body.get("vars"):
            info["vars"] = body["vars"]
        if info:
            data[group] = info
    data["all"]["hosts"] = [h for h in names if h not in grouped]
    data["all"]["children"] = [g for g in inventory if g not in ("_meta", "all")]
    data["_meta"] = {"hostvars": {h: hostvars[h] for h in names}}
    return data


def render_injectors(credential_type, inputs):
    """CredentialType.inject_credential for a custom type: (env, extra_vars) rendered from the
    credential's inputs with AWX's sandboxed Jinja; a missing input renders as empty text."""
    sandbox = ImmutableSandboxedEnvironment()
    namespace = {field["id"]: inputs[field["id"]] for field in credential_type["inputs"]["fields"]
                 if field["id"] in inputs}
    missing = [r for r in credential_type["inputs"].get("required", []) if r not in inputs]
    if missing:
        raise ValueError("credential inputs missing: %s" % ", ".join(missing))

    def render(node):
        if isinstance(node, dict):
            return {render(k): render(v) for k, v in node.items()}
        if isinstance(node, list):
            return [render(v) for v in node]
        return sandbox.from_string(node).render(**namespace)

    injectors = credential_type.get("injectors", {})
    return render(injectors.get("env", {})), render(injectors.get("extra_vars", {}))


def secret_inputs(credential_type, inputs):
    return [inputs[f["id"]] for f in credential_type["inputs"]["fields"] if f.get("secret") and inputs.get(f["id"])]


def job_args(template, machine=None, limit=None):
    """RunJob.build_args for our templates: check, user, prompts for the passwords, become, diff."""
    args = []
    if template.get("job_type") == "check":
        args.append("--check")
    args += ["-u", (machine or {}).get("username") or "root"]
    if machine and machine.get("password"):
        args.append("--ask-pass")
    if template.get("become_enabled"):
        args.append("--become")
    if template.get("diff_mode"):
        args.append("--diff")
    if machine and machine.get("become_method"):
        args += ["--become-method", machine["become_method"]]
    if machine and machine.get("become_password"):
        args.append("--ask-become-pass")
    if limit:
        args += ["-l", limit]
    return args


def job_passwords(machine):
    """RunJob.get_password_prompts mapped to the machine credential's secrets (prompt -> answer)."""
    passwords = {}
    if machine and machine.get("password"):
        passwords[r"SSH password:\s*?$"] = machine["password"]
    if machine and machine.get("become_password"):
        passwords[r"BECOME password.*:\s*?$"] = machine["become_password"]
    return passwords


def write_private_data_dir(path, project_dir, inventory, extra_vars, args, cred_extra_vars=None):
    """BaseTask.build_private_data_dir + build_inventory + build_extra_vars_file + write_args_file;
    the environment, settings and passwords go to ansible-runner as parameters, as AWX does."""
    for sub in ("inventory", "env"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    os.symlink(project_dir, os.path.join(path, "project"))
    hosts = os.path.join(path, "inventory", "hosts")
    with open(hosts, "w", encoding="utf-8") as handle:
        handle.write("#! /usr/bin/env python3\n# -*- coding: utf-8 -*-\nprint(%r)\n" % json.dumps(inventory))
    os.chmod(hosts, stat.S_IRUSR | stat.S_IXUSR | stat.S_IWUSR)
    with open(os.path.join(path, "env", "extravars"), "w", encoding="utf-8") as handle:
        handle.write(yaml.safe_dump(extra_vars))
    args = list(args)
    if cred_extra_vars:
        handle, cred_file = tempfile.mkstemp(dir=os.path.join(path, "env"))
        with os.fdopen(handle, "w") as out:
            out.write(yaml.safe_dump(cred_extra_vars))
        os.chmod(cred_file, stat.S_IRUSR)
        args += ["-e", "@%s" % cred_file]
    with open(os.path.join(path, "env", "cmdline"), "w", encoding="utf-8") as handle:
        handle.write(shlex.join(args))
    return hosts
