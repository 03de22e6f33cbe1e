"""The state directory every role defaults to (plugins/lookup/state_dir.py and
plugins/plugin_utils/files.default_state_dir): never derived from where the playbook lives."""
import pytest
from ansible.errors import AnsibleLookupError
from ansible.plugins.loader import lookup_loader

from ansible_collections.emailsec.hes.plugins.plugin_utils.files import default_state_dir


@pytest.mark.parametrize("environ, expected", [
    ({"EMAILSEC_HES_STATE_DIR": "/srv/hes", "XDG_STATE_HOME": "/x", "HOME": "/home/u"}, "/srv/hes"),
    ({"XDG_STATE_HOME": "/var/state", "HOME": "/home/u"}, "/var/state/emailsec-hes"),
    ({"HOME": "/home/u"}, "/home/u/.local/state/emailsec-hes"),
    ({"EMAILSEC_HES_STATE_DIR": "", "XDG_STATE_HOME": "", "HOME": "/home/u"}, "/home/u/.local/state/emailsec-hes"),
    ({"EMAILSEC_HES_STATE_DIR": "/srv/hes/../hes2/", "HOME": "/home/u"}, "/srv/hes2"),
])
def test_the_first_variable_set_wins_and_the_path_is_absolute(environ, expected):
    assert default_state_dir(environ) == expected


def test_a_relative_choice_is_made_absolute_against_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert default_state_dir({"EMAILSEC_HES_STATE_DIR": "state", "HOME": "/home/u"}) == str(tmp_path / "state")


@pytest.mark.parametrize("variable", ["EMAILSEC_HES_STATE_DIR", "XDG_STATE_HOME", "HOME"])
def test_a_path_with_a_control_character_is_refused_naming_the_variable(variable):
    environ = {"HOME": "/home/u", variable: "/srv/hes\nrm -rf"}
    with pytest.raises(ValueError, match=variable):
        default_state_dir(environ)


def test_the_lookup_returns_one_path_and_takes_no_terms(monkeypatch, tmp_path):
    monkeypatch.setenv("EMAILSEC_HES_STATE_DIR", str(tmp_path / "state"))
    lookup = lookup_loader.get("emailsec.hes.state_dir")
    assert lookup.run([], variables={}) == [str(tmp_path / "state")]
    with pytest.raises(AnsibleLookupError, match="takes no terms"):
        lookup.run(["somewhere"], variables={})
    monkeypatch.setenv("EMAILSEC_HES_STATE_DIR", "/srv/\x07hes")
    with pytest.raises(AnsibleLookupError, match="EMAILSEC_HES_STATE_DIR"):
        lookup.run([], variables={})
