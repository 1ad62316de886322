"""The three services of the resilience scenario, one per container (the image has python3 only).

    stack.py db  PORT                 a TCP server that answers "ok" to every connection
    stack.py api PORT DB_HOST:PORT    HTTP; /health is 200 when the db answers, else 503
    stack.py web PORT API_HOST:PORT   HTTP; /health is 200 when the api's /health is 200, else 503

STACK_WARMUP_SECONDS (environment) delays listening after every (re)start, as a real service warms
up: a crash then lasts long enough for a 0.25 s poll to see it, however fast the engine restarts.
"""
import os
import socket
import socketserver
import sys
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TIMEOUT = 1.0


def db_answers(address):
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=TIMEOUT) as conn:
            conn.settimeout(TIMEOUT)
            return conn.recv(16).startswith(b"ok")
    except OSError:
        return False


def api_healthy(address):
    try:
        with urllib.request.urlopen("http://%s/health" % address, timeout=TIMEOUT) as answer:
            return answer.status == 200
    except (OSError, urllib.error.URLError):
        return False


class DbHandler(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.sendall(b"ok\n")


def http_handler(check):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            if self.path != "/health":
                self.send_error(404)
                return
            healthy = check()
            body = b"ok\n" if healthy else b"dependency down\n"
            self.send_response(200 if healthy else 503)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args):
            pass
    return Handler


def main():
    role, port = sys.argv[1], int(sys.argv[2])
    time.sleep(float(os.environ.get("STACK_WARMUP_SECONDS", "0")))
    if role == "db":
        socketserver.ThreadingTCPServer.allow_reuse_address = True
        server = socketserver.ThreadingTCPServer(("0.0.0.0", port), DbHandler)
    elif role == "api":
        server = ThreadingHTTPServer(("0.0.0.0", port), http_handler(lambda: db_answers(sys.argv[3])))
    elif role == "web":
        server = ThreadingHTTPServer(("0.0.0.0", port), http_handler(lambda: api_healthy(sys.argv[3])))
    else:
        sys.exit("unknown role %s" % role)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
