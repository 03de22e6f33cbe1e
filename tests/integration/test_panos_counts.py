"""What reaches each PAN-OS firewall, pinned request by request: check mode, a first harden, the
idempotent re-run and verify, with a password and with an API key. Every run is one TLS connection
per firewall, a keygen only when no API key is given, and the edits one multi-config request, so
that a later change cannot add a round trip, a handshake or a write without failing here."""
import os

from hes_lab.panos.log import read_log
# lab is a pytest fixture, imported to be requested by name.
from test_panos_role import PLAYBOOKS, lab, playbook  # noqa: F401 pylint: disable=unused-import

VERIFY = os.path.join(PLAYBOOKS, "verify.yml")
GET = [("config", "get")]
CHECKS = [("op", "<show><config><list><admins></admins></list></config></show>"),
          ("op", "<show><config-locks></config-locks></show>")]


def kinds(records):
    return [(r["type"], r["action"] if r["type"] == "config" else r["cmd"]) for r in records]


def test_one_connection_one_keygen_one_write_per_run(lab):  # noqa: F811
    fw = lab()
    for provider, keygen in ((fw.provider(), [("keygen", None)]),
                             (fw.provider(password=None, api_key=fw.firewall().api_key), [])):
        fw.lab("/_lab/reset", {})
        inventory = fw.inventory(hes_panos_provider=provider, hes_verify_report_dir=str(fw.tmp / "reports"))
        seen = len(read_log(fw.log))

        def run(name, *args):
            nonlocal seen
            playbook(name, inventory, *args)
            records = read_log(fw.log)[seen:]
            seen += len(records)
            assert len({r["connection"] for r in records}) == 1, records
            assert all(r["status"] == "success" for r in records), records
            return records

        sent = run("harden_panos.yml", "--check")
        assert kinds(sent) == keygen + GET + CHECKS

        sent = run("harden_panos.yml")
        assert kinds(sent)[:len(keygen) + 4] == keygen + GET + CHECKS + [("config", "multi-config")]
        commit, polls = sent[len(keygen) + 4], sent[len(keygen) + 5:]
        assert commit["type"] == "commit" and "<partial><admin>" in commit["cmd"]
        assert polls and all(r["cmd"].startswith("<show><jobs><id>") for r in polls)

        assert kinds(run("harden_panos.yml")) == keygen + GET

        sent = run(VERIFY)
        assert kinds(sent)[:len(keygen) + 1] == keygen + [("config", "show")]
        probes = sent[len(keygen) + 1:]
        # Each range's edges and every other port, from the untrust zone to the mail server's.
        assert len(probes) == 14 and all(r["cmd"].startswith("<test><security-policy-match>") for r in probes)
