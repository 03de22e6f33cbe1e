# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: asa_cli
short_description: Cisco ASA CLI over SSH inside the task, without a persistent-connection process
description:
  - The opt-in transport of the roles M(emailsec.hes.asa) and M(emailsec.hes.verify) for Cisco
    ASA (C(hes_asa_transport=ssh)); the default is C(ansible.netcommon.network_cli).
  - Opens its own SSH session with Ansible's paramiko connection (the same host key checking,
    keys and timeouts as network_cli with C(ansible_network_cli_ssh_type=paramiko)), logs in,
    C(enable)s with the become password, disables paging and then sends one command at a time,
    in the task's own process. There is no C(ansible-connection) process per host, and no wait
    after a prompt; an answer is complete when the device's own prompt (its hostname, a mode in
    brackets, C(>) or C(#)) ends the output.
  - Commands fail on the same patterns as cisco.asa's terminal plugin; answers are cleaned like
    network_cli's (no echo, no prompt line). Only the tasks of this collection use it; the
    session closes at the end of each task.
  - Not supported here, unlike network_cli, are libssh, C(terminal_initial_prompt) answers
    (banners asking for a key press), and file transfer.
author: emailsec.hes maintainers (@emailsec)
version_added: 1.1.0
requirements:
  - paramiko
options:
  host:
    description: Address of the ASA.
    type: string
    default: inventory_hostname
    vars:
      - name: inventory_hostname
      - name: ansible_host
  port:
    description: SSH port.
    type: int
    default: 22
    ini:
      - section: defaults
        key: remote_port
    env:
      - name: ANSIBLE_REMOTE_PORT
    vars:
      - name: ansible_port
  remote_user:
    description: User to log in as (C(-u) on the command line).
    type: string
    ini:
      - section: defaults
        key: remote_user
    env:
      - name: ANSIBLE_REMOTE_USER
    vars:
      - name: ansible_user
  password:
    description: Login password (C(--ask-pass), or an AWX machine credential).
    type: string
    vars:
      - name: ansible_password
      - name: ansible_ssh_pass
      - name: ansible_ssh_password
  private_key_file:
    description: Private key for the login.
    type: string
    ini:
      - section: defaults
        key: private_key_file
    env:
      - name: ANSIBLE_PRIVATE_KEY_FILE
    vars:
      - name: ansible_private_key_file
  host_key_checking:
    description: Check the device's host key against the known_hosts files.
    type: boolean
    default: true
    env:
      - name: ANSIBLE_HOST_KEY_CHECKING
      - name: ANSIBLE_SSH_HOST_KEY_CHECKING
    ini:
      - section: defaults
        key: host_key_checking
      - section: persistent_connection
        key: host_key_checking
    vars:
      - name: ansible_host_key_checking
      - name: ansible_ssh_host_key_checking
  host_key_auto_add:
    description: Add unknown host keys to the known_hosts file instead of refusing them.
    type: boolean
    default: false
    ini:
      - section: paramiko_connection
        key: host_key_auto_add
    env:
      - name: ANSIBLE_HOST_KEY_AUTO_ADD
  persistent_command_timeout:
    description:
      - Seconds to wait for the prompt after a command (the same setting as network_cli's).
    type: int
    default: 30
    ini:
      - section: persistent_connection
        key: command_timeout
    env:
      - name: ANSIBLE_PERSISTENT_COMMAND_TIMEOUT
    vars:
      - name: ansible_command_timeout
"""

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.plugins.connection import ConnectionBase
from ansible.plugins.loader import connection_loader

from ansible_collections.emailsec.hes.plugins.plugin_utils.asa_shell import AsaCliError, AsaShell


class Connection(ConnectionBase):
    """The ASA CLI on a paramiko channel, in the task's process."""

    transport = "emailsec.hes.asa_cli"
    has_pipelining = False

    def __init__(self, play_context, new_stdin, *args, **kwargs):
        super(Connection, self).__init__(play_context, new_stdin, *args, **kwargs)
        # Ansible's paramiko connection does the SSH part (keys, host keys, timeouts), as it
        # does for network_cli.
        self._ssh = connection_loader.get("paramiko", play_context, "/dev/null")
        self._cli = None

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super(Connection, self).set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        self._ssh.set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        explicit = any(options and "look_for_keys" in options for options in (task_keys, var_options, direct))
        if not explicit and self.get_option("password") and not self.get_option("private_key_file"):
            self._ssh.set_option("look_for_keys", False)

    def _connect(self):
        if self._cli is not None:
            return self
        try:
            client = self._ssh._connect().ssh
            channel = client.invoke_shell(width=511)
            self._cli = AsaShell(channel, self.get_option("persistent_command_timeout")).open(
                become=self.become is not None, become_pass=self._become_pass())
        except AsaCliError as exc:
            self.close()
            raise AnsibleConnectionFailure("%s: %s" % (self._play_context.remote_addr, exc))
        self._connected = True
        return self

    def _become_pass(self):
        """The enable password, templated, from the become plugin (ansible.netcommon.enable)."""
        try:
            return self.become.get_option("become_pass") if self.become is not None else None
        except KeyError:
            return None

    def _session(self):
        self._connect()
        return self._cli

    def get(self, command):
        """One command's answer; AnsibleConnectionFailure with the device's error."""
        return self._call(self._session().get, command)

    def run_commands(self, commands, check_rc=True):
        return self._call(self._session().run_commands, commands, check_rc)

    def edit_config(self, candidate):
        return self._call(self._session().edit_config, candidate)

    @staticmethod
    def _call(method, *args):
        try:
            return method(*args)
        except AsaCliError as exc:
            raise AnsibleConnectionFailure(str(exc))

    def exec_command(self, cmd, in_data=None, sudoable=True):
        super(Connection, self).exec_command(cmd, in_data=in_data, sudoable=sudoable)
        try:
            return 0, self.get(cmd).encode("utf-8"), b""
        except AnsibleConnectionFailure as exc:
            return 1, b"", str(exc).encode("utf-8")

    def put_file(self, in_path, out_path):
        raise AnsibleError("emailsec.hes.asa_cli does not transfer files")

    def fetch_file(self, in_path, out_path):
        raise AnsibleError("emailsec.hes.asa_cli does not transfer files")

    def close(self):
        if self._cli is not None:
            self._cli.close()
            self._cli = None
        if self._ssh is not None and getattr(self._ssh, "ssh", None) is not None:
            self._ssh.close()
        self._connected = False
