#!/usr/bin/env python3
"""Key rotation without downtime: through the cluster file and SIGHUP, one step at a time on every node —
install the new key, make it current, retire the old secret. The cluster stays whole and serving at every
step; at the end a node holding only the old secret cannot join."""
import json
import signal
import subprocess
import time
from cluster import BINARY, Cluster, Client, check, free_ports, main, say

NEW = "the rotated cluster secret, 32 bytes or more"


def scenario():
    with Cluster(3, mode="delta") as cluster:
        cluster.start_all()
        names = cluster.initial
        config = json.load(open(cluster.path))
        old = config["secret"]
        clients = []
        for i in range(10):
            client = Client()
            client.login(cluster.url(names[i % 3]), "u%d" % i)
            clients.append(client)

        def step(label, change):
            change(config)
            json.dump(config, open(cluster.path, "w"))
            start = time.time()
            for name in names:
                cluster.processes[name].send_signal(signal.SIGHUP)
            time.sleep(0.6)
            for name in names:
                check(cluster.alive(name) == sorted(names), "%s: %s sees %s" % (label, name, cluster.alive(name)))
            for i, client in enumerate(clients):
                check(client.put(cluster.url(names[(i + 1) % 3]), "step", label) == 204, "%s: write failed" % label)
                status, session = client.session(cluster.url(names[(i + 2) % 3]))
                check(status == 200 and session["attributes"]["step"] == label, "%s: read failed" % label)
            say("%s: all nodes reloaded, cluster whole, 10 sessions written and read across nodes (%.1f s)"
                % (label, time.time() - start))

        step("install", lambda c: c.update({"keys": [{"id": 2, "secret": NEW}]}))
        step("switch", lambda c: c.update({"currentKey": 2}))
        step("retire", lambda c: c.update({"secret": NEW}))
        for name in names:
            log = open(cluster.path + "." + name + ".log").read()
            check("keys reloaded" in log and "NOT reloaded" not in log, "%s did not reload its keys" % name)
        unknown = sum(cluster.stats(n).get("dropped_unknown_key", 0) for n in names)

        # A node configured with the old secret only is a stranger now.
        stale = dict(config, secret=old)
        stale.pop("keys")
        stale.pop("currentKey")
        ports = free_ports(2)
        stale["nodes"] = config["nodes"] + [{"name": "old", "replication": "127.0.0.1:%d" % ports[0], "http": "127.0.0.1:%d" % ports[1]}]
        path = cluster.path + ".stale.json"
        json.dump(stale, open(path, "w"))
        process = subprocess.Popen([BINARY, "run", "--config", path, "--node", "old"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(1.5)
            for name in names:
                check("old" not in [m["name"] for m in cluster.members(name)], "a node with the old secret joined")
            rejected = sum(cluster.stats(n).get("dropped_unauthenticated", 0) for n in names)
            check(rejected > 0, "the stale node's beacons were not counted as unauthenticated")
        finally:
            process.terminate()
            process.wait(10)
        say("rotation done with %d envelopes under an unknown key during it; a node with only the old secret "
            "was kept out (%d of its envelopes rejected as unauthenticated)" % (unknown, rejected))


main(scenario)
