# SPDX-License-Identifier: Apache-2.0
"""module_utils/targets.py and the prometheus_targets module: Prometheus' targets API (a real
answer of Prometheus 2.53.3, and large synthetic ones of the same shape) compared with what is
expected: missing, extra, down and never scraped targets, thousands of targets, bad input; the
API read through serviceapply.Control from a local HTTP(S) server (route prefix, basic auth, TLS
with a client certificate); waiting with a clock of its own."""
import base64
import json
import os
import ssl
import subprocess
import sys

import pytest

from ansible_collections.fleetwatch.observability.plugins.module_utils import serviceapply as sa
from ansible_collections.fleetwatch.observability.plugins.module_utils import targets as tg

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import localhttp  # noqa: E402  pylint: disable=wrong-import-position
import targetsdata  # noqa: E402  pylint: disable=wrong-import-position

ROOT = targetsdata.ROOT
REAL = targetsdata.real()
INVENTORY = {"node_exporter": ["web1", "web2", "web3"],
             "postgres_exporter": [{"instance": "db1", "instance_name": "main"}, {"instance": "db1", "instance_name": "second"}]}


def expect(**kwargs):
    return tg.check_expectations(kwargs.get("jobs"), kwargs.get("min_targets"), kwargs.get("expected_targets"))


def who(items):
    return [(i["job"], i["instance"]) + ((i["labels"],) if i.get("labels") else ()) for i in items]


# --- the API's answer ----------------------------------------------------------------------------

def test_the_real_answer_read_into_targets():
    targets = tg.parse_targets(REAL)
    assert [(t["job"], t["instance"], t["health"]) for t in targets] == [
        ("node_exporter", "web1", "up"), ("node_exporter", "web2", "down"),
        ("postgres_exporter", "db1", "down"), ("prometheus", "127.0.0.1:19090", "down")]
    web2 = targets[1]
    assert web2["scrape_url"] == "http://127.0.0.1:19101/metrics"
    assert web2["last_error"] == 'Get "http://127.0.0.1:19101/metrics": dial tcp 127.0.0.1:19101: connect: connection refused'
    assert web2["last_scrape"].startswith("2026-") and web2["last_scrape"].endswith("Z")
    assert targets[2]["labels"]["instance_name"] == "second"
    assert targets[3]["last_error"] == "server returned HTTP status 404 Not Found"
    assert tg.parse_targets(REAL.encode("utf-8")) == targets


@pytest.mark.parametrize("body,message", [
    ("<html>Not Found</html>", "did not answer JSON"),
    ("[]", "answered a list, not an object"),
    ('{"status":"error","errorType":"bad_data","error":"invalid state"}', "answered status 'error': bad_data invalid state"),
    ('{"status":"success","data":{"activeTargets":{}}}', "has no list of activeTargets"),
    ('{"status":"success","data":{"activeTargets":[1]}}', "listed a number as a target"),
    ('{"status":"success","data":null}', "has no list of activeTargets"),
])
def test_answers_that_are_not_the_targets_api(body, message):
    with pytest.raises(tg.TargetsError, match=message):
        tg.parse_targets(body)


def test_an_answer_without_targets():
    result = tg.compare(tg.parse_targets('{"status":"success","data":{"droppedTargets":[]}}'), expect(jobs=["node_exporter"]))
    assert not result["ok"] and result["total"] == 0
    assert result["summary"] == "prometheus_targets: 1 problem, 0 targets in 0 jobs\njob node_exporter: no target of this job"


# --- comparison ----------------------------------------------------------------------------------

def test_without_expectations_every_target_must_be_up():
    result = tg.compare(tg.parse_targets(REAL))
    assert not result["ok"] and result["missing"] == [] and result["extra"] == [] and result["unexpected_jobs"] == []
    assert result["counts"] == {"node_exporter": {"total": 2, "up": 1, "down": 1, "unknown": 0},
                                "postgres_exporter": {"total": 1, "up": 0, "down": 1, "unknown": 0},
                                "prometheus": {"total": 1, "up": 0, "down": 1, "unknown": 0}}
    assert who(result["unhealthy"]) == [("node_exporter", "web2"), ("postgres_exporter", "db1", {"instance_name": "second"}),
                                        ("prometheus", "127.0.0.1:19090")]
    assert result["summary"].splitlines() == [
        "prometheus_targets: 3 problems, 4 targets in 3 jobs",
        'job node_exporter, instance web2: down (last scrape 2026-11-25T18:20:00.592437065Z): Get "http://127.0.0.1:19101/metrics": '
        "dial tcp 127.0.0.1:19101: connect: connection refused",
        'job postgres_exporter, instance db1 (instance_name=second): down (last scrape 2026-11-25T18:20:00.853557841Z): '
        'Get "http://127.0.0.1:19188/metrics": dial tcp 127.0.0.1:19188: connect: connection refused',
        "job prometheus, instance 127.0.0.1:19090: down (last scrape 2026-11-25T18:20:02.198833132Z): "
        "server returned HTTP status 404 Not Found"]


def test_the_inventory_hosts_of_each_job():
    """web3 and db1/main are in the inventory and not scraped; Prometheus' own job is named by no
    expectation: listed, not checked."""
    result = tg.compare(tg.parse_targets(REAL), expect(expected_targets=INVENTORY))
    assert who(result["missing"]) == [("node_exporter", "web3"), ("postgres_exporter", "db1", {"instance_name": "main"})]
    assert [m["reason"] for m in result["missing"]] == ["expected, not a target"] * 2
    assert who(result["unhealthy"]) == [("node_exporter", "web2"), ("postgres_exporter", "db1", {"instance_name": "second"})]
    assert result["extra"] == [] and result["unexpected_jobs"] == ["prometheus"]
    lines = result["summary"].splitlines()
    assert lines[0] == "prometheus_targets: 4 problems, 4 targets in 3 jobs"
    assert lines[1:3] == ["job node_exporter, instance web3: expected, not a target",
                          "job postgres_exporter, instance db1 (instance_name=main): expected, not a target"]


def test_extra_targets_are_returned_and_fail_only_when_asked():
    result = tg.compare(tg.parse_targets(REAL), expect(expected_targets={"node_exporter": ["web1"]}), require_healthy=False)
    assert result["ok"] and who(result["extra"]) == [("node_exporter", "web2")]
    assert result["extra"][0]["health"] == "down" and result["extra"][0]["last_error"]
    result = tg.compare(tg.parse_targets(REAL), expect(expected_targets={"node_exporter": ["web1"]}), require_healthy=False,
                        fail_on_extra=True)
    assert not result["ok"] and result["summary"].splitlines()[1] == (
        "job node_exporter, instance web2: extra (not an expected instance), down")


def test_jobs_and_least_numbers_of_targets():
    targets = tg.parse_targets(REAL)
    result = tg.compare(targets, expect(jobs=["node_exporter", "redis_exporter"], min_targets={"node_exporter": 3, "prometheus": 0}),
                        require_healthy=False)
    assert [(m["job"], m["instance"], m["expected"], m["found"], m["reason"]) for m in result["missing"]] == [
        ("node_exporter", None, 3, 2, "2 targets, at least 3 expected"),
        ("redis_exporter", None, 1, 0, "no target of this job")]
    assert result["summary"].splitlines()[1:] == ["job node_exporter: 2 targets, at least 3 expected",
                                                  "job redis_exporter: no target of this job"]
    assert tg.compare(targets, expect(min_targets={"redis_exporter": 0}))["ok"]
    assert tg.compare(targets, expect(min_targets={"node_exporter": 2}), require_healthy=False)["ok"]


def test_an_expected_job_without_targets_is_one_problem_not_one_per_host():
    result = tg.compare(tg.parse_targets(REAL), expect(expected_targets={"redis_exporter": ["db1", "db2"]}))
    assert who(result["missing"]) == [("redis_exporter", None)]


def test_targets_never_scraped_yet_are_unhealthy():
    body = json.dumps({"status": "success", "data": {"activeTargets": [
        targetsdata.record("node_exporter", "web1", 9100, "unknown"), targetsdata.record("node_exporter", "web2", 9100)]}})
    result = tg.compare(tg.parse_targets(body), expect(expected_targets={"node_exporter": ["web1", "web2"]}))
    assert result["counts"]["node_exporter"] == {"total": 2, "up": 1, "down": 0, "unknown": 1}
    (item,) = result["unhealthy"]
    assert (item["instance"], item["health"], item["last_scrape"]) == ("web1", "unknown", None)
    assert result["summary"].splitlines()[1].startswith("job node_exporter, instance web1: unknown (never scraped): ")


def test_all_well():
    body = json.dumps({"status": "success", "data": {"activeTargets": [
        targetsdata.record("node_exporter", h, 9100) for h in ("web1", "web2")]}})
    result = tg.compare(tg.parse_targets(body), expect(expected_targets={"node_exporter": ["web2", "web1"]}))
    assert result["ok"] and result["summary"] == "prometheus_targets: all well, 2 targets in 1 job (2 up)"


def test_thousands_of_targets():
    """5,000 targets in 5 jobs, some down, some never scraped; the inventory has 3 hosts more and 2
    fewer than Prometheus scrapes."""
    body, instances = targetsdata.synthetic(5000, down_every=97, unknown_every=251)
    expected = dict((job, list(hosts)) for job, hosts in instances.items())
    expected["node_exporter"] += ["new1.example.net", "new2.example.net"]
    expected["redis_exporter"].append({"instance": "new3.example.net"})
    removed = [expected["alertmanager"].pop(), expected["alertmanager"].pop()]
    result = tg.compare(tg.parse_targets(body), expect(expected_targets=expected))

    hosts = targetsdata.hosts(5000)
    down = set(hosts[i] for i in range(5000) if i % 97 == 96)
    unknown = set(hosts[i] for i in range(5000) if i % 251 == 250) - down
    assert result["total"] == 5000 and sum(c["total"] for c in result["counts"].values()) == 5000
    assert sum(c["down"] for c in result["counts"].values()) == len(down) == 51
    assert sum(c["unknown"] for c in result["counts"].values()) == len(unknown) == 19
    assert who(result["missing"]) == [("node_exporter", "new1.example.net"), ("node_exporter", "new2.example.net"),
                                      ("redis_exporter", "new3.example.net")]
    assert sorted(e["instance"] for e in result["extra"]) == sorted(removed)
    assert set(t["instance"] for t in result["unhealthy"] if t["health"] == "down") == down
    assert set(t["instance"] for t in result["unhealthy"] if t["health"] == "unknown") == unknown
    jobs = [t["job"] for t in result["unhealthy"]]
    assert jobs == sorted(jobs) and len(set(jobs)) == 5  # in job order, every job has some
    lines = result["summary"].splitlines()
    assert lines[0] == "prometheus_targets: 73 problems, 5000 targets in 5 jobs"
    assert len(lines) == 1 + tg.MAX_LINES + 1
    assert lines[-1] == "... and 23 more (see missing, unhealthy and extra in the result)"


# --- bad input -----------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,message", [
    ({"jobs": "node_exporter"}, r"jobs: 'node_exporter' \(a string\) is not a list of job names"),
    ({"jobs": ["node_exporter", 3]}, r"jobs\[1\]: 3 \(a number\) is not a job name"),
    ({"jobs": [""]}, r"jobs\[0\]: '' \(a string\) is not a job name"),
    ({"min_targets": ["node_exporter"]}, r"min_targets: .* \(a list\) is not a mapping of job name to number"),
    ({"min_targets": {"node_exporter": -1}}, r"min_targets.node_exporter: -1 is negative"),
    ({"min_targets": {"node_exporter": "-2"}}, r"min_targets.node_exporter: -2 is negative"),
    ({"min_targets": {"node_exporter": True}}, r"min_targets.node_exporter: True \(a boolean\) is not a number of targets"),
    ({"min_targets": {"node_exporter": "three"}}, r"min_targets.node_exporter: 'three' is not a number of targets"),
    ({"min_targets": {"node_exporter": 1.5}}, r"min_targets.node_exporter: 1.5 is not a whole number of targets"),
    ({"min_targets": {"node_exporter": None}}, r"min_targets.node_exporter: None \(null\) is not a number of targets"),
    ({"expected_targets": ["web1"]}, r"expected_targets: \['web1'\] \(a list\) is not a mapping of job name"),
    ({"expected_targets": {"node_exporter": "web1"}}, r"expected_targets.node_exporter: 'web1' \(a string\) is not a list of instances"),
    ({"expected_targets": {"node_exporter": ["web1", 7]}}, r"expected_targets.node_exporter\[1\]: 7 \(a number\) is not an instance"),
    ({"expected_targets": {"node_exporter": [{}]}}, r"expected_targets.node_exporter\[0\]: \{\} \(a mapping\) is not an instance"),
    ({"expected_targets": {"node_exporter": [{"0bad": "x"}]}}, r"expected_targets.node_exporter\[0\]: '0bad' is not a label name"),
    ({"expected_targets": {"node_exporter": [{"instance": ["a"]}]}}, r"label instance is \['a'\] \(a list\), not a string"),
])
def test_bad_expectations_are_refused_naming_the_option_and_job(kwargs, message):
    with pytest.raises(tg.TargetsError, match=message):
        expect(**kwargs)


def test_expectations_as_templating_gives_them():
    out = expect(jobs=["a", "a"], min_targets={"a": "2", "b": 0, "c": 3.0},
                 expected_targets={"a": ["h1", {"instance": "h1"}, {"instance": "h2", "port": 9100}]})
    assert out == {"jobs": ["a"], "min_targets": {"a": 2, "b": 0, "c": 3},
                   "expected_targets": {"a": [{"instance": "h1"}, {"instance": "h2", "port": "9100"}]}}


@pytest.mark.parametrize("url,message", [
    ("", "is not a URL such as"),
    (None, r"None \(null\) is not a URL"),
    (9090, r"9090 \(a number\) is not a URL"),
    ("127.0.0.1:9090", "must start with http:// or https://"),
    ("ftp://mon.example", "must start with http:// or https://"),
    ("http://", "has no host"),
    ("http://mon.example:99999", "is not a URL"),
    ("http://mon.example:0", "port must be 1-65535"),
    ("http://mon example:9090", "contains white space"),
    ("http://mon.example:9090/api/v1/targets?state=active", "must not have a query"),
    ("http://admin:pw@mon.example:9090", "give the user and password as username and password"),
    ("http://[fd00::1:9090", "is not a URL"),
])
def test_bad_urls(url, message):
    with pytest.raises(tg.TargetsError, match=message):
        tg.check_url(url)


def test_good_urls():
    assert tg.check_url("https://[fd18::3]:9090/prom/") == "https://[fd18::3]:9090/prom"
    assert tg.check_url("http://127.0.0.1:9090") == "http://127.0.0.1:9090"


# --- waiting -------------------------------------------------------------------------------------

class Clock(object):
    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def answers(*items):
    """fetch_body() giving each item in turn (an exception is raised), the last one again and again."""
    items = list(items)

    def fetch():
        item = items.pop(0) if len(items) > 1 else items[0]
        if isinstance(item, Exception):
            raise item
        return item
    return fetch


def body(*healths):
    return json.dumps({"status": "success", "data": {"activeTargets": [
        targetsdata.record("node_exporter", "web%d" % i, 9100, h) for i, h in enumerate(healths)]}})


def test_waits_until_every_target_is_up():
    clock = Clock()
    fetch = answers(tg.TargetsError("cannot reach http://x/api/v1/targets: connection refused"),
                    body("unknown", "unknown"), body("up", "down"), body("up", "up"))
    result, attempts, waited = tg.wait(fetch, expect(jobs=["node_exporter"]), timeout=60, interval=5, clock=clock,
                                       sleep=clock.sleep)
    assert result["ok"] and attempts == 4 and waited == 15 and clock.sleeps == [5, 5, 5]


def test_gives_up_at_the_deadline_with_the_last_answer():
    clock = Clock()
    result, attempts, waited = tg.wait(answers(body("up", "down")), expect(), timeout=12, interval=5, clock=clock,
                                       sleep=clock.sleep)
    assert not result["ok"] and attempts == 4 and clock.sleeps == [5, 5, 2] and waited == 12
    assert tg.summary(result, "http://x", waited).startswith("prometheus_targets at http://x after 12s: 1 problem")


def test_asks_once_without_a_timeout_and_reports_why_it_got_no_answer():
    clock = Clock()
    with pytest.raises(tg.TargetsError, match="connection refused"):
        tg.wait(answers(tg.TargetsError("cannot reach: connection refused")), expect(), clock=clock, sleep=clock.sleep)
    assert clock.sleeps == []
    clock = Clock()
    result, attempts, _waited = tg.wait(answers(body("down"), tg.TargetsError("timed out")), expect(), timeout=5, interval=5,
                                        clock=clock, sleep=clock.sleep)
    assert attempts == 2 and result["fetch_error"] == "timed out" and not result["ok"]


# --- over HTTP(S), through the roles' client -----------------------------------------------------

AUTH = "Basic " + base64.b64encode(b"admin:pw 'x\"").decode("ascii")


class Handler(localhttp.QuietHandler):
    answer = REAL

    def do_GET(self):  # noqa: N802 - http.server's name
        if self.headers.get("Authorization") != AUTH:
            self.reply(401)
        elif self.path != "/prom/api/v1/targets?state=active":
            self.reply(404)
        else:
            self.reply(200, self.answer.encode("utf-8"), "application/json")


@pytest.fixture
def prometheus():
    with localhttp.running(Handler) as url:
        yield url


def test_fetch_with_route_prefix_and_basic_auth(prometheus):
    body_read = tg.fetch(sa.Control(prometheus + "/prom/", "admin", "pw 'x\""))
    assert tg.parse_targets(body_read) == tg.parse_targets(REAL)


@pytest.mark.parametrize("url,user,password,message", [
    ("/prom", "admin", "wrong", r"/prom/api/v1/targets refused the request \(HTTP 401\): give username and password"),
    ("", "admin", "pw 'x\"", r"answered HTTP 404: no Prometheus API there \(is the route prefix in url right\?\)"),
])
def test_fetch_failures_say_what_to_fix(prometheus, url, user, password, message):
    with pytest.raises(tg.TargetsError, match=message):
        tg.fetch(sa.Control(prometheus + url, user, password))


def test_fetch_from_nothing():
    port = localhttp.free_port()
    with pytest.raises(tg.TargetsError, match=r"cannot reach http://127.0.0.1:%d/api/v1/targets: " % port):
        tg.fetch(sa.Control("http://127.0.0.1:%d" % port, timeout=2))


needs_openssl = localhttp.needs_openssl
make_cert = localhttp.make_cert


def module_params(**kwargs):
    params = dict(url=None, username=None, password=None, ca_file=None, cert_file=None, key_file=None, check_hostname=False,
                  timeout=5)
    params.update(kwargs)
    return params


@needs_openssl
def test_mutual_tls_through_the_modules_client(tmp_path):
    from ansible_collections.fleetwatch.observability.plugins.modules import prometheus_targets as mod
    crt, key = make_cert(tmp_path, "server")
    client_crt, client_key = make_cert(tmp_path, "client")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(crt, key)
    context.load_verify_locations(client_crt)
    context.verify_mode = ssl.CERT_REQUIRED
    auth = dict(username="admin", password="pw 'x\"")
    with localhttp.running(Handler, context) as base:
        url = base + "/prom"
        ctl = mod.control(module_params(url=url, ca_file=crt, cert_file=client_crt, key_file=client_key, **auth), url)
        assert tg.parse_targets(tg.fetch(ctl)) == tg.parse_targets(REAL)
        with pytest.raises(tg.TargetsError, match="cannot reach"):  # no client certificate
            tg.fetch(mod.control(module_params(url=url, ca_file=crt, **auth), url))
        with pytest.raises(tg.TargetsError, match="(?i)cannot reach .*certificate"):  # another CA
            tg.fetch(mod.control(module_params(url=url, ca_file=client_crt, cert_file=client_crt, key_file=client_key, **auth), url))
        with pytest.raises(tg.TargetsError, match="(?i)cannot reach .*(hostname|ip address mismatch)"):
            tg.fetch(mod.control(module_params(url=url, ca_file=crt, cert_file=client_crt, key_file=client_key,
                                               check_hostname=True, **auth), url))
        with pytest.raises(tg.TargetsError, match="cannot use the TLS files"):
            mod.control(module_params(url=url, ca_file=str(tmp_path / "none.pem")), url)


def module_run(args, check_mode=False):
    """Run plugins/modules/prometheus_targets.py as Ansible runs it; its JSON answer."""
    params = dict(args, _ansible_check_mode=check_mode)
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, ".cache", "collections"))
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "plugins", "modules", "prometheus_targets.py")],
                          input=json.dumps({"ANSIBLE_MODULE_ARGS": params}), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, env=env, timeout=60, check=False)
    return proc.stdout


def test_the_module_fails_naming_job_and_instance_and_never_shows_the_password(prometheus):
    raw = module_run({"url": prometheus + "/prom", "username": "admin", "password": "pw 'x\"",
                      "expected_targets": INVENTORY}, check_mode=True)
    assert "pw 'x" not in raw and "pw \\'x" not in raw
    out = json.loads(raw)
    assert out["failed"] and not out["changed"] and out["attempts"] == 1
    assert out["msg"].splitlines()[:3] == [
        "prometheus_targets at %s/prom: 4 problems, 4 targets in 3 jobs" % prometheus,
        "job node_exporter, instance web3: expected, not a target",
        "job postgres_exporter, instance db1 (instance_name=main): expected, not a target"]
    assert who(out["unhealthy"]) == [("node_exporter", "web2"), ("postgres_exporter", "db1", {"instance_name": "second"})]
    assert out["unexpected_jobs"] == ["prometheus"] and out["counts"]["node_exporter"]["up"] == 1


def test_the_module_passes_and_refuses_bad_input(prometheus):
    out = json.loads(module_run({"url": prometheus + "/prom", "username": "admin", "password": "pw 'x\"",
                                 "min_targets": {"node_exporter": 2}, "require_healthy": False}))
    assert not out.get("failed") and out["ok"] and out["msg"].startswith("prometheus_targets at %s/prom: all well" % prometheus)
    out = json.loads(module_run({"url": prometheus + "/prom", "min_targets": {"node_exporter": -1}}))
    assert out["failed"] and out["msg"] == "prometheus_targets: min_targets.node_exporter: -1 is negative (give the least number of targets the job must have)"
    out = json.loads(module_run({"url": "127.0.0.1:9090"}))
    assert out["failed"] and out["msg"] == "prometheus_targets: url: '127.0.0.1:9090' must start with http:// or https://"
    out = json.loads(module_run({"url": prometheus, "wait_interval": 0}))
    assert out["failed"] and "wait_interval more than 0" in out["msg"]


def test_module_docs_and_options_agree():
    import yaml
    from ansible_collections.fleetwatch.observability.plugins.modules import prometheus_targets, promtool
    for mod, name in ((prometheus_targets, "prometheus_targets"), (promtool, "promtool")):
        doc = yaml.safe_load(mod.DOCUMENTATION)
        source = open(mod.__file__).read()
        assert doc["module"] == name and doc["author"] == ["fleetwatch engineers (@fleetwatch)"]
        assert {"check_mode", "diff_mode"} <= set(doc["attributes"])
        for option in doc["options"]:
            assert "            %s=dict(" % option in source, (name, option)
        assert yaml.safe_load(mod.EXAMPLES) and yaml.safe_load(mod.RETURN)
