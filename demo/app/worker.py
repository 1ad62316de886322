"""sutazai-chaos demo worker: the backend's background process (a cache warmer).

The backend starts it and restarts it 1 s after it dies, as a supervisor inside a container would. A thread of
its own beats a heartbeat file every 0.5 s; the backend's /health reports the worker unhealthy when the heartbeat
is older than 2 s, so a killed or a stopped (SIGSTOP) worker shows, and so does its recovery. The beat does not
wait for redis: a slow or lossy cache (up to 1 s to connect plus 1 s per call) must not look like a dead worker,
or every cache fault would also fail the worker's check.
"""

import os
import signal
import sys
import threading
import time

import redis

HEARTBEAT = os.environ.get("WORKER_HEARTBEAT", "/tmp/sutazai-demo-worker.beat")


def beat():
    while True:
        with open(HEARTBEAT, "w") as handle:
            handle.write("%f\n" % time.time())
        time.sleep(0.5)


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    threading.Thread(target=beat, daemon=True).start()
    client = redis.Redis(host=os.environ.get("REDIS_HOST", "redis"), port=int(os.environ.get("REDIS_PORT", "6379")),
                         socket_connect_timeout=1, socket_timeout=1)
    while True:
        try:
            client.set("sutazai-demo:warmed-at", int(time.time()))
        except redis.RedisError:
            pass  # the cache being down is the backend's health check's business, not the worker's
        time.sleep(0.5)


if __name__ == "__main__":
    main()
