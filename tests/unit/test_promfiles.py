# SPDX-License-Identifier: Apache-2.0
"""plugins/plugin_utils/_promfiles.py: static targets and controller files for the prometheus role, with bad
inputs (wrong types, names that would escape the directory, IPv6 targets, label values that are not
strings, two sources for one file, YAML that does not parse)."""
import json

import pytest
from ansible_collections.fleetwatch.observability.plugins.plugin_utils import _promfiles as promfiles


def test_static_targets_files_and_jobs():
    out = promfiles.static_targets({"win": [{"targets": ["[fd18::5]:9182"], "labels": {"dc": 1, "ok": True}}],
                                    "bb.ext": {"targets": ["probe:9115"]}}, "/etc/p/file_sd/", "prometheus", "mon1")
    assert [f["path"] for f in out["files"]] == ["/etc/p/file_sd/bb.ext.json", "/etc/p/file_sd/win.json"]
    assert json.loads(out["files"][1]["content"]) == [{"targets": ["[fd18::5]:9182"], "labels": {"dc": "1", "ok": "true"}}]
    assert out["files"][1]["origin"] == "prometheus_static_targets.win"
    assert (out["files"][0]["group"], out["files"][0]["mode"]) == ("prometheus", "0640")
    assert out["scrape_configs"] == [{"job_name": "bb.ext", "file_sd_configs": [{"files": ["/etc/p/file_sd/bb.ext.json"]}]},
                                     {"job_name": "win", "file_sd_configs": [{"files": ["/etc/p/file_sd/win.json"]}]}]
    assert promfiles.static_targets(None, "/d", "g") == {"files": [], "scrape_configs": []}


@pytest.mark.parametrize("jobs,message", [
    (["a"], "prometheus_static_targets on mon1: expected a mapping of job name to target groups, not list"),
    ({"../x": []}, "'../x' is not a usable job name"),
    ({".hidden": []}, "'.hidden' is not a usable job name"),
    ({"a/b": []}, "'a/b' is not a usable job name"),
    ({"node": [{"targets": ["a:1"]}]}, "prometheus_static_targets.node on mon1: job node is already a job of the inventory"),
    ({"w": [{"targets": []}]}, "prometheus_static_targets.w[0] on mon1: targets must be a non-empty list"),
    ({"w": [{"targets": [1]}]}, "prometheus_static_targets.w[0] on mon1: 1 is not a target"),
    ({"w": [{"targets": ["a:1\n"]}]}, "is not a target"),
    ({"w": [{"targets": ["a:1"], "labels": ["x"]}]}, "labels must be a mapping"),
    ({"w": [{"targets": ["a:1"], "labels": {"1x": "y"}}]}, "'1x' is not a label name"),
    ({"w": [{"targets": ["a:1"], "labels": {"x": None}}]}, "label x must have a string value"),
    ({"w": [{"targets": ["a:1"], "labels": {"x": {"y": 1}}}]}, "label x must have a string value"),
    ({"w": ["a:1"]}, "prometheus_static_targets.w[0] on mon1: a target group is a mapping"),
])
def test_bad_static_targets(jobs, message):
    with pytest.raises(promfiles.UserFileError) as caught:
        promfiles.static_targets(jobs, "/d", "g", "mon1", taken=["node"])
    assert message in str(caught.value)


def test_controller_file_sd_yaml_becomes_json():
    out = promfiles.controller_files([["/src/a.yaml", "- targets: ['h:1']\n  labels: {x: '$y'}\n"],
                                      ["/src/b.json", '[{"targets": ["[::1]:2"]}]'], ["/src/empty.yml", ""]],
                                     "/etc/p/file_sd", "file_sd", "prometheus", "mon1")
    assert [f["path"] for f in out] == ["/etc/p/file_sd/a.json", "/etc/p/file_sd/b.json", "/etc/p/file_sd/empty.json"]
    assert json.loads(out[0]["content"]) == [{"targets": ["h:1"], "labels": {"x": "$y"}}]
    assert json.loads(out[2]["content"]) == []
    assert out[0]["origin"] == "prometheus_static_targets_files (/src/a.yaml)"


def test_controller_scrape_config_kept_as_written():
    text = "scrape_configs:\n  - job_name: x  # comment kept\n    basic_auth: {username: u, password: \"p'$\"}\n"
    (entry,) = promfiles.controller_files([["/src/x.yaml", text]], "/etc/p/scrape_configs/", "scrape_config", "prometheus")
    assert entry["path"] == "/etc/p/scrape_configs/x.yml" and entry["content"] == text
    (entry,) = promfiles.controller_files([["/src/y.yml", "scrape_configs: []"]], "/d", "scrape_config", "g")
    assert entry["content"] == "scrape_configs: []\n"


@pytest.mark.parametrize("sources,kind,message", [
    ([["/a/x.yml", "[]"], ["/b/x.json", "[]"]], "file_sd", "/a/x.yml and /b/x.json would both be written as x.json"),
    ([["/a/x.txt", "[]"]], "file_sd", "prometheus_static_targets_files on mon1: /a/x.txt is neither .yml, .yaml nor .json"),
    ([["/a/.x.yml", "[]"]], "file_sd", "the file name must be"),
    ([["/a/x.yml", "- targets: [a:1\n"]], "file_sd", "/a/x.yml is not valid YAML or JSON"),
    ([["/a/x.yml", "- targets: a:1\n"]], "file_sd", "prometheus_static_targets_files[0] on mon1 in /a/x.yml: targets must be"),
    ([["/a/x.yml", "{targets: [a:1], extra: 1}"]], "file_sd", "unknown key(s) extra"),
    ([["/a/x.yml", "job_name: x"]], "scrape_config", "prometheus_scrape_config_files on mon1: /a/x.yml must be a mapping with a scrape_configs list"),
    ([["/a/x.yml", "scrape_configs: {}"]], "scrape_config", "must be a mapping with a scrape_configs list"),
    ([["/a/x.yml", "scrape_configs: []\nrule_files: []"]], "scrape_config", "not rule_files"),
    (["/a/x.yml"], "scrape_config", "expected [path, content] pairs"),
])
def test_bad_controller_files(sources, kind, message):
    with pytest.raises(promfiles.UserFileError) as caught:
        promfiles.controller_files(sources, "/d", kind, "g", "mon1")
    assert message in str(caught.value)


def test_unknown_kind():
    with pytest.raises(promfiles.UserFileError):
        promfiles.controller_files([], "/d", "rules", "g")
