# SPDX-License-Identifier: Apache-2.0
"""Role task arguments rendered with Ansible's own templating, on the role's defaults and vars."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def render(role, expression=None, task=None, arg=None, **overrides):
    """Value of an expression (or of a task's argument) with the role's defaults and vars; raises
    RenderError with Ansible's message when templating fails."""
    request = {"expression": expression, "task": task, "arg": arg, "vars": overrides}
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "render_role.py"), role],
                          input=json.dumps(request), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=True)
    out = json.loads(proc.stdout)
    if "error" in out:
        raise RenderError(out["error"])
    return out["value"]


class RenderError(Exception):
    pass


def test_node_exporter_manages_its_textfile_directory_not_the_parent():
    """A Debian-style path must not make node_exporter take over /var/lib/prometheus (root 0755)."""
    dirs = render("node_exporter", task="Configure and run node_exporter", arg="directories",
                  node_exporter_textfile_dir="/var/lib/prometheus/node-exporter")
    paths = [d["path"] for d in dirs]
    assert "/var/lib/prometheus/node-exporter" in paths
    assert "/var/lib/prometheus" not in paths


def test_node_exporter_textfile_directory_can_be_turned_off():
    dirs = render("node_exporter", task="Configure and run node_exporter", arg="directories", node_exporter_textfile_dir="")
    assert [d["path"] for d in dirs] == ["/etc/node_exporter"]
    unit = render("node_exporter", "{{ node_exporter_unit | fleetwatch.observability.systemd_unit }}", node_exporter_textfile_dir="")
    assert "collector.textfile.directory" not in unit


@pytest.mark.parametrize("role,reloads", [("node_exporter", False), ("prometheus", True), ("alertmanager", True)])
def test_only_programs_that_reload_on_sighup_get_execreload(role, reloads):
    """systemctl reload node_exporter used to stop node_exporter for good (it exits on SIGHUP)."""
    overrides = {"groups": {"all": ["fw-test-1"], "alertmanager": []}} if role == "alertmanager" else {}
    unit = render(role, "{{ %s_unit | fleetwatch.observability.systemd_unit }}" % role, **overrides)
    assert ("ExecReload=/bin/kill -HUP $MAINPID" in unit) is reloads


@pytest.mark.parametrize("role,variable,value,message", [
    ("node_exporter", "node_exporter_listen_address", "0.0.0.0:91OO", "port must be 1-65535"),
    ("node_exporter", "node_exporter_listen_address", ["0.0.0.0:9100", "0.0.0.0:91OO"], "node_exporter_listen_address[1] on fw-test-1"),
    ("node_exporter", "node_exporter_listen_address", [], "is not host:port or a non-empty list"),
    ("node_exporter", "node_exporter_listen_address", {"a": "0.0.0.0:9100"}, "is not host:port or a non-empty list"),
    ("node_exporter", "node_exporter_listen_address", "fd18::3:9100", "needs brackets"),
    ("alertmanager", "alertmanager_listen_address", "0.0.0.0:9O93", "port must be 1-65535"),
    ("alertmanager", "alertmanager_data_retention", "5 days", "alertmanager_data_retention on fw-test-1"),
])
def test_bad_flag_values_never_reach_a_unit(role, variable, value, message):
    """The unit is rendered from checked values: a bad one fails naming the variable and the host."""
    overrides = {variable: value}
    if role == "alertmanager":
        overrides["groups"] = {"all": ["fw-test-1"], "alertmanager": []}
    with pytest.raises(RenderError) as err:
        render(role, "{{ %s_unit | fleetwatch.observability.systemd_unit }}" % role, **overrides)
    assert message in str(err.value)
    assert variable in str(err.value) and "fw-test-1" in str(err.value)


@pytest.mark.parametrize("role,variable,value,message", [
    ("postgres_exporter", "postgres_exporter_instances", [{"name": "main"}, {"name": "two", "listen_address": "0.0.0.0:91x7"}],
     "postgres_exporter_instances[1].listen_address on fw-test-1"),
    ("redis_exporter", "redis_exporter_listen_address", "0.0.0.0:912l", "redis_exporter_listen_address on fw-test-1"),
])
def test_bad_instance_addresses_name_the_variable_and_host(role, variable, value, message):
    with pytest.raises(RenderError) as err:
        render(role, "{{ %s_instance_list }}" % role, **{variable: value})
    assert message in str(err.value)


def test_bad_retention_never_reaches_the_prometheus_unit():
    with pytest.raises(RenderError) as err:
        render("prometheus", "{{ prometheus_unit | fleetwatch.observability.systemd_unit }}", prometheus_retention_time="-1d")
    assert "prometheus_retention_time on fw-test-1" in str(err.value)


def test_prometheus_lifecycle_api_is_off_by_default():
    unit = render("prometheus", "{{ prometheus_unit | fleetwatch.observability.systemd_unit }}")
    assert "--web.enable-lifecycle" not in unit
    assert "ExecReload=/bin/kill -HUP $MAINPID" in unit
    unit = render("prometheus", "{{ prometheus_unit | fleetwatch.observability.systemd_unit }}",
                  prometheus_web_enable_lifecycle=True)
    assert "--web.enable-lifecycle" in unit


def test_node_exporter_options_as_data_log_settings_and_telemetry_path():
    unit = render("node_exporter", "{{ node_exporter_unit | fleetwatch.observability.systemd_unit }}",
                  node_exporter_collector_options={"filesystem": {"mount-points-exclude": "^/(dev|proc)($|/)"},
                                                   "systemd": {"enable-restarts-metrics": True}},
                  node_exporter_log_level="debug", node_exporter_log_format="json",
                  node_exporter_telemetry_path="/node/metrics")
    assert '--collector.filesystem.mount-points-exclude="^/(dev|proc)($$|/)"' in unit
    assert "--collector.systemd.enable-restarts-metrics" in unit
    assert "--log.level=debug" in unit and "--log.format=json" in unit
    assert "--web.telemetry-path=/node/metrics" in unit
    default = render("node_exporter", "{{ node_exporter_unit | fleetwatch.observability.systemd_unit }}")
    assert "--web.telemetry-path" not in default and "--log.level=info" in default


@pytest.mark.parametrize("options,message", [
    ({"file system": {"x": 1}}, "invalid collector name"),
    ({"filesystem": "mount-points-exclude=x"}, "must be a mapping of option to value"),
    ({"filesystem": {"x": {"y": 1}}}, "cannot be a mapping"),
    (["filesystem"], "must be a mapping of collector"),
])
def test_bad_collector_options_name_the_variable(options, message):
    with pytest.raises(RenderError) as err:
        render("node_exporter", "{{ node_exporter_unit | fleetwatch.observability.systemd_unit }}",
               node_exporter_collector_options=options)
    assert message in str(err.value) and "node_exporter_collector_options" in str(err.value)
