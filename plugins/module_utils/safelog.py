# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0
"""AnsibleModule whose invocation log (syslog/journal on the host) never holds nested secrets.

AnsibleModule logs "Invoked with ..." for every call. A no_log suboption (a password inside a list
of dicts, a secret file's content) is only masked there when its value appears verbatim in the
str() of the whole list; Python escapes quotes, backslashes and line breaks in that text, so a
secret with any of them (every multi-line file, a password with a quote) was written to the
journal in clear. This class replaces every no_log value, at any depth, before that log line.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import AnsibleModule

HIDDEN = "NOT_LOGGING_PARAMETER"


def sanitize(spec, params):
    """A copy of params with the value of every no_log option (at any depth of options) hidden."""
    if not isinstance(params, dict):
        return params
    out = {}
    for key, value in params.items():
        opts = (spec or {}).get(key) or {}
        if opts.get("no_log"):
            out[key] = HIDDEN
        elif opts.get("options") and isinstance(value, list):
            out[key] = [sanitize(opts["options"], v) for v in value]
        elif opts.get("options") and isinstance(value, dict):
            out[key] = sanitize(opts["options"], value)
        else:
            out[key] = value
    return out


class SafeLogModule(AnsibleModule):
    def _log_invocation(self):
        params = self.params
        self.params = sanitize(self.argument_spec, params)
        try:
            super(SafeLogModule, self)._log_invocation()
        finally:
            self.params = params
