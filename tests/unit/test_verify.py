# SPDX-License-Identifier: Apache-2.0
"""module_utils/verify.py, the verify_plan/verify_report filters and the verify_checks module: the
plan from an inventory (groups, listen addresses, IPv6, route prefixes, TLS, basic auth,
multi-instance exporters, components without a role that start when their group has hosts, bad
settings as a failing check), each check against a local HTTP server standing in for Prometheus'
and Alertmanager's APIs (answers of the shape the real ones give, passing and failing), waiting,
the JUnit XML (parsed), the summary and the metrics (written through textfile_metrics' code)."""
import base64
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlparse

import pytest

from ansible_collections.fleetwatch.observability.plugins.filter import verify_plan as vfilter
from ansible_collections.fleetwatch.observability.plugins.module_utils import serviceapply as sa
from ansible_collections.fleetwatch.observability.plugins.module_utils import textfile as tf
from ansible_collections.fleetwatch.observability.plugins.module_utils import verify as vf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import localhttp  # noqa: E402  pylint: disable=wrong-import-position
import rulebundle  # noqa: E402  pylint: disable=wrong-import-position
import targetsdata  # noqa: E402  pylint: disable=wrong-import-position

ROOT = rulebundle.ROOT
SECRET = "pw 'x\" $HOME"

GROUPS = {
    "all": ["mon1", "am2", "app1", "db1"],
    "node_exporter": ["mon1", "am2", "app1", "db1"],
    "prometheus": ["mon1"],
    "alertmanager": ["mon1", "am2"],
    "postgres_exporter": ["db1"],
    "redis_exporter": ["db1"],
    "loki": [],
    "tempo": [],
}
HOSTVARS = {
    "mon1": {"prometheus_basic_auth_users": {"admin": SECRET, "prometheus": "scrape"},
             "prometheus_external_url": "https://mon1.example.com/prom/",
             "prometheus_tls_cert_file": "/etc/prometheus/tls/cert.pem", "prometheus_tls_key_file": "/etc/prometheus/tls/key.pem"},
    "am2": {"node_exporter_listen_address": "[::]:9100"},
    "app1": {"node_exporter_listen_address": "10.0.0.5:9200"},
    "db1": {"postgres_exporter_instances": [{"name": "main"}, {"name": "second", "listen_address": ":9188"}]},
}


def plan(host, groups=None, hostvars=None, **kwargs):
    groups = groups or GROUPS
    names = [g for g, members in groups.items() if host in members and g != "all"]
    return vf.plan(host, names, groups, hostvars or HOSTVARS, **kwargs)


def names(specs):
    return [(s["host"], s["component"], s["check"]) for s in specs]


# --- plan ------------------------------------------------------------------------------------------

def test_plan_of_a_monitoring_host():
    specs = plan("mon1")
    assert names(specs) == [
        ("mon1", "node_exporter", "service"), ("mon1", "node_exporter", "ready"),
        ("mon1", "alertmanager", "service"), ("mon1", "alertmanager", "ready"), ("mon1", "alertmanager", "cluster"),
        ("mon1", "alertmanager", "watchdog"),
        ("mon1", "prometheus", "service"), ("mon1", "prometheus", "ready"), ("mon1", "prometheus", "targets"),
        ("mon1", "prometheus", "rules"),
        ("db1", "postgres_exporter", "pg_up via mon1"), ("db1", "redis_exporter", "redis_up via mon1")]
    by = dict(((s["component"], s["check"]), s) for s in specs)
    prom = by[("prometheus", "ready")]
    assert prom["control"]["url"] == "https://127.0.0.1:9090/prom" and prom["path"] == "/-/ready"
    assert (prom["control"]["username"], prom["control"]["password"]) == ("admin", SECRET)
    assert by[("alertmanager", "ready")]["control"]["url"] == "http://127.0.0.1:9093"
    assert by[("alertmanager", "cluster")]["expected_peers"] == 2
    assert by[("alertmanager", "watchdog")]["alertname"] == "Watchdog"
    assert by[("node_exporter", "service")]["units"] == ["node_exporter.service"]
    expected = by[("prometheus", "targets")]["expected_targets"]
    assert expected["node_exporter"] == [{"instance": h} for h in ["am2", "app1", "db1", "mon1"]]
    assert expected["postgres_exporter"] == [{"instance": "db1", "instance_name": "main"},
                                             {"instance": "db1", "instance_name": "second"}]
    assert expected["prometheus"] == [{"instance": "mon1"}] and expected["alertmanager"] == [{"instance": "am2"}, {"instance": "mon1"}]
    assert by[("postgres_exporter", "pg_up via mon1")]["expected"] == expected["postgres_exporter"]
    assert by[("postgres_exporter", "pg_up via mon1")]["metric"] == "pg_up"


def test_plan_of_a_prometheus_agent_has_no_query_checks():
    hostvars = json.loads(json.dumps(HOSTVARS))
    hostvars["mon1"]["prometheus_agent_mode"] = True
    prom = [s["check"] for s in plan("mon1", hostvars=hostvars) if s["component"] == "prometheus"]
    assert prom == ["service", "ready", "targets"]
    assert not [s for s in plan("mon1", hostvars=hostvars) if s["kind"] == "exporter_up"]
    hostvars["mon1"]["prometheus_agent_mode"] = "false"
    assert [s["check"] for s in plan("mon1", hostvars=hostvars) if s["component"] == "prometheus"][-1] == "rules"


def test_plan_addresses_ipv6_and_multi_instance():
    am2 = plan("am2")
    assert [s["control"]["url"] for s in am2 if s["check"] == "ready"] == ["http://[::1]:9100", "http://127.0.0.1:9093"]
    assert [s["control"]["url"] for s in plan("app1") if s["check"] == "ready"] == ["http://10.0.0.5:9200"]
    db1 = plan("db1")
    assert names(db1) == [("db1", "node_exporter", "service"), ("db1", "node_exporter", "ready"),
                          ("db1", "postgres_exporter", "service"), ("db1", "postgres_exporter", "ready main"),
                          ("db1", "postgres_exporter", "ready second"),
                          ("db1", "redis_exporter", "service"), ("db1", "redis_exporter", "ready main")]
    assert db1[2]["units"] == ["postgres_exporter.service", "postgres_exporter-second.service"]
    assert [s["control"]["url"] for s in db1 if s["component"] == "postgres_exporter" and s["kind"] == "ready"] == [
        "http://127.0.0.1:9187", "http://127.0.0.1:9188"]


def test_components_without_a_role_start_when_their_group_has_hosts():
    groups = dict(GROUPS, tempo=["app1"], grafana=["app1"], loki=["app1"])
    assert names(plan("app1", groups)) == [
        ("app1", "node_exporter", "service"), ("app1", "node_exporter", "ready"),
        ("app1", "loki", "service"), ("app1", "loki", "ready"), ("app1", "tempo", "service"), ("app1", "tempo", "ready"),
        ("app1", "grafana", "service"), ("app1", "grafana", "ready")]
    paths = dict((s["component"], s["control"]["url"] + s["path"]) for s in plan("app1", groups) if s["kind"] == "ready")
    assert paths == {"node_exporter": "http://10.0.0.5:9200/", "loki": "http://127.0.0.1:3100/ready",
                     "tempo": "http://127.0.0.1:3200/ready", "grafana": "http://127.0.0.1:3000/api/health"}
    assert names(plan("app1", groups, components=["tempo"])) == [("app1", "tempo", "service"), ("app1", "tempo", "ready")]


def test_bad_settings_become_a_failing_check_naming_them():
    hostvars = dict(HOSTVARS, app1={"node_exporter_listen_address": "nonsense", "node_exporter_basic_auth_users": {"u": "x"}})
    specs = plan("app1", hostvars=hostvars)
    assert names(specs) == [("app1", "node_exporter", "settings")]
    assert specs[0]["kind"] == "error" and "node_exporter_listen_address" in specs[0]["reason"]
    bcrypt = "$2b$12$" + "a" * 53
    specs = plan("app1", hostvars=dict(HOSTVARS, app1={"node_exporter_basic_auth_users": {"u": bcrypt}}))
    assert specs[0]["kind"] == "error" and "is a bcrypt hash" in specs[0]["reason"]
    # Prometheus cannot scrape a target listening on loopback: its expectation names the host and variable
    specs = plan("mon1", hostvars=dict(HOSTVARS, app1={"node_exporter_listen_address": "127.0.0.1:9100"}))
    assert ("mon1", "prometheus", "settings") in names(specs)
    assert "node_exporter_listen_address on app1" in [s for s in specs if s["kind"] == "error"][0]["reason"]


@pytest.mark.parametrize("args,message", [
    (("mon1", "prometheus", GROUPS, HOSTVARS), "groups must be a list"),
    (("mon1", ["prometheus"], GROUPS, HOSTVARS, ""), "Watchdog alert's name"),
    (("mon1", ["prometheus"], GROUPS, HOSTVARS, "Watchdog", ["mysql"]), "mysql cannot be verified"),
])
def test_plan_refuses_bad_arguments(args, message):
    with pytest.raises(vf.VerifyError, match=message):
        vf.plan(*args)


def test_the_filter_names_the_host():
    with pytest.raises(Exception, match="verify_plan on mon1: .*mysql"):
        vfilter.verify_plan("mon1", ["prometheus"], GROUPS, HOSTVARS, "Watchdog", ["mysql"])
    assert vfilter.verify_plan("app1", ["node_exporter"], GROUPS, HOSTVARS)[0]["check"] == "service"


def test_the_watchdog_name_is_the_bundles_always_firing_alert(tmp_path):
    files = rulebundle.render_all(str(tmp_path))
    always = [rule["alert"] for _f, rule in rulebundle.alerts(files) if rule["expr"].strip() == "vector(1)"]
    assert always == [vf.WATCHDOG]
    with open(os.path.join(ROOT, "playbooks", "verify.yml")) as handle:
        assert "fleetwatch_verify_watchdog_alert | default('%s')" % vf.WATCHDOG in handle.read()


# --- a stand-in for the APIs (answers shaped as Prometheus 2.53 / Alertmanager 0.28 give them) -----

STATE = {}


def rules_answer(error=None, unknown=False):
    rule = {"name": "Watchdog", "query": "vector(1)", "health": "unknown" if unknown else "ok", "lastError": "", "type": "alerting"}
    broken = {"name": "PgDown", "query": "pg_up == 0", "health": "err" if error else "ok", "lastError": error or "", "type": "alerting"}
    return {"status": "success", "data": {"groups": [{"name": "fleetwatch-targets", "file": "/etc/prometheus/rules/targets.yml",
                                                      "rules": [rule, broken], "interval": 30}]}}


def query_answer(metric, samples):
    return {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": dict({"__name__": metric}, **labels), "value": [1764090000.1, str(value)]} for labels, value in samples]}}


class Handler(localhttp.QuietHandler):
    def do_GET(self):
        want = "Basic " + base64.b64encode(("admin:" + SECRET).encode()).decode()
        if self.headers.get("Authorization") != want:
            self.reply(401, b"Unauthorized")
            return
        url = urlparse(self.path)
        if not url.path.startswith("/prom/"):
            self.reply(404, b"404 page not found")
            return
        path = url.path[len("/prom"):]
        STATE.setdefault("seen", []).append(path + ("?" + url.query if url.query else ""))
        if path == "/-/ready":
            self.reply(STATE.get("ready", 200), b"Ready.")
            return
        if path == "/api/v1/query":
            query = parse_qs(url.query)["query"][0]
            body = STATE["queries"].get(query, query_answer("x", []))
        elif path in STATE.get("json", {}):
            body = STATE["json"][path]
        else:
            self.reply(404, b"404 page not found")
            return
        self.reply(200, json.dumps(body).encode(), "application/json")


@pytest.fixture
def api():
    STATE.clear()
    STATE.update(queries={}, json={})
    with localhttp.running(Handler) as url:
        yield url + "/prom"


def ctl(url, password=SECRET):
    return sa.Control(url, "admin", password, timeout=5)


def no_systemctl(argv):
    raise AssertionError("no command expected: %r" % argv)


def run1(spec, url, password=SECRET):
    return vf.run_one(spec, lambda control: ctl(url, password), no_systemctl)


def spec(kind, **extra):
    return dict({"host": "mon1", "component": "prometheus", "check": kind, "kind": kind, "control": {"url": "x"}}, **extra)


# --- checks ----------------------------------------------------------------------------------------

def test_ready_passes_fails_and_names_the_url(api):
    assert run1(spec("ready", path="/-/ready"), api)["ok"]
    STATE["ready"] = 503
    out = run1(spec("ready", path="/-/ready"), api)
    assert not out["ok"] and out["message"] == "%s/-/ready answered HTTP 503" % api
    out = run1(spec("ready", path="/-/ready"), api, password="wrong")
    assert not out["ok"] and "answered HTTP 401" in out["message"]
    port = localhttp.free_port()
    out = run1(spec("ready", path="/"), "http://127.0.0.1:%d" % port)
    assert not out["ok"] and out["message"].startswith("http://127.0.0.1:%d/ does not answer: " % port)
    assert out["host"] == "mon1" and out["component"] == "prometheus" and out["seconds"] >= 0


def test_services_active_or_named(tmp_path):
    calls = []

    def systemctl(argv):
        calls.append(argv)
        return (0, "active\n", "") if argv[-1] == "a.service" else (3, "failed\n", "")
    out = vf.run_one(spec("service", units=["a.service", "b-x.service"]), None, systemctl)
    assert calls == [["systemctl", "is-active", "a.service"], ["systemctl", "is-active", "b-x.service"]]
    assert not out["ok"] and out["message"] == "b-x.service is failed"
    assert out["details"] == {"units": {"a.service": "active", "b-x.service": "failed"}}
    out = vf.run_one(spec("service", units=["a.service"]), None, systemctl)
    assert out["ok"] and out["message"] == "a.service active"


def test_targets_against_the_inventory(api):
    records = [targetsdata.record("node_exporter", "app1", 9100), targetsdata.record("node_exporter", "db1", 9100, "down"),
               targetsdata.record("prometheus", "mon1", 9090)]
    STATE["json"]["/api/v1/targets"] = {"status": "success", "data": {"activeTargets": records, "droppedTargets": []}}
    expected = {"node_exporter": [{"instance": "app1"}, {"instance": "db1"}, {"instance": "web9"}], "prometheus": [{"instance": "mon1"}]}
    out = run1(spec("targets", expected_targets=expected), api)
    assert not out["ok"]
    assert "job node_exporter, instance web9: expected, not a target" in out["message"]
    assert "job node_exporter, instance db1: down" in out["message"]
    assert [m["instance"] for m in out["details"]["missing"]] == ["web9"]
    expected["node_exporter"] = [{"instance": "app1"}]
    records[1]["health"] = "up"
    records[1]["lastError"] = ""
    expected["node_exporter"].append({"instance": "db1"})
    out = run1(spec("targets", expected_targets=expected), api)
    assert out["ok"] and out["message"] == "3 targets up in 2 jobs"


def test_rules_with_errors_fail(api):
    STATE["json"]["/api/v1/rules"] = rules_answer()
    out = run1(spec("rules"), api)
    assert out["ok"] and out["message"] == "2 rules in 1 groups, no errors"
    STATE["json"]["/api/v1/rules"] = rules_answer(unknown=True)
    assert run1(spec("rules"), api)["message"] == "2 rules in 1 groups, no errors (1 not evaluated yet)"
    STATE["json"]["/api/v1/rules"] = rules_answer(error='found duplicate series for the match group {instance="db1"}')
    out = run1(spec("rules"), api)
    assert not out["ok"]
    assert out["message"] == ('1 of 2 rules fail: group fleetwatch-targets, rule PgDown: found duplicate series for the '
                              'match group {instance="db1"}')
    STATE["json"]["/api/v1/rules"] = {"status": "success", "data": {"groups": []}}
    assert run1(spec("rules"), api)["message"] == "no rules loaded"
    STATE["json"]["/api/v1/rules"] = {"status": "error", "error": "boom"}
    assert "answered 'boom'" in run1(spec("rules"), api)["message"]
    del STATE["json"]["/api/v1/rules"]
    assert "/api/v1/rules answered HTTP 404" in run1(spec("rules"), api)["message"]


def test_exporter_up_per_instance(api):
    expected = [{"instance": "db1", "instance_name": "main"}, {"instance": "db1", "instance_name": "second"}]
    check = spec("exporter_up", host="db1", component="postgres_exporter", check="pg_up via mon1", metric="pg_up",
                 job="postgres_exporter", expected=expected)
    STATE["queries"]['pg_up{job="postgres_exporter"}'] = query_answer("pg_up", [
        ({"job": "postgres_exporter", "instance": "db1", "instance_name": "main"}, 1),
        ({"job": "postgres_exporter", "instance": "db1", "instance_name": "second"}, 0)])
    out = run1(check, api)
    assert not out["ok"] and out["host"] == "db1" and out["component"] == "postgres_exporter"
    assert out["message"] == "db1 (instance_name=second): pg_up is 0.0, the exporter cannot reach its database"
    assert STATE["seen"][-1] == "/api/v1/query?query=pg_up%7Bjob%3D%22postgres_exporter%22%7D"
    STATE["queries"]['pg_up{job="postgres_exporter"}'] = query_answer("pg_up", [
        ({"job": "postgres_exporter", "instance": "db1", "instance_name": "main"}, 1)])
    out = run1(check, api)
    assert out["message"] == "db1 (instance_name=second): no pg_up series (is the exporter scraped?)"
    STATE["queries"]['pg_up{job="postgres_exporter"}'] = query_answer("pg_up", [
        ({"job": "postgres_exporter", "instance": "db1", "instance_name": n}, 1) for n in ("main", "second")])
    out = run1(check, api)
    assert out["ok"] and out["message"] == "pg_up = 1 for db1 (instance_name=main), db1 (instance_name=second)"


def status_answer(status, peers):
    return {"cluster": {"name": "01J", "status": status, "peers": [{"name": "01J%d" % i, "address": "10.0.0.%d:9094" % i}
                                                                   for i in range(peers)]},
            "versionInfo": {"version": "0.28.1"}, "config": {"original": "..."}, "uptime": "2026-11-25T18:00:00Z"}


@pytest.mark.parametrize("status,peers,expected,ok,message", [
    ("ready", 2, 2, True, "cluster ready with 2 peers"),
    ("ready", 1, 2, False, "1 of 2 peers in the cluster"),
    ("settling", 2, 2, False, "cluster status is settling (2 of 2 peers)"),
    ("disabled", 0, 1, True, "one Alertmanager, clustering off"),
    ("disabled", 0, 2, False, "cluster status is disabled (0 of 2 peers)"),
])
def test_alertmanager_cluster(api, status, peers, expected, ok, message):
    STATE["json"]["/api/v2/status"] = status_answer(status, peers)
    out = run1(spec("cluster", component="alertmanager", expected_peers=expected), api)
    assert (out["ok"], out["message"]) == (ok, message)


def test_watchdog_present_or_the_alert_path_is_broken(api):
    check = spec("watchdog", component="alertmanager", alertname="Watchdog")
    STATE["json"]["/api/v2/alerts"] = [{"labels": {"alertname": "Watchdog", "severity": "none"},
                                        "status": {"state": "active", "silencedBy": [], "inhibitedBy": []}}]
    out = run1(check, api)
    assert out["ok"] and out["message"] == "Watchdog alert present (active)"
    assert STATE["seen"][-1] == "/api/v2/alerts?filter=alertname%3D%22Watchdog%22"
    STATE["json"]["/api/v2/alerts"] = []
    out = run1(check, api)
    assert not out["ok"] and out["message"] == "no Watchdog alert in this Alertmanager: the alert path from Prometheus is broken"
    STATE["json"]["/api/v2/alerts"] = {"oops": 1}
    assert "did not answer a list" in run1(check, api)["message"]


def test_error_and_unknown_kinds():
    out = vf.run_one({"host": "h", "component": "c", "check": "settings", "kind": "error", "reason": "bad"}, None, None)
    assert not out["ok"] and out["message"] == "bad"
    out = vf.run_one({"host": "h", "component": "c", "check": "x", "kind": "nope"}, None, None)
    assert not out["ok"] and "unknown kind of check 'nope'" in out["message"]


def test_waiting_asks_the_failing_checks_again_until_they_pass_or_time_runs_out():
    now = [0.0]
    answers = {"a.service": ["inactive", "activating", "active"], "b.service": ["active"]}
    asked = []

    def systemctl(argv):
        asked.append(argv[-1])
        seq = answers[argv[-1]]
        return 0, seq.pop(0) if len(seq) > 1 else seq[0], ""

    def sleep(seconds):
        now[0] += seconds
    specs = [spec("service", units=["a.service"]), spec("service", units=["b.service"]),
             {"host": "h", "component": "c", "check": "settings", "kind": "error", "reason": "bad"}]
    results = vf.run(specs, None, systemctl, wait_timeout=30, wait_interval=5, clock=lambda: now[0], sleep=sleep)
    assert [r["ok"] for r in results] == [True, True, False]
    assert asked == ["a.service", "b.service", "a.service", "a.service"] and now[0] == 10
    answers["a.service"] = ["inactive"]
    now[0] = 0.0
    results = vf.run(specs[:1], None, systemctl, wait_timeout=12, wait_interval=5, clock=lambda: now[0], sleep=sleep)
    assert not results[0]["ok"] and now[0] == 10


# --- report ----------------------------------------------------------------------------------------

RESULTS = [
    {"host": "app1", "component": "node_exporter", "check": "service", "kind": "service", "ok": False,
     "message": "node_exporter.service is inactive", "seconds": 0.01},
    {"host": "app1", "component": "node_exporter", "check": "ready", "kind": "ready", "ok": False,
     "message": "http://127.0.0.1:9100/ does not answer: <refused> & \"gone\"", "seconds": 0.002},
    {"host": "mon1", "component": "prometheus", "check": "rules", "kind": "rules", "ok": True,
     "message": "33 rules in 7 groups, no errors", "seconds": 0.02},
    {"host": "db1", "component": "postgres_exporter", "check": "pg_up via mon1", "kind": "exporter_up", "ok": True,
     "message": "pg_up = 1 for db1", "seconds": 0.03},
]


def test_junit_one_case_per_check_per_host():
    root = ET.fromstring(vf.junit(RESULTS, timestamp="2026-11-25T20:00:00Z"))
    assert root.tag == "testsuites" and root.get("tests") == "4" and root.get("failures") == "2"
    suites = dict((s.get("name"), s) for s in root.findall("testsuite"))
    assert sorted(suites) == ["app1", "db1", "mon1"]
    assert suites["app1"].get("failures") == "2" and suites["mon1"].get("failures") == "0"
    assert suites["app1"].get("timestamp") == "2026-11-25T20:00:00Z"
    cases = [(c.get("classname"), c.get("name"), c.find("failure") is not None) for c in root.iter("testcase")]
    assert cases == [("app1.node_exporter", "service", True), ("app1.node_exporter", "ready", True),
                     ("db1.postgres_exporter", "pg_up via mon1", False), ("mon1.prometheus", "rules", False)]
    failure = root.find("testsuite/testcase[@name='ready']/failure")
    assert failure.get("message") == 'node_exporter on app1: http://127.0.0.1:9100/ does not answer: <refused> & "gone"'
    assert failure.text.startswith("node_exporter ready on app1: ")
    assert root.find("testsuite[@name='mon1']/testcase/system-out").text == "33 rules in 7 groups, no errors"


def test_summary_names_component_and_host_failing_first():
    lines = vf.summary(RESULTS).splitlines()
    assert lines[:3] == ["fleetwatch verify: 2 of 4 checks failed on 3 hosts",
                         "FAILED node_exporter service on app1: node_exporter.service is inactive",
                         'FAILED node_exporter ready on app1: http://127.0.0.1:9100/ does not answer: <refused> & "gone"']
    assert lines[3].startswith("ok     prometheus rules on mon1")
    assert vf.summary(RESULTS[2:]).splitlines()[0] == "fleetwatch verify: all 2 checks passed on 2 hosts"
    assert vf.summary([]) == "fleetwatch verify: no checks ran"


@pytest.mark.parametrize("bad", ["x", [1], [{"host": "a"}], None])
def test_report_refuses_what_is_not_results(bad):
    with pytest.raises(vf.VerifyError):
        vf.junit(bad)
    with pytest.raises(Exception, match="verify_report"):
        vfilter.verify_report(bad if bad is not None else "x", "junit")


def test_metrics_of_a_failed_and_a_passed_run(tmp_path):
    out = vf.metrics(RESULTS, 1764090000, 1764090012.5)
    assert out["success"] == []
    written = tf.apply(str(tmp_path), "fleetwatch_verify", out["run"])["content"]
    samples = dict(((s["name"], s["labels"].get("component")), s["value"]) for s in tf.parse(written)[1])
    assert samples == {("fleetwatch_verify_checks", "node_exporter"): 2, ("fleetwatch_verify_checks", "postgres_exporter"): 1,
                       ("fleetwatch_verify_checks", "prometheus"): 1,
                       ("fleetwatch_verify_failed_checks", "node_exporter"): 2,
                       ("fleetwatch_verify_failed_checks", "postgres_exporter"): 0,
                       ("fleetwatch_verify_failed_checks", "prometheus"): 0,
                       ("fleetwatch_verify_last_run_timestamp_seconds", None): 1764090012.5,
                       ("fleetwatch_verify_duration_seconds", None): 12.5}
    passed = vf.metrics(RESULTS[2:], "1764090000", "1764090001")
    assert [(s["name"], s["value"]) for s in passed["success"]] == [("fleetwatch_verify_last_success_timestamp_seconds", 1764090001.0)]
    assert vf.metrics([], 1, 2)["success"] == []
    with pytest.raises(vf.VerifyError, match="Unix times"):
        vf.metrics(RESULTS, None, "later")
    assert vfilter.verify_report(RESULTS[2:], "metrics", started=1, finished=2)["success"][0]["value"] == 2.0
    with pytest.raises(Exception, match="output must be results, junit, summary or metrics"):
        vfilter.verify_report(RESULTS, "html")


# --- the module, as Ansible runs it ----------------------------------------------------------------

def module_run(args):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, ".cache", "collections"))
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "plugins", "modules", "verify_checks.py")],
                          input=json.dumps({"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=True)}),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=env, timeout=60, check=False)
    return proc.stdout


def test_the_module_returns_every_result_fails_naming_them_and_hides_the_password(api):
    STATE["json"]["/api/v1/rules"] = rules_answer(error="bad")
    control = {"url": api, "username": "admin", "password": SECRET}
    checks = [dict(host="mon1", component="prometheus", check="ready", kind="ready", path="/-/ready", control=control),
              dict(host="mon1", component="prometheus", check="rules", kind="rules", control=control),
              dict(host="mon1", component="prometheus", check="settings", kind="error", reason="bad things")]
    raw = module_run({"checks": checks, "fail": False})
    assert SECRET not in raw and "pw 'x" not in raw
    out = json.loads(raw)
    assert not out.get("failed") and not out["ok"] and out["failed_checks"] == 2 and not out["changed"]
    assert [(r["check"], r["ok"]) for r in out["results"]] == [("ready", True), ("rules", False), ("settings", False)]
    out = json.loads(module_run({"checks": checks}))
    assert out["failed"] and out["msg"].splitlines() == [
        "fleetwatch verify: 2 of 3 checks failed on 1 hosts",
        "FAILED prometheus rules on mon1: 1 of 2 rules fail: group fleetwatch-targets, rule PgDown: bad",
        "FAILED prometheus settings on mon1: bad things"]
    out = json.loads(module_run({"checks": [dict(host="h", component="c", check="x", kind="ready", control=control)]}))
    assert out["failed"] and "needs path" in out["msg"]
    out = json.loads(module_run({"checks": [dict(checks[0], control=dict(control, url="https://127.0.0.1:1", cert_file="/nonexistent.pem"))]}))
    assert out["failed"] and "cannot use the client certificate /nonexistent.pem" in out["results"][0]["message"]


def test_collect_unreachable_and_failed_hosts():
    registered = {"mon1": {"results": RESULTS[2:3], "ok": True}, "app1": {"unreachable": True, "msg": "ssh: connect refused"},
                  "db1": {"failed": True, "msg": "verify_plan on db1: boom"}, "other": None, "skip": {"skipped": True}}
    results = vfilter.verify_report(registered, "results")
    assert [(r["host"], r["component"], r["check"], r["ok"]) for r in results] == [
        ("app1", "host", "reachable", False), ("db1", "host", "verify_checks", False), ("mon1", "prometheus", "rules", True)]
    assert results[0]["message"] == "unreachable: ssh: connect refused"
    assert results[1]["message"] == "the checks did not run: verify_plan on db1: boom"
    with pytest.raises(vf.VerifyError, match="is not a mapping"):
        vf.collect({"a": "x"})


def test_the_playbook_writes_its_report_under_home_and_fails_without_any_check(tmp_path):
    """verify.yml with an inventory of no component host: the report under ~ (expanded on the controller),
    and a failure, not a pass (a scheduled run against an empty inventory must not look fine)."""
    home = tmp_path / "home"
    home.mkdir()
    env = dict(os.environ, HOME=str(home), ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".cache", "collections"),
               ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-c", "local", "-i", "localhost,",
                           "-e", "ansible_python_interpreter=" + sys.executable, "fleetwatch.observability.verify"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, env=env,
                          cwd=str(tmp_path), timeout=300, check=False)
    assert proc.returncode != 0
    assert "fleetwatch verify: no checks ran; the inventory has no host in any component's group" in proc.stdout
    root = ET.parse(str(home / ".fleetwatch" / "verify" / "junit.xml")).getroot()
    assert root.get("tests") == "0"
    assert (home / ".fleetwatch" / "verify" / "summary.txt").read_text() == "fleetwatch verify: no checks ran\n"
