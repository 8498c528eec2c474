# SPDX-License-Identifier: Apache-2.0
"""Tempo 3.0.3 (the real binary) read through its own APIs, and the Prometheus around it.

fw-tempo-1: Tempo, node_exporter; fw-tempo-2: Prometheus (basic auth, remote-write receiver).
HTTP calls run with curl inside a test host. The OTLP/gRPC trace is sent by the OpenTelemetry
Python SDK's own OTLP gRPC exporter (requirements.txt) from the test process to fw-tempo-1's
address on the scenario's podman network.
"""
import time
import uuid

import pytest
import testinfra
import yaml

import helpers

TEMPO = "http://127.0.0.1:3200"
SCRAPE_AUTH = ("prometheus", "scrape-Pw-7x")
TEMPO_PROM_SECRET = "tem'po $ecret\"Rw9"


@pytest.fixture(scope="module")
def tempo():
    return testinfra.get_host("podman://fw-tempo-1")


@pytest.fixture(scope="module")
def mon():
    return testinfra.get_host("podman://fw-tempo-2")


@pytest.fixture(scope="module")
def prom(mon):
    return helpers.Prometheus(mon, "http://127.0.0.1:9090", auth=SCRAPE_AUTH)


def trace_by_id(host, trace_id, timeout=60):
    """Tempo's answer for the trace (GET /api/traces/<id>), waiting until it is there."""
    def found():
        response = helpers.curl(host, "%s/api/traces/%s" % (TEMPO, trace_id))
        return response.json() if response.status == 200 else None
    return helpers.wait_for("trace %s in Tempo" % trace_id, found, timeout=timeout)


def spans_of(trace):
    """[(service.name, span name, kind)] of a trace as Tempo returns it."""
    out = []
    for batch in trace["batches"]:
        attributes = {a["key"]: a["value"].get("stringValue") for a in batch["resource"]["attributes"]}
        for scope in batch["scopeSpans"]:
            for span in scope["spans"]:
                out.append((attributes.get("service.name"), span["name"], span["kind"]))
    return sorted(out)


def test_tempo_is_ready_and_is_the_real_3_0_3(tempo):
    response = helpers.curl(tempo, TEMPO + "/ready")
    assert response.status == 200 and response.body.strip() == "ready", response
    info = helpers.get_json(tempo, TEMPO + "/api/status/buildinfo")
    assert info["version"] == "3.0.3", info
    assert tempo.check_output("tempo --version 2>&1 | head -1").startswith("tempo, version 3.0.3")


def test_config_storage_paths_and_what_tempo_runs_with(tempo):
    config = tempo.file("/etc/tempo/tempo.yml")
    assert (config.user, config.group, config.mode) == ("root", "tempo", 0o640)
    # What Tempo itself runs with (its /status/config endpoint).
    body = helpers.curl(tempo, TEMPO + "/status/config").body
    assert body.startswith("GET /status/config\n---\n"), body[:100]
    running = yaml.safe_load(body.split("\n---\n", 1)[1])
    assert running["usage_report"]["reporting_enabled"] is False
    # The side effect leaves 72h (its valid change): what Tempo runs with is what the file says.
    written = yaml.safe_load(tempo.check_output("cat /etc/tempo/tempo.yml"))
    retention = running["overrides"]["defaults"]["compaction"]["block_retention"]
    assert helpers.seconds(retention) == helpers.seconds(written["overrides"]["defaults"]["compaction"]["block_retention"]) > 0
    assert sorted(running["overrides"]["defaults"]["metrics_generator"]["processors"]) == ["service-graphs", "span-metrics"]
    assert running["storage"]["trace"]["backend"] == "local"
    assert running["storage"]["trace"]["local"]["path"] == "/var/lib/tempo/blocks"
    assert "/var/tempo" not in body
    assert not tempo.file("/var/tempo").exists, "Tempo wrote outside tempo_storage_path"
    assert tempo.file("/var/lib/tempo/live-store").is_directory
    assert tempo.file("/var/lib/tempo/generator/wal").is_directory
    [remote] = running["metrics_generator"]["storage"]["remote_write"]
    assert remote["url"] == "http://fw-tempo-2:9090/api/v1/write"
    assert remote["basic_auth"]["username"] == "tempo"
    assert remote["basic_auth"]["password_file"] == "/etc/tempo/secrets/remote_write_prometheus.password"


def test_receivers_listen_and_grpc_is_on_loopback_only(tempo):
    listening = tempo.check_output("ss -Htlnp")
    for port in (3200, 4317, 4318):
        assert "0.0.0.0:%d " % port in listening or "*:%d " % port in listening, (port, listening)
    assert "127.0.0.1:9095" in listening
    assert "0.0.0.0:9095" not in listening and "*:9095" not in listening


def test_a_trace_over_otlp_http_comes_back_by_id(tempo, mon):
    """Sent from the other host (OTLP/HTTP, protobuf JSON encoding) to fw-tempo-1:4318."""
    trace_id = uuid.uuid4().hex
    now = time.time_ns()
    body = {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "molecule-http"}}]},
        "scopeSpans": [{"scope": {"name": "molecule"}, "spans": [{
            "traceId": trace_id, "spanId": uuid.uuid4().hex[:16], "name": "http-span", "kind": 2,
            "startTimeUnixNano": str(now), "endTimeUnixNano": str(now + 120 * 10**6),
            "attributes": [{"key": "marker", "value": {"stringValue": trace_id}}]}]}]}]}
    response = helpers.curl(mon, "http://fw-tempo-1:4318/v1/traces", data=body)
    assert response.status == 200, response
    trace = trace_by_id(tempo, trace_id)
    assert spans_of(trace) == [("molecule-http", "http-span", "SPAN_KIND_SERVER")]
    [span] = trace["batches"][0]["scopeSpans"][0]["spans"]
    assert {"key": "marker", "value": {"stringValue": trace_id}} in span["attributes"]


def tempo_ip(tempo):
    """fw-tempo-1's IPv4 address on the scenario's podman network (reachable from this machine)."""
    out = tempo.check_output("ip -4 -o addr show scope global")
    return out.split()[3].split("/")[0]


def send_over_otlp_grpc(address, run_id):
    """Two services (named with run_id), a client span calling a server span (one trace), exported
    with the OpenTelemetry SDK's OTLP gRPC exporter; returns the trace id (hex)."""
    from opentelemetry import trace as otel_trace  # pylint: disable=import-outside-toplevel
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter  # pylint: disable=import-outside-toplevel
    from opentelemetry.sdk.resources import Resource  # pylint: disable=import-outside-toplevel
    from opentelemetry.sdk.trace import TracerProvider  # pylint: disable=import-outside-toplevel
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult  # pylint: disable=import-outside-toplevel
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # pylint: disable=import-outside-toplevel

    memory = InMemorySpanExporter()
    tracers = {}
    for service in ("molecule-grpc-" + run_id, "molecule-backend-" + run_id):
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        provider.add_span_processor(SimpleSpanProcessor(memory))
        tracers[service] = provider.get_tracer("molecule")
    with tracers["molecule-grpc-" + run_id].start_as_current_span("checkout", kind=otel_trace.SpanKind.CLIENT) as client:
        context = otel_trace.set_span_in_context(client)
        with tracers["molecule-backend-" + run_id].start_as_current_span("charge", context=context, kind=otel_trace.SpanKind.SERVER):
            time.sleep(0.02)
    spans = memory.get_finished_spans()
    assert len(spans) == 2
    exporter = OTLPSpanExporter(endpoint="%s:4317" % address, insecure=True, timeout=20)
    try:
        assert exporter.export(spans) == SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    return "%032x" % spans[0].context.trace_id


@pytest.fixture(scope="module")
def grpc_trace(tempo):
    """(trace id, run id): the service names carry the run id, so only this run's spans count."""
    run_id = uuid.uuid4().hex[:8]
    return send_over_otlp_grpc(tempo_ip(tempo), run_id), run_id


def test_a_trace_over_otlp_grpc_comes_back_by_id(tempo, grpc_trace):
    trace_id, run_id = grpc_trace
    trace = trace_by_id(tempo, trace_id)
    assert spans_of(trace) == [("molecule-backend-" + run_id, "charge", "SPAN_KIND_SERVER"),
                               ("molecule-grpc-" + run_id, "checkout", "SPAN_KIND_CLIENT")]


def test_span_metrics_and_service_graph_reach_prometheus(prom, grpc_trace):
    """Tempo's metrics generator remote-writes (basic auth as user tempo) to fw-tempo-2."""
    _trace_id, run_id = grpc_trace
    client, server = "molecule-grpc-" + run_id, "molecule-backend-" + run_id
    calls = helpers.wait_for(
        "span metrics of the gRPC trace in Prometheus",
        lambda: prom.query('traces_spanmetrics_calls_total{service="%s", span_name="checkout"}' % client),
        timeout=120, interval=2)
    labels = calls[0]["metric"]
    assert labels["span_kind"] == "SPAN_KIND_CLIENT" and labels["source"] == "molecule", labels
    assert float(calls[0]["value"][1]) >= 1
    assert prom.query('traces_spanmetrics_latency_bucket{service="%s", span_name="charge"}' % server)
    edges = helpers.wait_for(
        "the service graph edge of the gRPC trace in Prometheus",
        lambda: prom.query('traces_service_graph_request_total{client="%s", server="%s"}' % (client, server)),
        timeout=120, interval=2)
    assert float(edges[0]["value"][1]) >= 1


def test_prometheus_scrapes_tempo_from_the_inventory(prom):
    def up():
        targets = prom.targets("tempo")
        return [t for t in targets if t["health"] == "up"] and targets
    targets = helpers.wait_for("Tempo's target up", up, timeout=60)
    assert [(t["labels"]["instance"], t["scrapeUrl"]) for t in targets] == [("fw-tempo-1", "http://fw-tempo-1:3200/metrics")]
    assert prom.query('tempo_build_info{job="tempo", instance="fw-tempo-1", version="3.0.3"}')


def test_the_remote_write_password_is_only_in_tempos_password_file(tempo, mon):
    secret_file = tempo.file("/etc/tempo/secrets/remote_write_prometheus.password")
    assert (secret_file.user, secret_file.group, secret_file.mode) == ("root", "tempo", 0o640)
    assert secret_file.content_string == TEMPO_PROM_SECRET
    helpers.assert_secrets_nowhere([tempo, mon], {"tempo_remote_write": TEMPO_PROM_SECRET},
                                   allowed={"tempo_remote_write": ["/etc/tempo/secrets/*.password"]})


def test_unit_is_hardened_and_stops_in_bounded_time(tempo):
    out = tempo.check_output("systemd-analyze security tempo.service --no-pager | tail -1")
    score = float(out.split("exposure level for tempo.service: ")[1].split()[0])
    assert score <= 2.0, out
    assert tempo.user("tempo").shell in ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false")
    assert tempo.check_output("systemctl show -p TimeoutStopUSec --value tempo.service") == "5s"
    assert "ExecReload" not in tempo.file("/etc/systemd/system/tempo.service").content_string


def test_tempo_down_fires_against_the_real_tempo(tempo, prom):
    """The rule bundle's TempoDown (up{job="tempo"} == 0): loaded, silent while Tempo runs, firing
    for fw-tempo-1 once Tempo is stopped; Tempo is started again afterwards."""
    rules = {r["name"]: r for g in prom.api("rules")["groups"] for r in g["rules"]}
    assert rules["TempoDown"]["query"] == 'up{job="tempo"} == 0'
    assert not [a for a in prom.alerts() if a["labels"]["alertname"] == "TempoDown"]
    tempo.check_output("systemctl stop tempo.service")
    try:
        def firing():
            return [a for a in prom.alerts() if a["labels"]["alertname"] == "TempoDown" and a["state"] == "firing"]
        alerts = helpers.wait_for("TempoDown firing", firing, timeout=90, interval=2)
        assert alerts[0]["labels"]["instance"] == "fw-tempo-1" and alerts[0]["labels"]["job"] == "tempo"
        assert alerts[0]["labels"]["severity"] == "critical"
    finally:
        tempo.check_output("systemctl start tempo.service")
        helpers.wait_for("Tempo ready again", lambda: helpers.curl(tempo, TEMPO + "/ready").body.strip() == "ready",
                         timeout=90, interval=2)
