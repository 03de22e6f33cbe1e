"""The in-task ASA CLI session (emailsec.hes.asa_cli) on a scripted channel: an answer is complete
only when this device's own prompt ends it, however the bytes arrive; errors are cisco.asa's;
answers are cleaned like network_cli's."""
import socket

import pytest

from ansible_collections.emailsec.hes.plugins.plugin_utils.asa_shell import AsaCliError, AsaShell

BANNER = b"Type help or '?' for a list of available commands.\r\nfw-1> "


class Channel:
    """Answers each line sent with the next scripted reply, cut into chunks of ``size`` bytes."""

    def __init__(self, replies, size=65536, first=BANNER):
        self.replies = list(replies)
        self.pending = [first[i:i + size] for i in range(0, len(first), size)]
        self.size = size
        self.sent = []
        self.timeout = None

    def sendall(self, data):
        self.sent.append(data)
        reply = self.replies.pop(0)
        self.pending += [reply[i:i + self.size] for i in range(0, len(reply), self.size)]

    def settimeout(self, seconds):
        self.timeout = seconds

    def recv(self, size):
        if not self.pending:
            raise socket.timeout()
        return self.pending.pop(0)

    def close(self):
        pass


def opened(replies, size=65536):
    channel = Channel([b"enable\r\nPassword: ", b"********\r\nfw-1# ", b"no terminal pager\r\nfw-1# "]
                      + replies, size=size)
    return AsaShell(channel, command_timeout=1).open(become=True, become_pass="pw"), channel


@pytest.mark.parametrize("size", [1, 3, 256, 65536])
def test_an_answer_is_whole_however_it_is_cut(size):
    answer = (b"show running-config\r\n: Saved\r\nhostname fw-1\r\naccess-list a remark see ticket#\r\n"
              b"access-list a remark other-fw# \r\n: end\r\nfw-1# ")
    shell, channel = opened([answer], size=size)
    assert shell.get("show running-config") == (": Saved\nhostname fw-1\naccess-list a remark see ticket#\n"
                                                "access-list a remark other-fw# \n: end")
    assert channel.sent[:3] == [b"enable\r", b"pw\r", b"no terminal pager\r"]


def test_configuration_mode_prompts_end_answers_too():
    shell, channel = opened([b"configure terminal\r\nfw-1(config)# ",
                             b"object-group network G\r\nfw-1(config-network-object-group)# ",
                             b"end\r\nfw-1# "])
    shell.edit_config(["object-group network G"])
    assert shell.prompt == b"fw-1#"
    assert channel.sent[-3:] == [b"configure terminal\r", b"object-group network G\r", b"end\r"]


def test_a_refused_line_stops_the_session_leaves_configuration_mode_and_names_the_error():
    shell, channel = opened([b"configure terminal\r\nfw-1(config)# ",
                             b"no access-list x\r\n          ^\r\nERROR: % Invalid input detected at '^' marker.\r\n"
                             b"fw-1(config)# ",
                             b"end\r\nfw-1# "])
    with pytest.raises(AsaCliError, match="ERROR: % Invalid input detected"):
        shell.edit_config(["no access-list x", "never sent"])
    assert channel.sent[-1] == b"end\r" and b"never sent\r" not in channel.sent


def test_a_missing_prompt_is_a_timeout_not_a_short_answer():
    shell, channel = opened([b"show running-config\r\n: Saved\r\nhostname fw-1\r\n"])
    with pytest.raises(AsaCliError, match=r"timeout \(1 s\) waiting for the prompt after show running-config"):
        shell.get("show running-config")


def test_a_wrong_enable_password_is_refused():
    channel = Channel([b"enable\r\nPassword: ", b"********\r\nPassword: "])
    with pytest.raises(AsaCliError, match="unable to elevate privilege to enable mode"):
        AsaShell(channel, command_timeout=1).open(become=True, become_pass="wrong")


def test_a_closed_session_is_an_error():
    shell, channel = opened([b""])
    channel.pending = [b""]
    with pytest.raises(AsaCliError, match="closed the session"):
        shell.get("write mem")


def test_a_command_on_two_lines_is_refused_before_anything_is_sent():
    shell, channel = opened([])
    sent = len(channel.sent)
    with pytest.raises(AsaCliError, match="spans lines"):
        shell.get("show run\rwrite erase")
    assert len(channel.sent) == sent
