"""The lookup and filters inside a real ansible-playbook run."""
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_playbook(name):
    playbook = os.path.join(REPO, "tests", "integration", "lookup", name)
    return subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
         "-e", "ansible_python_interpreter=%s" % sys.executable, playbook],
        cwd=REPO, check=False, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg")),
    )


def test_lookup_in_playbook():
    result = run_playbook("lookup.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed=0" in result.stdout and "ok=8" in result.stdout and "ignored=1" in result.stdout, result.stdout


def test_module_given_ranges_directly_runs_the_same_guard():
    result = run_playbook("module_guard.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed=0" in result.stdout and "ignored=4" in result.stdout, result.stdout
