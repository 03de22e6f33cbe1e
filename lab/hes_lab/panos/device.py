"""One emulated firewall: candidate and running configuration, the per-admin change journal
(what `check pending-changes`, partial commits and partial reverts work from), config and commit
locks, commit jobs, and the request dispatch for every API type.

Every public method runs under one lock: the API is served by many threads, but a firewall's
configuration database is changed one request at a time.
"""
import copy
import hashlib
import hmac
import os
import threading
import time
import uuid
import xml.etree.ElementTree as ET

from hes_lab.panos import config_tree as ct
from hes_lab.panos import opstate, policy_match, validate
from hes_lab.panos.config_tree import ApiError

WRITE_ACTIONS = ("set", "edit", "delete", "move", "rename", "multi-config")
SCHEMA_CHECKED_ACTIONS = ("set", "edit", "rename")
JOURNAL_ACTION_NAMES = {"set": " CREATE", "edit": " EDIT", "delete": " DELETE", "move": " MOVE", "rename": " RENAME"}
COMMIT_FAULT_DETAILS = ["Management server failed to send phase 1 to client sslmgr", "Commit failed"]


def timestamp(seconds=None):
    return time.strftime("%Y/%m/%d %H:%M:%S", time.localtime(seconds))


class Faults:
    """Faults a test switches on at start (command line) or live (POST /_lab/faults)."""

    def __init__(self, commit_fail=False, lock_by=None, drop_after=None, delay_ms=0):
        self.commit_fail = commit_fail
        self.lock_by = lock_by
        self.drop_after = drop_after
        self.delay_ms = delay_ms
        self.requests_since_drop_set = 0

    def as_dict(self):
        return {
            "commit_fail": self.commit_fail,
            "lock_by": self.lock_by,
            "drop_after": self.drop_after,
            "delay_ms": self.delay_ms,
        }


class Lock:
    def __init__(self, admin, comment):
        self.admin = admin
        self.comment = comment
        self.created = timestamp()


class Job:
    def __init__(self, job_id, user, description, admins, snapshot_seq, finish_at):
        self.id = job_id
        self.user = user
        self.description = description
        self.admins = admins  # None = every admin's changes
        self.snapshot_seq = snapshot_seq
        self.enqueued = time.time()
        self.finish_at = finish_at
        self.status = "ACT"
        self.result = "PEND"
        self.finished = None
        self.details = []
        self.candidate_snapshot = None


class Device:
    def __init__(self, config_xml, admins, identity=None, faults=None, commit_seconds=0.2):
        self.boot_xml = config_xml
        self.admins = dict(admins)
        self.identity = identity or opstate.Identity()
        self.faults = faults or Faults()
        self.commit_seconds = commit_seconds
        self.lock = threading.RLock()
        secret = os.urandom(16)
        self.keys = {self._key(secret, user, password): user for user, password in self.admins.items()}
        self.user_keys = {user: key for key, user in self.keys.items()}
        self.reset()

    @staticmethod
    def _key(secret, user, password):
        digest = hmac.new(secret, f"{user}\0{password}".encode(), hashlib.sha256).hexdigest()
        return "LUFRPT1" + digest[:48]

    def reset(self):
        with self.lock:
            root = ET.fromstring(self.boot_xml)
            ct.strip_dirty(root)
            self.running = root
            self.candidate = copy.deepcopy(root)
            self.journal = []
            self.full_commit_required = False
            self.seq = 0
            self.jobs = {}
            self.next_job_id = 1
            self.config_locks = {}
            self.commit_locks = {}
            self.apply_lock_fault(self.faults.lock_by)

    # ---- authentication -------------------------------------------------------------------
    def keygen(self, user, password):
        if user in self.admins and hmac.compare_digest(self.admins[user], password or ""):
            return self.user_keys[user]
        return None

    def user_for_key(self, key):
        return self.keys.get(key)

    # ---- faults ---------------------------------------------------------------------------
    def apply_lock_fault(self, admin):
        with self.lock:
            previous = self.faults.lock_by
            if previous and self.config_locks.get("shared") and self.config_locks["shared"].admin == previous:
                del self.config_locks["shared"]
            self.faults.lock_by = admin
            if admin:
                self.config_locks["shared"] = Lock(admin, "lab fault: configuration locked")

    def update_faults(self, changes):
        with self.lock:
            if "commit_fail" in changes:
                self.faults.commit_fail = bool(changes["commit_fail"])
            if "lock_by" in changes:
                self.apply_lock_fault(changes["lock_by"] or None)
            if "drop_after" in changes:
                value = changes["drop_after"]
                self.faults.drop_after = None if value is None else int(value)
                self.faults.requests_since_drop_set = 0
            if "delay_ms" in changes:
                self.faults.delay_ms = int(changes["delay_ms"] or 0)
            return self.faults.as_dict()

    def should_drop(self):
        """Count one API request; True when it must be dropped without an answer."""
        with self.lock:
            self.faults.requests_since_drop_set += 1
            limit = self.faults.drop_after
            return limit is not None and self.faults.requests_since_drop_set > limit

    # ---- journal / dirty markers ----------------------------------------------------------
    def _record(self, user, action, xpath, **extra):
        self.seq += 1
        entry = {"seq": self.seq, "admin": user, "action": action, "xpath": xpath, "time": timestamp()}
        entry.update(extra)
        self.journal.append(entry)
        return entry

    @staticmethod
    def _mark(elems, entry):
        for elem in elems:
            if elem is not None and elem.tag != "config":
                elem.set("admin", entry["admin"])
                elem.set("dirtyId", str(entry["seq"]))
                elem.set("time", entry["time"])

    def _other_config_lock(self, user):
        for lock in self.config_locks.values():
            if lock.admin != user:
                return lock
        return None

    def _check_config_lock(self, user):
        lock = self._other_config_lock(user)
        if lock is not None:
            raise ApiError(None, f"Configuration is locked by {lock.admin}")

    def _assign_rule_uuids(self, root):
        """PAN-OS 9.0+ gives every new rule a uuid; a rule replayed onto the running
        configuration by a partial commit keeps the one its candidate copy got."""
        known = {}
        if root is not self.candidate:
            for rulebase in self.candidate.iter("rulebase"):
                for kind in rulebase:
                    for entry in kind.findall("./rules/entry"):
                        known[(kind.tag, entry.get("name"))] = entry.get("uuid")
        for rulebase in root.iter("rulebase"):
            for kind in rulebase:
                for entry in kind.findall("./rules/entry"):
                    if "uuid" not in entry.attrib:
                        entry.set("uuid", known.get((kind.tag, entry.get("name"))) or str(uuid.uuid4()))

    def _apply(self, root, action, params):
        """Run one write on `root`; returns the elements to mark dirty."""
        xpath = params.get("xpath")
        if not xpath:
            raise ApiError(400, "Parameter \"xpath\" is required", http_status=400)
        if action == "set":
            touched = ct.config_set(root, xpath, params.get("element"))
        elif action == "edit":
            touched = [ct.config_edit(root, xpath, params.get("element"))]
        elif action == "delete":
            parents = ct.parent_map(root)
            doomed = [n for n in ct.select(root, xpath) if n.kind == "element"]
            if not doomed:
                raise ApiError(7, "Object doesn't exist", status="success")
            lines = ct.find_referrers(root, doomed, container_finder(parents))
            if lines:
                raise ApiError(10, *lines)
            removed = ct.config_delete(root, xpath)
            touched = [node.parent for node in removed]
        elif action == "move":
            ct.config_move(root, xpath, params.get("where"), params.get("dst"))
            touched = [n.elem for n in ct.select(root, xpath)]
        elif action == "rename":
            parents = ct.parent_map(root)
            node = [n for n in ct.select(root, xpath) if n.kind == "element"]
            old = ct.config_rename(root, xpath, params.get("newname"))
            kind_elem = parents.get(node[0].elem)
            container = container_finder(parents)(kind_elem) if kind_elem is not None else None
            if container is not None:
                scope = root if container.tag == "shared" else container
                ct.rename_references(scope, kind_elem.tag, old, params.get("newname"))
            touched = [node[0].elem]
        else:
            raise ApiError(400, f"Invalid action {action}", http_status=400)
        self._assign_rule_uuids(root)
        return touched

    def _write(self, user, action, params):
        """One journaled change to the candidate. A set, edit or rename whose result the schema
        refuses (code 12) leaves the candidate as it was."""
        if action in SCHEMA_CHECKED_ACTIONS:
            candidate = copy.deepcopy(self.candidate)
            touched = self._apply(candidate, action, params)
            refusal = validate.write_errors(candidate, touched)
            if refusal:
                raise ApiError(12, *refusal)
            self.candidate = candidate
        else:
            touched = self._apply(self.candidate, action, params)
        entry = self._record(
            user,
            action,
            params.get("xpath"),
            element=params.get("element"),
            where=params.get("where"),
            dst=params.get("dst"),
            newname=params.get("newname"),
        )
        self._mark(touched, entry)

    def _replay(self, root, entries, mark):
        for entry in entries:
            try:
                touched = self._apply(root, entry["action"], entry)
            except ApiError:
                continue
            if mark:
                self._mark(touched, entry)

    # ---- type=config ----------------------------------------------------------------------
    def config(self, user, params):
        action = params.get("action")
        with self.lock:
            self._advance_jobs()
            if action in ("get", "show"):
                return self._read(action, params.get("xpath") or "/config")
            if action == "multi-config":
                self._check_config_lock(user)
                return self._multi_config(user, params.get("element"))
            if action in WRITE_ACTIONS:
                self._check_config_lock(user)
                self._write(user, action, params)
                return success(code=20, msg="command succeeded")
            raise ApiError(400, f"Invalid action {action}" if action else 'Parameter "action" is required', http_status=400)

    def _read(self, action, xpath):
        root = self.candidate if action == "get" else self.running
        nodes = ct.select(root, xpath)
        if not nodes:
            if action == "show":
                raise ApiError(None, "No such node")
            return success(result=ET.Element("result"), code=7)
        children = ct.result_children(nodes)
        result = ET.Element("result", {"total-count": str(len(children)), "count": str(len(children))})
        for child in children:
            result.append(child)
        return success(result=result, code=19)

    def _multi_config(self, user, element_text):
        fragment = ct.parse_fragment(element_text)
        request = fragment[0]
        if request.tag != "multi-configure-request":
            raise ApiError(18, "Malformed Request")
        saved_candidate, saved_journal, saved_seq = copy.deepcopy(self.candidate), list(self.journal), self.seq
        answers = []
        for op in request:
            params = dict(op.attrib)
            if op.tag in ("set", "edit"):
                params["element"] = "".join(ET.tostring(child, encoding="unicode") for child in op)
            op_id = {"id": params["id"]} if "id" in params else {}
            try:
                self._check_config_lock(user)
                self._write(user, op.tag, params)
                answers.append(("success", "20", op_id, ["command succeeded"]))
            except ApiError as exc:
                if exc.status == "success":
                    answers.append(("success", str(exc.code), op_id, exc.lines))
                    continue
                answers.append(("error", "12" if exc.code in (None, 6, 7, 8, 12, 18) else str(exc.code), op_id, exc.lines))
                self.candidate, self.journal, self.seq = saved_candidate, saved_journal, saved_seq
                return multi_response("error", "13", answers)
        return multi_response("success", "20", answers)

    # ---- type=commit ----------------------------------------------------------------------
    def commit(self, user, cmd_text):
        with self.lock:
            self._advance_jobs()
            cmd = parse_cmd(cmd_text) if cmd_text else ET.Element("commit")
            if cmd.tag != "commit":
                raise ApiError(17, f" {cmd.tag}  is unexpected")
            self._check_config_lock(user)
            for lock in self.commit_locks.values():
                if lock.admin != user:
                    raise ApiError(14, "Other administrators are holding device wide commit locks.")
            admins = None
            partial = cmd.find("partial")
            if partial is not None and partial.find("admin") is not None:
                admins = [(m.text or "").strip() for m in partial.find("admin").findall("member")]
            force = cmd.find("force") is not None
            entries = [e for e in self.journal if admins is None or e["admin"] in admins]
            if not entries and not force:
                return success(code=19, msg="There are no changes to commit.", msg_in_result=False)
            job_id = self.next_job_id
            self.next_job_id += 1
            last_finish = max((j.finish_at for j in self.jobs.values() if j.status != "FIN"), default=time.time())
            job = Job(
                job_id,
                user,
                cmd.findtext("description") or "",
                admins,
                self.seq,
                max(time.time(), last_finish) + self.commit_seconds,
            )
            if admins is None:
                job.candidate_snapshot = ct.clean_copy(self.candidate)
            self.jobs[job_id] = job
            result = ET.Element("result")
            msg = ET.SubElement(result, "msg")
            ET.SubElement(msg, "line").text = f"Commit job enqueued with jobid {job_id}"
            ET.SubElement(result, "job").text = str(job_id)
            return success(result=result, code=19)

    def _advance_jobs(self):
        now = time.time()
        for job in sorted(self.jobs.values(), key=lambda j: j.id):
            if job.status == "FIN" or job.finish_at > now:
                continue
            self._finish(job)

    def _finish(self, job):
        if job.admins is None:
            new_running = job.candidate_snapshot
            committed = [e for e in self.journal if e["seq"] <= job.snapshot_seq]
        else:
            committed = [e for e in self.journal if e["seq"] <= job.snapshot_seq and e["admin"] in job.admins]
            new_running = copy.deepcopy(self.running)
            self._replay(new_running, committed, mark=False)
            ct.strip_dirty(new_running)
        problems = validate.validate(new_running)
        job.status, job.finished = "FIN", time.time()
        if self.faults.commit_fail:
            job.result, job.details = "FAIL", list(COMMIT_FAULT_DETAILS)
        elif problems:
            job.result, job.details = "FAIL", problems
        else:
            job.result, job.details = "OK", ["Configuration committed successfully"]
            if job.admins is None:
                self.full_commit_required = False
            self.running = new_running
            committed_seqs = {e["seq"] for e in committed}
            self.journal = [e for e in self.journal if e["seq"] not in committed_seqs]
            for elem in self.candidate.iter():
                dirty = elem.get("dirtyId")
                if dirty is not None and int(dirty) in committed_seqs:
                    ct.strip_dirty_node(elem)
        job.candidate_snapshot = None

    # ---- type=op --------------------------------------------------------------------------
    def op(self, user, cmd_text, vsys=None):
        cmd = parse_cmd(cmd_text)
        path = command_path(cmd)
        with self.lock:
            self._advance_jobs()
            handler = OP_HANDLERS.get(tuple(path[:3])) or OP_HANDLERS.get(tuple(path[:2]))
            if handler is None:
                raise ApiError(17, " " + " -> ".join(path[:3]) + "  is unexpected")
            return handler(self, user, cmd, vsys)

    def _op_system_info(self, user, cmd, vsys):
        return success(result=opstate.system_info(self.running, self.identity))

    def _op_full_commit_required(self, user, cmd, vsys):
        """`yes` after a configuration load until the next full commit; ordinary edits never
        need one."""
        result = ET.Element("result")
        result.text = "yes" if self.full_commit_required else "no"
        return success(result=result)

    def _op_high_availability(self, user, cmd, vsys):
        return success(result=opstate.high_availability(self.running))

    def _op_session(self, user, cmd, vsys):
        which = command_path(cmd)[2:3]
        if which == ["info"]:
            return success(result=opstate.session_info(self.identity))
        if which == ["meter"]:
            return success(result=opstate.session_meter(self.running))
        raise ApiError(17, " show -> session -> " + " -> ".join(which) + "  is unexpected")

    def _op_routing_route(self, user, cmd, vsys):
        return success(result=opstate.routing_route(self.running))

    def _op_show_jobs(self, user, cmd, vsys):
        job_id = cmd.findtext("./jobs/id")
        result = ET.Element("result")
        if job_id is not None:
            job = self.jobs.get(int(job_id)) if job_id.strip().isdigit() else None
            if job is None:
                raise ApiError(7, f"job {job_id.strip()} not found")
            result.append(job_element(job))
        else:
            for job in sorted(self.jobs.values(), key=lambda j: -j.id):
                result.append(job_element(job))
        return success(result=result)

    def _op_pending(self, user, cmd, vsys):
        result = ET.Element("result")
        result.text = "yes" if self.journal else "no"
        return success(result=result)

    def _op_list(self, user, cmd, vsys):
        what = command_path(cmd)[3:4]
        partial = cmd.find(".//partial/admin")
        wanted = None if partial is None else {(m.text or "").strip() for m in partial.findall("member")}
        entries = [e for e in self.journal if wanted is None or e["admin"] in wanted]
        result = ET.Element("result")
        if what == ["admins"]:
            if entries:
                admins = ET.SubElement(result, "admins")
                for name in dict.fromkeys(e["admin"] for e in entries):
                    ET.SubElement(admins, "member").text = name
            return success(result=result)
        if what == ["changes"]:
            if entries:
                journal = ET.SubElement(result, "journal")
                for entry in entries:
                    item = ET.SubElement(journal, "entry")
                    ET.SubElement(item, "xpath").text = entry["xpath"]
                    ET.SubElement(item, "owner").text = entry["admin"]
                    ET.SubElement(item, "action").text = JOURNAL_ACTION_NAMES.get(entry["action"], entry["action"])
                    ET.SubElement(item, "admin-history").text = entry["admin"]
                    ET.SubElement(item, "component-type").text = component_type(entry["xpath"])
            return success(result=result)
        raise ApiError(17, " show -> config -> list -> " + " -> ".join(what) + "  is unexpected")

    def _op_show_config(self, user, cmd, vsys):
        which = command_path(cmd)[2:3]
        result = ET.Element("result")
        if which == ["running"]:
            result.append(copy.deepcopy(self.running))
        elif which == ["candidate"]:
            result.append(copy.deepcopy(self.candidate))
        else:
            raise ApiError(17, " show -> config -> " + " -> ".join(which) + "  is unexpected")
        return success(result=result)

    def _op_policy_match(self, user, cmd, vsys):
        try:
            query = policy_match.parse_query(cmd.find("security-policy-match"))
        except policy_match.QueryError as exc:
            raise ApiError(17, str(exc)) from None
        matches = policy_match.evaluate(self.running, query, vsys or "vsys1")
        return success(result=policy_match.result_element(matches), cmd_status=True)

    def _scope(self, vsys):
        return vsys or "shared"

    def _op_config_lock(self, user, cmd, vsys):
        scope = self._scope(vsys)
        body = cmd.find("config-lock")
        verb = body[0].tag if len(body) else ""
        current = self.config_locks.get(scope)
        if verb == "add":
            if current is not None:
                if current.admin == user:
                    raise ApiError(None, f"You already own a config lock for scope {scope}")
                raise ApiError(None, f"Config for scope {scope} is currently locked by {current.admin}")
            self.config_locks[scope] = Lock(user, body[0].findtext("comment"))
            return success(
                text="Successfully acquired lock. Other administrators will not be able to modify configuration "
                f"for scope {scope} until lock is released by {user}."
            )
        if verb == "remove":
            named = body[0].findtext("admin")
            if current is None or (named and current.admin != named):
                raise ApiError(None, f"Config is not currently locked for scope {scope}")
            if current.admin != user and not named:
                raise ApiError(None, f"Config for scope {scope} is currently locked by {current.admin}")
            del self.config_locks[scope]
            return success(text=f"Config lock released for scope {scope}")
        raise ApiError(17, f" request -> config-lock -> {verb}  is unexpected")

    def _op_commit_lock(self, user, cmd, vsys):
        scope = self._scope(vsys)
        body = cmd.find("commit-lock")
        verb = body[0].tag if len(body) else ""
        current = self.commit_locks.get(scope)
        if verb == "add":
            if current is not None:
                raise ApiError(None, f"Commit lock is already held by {current.admin}")
            self.commit_locks[scope] = Lock(user, body[0].findtext("comment"))
            return success(
                text="Successfully acquired lock. Other administrators will not be able to commit configuration "
                f"until lock is released by {user}."
            )
        if verb == "remove":
            named = body[0].findtext("admin") or user
            if current is None or current.admin != named:
                raise ApiError(None, f"Commit lock is not currently held by {named}")
            del self.commit_locks[scope]
            return success(text=f"Commit lock released for {named}")
        raise ApiError(17, f" request -> commit-lock -> {verb}  is unexpected")

    def _op_show_locks(self, user, cmd, vsys):
        kind = command_path(cmd)[1]
        locks = self.config_locks if kind == "config-locks" else self.commit_locks
        result = ET.Element("result")
        holder = ET.SubElement(result, kind)
        for scope, lock in locks.items():
            entry = ET.SubElement(holder, "entry", {"name": lock.admin})
            ET.SubElement(entry, "type").text = "shared" if scope == "shared" else "vsys"
            ET.SubElement(entry, "name").text = scope
            ET.SubElement(entry, "created").text = lock.created
            ET.SubElement(entry, "last-activity").text = lock.created
            ET.SubElement(entry, "loggedin").text = "yes"
            ET.SubElement(entry, "comment").text = lock.comment or "(null)"
        return success(result=result)

    def _op_revert(self, user, cmd, vsys):
        self._check_config_lock(user)
        partial = cmd.find("./config/partial/admin")
        if partial is None:
            reverted = self.journal
            kept = []
        else:
            names = {(m.text or "").strip() for m in partial.findall("member")}
            reverted = [e for e in self.journal if e["admin"] in names]
            kept = [e for e in self.journal if e["admin"] not in names]
        if not reverted:
            return success(result=msg_result("There are no changes to revert."))
        self._rebuild_candidate(kept)
        return success(result=msg_result("All changes were reverted from configuration"))

    def _op_load(self, user, cmd, vsys):
        source = (cmd.findtext("./config/from") or "").strip()
        if source != "running-config.xml":
            raise ApiError(17, f"{source} does not exist")
        self._check_config_lock(user)
        self._rebuild_candidate([])
        self.full_commit_required = True
        return success(result=msg_result(f"Config loaded from {source}"))

    def _rebuild_candidate(self, entries):
        candidate = copy.deepcopy(self.running)
        self._replay(candidate, entries, mark=True)
        self.candidate = candidate
        self.journal = list(entries)

    def _op_ack(self, user, cmd, vsys):
        return success(result=ET.Element("result"))

    def _op_clock(self, user, cmd, vsys):
        result = ET.Element("result")
        result.text = time.strftime("%a %b %d %H:%M:%S %Z %Y")
        return success(result=result)

    # ---- type=version ---------------------------------------------------------------------
    def version(self):
        result = ET.Element("result")
        identity = self.identity
        for tag, value in (("sw-version", identity.sw_version), ("multi-vsys", "off"), ("model", identity.model),
                           ("serial", identity.serial)):
            ET.SubElement(result, tag).text = value
        return success(result=result)

    # ---- lab views ------------------------------------------------------------------------
    def dump(self, which):
        with self.lock:
            self._advance_jobs()
            root = self.running if which == "running" else self.candidate
            return ET.tostring(ct.clean_copy(root), encoding="unicode")


OP_HANDLERS = {
    ("show", "system", "info"): Device._op_system_info,
    ("show", "jobs"): Device._op_show_jobs,
    ("check", "pending-changes"): Device._op_pending,
    ("show", "config", "list"): Device._op_list,
    ("show", "config", "running"): Device._op_show_config,
    ("show", "config", "candidate"): Device._op_show_config,
    ("test", "security-policy-match"): Device._op_policy_match,
    ("request", "config-lock"): Device._op_config_lock,
    ("request", "commit-lock"): Device._op_commit_lock,
    ("show", "config-locks"): Device._op_show_locks,
    ("show", "commit-locks"): Device._op_show_locks,
    ("revert", "config"): Device._op_revert,
    ("load", "config"): Device._op_load,
    ("set", "audit-comment"): Device._op_ack,
    ("show", "clock"): Device._op_clock,
    ("check", "full-commit-required"): Device._op_full_commit_required,
    ("show", "high-availability", "all"): Device._op_high_availability,
    ("show", "session"): Device._op_session,
    ("show", "routing", "route"): Device._op_routing_route,
}


def container_finder(parents):
    """A function giving, for an object container such as <address>, the vsys entry or <shared>
    element holding it (None elsewhere)."""

    def container_of(kind_elem):
        holder = parents.get(kind_elem)
        if holder is None:
            return None
        if holder.tag == "shared":
            return holder
        grand = parents.get(holder)
        return holder if holder.tag == "entry" and grand is not None and grand.tag == "vsys" else None

    return container_of


def component_type(xpath):
    if "/vsys/" in xpath:
        return "vsys"
    if xpath.startswith("/config/shared"):
        return "shared-object"
    return "device-and-network"


def parse_cmd(text):
    try:
        return ET.fromstring(text.strip())
    except (ET.ParseError, AttributeError):
        raise ApiError(18, "Malformed Request") from None


def command_path(cmd):
    """Tags along the first-child chain: <show><system><info/></system></show> → show system info."""
    path, node = [cmd.tag], cmd
    while len(node):
        node = node[0]
        path.append(node.tag)
    return path


def msg_result(text):
    result = ET.Element("result")
    msg = ET.SubElement(result, "msg")
    ET.SubElement(msg, "line").text = text
    return result


def success(result=None, code=None, msg=None, text=None, msg_in_result=False, cmd_status=False):
    attrs = {"status": "success"}
    if cmd_status:
        attrs = {"cmd": "status", "status": "success"}
    if code is not None:
        attrs["code"] = str(code)
    response = ET.Element("response", attrs)
    if result is not None:
        response.append(result)
    if msg is not None:
        ET.SubElement(response, "msg").text = msg
    if text is not None:
        ET.SubElement(response, "result").text = text
    return ET.tostring(response, encoding="unicode")


def error_response(exc):
    attrs = {"status": exc.status}
    if exc.code is not None and exc.http_status == 200:
        attrs["code"] = str(exc.code)
    response = ET.Element("response", attrs)
    if exc.http_status != 200:
        return (
            f"<response status = 'error' code = '{exc.http_status}'><result><msg>"
            f"{_escape(exc.lines[0])}</msg></result></response>"
        )
    if exc.status == "success" and len(exc.lines) == 1:
        ET.SubElement(response, "msg").text = exc.lines[0]
    else:
        msg = ET.SubElement(response, "msg")
        for line in exc.lines:
            ET.SubElement(msg, "line").text = line
    return ET.tostring(response, encoding="unicode")


def _escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def multi_response(status, code, answers):
    outer = ET.Element("response", {"status": status, "code": code})
    for child_status, child_code, extra, lines in answers:
        child = ET.SubElement(outer, "response", {"status": child_status, "code": child_code, **extra})
        msg = ET.SubElement(child, "msg")
        if child_status == "success":
            msg.text = lines[0] if lines else ""
        else:
            for line in lines:
                ET.SubElement(msg, "line").text = line
    return ET.tostring(outer, encoding="unicode")


def job_element(job):
    elem = ET.Element("job")
    fin = job.status == "FIN"
    fields = (
        ("tenq", timestamp(job.enqueued)),
        ("tdeq", time.strftime("%H:%M:%S", time.localtime(job.enqueued))),
        ("id", str(job.id)),
        ("user", job.user),
        ("type", "Commit"),
        ("status", job.status),
        ("queued", "NO"),
        ("stoppable", "no" if fin else "yes"),
        ("result", job.result),
        ("tfin", timestamp(job.finished) if fin else "Still Active"),
        ("description", job.description),
        ("positionInQ", "0"),
        ("progress", "100" if fin else "55"),
    )
    for tag, value in fields:
        ET.SubElement(elem, tag).text = value
    details = ET.SubElement(elem, "details")
    for line in job.details:
        ET.SubElement(details, "line").text = line
    ET.SubElement(elem, "warnings")
    return elem
