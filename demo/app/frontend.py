"""sutazai-chaos demo frontend: a stdlib proxy in front of the backend.

GET /health -> calls backend /health (timeout 3 s); 200 {"status": "ok",
               "backend": ...} when the backend answered 200, else 503.
GET /       -> proxies backend /api/items.
"""

import json
import signal
import sys
import urllib.error
import urllib.request

from common import JsonHandler, env, log, serve

SERVICE = "frontend"
BACKEND_URL = env("BACKEND_URL", "http://backend:8000").rstrip("/")
TIMEOUT = 3.0


def call_backend(path):
    """Return (http_status or None, parsed body or error text)."""
    try:
        with urllib.request.urlopen(BACKEND_URL + path, timeout=TIMEOUT) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except Exception as exc:  # noqa: BLE001 - connection refused, timeout, DNS...
        return None, "%s: %s" % (type(exc).__name__, exc)
    try:
        return status, json.loads(raw.decode() or "null")
    except ValueError:
        return status, raw.decode(errors="replace")


class Handler(JsonHandler):
    service = SERVICE

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/health":
            status, body = call_backend("/health")
            ok = status == 200
            return self.send_json(200 if ok else 503, {
                "service": SERVICE,
                "status": "ok" if ok else "degraded",
                "backend": {"http_status": status, "body": body},
            })
        if path == "/":
            status, body = call_backend("/api/items")
            if status is None:
                return self.send_json(503, {"error": "backend unreachable", "detail": body})
            return self.send_json(status, body)
        return self.send_json(404, {"error": "not found", "path": path})

    do_HEAD = do_GET


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log(SERVICE, "backend=%s" % BACKEND_URL)
    serve(Handler, int(env("PORT", "8001")))


if __name__ == "__main__":
    main()
