"""Small helpers shared by the sutazai-chaos demo services (stdlib only)."""

import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def env(name, default):
    return os.environ.get(name, default)


def log(service, message):
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    sys.stdout.write("%s %s %s\n" % (stamp, service, message))
    sys.stdout.flush()


def run_with_deadline(func, deadline):
    """Run func() in a daemon thread; give up after deadline seconds.

    A dependency that is paused or blackholed can hang a client library past
    its own timeouts (e.g. a connection made just before the pause): the HTTP
    answer must not wait for it.
    Returns (ok, value_or_error_text, elapsed_ms).
    """
    box = {}

    def target():
        try:
            box["value"] = func()
            box["ok"] = True
        except Exception as exc:  # noqa: BLE001 - reported to the caller
            box["ok"] = False
            box["value"] = "%s: %s" % (type(exc).__name__, str(exc).strip() or repr(exc))

    start = time.monotonic()
    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(deadline)
    elapsed_ms = round((time.monotonic() - start) * 1000.0, 2)
    if worker.is_alive():
        return False, "timeout: no answer within %.1f s" % deadline, elapsed_ms
    return box["ok"], box["value"], elapsed_ms


class JsonHandler(BaseHTTPRequestHandler):
    service = "demo"
    protocol_version = "HTTP/1.1"
    server_version = "sutazai-demo/1"

    def send_json(self, status, payload):
        body = json.dumps(payload, sort_keys=True).encode() + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_request(self, code="-", size="-"):
        took = ""
        if getattr(self, "_started", None) is not None:
            took = " %.1fms" % ((time.monotonic() - self._started) * 1000.0)
        log(self.service, '%s "%s %s" %s%s' % (
            self.client_address[0], self.command, self.path, code, took))

    def log_message(self, fmt, *args):  # errors from BaseHTTPRequestHandler
        log(self.service, "%s %s" % (self.client_address[0], fmt % args))

    def handle_one_request(self):
        self._started = time.monotonic()
        super().handle_one_request()


def serve(handler_cls, port):
    server = ThreadingHTTPServer(("0.0.0.0", port), handler_cls)
    server.daemon_threads = True
    log(handler_cls.service, "listening on 0.0.0.0:%d" % port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
