#!/usr/bin/env python3
"""Replication port flood: 400 anonymous connections to a node's replication port, none saying hello, while a
client uses the cluster. The node keeps at most `maxInboundLinks` (set to 64 here) and closes the others at once;
those it kept are closed when the hello timeout (1 s) passes. Its real peer link keeps working (a write on one
node is read on the other), the counters say what happened, and its descriptor count returns to its baseline.
Then, while strangers keep opening connections to that port (one every 5 ms, kept open), the other node is
killed and restarted: its new link still gets in (at the cap the oldest connection without a hello makes room),
and sessions created on it reach the flooded node."""
import json
import os
import socket
import threading
import time
from cluster import Cluster, Client, check, main, say

FLOOD = 400
CAP = 64


def descriptors(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def scenario():
    with Cluster(2) as cluster:
        config = json.load(open(cluster.path))
        config["limits"] = {"replication": {"helloTimeoutMillis": 1_000, "maxInboundLinks": CAP}}
        json.dump(config, open(cluster.path, "w"), indent=2)
        cluster.start_all()
        first, second = cluster.initial
        pid = cluster.processes[first].pid
        time.sleep(0.3)
        baseline = descriptors(pid)
        host, port = cluster.replication[first].split(":")
        started = time.time()
        flood = []
        for _ in range(FLOOD):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(5)
            s.connect((host, int(port)))
            flood.append(s)
        # The cluster still replicates: a write on one node is read on the other.
        client = Client()
        client.login(cluster.url(second), "alice")
        check(client.put(cluster.url(second), "colour", "teal") == 204, "write failed during the flood")
        status, session = client.session(cluster.url(first))
        check(status == 200 and session["attributes"].get("colour") == "teal", "read on the other node: %s" % status)
        # The kernel completes the handshakes before the node accepts them: give the node a moment to drain its
        # accept queue (the hello deadline is 1 s, so anything still pending later is a real miss).
        deadline = time.time() + 0.8
        stats = cluster.stats(first)
        while time.time() < deadline and (stats["links_inbound"] + stats["links_rejected"]
                                          + stats["links_timed_out"]) < FLOOD:
            time.sleep(0.02)
            stats = cluster.stats(first)
        say("during the flood: %d inbound links open, %d rejected at once"
            % (stats["links_inbound"], stats["links_rejected"]))
        check(stats["links_inbound"] <= CAP, "more inbound links than the cap: %d" % stats["links_inbound"])
        check(stats["links_rejected"] + stats["links_timed_out"] >= FLOOD - CAP,
              "rejected only %d (hello timeouts %d)" % (stats["links_rejected"], stats["links_timed_out"]))
        # Every anonymous connection is closed by the node: at once (over the cap) or at the hello deadline.
        closed = 0
        for s in flood:
            s.settimeout(max(0.1, started + 4 - time.time()))
            try:
                closed += s.recv(16) == b""
            except ConnectionResetError:
                closed += 1
            except OSError:
                pass
        took = time.time() - started
        stats = cluster.stats(first)
        say("%d of %d closed by the node within %.1fs; hello timeouts %d, rejected %d"
            % (closed, FLOOD, took, stats["links_timed_out"], stats["links_rejected"]))
        check(closed == FLOOD, "only %d of %d anonymous connections were closed" % (closed, FLOOD))
        check(stats["links_timed_out"] + stats["links_rejected"] >= FLOOD, "the counters miss connections")
        for s in flood:
            s.close()
        client.close()
        deadline = time.time() + 5
        while time.time() < deadline and descriptors(pid) > baseline:
            time.sleep(0.1)
        now = descriptors(pid)
        say("descriptors: %d (baseline %d)" % (now, baseline))
        check(now <= baseline, "node holds %d descriptors, baseline %d" % (now, baseline))
        status, session = client.session(cluster.url(first))
        check(status == 200, "the cluster stopped serving after the flood: %d" % status)

        # A peer must still get in while strangers keep the slots full.
        stop = threading.Event()
        strangers = []

        def keep_flooding():
            while not stop.is_set() and len(strangers) < 3_000:
                try:
                    strangers.append(socket.create_connection((host, int(port)), timeout=2))
                except OSError:
                    pass
                time.sleep(0.005)

        flooder = threading.Thread(target=keep_flooding, daemon=True)
        flooder.start()
        time.sleep(0.5)
        cluster.kill(second)
        restarted = time.time()
        cluster.start(second)
        cluster.wait_formed([first, second], timeout=10)
        users = 20
        for i in range(users):
            Client().login(cluster.url(second), "restart-%d" % i)
        deadline = time.time() + 5
        while time.time() < deadline and cluster.stats(first)["sessions"] < users + 1:
            time.sleep(0.05)
        reached = cluster.stats(first)["sessions"]
        took = time.time() - restarted
        stats = cluster.stats(first)
        stop.set()
        flooder.join()
        say("restarted peer under a flood of %d strangers: re-formed and replicated %d sessions in %.1fs; "
            "rejected %d, hello timeouts %d" % (len(strangers), reached, took, stats["links_rejected"],
                                                 stats["links_timed_out"]))
        check(reached >= users + 1, "sessions created on the restarted peer did not reach the flooded node: %d"
              % reached)
        for s in strangers:
            s.close()


if __name__ == "__main__":
    main(scenario)
