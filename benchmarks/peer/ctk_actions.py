"""Actions and probes for the Chaos Toolkit side of the comparison (its ``process`` provider runs this file).

    python ctk_actions.py kill NAME            # SIGKILL of the container's main process from the host (a crash)
    python ctk_actions.py wait-healthy URL S   # poll URL every 0.1 s until it answers 200; prints the seconds
    python ctk_actions.py healthy URL          # exit 0 when URL answers 200
    python ctk_actions.py pause NAME | unpause NAME

Standard library and /usr/bin/docker only, so it runs in Chaos Toolkit's own virtualenv. The same calls as
our modules make (host-side SIGKILL, the engine's pause), so both tools do the same work.
"""

import os
import signal
import subprocess
import sys
import time
import urllib.request

DOCKER = "/usr/bin/docker"


def answers(url):
    try:
        with urllib.request.urlopen(url, timeout=0.5) as response:
            return response.status == 200
    except OSError:
        return False


def main(argv):
    what = argv[0]
    if what == "kill":
        pid = subprocess.run([DOCKER, "inspect", "-f", "{{.State.Pid}}", argv[1]], capture_output=True, text=True,
                             check=True).stdout.strip()
        os.kill(int(pid), signal.SIGKILL)
        print("killed %s (pid %s) at %.6f" % (argv[1], pid, time.time()))
        return 0
    if what == "wait-healthy":
        started, limit = time.monotonic(), float(argv[2])
        while time.monotonic() - started < limit:
            if answers(argv[1]):
                print("%.3f" % (time.monotonic() - started))
                return 0
            time.sleep(0.1)
        print("not healthy after %s s" % argv[2])
        return 1
    if what == "healthy":
        return 0 if answers(argv[1]) else 1
    if what in ("pause", "unpause"):
        subprocess.run([DOCKER, what, argv[1]], check=True, capture_output=True)
        return 0
    sys.stderr.write("unknown action %r\n" % what)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
