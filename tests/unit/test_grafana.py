# SPDX-License-Identifier: Apache-2.0
"""The grafana role without Grafana: what service_setup receives, rendered by Ansible itself from
the role's tasks (tests/render_role.py), checked against JSON schemas written from the documentation
of the pinned Grafana (tests/schemas/grafana/, sources named in each file's $comment), and the
shipped dashboards' PromQL parsed by the real promtool.

Grafana itself cannot be had here (no artifact, its source is too large to fetch):
test_real_grafana_serves_the_generated_files runs the real program on the same files whenever the
archive is in .cache/mirror/grafana/<version>/, and is reported skipped with that reason otherwise.
"""
import configparser
import copy
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
import base64

import jsonschema
import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "extensions", "molecule"))
sys.path.insert(0, os.path.dirname(HERE))
import dashboards as dashboard_queries  # noqa: E402  pylint: disable=wrong-import-position
import rulebundle  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.fleetwatch.observability.plugins.plugin_utils import _grafanaprov as grafanaprov  # noqa: E402

RENDER = os.path.join(ROOT, "tests", "render_role.py")
TASK = "Configure and run Grafana (user, directories, secrets, provisioning, dashboards, unit)"
SCHEMAS = os.path.join(ROOT, "tests", "schemas", "grafana")
VERSION = yaml.safe_load(open(os.path.join(ROOT, "roles", "grafana", "defaults", "main.yml")))["grafana_version"]
ADMIN_PASSWORD = "adm\"in'Zq1-ADMINSECRET-$HOME$$x"
PROM_PASSWORD = "pr\"om'Zq2-PROMSECRET-${PATH}$"
AM_PASSWORD = "am Zq3-AMSECRET-$x"
INVENTORY = {
    "inventory_hostname": "graf1",
    "groups": {"all": ["graf1", "prom1", "prom2", "am1", "loki1", "tempo1"], "prometheus": ["prom2", "prom1"],
               "alertmanager": ["am1"], "loki": ["loki1"], "tempo": ["tempo1"]},
    "hostvars": {
        "prom1": {"prometheus_basic_auth_users": {"grafana": PROM_PASSWORD, "prometheus": "other"},
                  "prometheus_tls_cert_file": "/etc/prometheus/tls.crt", "prometheus_external_url": "https://p.example/prom/"},
        "prom2": {"ansible_host": "fd18::2"},
        "am1": {"ansible_host": "fd18::3", "alertmanager_basic_auth_users": {"grafana": AM_PASSWORD},
                "alertmanager_extra_flags": {"web.route-prefix": "/am"}},
        "loki1": {"loki_listen_address": "10.1.2.3:3101"},
        "tempo1": {},
    },
}


def schema(name):
    with open(os.path.join(SCHEMAS, name + ".schema.json")) as handle:
        return jsonschema.Draft202012Validator(json.load(handle))


def render(arg, extra=None, inventory=None):
    """The value service_setup gets for one argument of the role's task, or {"error": ...}."""
    variables = copy.deepcopy(inventory or INVENTORY)
    variables.update({"role_path": os.path.join(ROOT, "roles", "grafana"), "grafana_admin_password": ADMIN_PASSWORD})
    variables.update(extra or {})
    request = {"task": TASK, "arg": arg, "expression": "", "vars": variables}
    out = subprocess.run([sys.executable, RENDER, "grafana"], input=json.dumps(request), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, universal_newlines=True, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


def rendered(arg, extra=None, inventory=None):
    result = render(arg, extra, inventory)
    assert "error" not in result, result["error"]
    return result["value"]


def by_path(files):
    return dict((f["path"], f) for f in files)


@pytest.fixture(scope="module")
def default_set():
    return rendered(["secret_files", "files", "directories", "services"])


def datasources_of(secret_files):
    doc = yaml.safe_load(by_path(secret_files)["/etc/grafana/provisioning/datasources/fleetwatch.yml"]["content"])
    return doc, dict((s["uid"], s) for s in doc["datasources"])


# --- data sources ------------------------------------------------------------------------------------

def test_datasources_follow_the_documented_schema_and_the_inventory(default_set):
    doc, sources = datasources_of(default_set["secret_files"])
    schema("datasources").validate(doc)
    assert [s["name"] for s in doc["datasources"]] == ["Prometheus", "Prometheus (prom2)", "Alertmanager", "Loki", "Tempo"]
    assert sorted(sources) == ["alertmanager", "loki", "prometheus", "prometheus-prom2", "tempo"]
    # Prometheus' scrape helpers: https + route prefix from the external URL, IPv6 in brackets, a route
    # prefix flag, a specific listen IP; the first Prometheus (sorted) is the only default.
    assert sources["prometheus"]["url"] == "https://prom1:9090/prom"
    assert sources["prometheus-prom2"]["url"] == "http://[fd18::2]:9090"
    assert sources["alertmanager"]["url"] == "http://[fd18::3]:9093/am"
    assert sources["loki"]["url"] == "http://10.1.2.3:3101"
    assert sources["tempo"]["url"] == "http://tempo1:3200"
    assert [s["uid"] for s in doc["datasources"] if s["isDefault"]] == ["prometheus"]
    assert all(s["access"] == "proxy" and s["editable"] is False for s in doc["datasources"])
    assert doc["prune"] is True


def test_datasources_are_linked_traces_logs_metrics(default_set):
    _doc, sources = datasources_of(default_set["secret_files"])
    assert sources["prometheus"]["jsonData"]["exemplarTraceIdDestinations"] == [{"name": "trace_id", "datasourceUid": "tempo"}]
    derived = sources["loki"]["jsonData"]["derivedFields"]
    assert [(d["datasourceUid"], d["matcherType"]) for d in derived] == [("tempo", "regex")]
    # Grafana reads $$ as $: the link is ${__value.raw}, not an environment variable.
    assert grafanaprov.unescape(derived[0]["url"]) == "${__value.raw}"
    tempo = sources["tempo"]["jsonData"]
    assert tempo["tracesToLogsV2"]["datasourceUid"] == "loki" and tempo["tracesToLogsV2"]["filterByTraceID"] is True
    assert {"key": "host.name", "value": "host"} in tempo["tracesToLogsV2"]["tags"]
    assert tempo["tracesToMetrics"]["datasourceUid"] == "prometheus"
    assert all("{$$__tags" in q["query"] for q in tempo["tracesToMetrics"]["queries"])
    assert tempo["serviceMap"] == {"datasourceUid": "prometheus"} and tempo["lokiSearch"] == {"datasourceUid": "loki"}
    # The regex of the derived field finds the trace id of a log line.
    import re
    regex = grafanaprov.unescape(derived[0]["matcherRegex"])
    assert re.search(regex, 'level=info trace_id=4bf92f3577b34da6a3ce929d0e0e4736 msg=x').group(1) == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert re.search(regex, '{"traceID": "abc123"}').group(1) == "abc123"


def test_basic_auth_passwords_are_in_the_secret_file_only_escaped(default_set):
    _doc, sources = datasources_of(default_set["secret_files"])
    assert sources["prometheus"]["basicAuth"] is True and sources["prometheus"]["basicAuthUser"] == "grafana"
    stored = sources["prometheus"]["secureJsonData"]["basicAuthPassword"]
    assert stored == PROM_PASSWORD.replace("$", "$$") and grafanaprov.unescape(stored) == PROM_PASSWORD
    assert grafanaprov.unescape(sources["alertmanager"]["secureJsonData"]["basicAuthPassword"]) == AM_PASSWORD
    assert "secureJsonData" not in sources["prometheus-prom2"] and "basicAuth" not in sources["loki"]
    secret = by_path(default_set["secret_files"])["/etc/grafana/provisioning/datasources/fleetwatch.yml"]
    assert (secret["mode"], secret["group"]) == ("0640", "grafana")
    public = json.dumps([default_set["files"], default_set["directories"], default_set["services"]])
    for password in (PROM_PASSWORD, AM_PASSWORD, ADMIN_PASSWORD):
        for token in (password, password.replace("$", "$$"), password.split("-")[1]):
            assert token not in public


def test_admin_password_is_a_secret_file_that_grafana_ini_names(default_set):
    secrets = by_path(default_set["secret_files"])
    admin = secrets["/etc/grafana/secrets/admin_password"]
    assert (admin["content"], admin["mode"], admin["group"]) == (ADMIN_PASSWORD, "0640", "grafana")
    key = secrets["/etc/grafana/secrets/secret_key"]
    assert len(key["content"]) == 48 and key["content"].isalnum()
    ini = configparser.ConfigParser(interpolation=None)
    ini.read_string(by_path(default_set["files"])["/etc/grafana/grafana.ini"]["content"])
    assert ini["security"]["admin_password"] == "$__file{/etc/grafana/secrets/admin_password}"
    assert ini["security"]["secret_key"] == "$__file{/etc/grafana/secrets/secret_key}"
    # A new key is random; the key an earlier run wrote is kept (whatever the admin password), and an
    # explicit grafana_secret_key wins.
    assert by_path(rendered("secret_files"))["/etc/grafana/secrets/secret_key"]["content"] != key["content"]
    earlier = {"grafana_secret_key_found": {"content": base64.b64encode(b"earlier-Key-Zq5").decode()},
               "grafana_admin_password": "another password"}
    assert by_path(rendered("secret_files", earlier))["/etc/grafana/secrets/secret_key"]["content"] == "earlier-Key-Zq5"
    mine = by_path(rendered("secret_files", dict(earlier, grafana_secret_key="my-key-Zq4")))
    assert mine["/etc/grafana/secrets/secret_key"]["content"] == "my-key-Zq4"
    tasks = yaml.safe_load(open(os.path.join(ROOT, "roles", "grafana", "tasks", "main.yml")))
    names = [t["name"] for t in tasks]
    assert names.index("Read the database key of an earlier run") < names.index("Keep that key, or make one") < names.index(TASK)


def test_grafana_ini_secure_defaults_without_tls(default_set):
    files = by_path(default_set["files"])
    ini = configparser.ConfigParser(interpolation=None)
    ini.read_string(files["/etc/grafana/grafana.ini"]["content"])
    assert files["/etc/grafana/grafana.ini"]["mode"] == "0640"
    assert ini["auth.anonymous"]["enabled"] == "false"
    assert (ini["users"]["allow_sign_up"], ini["users"]["allow_org_create"]) == ("false", "false")
    assert ini["snapshots"]["external_enabled"] == "false"
    assert ini["security"]["disable_gravatar"] == "true"
    assert (ini["server"]["protocol"], ini["server"]["http_addr"], ini["server"]["http_port"]) == ("http", "0.0.0.0", "3000")
    assert ini["security"]["cookie_secure"] == "false" and "cert_file" not in ini["server"]
    assert (ini["analytics"]["reporting_enabled"], ini["analytics"]["check_for_updates"]) == ("false", "false")
    assert ini["log"]["mode"] == "console"
    assert default_set["services"][0]["control"] == {"url": "http://127.0.0.1:3000", "ready_path": "/api/health",
                                                     "metrics_path": "/metrics", "timeout": 5}
    assert default_set["services"][0]["reload"] == "restart"


def test_tls_sub_path_and_ipv6_listen_address():
    extra = {"grafana_tls_cert_file": "/etc/grafana/tls.crt", "grafana_tls_key_file": "/etc/grafana/tls.key",
             "grafana_listen_address": "[::]:3443", "grafana_external_url": "https://ops.example.org/grafana/",
             "grafana_ini_extra": {"server": {"enable_gzip": None}, "smtp": {"enabled": True}}}
    both = rendered(["files", "services"], extra)
    files = by_path(both["files"])
    ini = configparser.ConfigParser(interpolation=None)
    ini.read_string(files["/etc/grafana/grafana.ini"]["content"])
    server = ini["server"]
    assert (server["protocol"], server["http_addr"], server["http_port"]) == ("https", "::", "3443")
    assert (server["cert_file"], server["cert_key"]) == ("/etc/grafana/tls.crt", "/etc/grafana/tls.key")
    assert (server["root_url"], server["serve_from_sub_path"]) == ("https://ops.example.org/grafana/", "true")
    assert "enable_gzip" not in server and ini["smtp"]["enabled"] == "true"
    assert (ini["security"]["cookie_secure"], ini["security"]["strict_transport_security"]) == ("true", "true")
    control = both["services"][0]["control"]
    assert control["url"] == "https://[::1]:3443/grafana"
    # cookie_secure can be forced either way (a boolean or a string).
    for value, expected in ((False, "false"), ("true", "true"), (True, "true")):
        plain = configparser.ConfigParser(interpolation=None)
        plain.read_string(by_path(rendered("files", {"grafana_cookie_secure": value}))["/etc/grafana/grafana.ini"]["content"])
        assert plain["security"]["cookie_secure"] == expected, value


def test_datasource_tls_client_settings_are_file_references():
    extra = {"grafana_datasource_ca_file": "/etc/ssl/fleet-ca.pem", "grafana_datasource_cert_file": "/etc/grafana/client.crt",
             "grafana_datasource_key_file": "/etc/grafana/client.key"}
    doc, sources = datasources_of(rendered("secret_files", extra))
    schema("datasources").validate(doc)
    secure = sources["prometheus"]["secureJsonData"]
    assert secure["tlsCACert"] == "$__file{/etc/ssl/fleet-ca.pem}"
    assert (secure["tlsClientCert"], secure["tlsClientKey"]) == ("$__file{/etc/grafana/client.crt}", "$__file{/etc/grafana/client.key}")
    assert sources["prometheus"]["jsonData"]["tlsAuth"] is True and sources["prometheus"]["jsonData"]["tlsAuthWithCACert"] is True
    assert "tlsCACert" not in (sources["prometheus-prom2"].get("secureJsonData") or {})  # plain http


def test_extra_datasources_are_escaped_and_checked():
    extra = {"grafana_datasources_extra": [{"name": "Ext", "type": "prometheus", "uid": "ext", "url": "http://ext:9090",
                                            "basicAuth": True, "basicAuthUser": "u", "secureJsonData": {"basicAuthPassword": "a$b"}}]}
    _doc, sources = datasources_of(rendered("secret_files", extra))
    assert sources["ext"]["secureJsonData"]["basicAuthPassword"] == "a$$b"
    bad = render("secret_files", {"grafana_datasources_extra": [{"name": "Loki", "type": "loki", "uid": "l2"}]})
    assert "two data sources have the name 'Loki'" in bad["error"]
    bad = render("secret_files", {"grafana_datasources_extra": [{"name": "X", "type": "loki", "uid": "no spaces"}]})
    assert "uid 'no spaces'" in bad["error"]


def test_inventory_errors_name_the_host_and_variable():
    inventory = copy.deepcopy(INVENTORY)
    inventory["hostvars"]["prom1"]["prometheus_basic_auth_users"] = {"prometheus": "x"}
    error = render("secret_files", inventory=inventory)["error"]
    assert "prom1" in error and "prometheus_basic_auth_users" in error and "grafana_datasource_user" in error
    inventory = copy.deepcopy(INVENTORY)
    inventory["hostvars"]["loki1"]["loki_listen_address"] = "127.0.0.1:3100"
    error = render("secret_files", inventory=inventory)["error"]
    assert "loki_listen_address on loki1" in error and "loopback" in error
    error = render("files", {"grafana_listen_address": "0.0.0.0:30O0"})["error"]
    assert "grafana_listen_address on graf1" in error


def test_no_datasources_without_those_groups():
    inventory = {"inventory_hostname": "graf1", "groups": {"all": ["graf1"]}, "hostvars": {}}
    doc, _sources = datasources_of(rendered("secret_files", inventory=inventory))
    assert doc["datasources"] == []
    schema("datasources").validate(doc)


# --- dashboards ----------------------------------------------------------------------------------

def test_dashboards_provider_folders_and_stable_uids(tmp_path, default_set):
    own = tmp_path / "team-board.json"
    own.write_text(json.dumps({"id": 17, "title": "Team board", "panels": [], "schemaVersion": 39,
                               "time": {"from": "now-1h", "to": "now"}}))
    keep = tmp_path / "keeps-uid.json"
    keep.write_text(json.dumps({"uid": "my-own-uid", "title": "Mine", "panels": [], "schemaVersion": 39,
                                "time": {"from": "now-1h", "to": "now"}}))
    extra = {"grafana_dashboard_files": [{"file": str(own), "folder": "Team A / Ops"}, {"file": str(keep), "folder": "Team A / Ops"}]}
    first, second = rendered(["files", "directories"], extra), rendered("files", extra)
    assert first["files"] == second, "a rerun renders the same files"
    files = by_path(second)
    shipped = dict((p, json.loads(f["content"])) for p, f in files.items() if "/fw-folder-fleetwatch/" in p)
    assert sorted(m["uid"] for m in shipped.values()) == ["fw-hosts", "fw-logs", "fw-postgresql", "fw-redis", "fw-stack"]
    team = [json.loads(f["content"]) for p, f in files.items() if p.endswith("/team-board.json")][0]
    assert "id" not in team and team["uid"] == grafanaprov.stable_uid("fw", "Team A / Ops/team-board")
    assert len(team["uid"]) <= 40
    assert [json.loads(f["content"])["uid"] for p, f in files.items() if p.endswith("/keeps-uid.json")] == ["my-own-uid"]
    providers = yaml.safe_load(files["/etc/grafana/provisioning/dashboards/fleetwatch.yml"]["content"])
    schema("dashboard-providers").validate(providers)
    assert sorted((p["folder"], p["folderUid"]) for p in providers["providers"]) == [
        ("Fleetwatch", "fw-folder-fleetwatch"), ("Team A / Ops", grafanaprov.stable_uid("fw-folder", "Team A / Ops"))]
    for provider in providers["providers"]:
        assert all(p.startswith(provider["options"]["path"] + "/") for p in files if p.endswith(".json") and provider["folderUid"] in p)
        assert provider["allowUiUpdates"] is False and provider["updateIntervalSeconds"] == 30
    directories = first["directories"]
    assert {"path": "/etc/grafana/dashboards/fw-folder-fleetwatch", "group": "grafana", "mode": "0750", "purge": "*.json"} in directories
    # Dashboards are re-read by Grafana: their directory is not among the files that restart it.
    assert not any(p.startswith("/etc/grafana/dashboards") for p in default_set["services"][0]["reload_files"])


def test_dashboard_errors(tmp_path):
    twin = tmp_path / "twin.json"
    twin.write_text(json.dumps({"uid": "fw-hosts", "title": "Twin"}))
    error = render("files", {"grafana_dashboard_files": [{"file": str(twin), "folder": "X"}]})["error"]
    assert "same uid 'fw-hosts'" in error
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert "is not JSON" in render("files", {"grafana_dashboard_files": [{"file": str(broken), "folder": "X"}]})["error"]
    assert "needs a folder" in render("files", {"grafana_dashboard_files": [{"file": str(twin), "folder": " "}]})["error"]
    with pytest.raises(grafanaprov.GrafanaError, match="update interval"):
        grafanaprov.dashboards([], "/d", {"update_interval": "soon"})


@pytest.mark.parametrize("name", sorted(dashboard_queries.load()))
def test_shipped_dashboard_is_valid_and_consistent(name):
    model = dashboard_queries.load(name)[name]
    schema("dashboard").validate(model)
    assert model["uid"] == "fw-" + name
    variables = dict((v["name"], v) for v in model["templating"]["list"])
    ids, cells = set(), set()
    for panel in model["panels"]:
        assert panel["id"] not in ids
        ids.add(panel["id"])
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, "%s overlaps another panel" % panel["title"]
                cells.add((x, y))
        for ref in [panel["datasource"]] + [t["datasource"] for t in panel["targets"]]:
            var = ref["uid"].strip("${}")
            assert variables[var]["type"] == "datasource" and variables[var]["query"] == ref["type"], panel["title"]
        assert panel["targets"], panel["title"]
    # Every $variable of every query is the dashboard's own or one of Grafana's built-ins.
    for _title, _ref, _kind, expr in grafanaprov.expressions(model):
        dashboard_queries.concrete(expr, dashboard_queries.all_values(model))


def test_every_query_kind_is_covered():
    assert {q[0] for q in dashboard_queries.queries("prometheus")} == {"hosts", "postgresql", "redis", "stack"}
    assert {q[0] for q in dashboard_queries.queries("loki")} == {"logs"}
    logs = dashboard_queries.queries("loki")
    # LogQL needs one matcher that does not match the empty string: "All" hosts is .+.
    assert all('host=~".+"' in q[2] for q in logs)


PROMTOOL = rulebundle.find_tool("promtool", "PROMTOOL")


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not found: `make tools` puts it in .cache/tools")
def test_every_promql_of_the_dashboards_parses_with_promtool(tmp_path):
    queries = dashboard_queries.queries("prometheus")
    rules = {"groups": [{"name": "dashboards", "rules": [
        {"record": "fleetwatch:dashboard_%d" % i, "expr": q[2]} for i, q in enumerate(queries)]}]}
    (tmp_path / "dashboards.yml").write_text(yaml.safe_dump(rules))
    out = subprocess.run([PROMTOOL, "check", "rules", str(tmp_path / "dashboards.yml")], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert out.returncode == 0, out.stdout
    assert "SUCCESS: %d rules found" % len(queries) in out.stdout
    # promtool does refuse a broken expression (the check above can fail).
    (tmp_path / "broken.yml").write_text(yaml.safe_dump({"groups": [{"name": "x", "rules": [
        {"record": "x:y", "expr": 'rate(node_cpu_seconds_total{mode="idle"}[1m]'}]}]}))
    out = subprocess.run([PROMTOOL, "check", "rules", str(tmp_path / "broken.yml")], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert out.returncode != 0


# --- module_utils ----------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["", "plain", "a$b", "$", "$$", "ab$", "${PATH}", "$__file{/etc/passwd}", "q\"'$$$x"])
def test_escape_round_trip(value):
    escaped = grafanaprov.escape(value)
    assert grafanaprov.unescape(escaped) == value
    # What Grafana's interpolation sees between its $$ separators holds no $ at all.
    assert all("$" not in part for part in escaped.split("$$"))


def test_ini_text_and_bad_values():
    text = grafanaprov.ini_text({"a": {"x": True, "y": None, "z": 3}, "b": {}, "auth.anonymous": {"enabled": False}}, header=None)
    assert text == "\n[a]\nx = true\nz = 3\n\n[auth.anonymous]\nenabled = false\n"
    for bad, message in (({"a": {"x": "1\n[b]"}}, "cannot span lines"), ({"a b": {}}, "section name"),
                         ({"a": {"k=v": 1}}, "key"), ({"a": {"x": [1]}}, "must be a string"), ({"a": "x"}, "must be a mapping")):
        with pytest.raises(grafanaprov.GrafanaError, match=message):
            grafanaprov.ini_text(bad)


def test_file_refs_and_uids():
    assert grafanaprov.file_ref("/etc/ca.pem") == "$__file{/etc/ca.pem}"
    for bad in ("relative.pem", "/etc/a}b", ""):
        with pytest.raises(grafanaprov.GrafanaError):
            grafanaprov.file_ref(bad)
    long_name = "a very long folder name with ünïcode and / slashes " * 3
    uid = grafanaprov.stable_uid("fw-folder", long_name)
    assert len(uid) <= 40 and uid == grafanaprov.stable_uid("fw-folder", long_name)
    assert uid != grafanaprov.stable_uid("fw-folder", long_name + "x")
    assert grafanaprov.stable_uid("fw", "hosts") == "fw-hosts"


# --- the real Grafana (when its archive is in the mirror) --------------------------------------------

ARCHIVE = os.path.join(ROOT, ".cache", "mirror", "grafana", VERSION, "grafana-%s.linux-amd64.tar.gz" % VERSION)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def api(port, path, auth):
    request = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path))
    request.add_header("Authorization", "Basic " + base64.b64encode(("%s:%s" % auth).encode()).decode())
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read().decode())


@pytest.mark.skipif(not os.path.isfile(ARCHIVE), reason="no Grafana %s artifact in .cache/mirror/grafana/%s (Grafana cannot be "
                    "had on this machine: no release download, source too large to build)" % (VERSION, VERSION))
def test_real_grafana_serves_the_generated_files(tmp_path):
    """Grafana itself on loopback with the role's files (paths moved under tmp_path): healthy, the
    admin password with quotes and $ logs in, every data source and dashboard provisioned."""
    home = tmp_path / "home"
    with tarfile.open(ARCHIVE) as tar:
        tar.extractall(str(tmp_path / "unpacked"))
    shutil.move(glob.glob(str(tmp_path / "unpacked" / "*"))[0], str(home))
    port = free_port()
    base = str(tmp_path / "etc")
    extra = {"grafana_config_dir": base, "grafana_data_path": str(tmp_path / "data"), "grafana_listen_address": "127.0.0.1:%d" % port}
    everything = rendered("secret_files", extra) + rendered("files", extra)
    for entry in everything:
        if entry["path"].startswith(base):
            os.makedirs(os.path.dirname(entry["path"]), exist_ok=True)
            with open(entry["path"], "w") as handle:
                handle.write(entry["content"])
    os.makedirs(str(tmp_path / "data"), exist_ok=True)
    for sub in ("plugins", "alerting"):
        os.makedirs(os.path.join(base, "provisioning", sub), exist_ok=True)
    log = open(str(tmp_path / "grafana.log"), "w")
    proc = subprocess.Popen([str(home / "bin" / "grafana"), "server", "--homepath", str(home), "--config", base + "/grafana.ini"],
                            stdout=log, stderr=subprocess.STDOUT, cwd=str(home))
    try:
        auth = ("admin", ADMIN_PASSWORD)
        deadline = time.monotonic() + 120
        health = None
        while time.monotonic() < deadline:
            try:
                health = api(port, "/api/health", auth)
                break
            except OSError:
                time.sleep(1)
        assert health and health["database"] == "ok", (health, (tmp_path / "grafana.log").read_text()[-3000:])
        sources = dict((s["uid"], s) for s in api(port, "/api/datasources", auth))
        assert sorted(sources) == ["alertmanager", "loki", "prometheus", "prometheus-prom2", "tempo"]
        assert sources["prometheus"]["isDefault"] is True
        found = dict((d["uid"], d) for d in api(port, "/api/search?type=dash-db", auth))
        assert {"fw-hosts", "fw-postgresql", "fw-redis", "fw-stack", "fw-logs"} <= set(found)
        assert found["fw-hosts"]["folderTitle"] == "Fleetwatch"
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def test_the_password_reset_gets_the_password_on_stdin_only():
    """The reset command (run when the password no longer logs in): argv without the password,
    stdin exactly the password (no newline added), the task hidden from logs."""
    tasks = yaml.safe_load(open(os.path.join(ROOT, "roles", "grafana", "tasks", "main.yml")))
    reset = [t for t in tasks if t["name"] == "Set the administrator's password"][0]
    assert reset["no_log"] is True and reset["ansible.builtin.command"]["stdin_add_newline"] is False
    check = [t for t in tasks if t["name"] == "Check the administrator's password"][0]
    assert check["no_log"] is True
    request = {"task": "Set the administrator's password", "expression": "",
               "vars": dict(copy.deepcopy(INVENTORY), role_path=os.path.join(ROOT, "roles", "grafana"),
                            grafana_admin_password=ADMIN_PASSWORD)}
    values = {}
    for arg in ("argv", "stdin"):
        request["arg"] = arg
        out = subprocess.run([sys.executable, RENDER, "grafana"], input=json.dumps(request), stdout=subprocess.PIPE,
                             universal_newlines=True, check=True)
        values[arg] = json.loads(out.stdout)["value"]
    assert values["stdin"] == ADMIN_PASSWORD
    assert not any("ADMINSECRET" in str(a) for a in values["argv"])
    assert values["argv"][:5] == ["runuser", "-u", "grafana", "--", "/usr/local/bin/grafana"]
    assert values["argv"][-3:] == ["admin", "reset-admin-password", "--password-from-stdin"]
