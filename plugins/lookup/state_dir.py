# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: state_dir
author: emailsec.hes maintainers (@emailsec)
version_added: "0.1.0"
short_description: The controller directory where emailsec.hes keeps backups and reports
description:
  - Returns the default of every role's C(hes_state_dir), the one place backups
    (C(<state dir>/backups)) and verify reports (C(<state dir>/reports)) live, however the playbook
    was started (by FQCN, from a project's own playbook, in AWX).
  - C($EMAILSEC_HES_STATE_DIR) when set, else C($XDG_STATE_HOME/emailsec-hes), else
    C(~/.local/state/emailsec-hes) of the user running C(ansible-playbook); made absolute.
  - Never a folder inside the installed collection, which C(ansible-galaxy collection install --force)
    replaces.
  - Takes no terms. A path with control characters fails the lookup, naming the variable.
options: {}
notes:
  - Setting C(hes_state_dir) in the inventory overrides this default for every role.
  - What lives in the directory, and in which format, is described in the collection's docs/state.md.
"""

EXAMPLES = r"""
- name: Show where backups and reports go
  ansible.builtin.debug:
    msg: "{{ lookup('emailsec.hes.state_dir') }}"
"""

RETURN = r"""
_raw:
  description: One absolute path.
  type: list
  elements: path
"""

import os

from ansible.errors import AnsibleLookupError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.lookup import LookupBase
from ansible_collections.emailsec.hes.plugins.plugin_utils.files import default_state_dir


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        if terms:
            raise AnsibleLookupError("emailsec.hes.state_dir takes no terms, got %r" % (terms,))
        self.set_options(var_options=variables, direct=kwargs)
        try:
            return [default_state_dir(os.environ)]
        except ValueError as exc:
            raise AnsibleLookupError("emailsec.hes.state_dir: %s" % to_native(exc))
