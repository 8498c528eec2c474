# SPDX-License-Identifier: Apache-2.0
"""A local HTTP(S) server on 127.0.0.1 for the unit tests of the roles' HTTP client, and the
test certificates it serves with (issued for fw-test.invalid, never the address a client uses)."""
import contextlib
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

needs_openssl = pytest.mark.skipif(not shutil.which("openssl"), reason="openssl command not installed")


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that logs nothing and answers with reply()."""

    def reply(self, status, body=b"", content_type=None):
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve(handler, context=None):
    """Start a server for handler on a free port (TLS with an ssl context); stop it with shutdown()."""
    server = HTTPServer(("127.0.0.1", 0), handler)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def stop(server):
    server.shutdown()
    server.server_close()


def make_cert(tmp_path, name):
    """A self-signed certificate and key for fw-test.invalid: (crt, key) paths."""
    key, crt = str(tmp_path / (name + ".key")), str(tmp_path / (name + ".crt"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=fw-test.invalid",
                    "-addext", "subjectAltName=DNS:fw-test.invalid", "-keyout", key, "-out", crt],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return crt, key


def free_port():
    """A port nothing listens on (taken and released at once): a refused connection."""
    server = HTTPServer(("127.0.0.1", 0), QuietHandler)
    port = server.server_address[1]
    server.server_close()
    return port


@contextlib.contextmanager
def running(handler, context=None):
    """A server for handler while the block runs: yields its base URL (http or https)."""
    server = serve(handler, context)
    try:
        yield "%s://127.0.0.1:%d" % ("http" if context is None else "https", server.server_address[1])
    finally:
        stop(server)
