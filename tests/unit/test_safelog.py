# SPDX-License-Identifier: Apache-2.0
"""module_utils/safelog.py: no nested secret in the module's invocation log (journal/syslog)."""
import json

import pytest

from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.fleetwatch.observability.plugins.module_utils import safelog

SECRET = "pw Zq-\"q\"$d\\b'x"
SPEC = dict(
    users=dict(type="list", elements="dict", options=dict(name=dict(type="str"), password=dict(type="str", no_log=True))),
    secret_files=dict(type="list", elements="dict", options=dict(path=dict(type="path"), content=dict(type="str", no_log=True))),
    one=dict(type="dict", options=dict(token=dict(type="str", no_log=True), plain=dict(type="str"))),
    name=dict(type="str"),
)
PARAMS = {"users": [{"name": "u", "password": SECRET}],
          "secret_files": [{"path": "/etc/x.env", "content": "A=\"%s\"\nB=2\n" % SECRET}],
          "one": {"token": SECRET, "plain": "visible"}, "name": "n"}


def test_sanitize_hides_no_log_values_at_any_depth():
    out = safelog.sanitize(SPEC, PARAMS)
    assert SECRET not in repr(out)
    assert out["users"] == [{"name": "u", "password": safelog.HIDDEN}]
    assert out["secret_files"][0] == {"path": "/etc/x.env", "content": safelog.HIDDEN}
    assert out["one"] == {"token": safelog.HIDDEN, "plain": "visible"}
    assert PARAMS["users"][0]["password"] == SECRET  # the original is untouched


@pytest.mark.parametrize("params", [None, "text", {"unknown": SECRET}])
def test_sanitize_odd_input(params):
    assert safelog.sanitize(SPEC, params) == params


def _logged(monkeypatch, cls):
    logged = []
    monkeypatch.setattr(basic, "_ANSIBLE_ARGS", to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": dict(PARAMS)})))
    monkeypatch.setattr(basic, "_ANSIBLE_PROFILE", "legacy")
    monkeypatch.setattr(basic.AnsibleModule, "log", lambda self, msg, log_args=None: logged.append(msg))
    module = cls(argument_spec=SPEC)
    return module, " ".join(logged)


def test_plain_ansible_module_leaks_the_nested_secret(monkeypatch):
    """The reason for safelog: AnsibleModule's own log line holds the secret (escaped by repr)."""
    _result, text = _logged(monkeypatch, basic.AnsibleModule)
    assert "Zq-" in text


def test_safe_module_logs_no_secret_and_keeps_params(monkeypatch):
    module, text = _logged(monkeypatch, safelog.SafeLogModule)
    assert "Invoked with" in text and "Zq-" not in text and "visible" in text
    assert module.params["users"][0]["password"] == SECRET
