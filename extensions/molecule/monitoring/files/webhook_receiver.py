#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A webhook receiver for the Molecule tests: every POST body (an Alertmanager notification) is
appended as one JSON line, with the request path, to /var/lib/fw-webhook/received.jsonl.
GET /received returns that file. Test scaffolding, not part of the collection."""
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = "/var/lib/fw-webhook/received.jsonl"


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            payload = json.loads(body)
        except ValueError:
            self.send_response(400)
            self.end_headers()
            return
        with open(LOG, "a") as handle:
            handle.write(json.dumps({"path": self.path, "authorization": self.headers.get("Authorization"),
                                     "payload": payload}) + "\n")
        self.send_response(200)
        self.end_headers()

    def do_GET(self):
        data = open(LOG, "rb").read() if os.path.exists(LOG) else b""
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    os.makedirs(os.path.dirname(LOG), exist_ok=True)
    ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
