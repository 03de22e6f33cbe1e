"""The lookup and filters inside a real ansible-playbook run."""
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_lookup_in_playbook():
    playbook = os.path.join(REPO, "tests", "integration", "lookup", "lookup.yml")
    result = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", playbook],
        cwd=REPO, check=False, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg")),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed=0" in result.stdout and "ok=8" in result.stdout and "ignored=1" in result.stdout, result.stdout
