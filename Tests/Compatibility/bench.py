#!/usr/bin/env python3
"""What the embedded node costs a Hummingbird app (issue 12; not run in CI): the release build of hb-session-app,
run with sessions in Hummingbird's MemoryPersistDriver (`--memory`, no cluster) and with sessions in the embedded
node (a 1-node cluster; a 3-node delta/async cluster with the load on one node), each driven by wrk through the same
cookie-keeping request cycle: log in once per wrk thread, then PUT /attr/a, GET /attr/a, GET /whoami over and over on
keep-alive connections. The configurations alternate, each in a fresh process, ROUNDS times; it prints requests/s
and mean latency per run, their means, and each configuration against memory.

usage: Tests/Compatibility/bench.py [--rounds 3] [--seconds 10] [--connections 8] [--threads 2] [--no-three]
Needs wrk (`apt-get install wrk`)."""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Integration"))
from cluster import AppCluster, Client, build_package, free_ports, say  # noqa: E402

CYCLE = """
local cookie = nil
local step = 0
request = function()
  if cookie == nil then
    return wrk.format("POST", "/login?user=bench", nil, nil)
  end
  step = step + 1
  local headers = { ["Cookie"] = cookie }
  local k = step % 3
  if k == 1 then return wrk.format("PUT", "/attr/a", headers, "value-" .. step) end
  if k == 2 then return wrk.format("GET", "/attr/a", headers, nil) end
  return wrk.format("GET", "/whoami", headers, nil)
end
response = function(status, headers, body)
  local set = headers["Set-Cookie"] or headers["set-cookie"]
  if set ~= nil and cookie == nil then cookie = string.match(set, "^([^;]+)") end
end
"""

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url, seconds, connections, threads, script):
    out = subprocess.run(["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % seconds, "-s", script, url],
                         capture_output=True, text=True, timeout=seconds + 30).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"Latency\s+([\d.]+)(us|ms|s)\b", out).groups()
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return rate, float(value) * UNITS[unit], int(errors.group(1)) if errors else 0, total


def wait_healthy(url, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            client = Client()
            status = client.request("GET", url + "/health")[0]
            client.close()
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit("%s did not come up" % url)


def run_memory(binary, options, script):
    port = free_ports(1)[0]
    log = tempfile.TemporaryFile()
    process = subprocess.Popen([binary, "--memory", "--http", "127.0.0.1:%d" % port], stdout=log,
                               stderr=subprocess.STDOUT)
    try:
        url = "http://127.0.0.1:%d" % port
        wait_healthy(url)
        return measure(url, options, script)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(10)


def run_cluster(binary, nodes, options, script):
    with AppCluster(binary, nodes, mode="delta", ack="async") as cluster:
        cluster.start_all()
        return measure(cluster.url(cluster.names[0]), options, script)


def measure(url, options, script):
    wrk(url, 2, options.connections, options.threads, script)  # warm-up: connections, caches, the JIT-free paths
    return wrk(url, options.seconds, options.connections, options.threads, script)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-three", action="store_true", help="skip the 3-node cluster")
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    binary, took = build_package("HummingbirdApp", "hb-session-app", configuration="release", build_timeout=3600)
    say("built hb-session-app (release) in %.0fs" % took)
    fd, script = tempfile.mkstemp(suffix=".lua")
    with os.fdopen(fd, "w") as f:
        f.write(CYCLE)
    runs = [("memory (MemoryPersistDriver)", lambda: run_memory(binary, options, script)),
            ("embedded node, 1-node cluster", lambda: run_cluster(binary, 1, options, script))]
    if not options.no_three:
        runs.append(("embedded node, 3-node delta/async", lambda: run_cluster(binary, 3, options, script)))
    results = {name: [] for name, _ in runs}
    say("wrk -t%d -c%d -d%ds, cycle PUT /attr/a, GET /attr/a, GET /whoami after one login per thread; %d rounds" %
        (options.threads, options.connections, options.seconds, options.rounds))
    for round in range(options.rounds):
        for name, run in runs:
            rate, latency, errors, total = run()
            results[name].append((rate, latency))
            say("round %d  %-36s %8.0f requests/s  mean latency %6.3f ms  (%d requests, %d non-2xx)" %
                (round + 1, name, rate, latency, total, errors))
    os.remove(script)
    say("")
    base = None
    for name, figures in results.items():
        rate = sum(r for r, _ in figures) / len(figures)
        latency = sum(l for _, l in figures) / len(figures)
        base = base or (rate, latency)
        say("%-36s mean %8.0f requests/s (min %.0f, max %.0f)  mean latency %6.3f ms  %.2fx the requests/s of memory, "
            "%.2fx its latency" % (name, rate, min(r for r, _ in figures), max(r for r, _ in figures), latency,
                                   rate / base[0], latency / base[1]))


if __name__ == "__main__":
    main()
