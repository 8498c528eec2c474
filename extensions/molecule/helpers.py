# SPDX-License-Identifier: Apache-2.0
"""Shared by the Testinfra suites of every Molecule scenario (import helpers).

* ``Service`` / ``Prometheus``: HTTP calls made with curl inside a test host, with the service's
  client settings (basic auth, CA, client certificate); ``Prometheus`` adds the API (queries,
  targets, alerts, Alertmanagers).
* ``wait_for``: poll until a check returns something true; ``main_pid``: a unit's MainPID.
* ``assert_secrets_nowhere``: every planted secret is absent from the process list (all argv),
  the journal (every field) and every file under the searched roots, except the secret files
  the roles write (``ROLE_SECRET_FILES``). The file search fails when grep itself fails.

extensions/molecule/conftest.py's directory is on sys.path (pytest's rootdir-relative conftest import), so
the suites import this module as ``helpers``.
"""
import fnmatch
import json
import re
import time
import urllib.parse

import pytest

# Where the roles keep secrets (and nowhere else): the exporter-toolkit web configs, the secret
# files of Prometheus and Alertmanager, the exporters' environment files, and service_setup's
# root-only copy of the last applied set (the rollback target).
ROLES = ("node_exporter", "postgres_exporter", "redis_exporter", "prometheus", "alertmanager")
EXPORTERS = ("node_exporter", "postgres_exporter", "redis_exporter")
ROLE_SECRET_FILES = (
    tuple("/etc/%s/web.yml" % role for role in ROLES)
    + tuple("/etc/%s/secrets/*" % role for role in ROLES)
    + tuple("/etc/%s/*.env" % exporter for exporter in EXPORTERS)
    + ("/var/lib/fleetwatch/state/*.good/*",)
    # amtool's credentials for operators on the host (alertmanager role, 0640 root:amtool group)
    + ("/etc/amtool/alertmanager.password",)
)
SEARCH_ROOTS = ("/etc", "/var", "/opt", "/usr/local", "/tmp", "/root", "/home", "/run")


# --- HTTP from inside a test host ----------------------------------------------------------------

class Response(object):
    def __init__(self, status, body, rc, stderr):
        self.status = status  # None when there was no HTTP answer (refused, TLS handshake failed)
        self.body = body
        self.rc = rc
        self.stderr = stderr

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<Response status=%r rc=%r body=%r stderr=%r>" % (self.status, self.rc, self.body[:300], self.stderr[:300])


def curl(host, url, method=None, auth=None, cacert=None, cert=None, key=None, data=None, form=None, timeout=10,
         insecure=False):
    """One request with curl in the host; never raises on HTTP errors (see Response)."""
    args = ["curl", "-sS", "--max-time", str(timeout), "-w", "\n%{http_code}"]
    if method:
        args += ["-X", method]
    if auth:
        args += ["-u", "%s:%s" % tuple(auth)]
    if cacert:
        args += ["--cacert", cacert]
    if insecure:
        args += ["-k"]
    if cert:
        args += ["--cert", cert, "--key", key]
    if data is not None:
        args += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(data)]
    for name, value in (form or {}).items():
        args += ["--data-urlencode", "%s=%s" % (name, value)]
    args.append(url)
    out = host.run(" ".join(["%s"] * len(args)), *args)
    body, _sep, code = out.stdout.rpartition("\n")
    status = int(code) if code.isdigit() and code != "000" else None
    return Response(status, body, out.rc, out.stderr)


class Service(object):
    """A service's HTTP endpoint as seen from a test host, with the client settings it needs."""

    def __init__(self, host, base_url, auth=None, cacert=None, cert=None, key=None, insecure=False):
        self.host = host
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.cacert = cacert
        self.cert = cert
        self.key = key
        self.insecure = insecure

    def call(self, path, method=None, data=None, form=None, auth=True, cert=True, timeout=10):
        """auth/cert False: leave out the basic auth / the client certificate (the CA stays)."""
        return curl(self.host, self.base_url + path, method=method, auth=self.auth if auth else None,
                    cacert=self.cacert, cert=self.cert if cert else None, key=self.key, data=data, form=form,
                    timeout=timeout, insecure=self.insecure)

    def get_json(self, path, **kwargs):
        return json_answer(self.call(path, **kwargs), self.base_url + path)


class Prometheus(Service):
    def api(self, path, **params):
        query = ("?" + urllib.parse.urlencode(params)) if params else ""
        data = self.get_json("/api/v1/%s%s" % (path, query))
        assert data["status"] == "success", data
        return data["data"]

    def query(self, expr):
        """Instant query (POST form): the result vector."""
        data = json_answer(self.call("/api/v1/query", form={"query": expr}), "query %s" % expr)
        assert data["status"] == "success", data
        return data["data"]["result"]

    def targets(self, job=None):
        active = self.api("targets", state="active")["activeTargets"]
        return [t for t in active if job is None or t["labels"]["job"] == job]

    def alerts(self):
        return self.api("alerts")["alerts"]

    def alertmanager_urls(self):
        return sorted(a["url"] for a in self.api("alertmanagers")["activeAlertmanagers"])


def json_answer(response, url):
    """The JSON of an answer that must be a success (curl exit 0, HTTP 200); None for an empty body."""
    assert response.rc == 0 and response.status == 200, "%s: %r" % (url, response)
    return response.json() if response.body.strip() else None


def get_json(host, url, **kwargs):
    """The JSON answer of a GET that must succeed, asked with curl on the host itself."""
    return json_answer(curl(host, url, **kwargs), url)


def seconds(duration):
    """A Prometheus-style duration ("2w", "360h", "1h30m") in seconds; anything else fails the test."""
    units = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
    parts = re.findall(r"(\d+)([ywdhms])", str(duration))
    assert parts and "".join(n + u for n, u in parts) == str(duration), duration
    return sum(int(n) * units[u] for n, u in parts)


def wait_for(what, check, timeout=90, interval=1.0):
    """Call check() until it returns a true value and return that; fail with the last value after timeout."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    pytest.fail("timed out after %ss waiting for %s (last: %r)" % (timeout, what, value))


def main_pid(host, unit):
    """MainPID of a unit (0 when it does not run)."""
    return int(host.check_output("systemctl show -p MainPID --value %s", unit).strip() or 0)


def unit_active(host, unit):
    return host.run("systemctl is-active --quiet %s", unit).rc == 0


# --- the secret search ---------------------------------------------------------------------------

def secret(value, *tokens):
    """The strings that betray a secret: the value itself and distinctive parts of it (so that a
    quoted or escaped copy is found too). Without tokens, the longest run of letters, digits, - and _
    (at least 8 characters) is used when the value has other characters; a URL is looked for
    whole (its parts are host names and paths found everywhere)."""
    found = [value]
    if not tokens and "://" not in value:
        runs = sorted(re.findall(r"[A-Za-z0-9_-]{8,}", value), key=len, reverse=True)
        if runs and runs[0] != value:
            tokens = (runs[0],)
    found.extend(t for t in tokens if t and t not in found)
    return found


def _patterns(secrets):
    """{name: value or [strings]} -> {name: [strings]}."""
    out = {}
    for name, value in secrets.items():
        out[name] = list(value) if isinstance(value, (list, tuple)) else secret(value)
        assert all(isinstance(p, str) and p and "\n" not in p for p in out[name]), name
    return out


def host_name(host):
    return getattr(host, "inventory_hostname", None) or getattr(host.backend, "name", None) or str(host)


def existing_roots(host, roots=SEARCH_ROOTS):
    return [root for root in roots if host.file(root).exists]


def grep_files(host, strings, roots, attempts=3):
    """Files under roots that contain any of the strings (grep -rlF). Fails when grep fails (exit
    status 2: unreadable or missing path, ...). A file that vanishes during the walk also makes
    grep fail, so the search is tried again (attempts) before failing with grep's message."""
    args = ["grep", "-rlF"]
    for string in strings:
        args += ["-e", string]
    args += ["--"] + list(roots)
    out = None
    for _attempt in range(attempts):
        out = host.run(" ".join(["%s"] * len(args)), *args)
        if out.rc in (0, 1):
            return sorted(set(out.stdout.splitlines()))
    raise AssertionError("grep failed (exit status %d) on %s: %s" % (out.rc, host_name(host), out.stderr.strip()[-2000:]))


def find_secrets(host, secrets, allowed=None, roots=None):
    """[(secret name, where)] for every place a secret shows up on the host outside the allowed files.

    secrets: {name: value or [strings]}; allowed: {name: [path globs]} allowed for that secret on top
    of ROLE_SECRET_FILES (for example a server's own configuration holding its password)."""
    patterns = _patterns(secrets)
    allowed = allowed or {}
    found = []
    ps = host.run("ps -e -ww -o args=")
    assert ps.rc == 0 and ps.stdout.strip(), "ps failed: %s" % ps.stderr
    journal = host.run("journalctl --no-pager -q -o verbose")
    assert journal.rc == 0 and journal.stdout.strip(), "journalctl failed: %s" % journal.stderr
    for name, strings in sorted(patterns.items()):
        if any(s in ps.stdout for s in strings):
            found.append((name, "ps (argv of a process)"))
        if any(s in journal.stdout for s in strings):
            found.append((name, "the journal"))
    everything = [s for strings in patterns.values() for s in strings]
    files = grep_files(host, everything, roots or existing_roots(host))
    for path in files:
        content = host.file(path).content  # bytes
        for name, strings in sorted(patterns.items()):
            if not any(s.encode() in content for s in strings):
                continue
            globs = ROLE_SECRET_FILES + tuple(allowed.get(name, ()))
            if not any(fnmatch.fnmatchcase(path, g) for g in globs):
                found.append((name, path))
    return found


def assert_secrets_nowhere(hosts, secrets, allowed=None):
    """find_secrets on every host; the failure names the secret and the place, never the value."""
    problems = []
    for host in hosts:
        for name, where in find_secrets(host, secrets, allowed):
            problems.append("%s: secret %s in %s" % (host_name(host), name, where))
    assert problems == [], "\n".join(problems)


def check_secret_search(host):
    """The search itself works on this host: grep failing (a missing path) fails it, and a secret
    planted in a file outside the role's secret files is found (then removed)."""
    try:
        grep_files(host, ["anything"], ["/nonexistent-fleetwatch-path"])
    except AssertionError as exc:
        assert "grep failed (exit status 2" in str(exc), exc
    else:
        raise AssertionError("grep on a missing path did not fail the search")
    marker = "planted-Zx0-" + host_name(host)
    host.check_output("printf %s %s > /tmp/fw-planted-secret", "%s", marker)
    try:
        assert ("marker", "/tmp/fw-planted-secret") in find_secrets(host, {"marker": marker})
    finally:
        host.check_output("rm -f /tmp/fw-planted-secret")
