"""sutazai-chaos demo backend: stdlib HTTP server over PostgreSQL and Redis.

GET /health     -> 200 {"status": "ok", "dependencies": {...}} or 503 "degraded"
GET /api/items  -> rows of table items (PostgreSQL) + a hit counter (Redis INCR)

It also supervises one worker process (worker.py, a cache warmer): restarted 1 s after it dies, and part of
/health through its heartbeat, so a process fault on it (sutazai.chaos.process_chaos) is seen and so is its recovery.

Every request opens fresh connections with short timeouts, so the answer comes
within ~2.5 s even when a dependency is down, paused or blackholed.
"""

import os
import signal
import subprocess
import sys
import threading
import time

import psycopg2
import redis

from common import JsonHandler, env, log, run_with_deadline, serve

SERVICE = "backend"
PG = {
    "host": env("POSTGRES_HOST", "postgres"),
    "port": int(env("POSTGRES_PORT", "5432")),
    "dbname": env("POSTGRES_DB", "demo"),
    "user": env("POSTGRES_USER", "demo"),
    "password": env("POSTGRES_PASSWORD", "demo"),
}
REDIS = {
    "host": env("REDIS_HOST", "redis"),
    "port": int(env("REDIS_PORT", "6379")),
}
TIMEOUT = 2  # seconds, connect and I/O (psycopg2's minimum is 2)
DEADLINE = 2.3  # seconds, whole check, whatever the client library does


def pg_connect():
    return psycopg2.connect(
        connect_timeout=TIMEOUT,
        application_name="sutazai-demo-backend",
        keepalives=1, keepalives_idle=1, keepalives_interval=1, keepalives_count=1,
        options="-c statement_timeout=%d" % (TIMEOUT * 1000),
        **PG)


def redis_client():
    return redis.Redis(socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT,
                       retry_on_timeout=False, **REDIS)


def pg_query(sql):
    conn = pg_connect()
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def redis_call(method, *args):
    client = redis_client()
    try:
        return getattr(client, method)(*args)
    finally:
        client.close()


WORKER = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")]
WORKER_HEARTBEAT = "/tmp/sutazai-demo-worker.beat"
WORKER_RESTART_DELAY = 1.0  # seconds
WORKER_STALE = 2.0  # seconds without a heartbeat: the worker is dead or stopped


def supervise_worker():
    """Keep one worker running: start it, wait for it, start it again 1 s after it exits."""
    while True:
        proc = subprocess.Popen(WORKER, env=dict(os.environ, WORKER_HEARTBEAT=WORKER_HEARTBEAT))
        log(SERVICE, "worker started (pid %d)" % proc.pid)
        code = proc.wait()
        log(SERVICE, "worker %d exited (%s); restarting in %.0f s" % (proc.pid, code, WORKER_RESTART_DELAY))
        time.sleep(WORKER_RESTART_DELAY)


def worker_beat():
    age = time.time() - os.stat(WORKER_HEARTBEAT).st_mtime
    if age > WORKER_STALE:
        raise RuntimeError("worker silent for %.1f s" % age)
    return round(age, 2)


CHECKS = {
    "postgres": lambda: pg_query("SELECT 1"),
    "redis": lambda: redis_call("ping"),
    "worker": worker_beat,
}


def run_parallel(funcs):
    """Run the named callables side by side, each under DEADLINE."""
    import threading

    results = {}

    def one(name, func):
        results[name] = run_with_deadline(func, DEADLINE)

    threads = [threading.Thread(target=one, args=item, daemon=True) for item in funcs.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE + 0.5)
    for name in funcs:
        results.setdefault(name, (False, "timeout", DEADLINE * 1000.0))
    return results


class Handler(JsonHandler):
    service = SERVICE

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/health":
            return self.health()
        if path == "/api/items":
            return self.items()
        return self.send_json(404, {"error": "not found", "path": path})

    do_HEAD = do_GET

    def health(self):
        results = run_parallel(CHECKS)
        deps = {
            name: {"ok": ok, "latency_ms": ms, "error": None if ok else value}
            for name, (ok, value, ms) in results.items()
        }
        healthy = all(d["ok"] for d in deps.values())
        self.send_json(200 if healthy else 503, {
            "service": SERVICE,
            "status": "ok" if healthy else "degraded",
            "dependencies": deps,
        })

    def items(self):
        results = run_parallel({
            "postgres": lambda: pg_query("SELECT id, name, price FROM items ORDER BY id"),
            "redis": lambda: redis_call("incr", "sutazai-demo:hits"),
        })
        errors = {name: value for name, (ok, value, _ms) in results.items() if not ok}
        if errors:
            return self.send_json(503, {"error": "dependency failure", "dependencies": errors})
        rows = results["postgres"][1]
        self.send_json(200, {
            "items": [{"id": r[0], "name": r[1], "price": float(r[2])} for r in rows],
            "hits": results["redis"][1],
            "latency_ms": {name: ms for name, (_ok, _v, ms) in results.items()},
        })


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log(SERVICE, "postgres=%s:%s redis=%s:%s" % (PG["host"], PG["port"], REDIS["host"], REDIS["port"]))
    threading.Thread(target=supervise_worker, daemon=True).start()
    serve(Handler, int(env("PORT", "8000")))


if __name__ == "__main__":
    main()
