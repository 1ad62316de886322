"""Chaos Toolkit side by side: the same kill-and-recover experiment on the same container, and the same
pause-then-interrupt cases (SIGINT, SIGTERM, SIGKILL of the runner) counting the faults left behind.

    .venv/bin/python benchmarks/peer.py       # prints the tables; run.py includes them

Chaos Toolkit (``chaostoolkit`` from PyPI, pinned below) lives in its own virtualenv, .cache/bench/ctk-venv,
made here when missing. Its only call home in this version is the release check of ``chaos`` (chaostoolkit/
check.py), switched off with ``--no-version-check``; it reads no settings but an empty file of ours
(``--settings``), so no notification or control plugin is loaded. Its experiments (benchmarks/peer/*.json)
use the ``process`` provider to run benchmarks/peer/ctk_actions.py, which makes the same calls as our modules.
The target is one container ``szb-<hex>-peer`` from the demo image (Python's HTTP file server on a port
published on 127.0.0.1, ``--restart=always``), removed at the end.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

import docker

from common import ENV, IMAGE, ROOT, VENV_BIN, log, ratio, state_folder, table

CTK_VERSION = "1.19.0"
CTK_VENV = os.path.join(ROOT, ".cache", "bench", "ctk-venv")
PEER = os.path.join(ROOT, "benchmarks", "peer")
ACTIONS = os.path.join(PEER, "ctk_actions.py")
HOLD_SECONDS = 4  # our pause's duration in the interrupt cases; Chaos Toolkit's experiment holds it 8 s
RUNS = 3
SETTLE_SECONDS = 10.5  # Docker doubles the restart delay of a container that ran under 10 s: let it run longer
# The peer's HTTP service, spelled so that no "http.server" or "sleep infinity" pattern of another test on the
# shared machine matches its command line (one run saw the peer SIGKILLed every 2 s by something not ours).
PEER_SERVICE = ("import importlib; s = importlib.import_module('http' + '.server'); "
                "s.ThreadingHTTPServer(('', 8080), s.SimpleHTTPRequestHandler).serve_forever()")


def ensure_ctk():
    chaos = os.path.join(CTK_VENV, "bin", "chaos")
    if not os.path.exists(chaos):
        log("peer: installing chaostoolkit==%s into %s" % (CTK_VERSION, CTK_VENV))
        subprocess.run(["/usr/bin/python3", "-m", "venv", CTK_VENV], check=True)
        subprocess.run([os.path.join(CTK_VENV, "bin", "pip"), "install", "-q", "chaostoolkit==%s" % CTK_VERSION],
                       check=True)
    version = subprocess.run([chaos, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    return chaos, version


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(url):
    try:
        with urllib.request.urlopen(url, timeout=0.5) as response:
            return response.status == 200
    except OSError:
        return False


def wait_healthy(url, seconds=30):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if answers(url):
            return True
        time.sleep(0.1)
    raise RuntimeError("peer: %s did not answer within %s s" % (url, seconds))


class Peer:
    def __init__(self, client, prefix):
        self.client = client
        self.name = prefix + "peer"
        self.port = free_port()
        self.url = "http://127.0.0.1:%d/" % self.port
        self.container = client.containers.run(
            IMAGE, ["python3", "-c", PEER_SERVICE, "szb-peer-service"], name=self.name, detach=True, working_dir="/tmp",
            restart_policy={"Name": "always"}, ports={"8080/tcp": ("127.0.0.1", self.port)},
            labels={"szb.run": prefix})
        wait_healthy(self.url)

    def settle(self):
        """Wait until the service answers and its container has run SETTLE_SECONDS since its last start."""
        wait_healthy(self.url)
        self.container.reload()
        started = self.container.attrs["State"]["StartedAt"]
        ran = time.time() - _epoch(started)
        if ran < SETTLE_SECONDS:
            time.sleep(SETTLE_SECONDS - ran)

    def paused(self):
        self.container.reload()
        return bool(self.container.attrs["State"]["Paused"])

    def remove(self):
        self.container.remove(force=True)


def _epoch(docker_time):
    """Docker's RFC 3339 time with nanoseconds -> epoch seconds."""
    import calendar

    stamp, _dot, fraction = docker_time.rstrip("Z").partition(".")
    return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%S")) + float("0." + (fraction or "0")[:6])


def ctk_env(peer, state_dir):
    # "python3" in the experiments is Chaos Toolkit's own (its venv first on PATH)
    return dict(ENV, PEER_CONTAINER=peer.name, PEER_URL=peer.url, PEER_ACTIONS=ACTIONS,
                PEER_HOLD_SECONDS=str(HOLD_SECONDS), HOME=state_dir,
                PATH=os.path.join(CTK_VENV, "bin") + os.pathsep + ENV.get("PATH", "/usr/bin:/bin"))


def ctk_argv(chaos, experiment, state_dir, extra=()):
    settings = os.path.join(state_dir, "ctk-settings.yaml")
    if not os.path.exists(settings):
        with open(settings, "w") as handle:
            handle.write("{}\n")
    return [chaos, "--no-version-check", "--settings", settings, "--log-file", os.path.join(state_dir, "ctk.log"),
            "run", "--journal-path", os.path.join(state_dir, "journal.json")] + list(extra) + \
        [os.path.join(PEER, experiment)]


def ours_argv(playbook, peer, state_dir):
    return [os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", os.path.join(PEER, playbook),
            "-e", json.dumps({"peer_container": peer.name, "peer_url": peer.url, "peer_state_dir": state_dir,
                              "peer_hold_seconds": HOLD_SECONDS})]


def kill_and_recover(chaos, peer, state_dir):
    """Rows: wall time and reported recovery, bash / sutazai.chaos / Chaos Toolkit, medians of RUNS."""
    walls = {"bash": [], "ours": [], "ctk": []}
    recoveries = {"bash": [], "ours": [], "ctk": []}
    for _run in range(RUNS):
        peer.settle()
        started = time.monotonic()
        out = subprocess.run([os.path.join(PEER, "kill-and-recover.sh"), peer.name, peer.url], capture_output=True,
                             text=True, check=True).stdout
        walls["bash"].append(time.monotonic() - started)
        recoveries["bash"].append(float(out.strip()))

        peer.settle()
        started = time.monotonic()
        done = subprocess.run(ours_argv("kill-and-recover.yml", peer, state_dir), cwd=ROOT, env=ENV,
                              capture_output=True, text=True, check=False)
        if done.returncode:
            peer.container.reload()
            state = peer.container.attrs["State"]
            raise RuntimeError("peer: kill-and-recover.yml failed (container %s, restarts %s, error %r): %s"
                               % (state["Status"], peer.container.attrs.get("RestartCount"), state.get("Error"),
                                  done.stdout[:1500]))
        out = done.stdout
        walls["ours"].append(time.monotonic() - started)
        tasks = json.loads(out)["plays"][0]["tasks"]
        recoveries["ours"].append(tasks[-1]["hosts"]["localhost"]["recovery_seconds"])

        peer.settle()
        journal = os.path.join(state_dir, "journal.json")
        started = time.monotonic()
        subprocess.run(ctk_argv(chaos, "kill-and-recover.json", state_dir), cwd=state_dir,
                       env=ctk_env(peer, state_dir), capture_output=True, text=True, check=True)
        walls["ctk"].append(time.monotonic() - started)
        with open(journal) as handle:
            run = json.load(handle)
        probe = [r for r in run["run"] if r["activity"]["name"] == "time-to-recovery"][0]
        if run["status"] != "completed":
            raise RuntimeError("peer: chaos run ended %s" % run["status"])
        recoveries["ctk"].append(float(probe["output"]["stdout"].strip()))
    return {tool: (statistics.median(walls[tool]), statistics.median(recoveries[tool]), max(recoveries[tool]))
            for tool in walls}


def interrupt_case(argv, env, cwd, peer, signum):
    """Start a runner, signal its process group once the container is paused; (left at exit, left later)."""
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    end = time.monotonic() + 60
    while not peer.paused():
        if time.monotonic() > end or process.poll() is not None:
            process.kill()
            raise RuntimeError("peer: the runner never paused %s" % peer.name)
        time.sleep(0.05)
    paused_at = time.monotonic()
    time.sleep(1.0)
    os.killpg(process.pid, signum)  # the whole group, as Ctrl-C in a terminal or an AWX cancel does
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    left_at_exit = peer.paused()
    time.sleep(max(0.0, paused_at + HOLD_SECONDS + 2.0 - time.monotonic()))
    left_later = peer.paused()
    if peer.paused():
        peer.container.unpause()
    return int(left_at_exit), int(left_later)


def interrupts(chaos, peer, state_dir):
    rows = []
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        ours = interrupt_case(ours_argv("pause-then-wait.yml", peer, state_dir), ENV, ROOT, peer, signum)
        ctk = interrupt_case(ctk_argv(chaos, "pause-then-wait.json", state_dir), ctk_env(peer, state_dir), state_dir,
                             peer, signum)
        ctk_always = interrupt_case(ctk_argv(chaos, "pause-then-wait.json", state_dir, ["--rollback-strategy", "always"]),
                                    ctk_env(peer, state_dir), state_dir, peer, signum)
        rows.append((signum.name, ours, ctk, ctk_always))
        log("peer: %s: ours %s, ctk %s, ctk always %s" % (signum.name, ours, ctk, ctk_always))
    return rows


def run():
    chaos, version = ensure_ctk()
    client = docker.DockerClient(base_url="unix:///var/run/docker.sock")
    prefix = "szb-%s-" % os.urandom(3).hex()
    peer = Peer(client, prefix)
    try:
        with state_folder("szb-peer-") as state_dir:
            timing = kill_and_recover(chaos, peer, state_dir)
            log("peer: kill and recover %s" % timing)
            left = interrupts(chaos, peer, state_dir)
    finally:
        peer.remove()
    return version, timing, left


def render(version, timing, left):
    bash_wall = timing["bash"][0]
    names = {"bash": "plain bash (kill -9, curl every 0.1 s)", "ours": "sutazai.chaos playbook (container_chaos kill "
             "+ health_probe until_healthy, 0.1 s)", "ctk": "Chaos Toolkit %s (process provider, same calls)" % version}
    out = table(["runner", "wall s (median of %d)" % RUNS, "over bash s", "ratio to bash", "reported recovery s",
                 "worst recovery s"],
                [(names[t], "%.2f" % timing[t][0], "%+.2f" % (timing[t][0] - bash_wall), ratio(timing[t][0], bash_wall),
                  "%.2f" % timing[t][1], "%.2f" % timing[t][2]) for t in ("bash", "ours", "ctk")])
    out += ["", "Pause, then the runner's process group gets the signal 1 s into the hold (as Ctrl-C in a terminal"
            " or an AWX cancel does). Containers left paused when the runner had exited / %d s after the pause"
            " (our pause has duration %d s and the reaper ends it; Chaos Toolkit's experiment holds 8 s and"
            " unpauses in its rollbacks):" % (HOLD_SECONDS + 2, HOLD_SECONDS), ""]
    out += table(["signal", "sutazai.chaos (left at exit / later)", "Chaos Toolkit, default rollback strategy",
                  "Chaos Toolkit, --rollback-strategy always"],
                 [(sig, "%d / %d" % ours, "%d / %d" % ctk, "%d / %d" % always) for sig, ours, ctk, always in left])
    return out


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    print("\n".join(render(*run())))
