#!/usr/bin/env python3
"""Whole-cluster restart with `persistence` `snapshot` (issue 14), backup and delta mode: a 3-node cluster, 30
clients logged in with ~100 KB attributes (a few logged out again), SIGTERM to every node, every node started again
→ every session and attribute is back, the old cookies (session id and version token) are served, and the logged-out
sessions stay out. Then (delta mode) one node's file gets bytes flipped and another's is cut in half: both nodes
still start, restore their valid records, serve every live session, and say in their logs what they skipped.
Prints sessions restored, snapshot sizes and load times."""
import json
import os
import shutil
import tempfile
import time
from cluster import Cluster, Client, check, main, say

CLIENTS = 30


def snapshot_figures(cluster, names):
    figures = {}
    for name in names:
        stats = cluster.stats(name)
        figures[name] = (stats["snapshot_sessions_restored"], stats["snapshot_bytes"], stats["snapshot_load_ms"],
                         stats["snapshot_records_skipped"])
    return figures


def restart(cluster, names, what):
    for name in names:
        check(cluster.stop(name) == 0, "%s: %s did not stop cleanly" % (what, name))
    started = time.time()
    for name in names:
        cluster.start(name)
    cluster.wait_formed(names)
    return time.time() - started


def scenario():
    for mode in ("backup", "delta"):
        run(mode)


def run(mode):
    """Full restart in `mode`; then (delta mode, where every node holds every session) the damaged files."""
    directory = tempfile.mkdtemp(prefix="sc-persist-")
    try:
        with Cluster(3, mode=mode, persistence={"directory": directory, "mode": "snapshot"}) as cluster:
            cluster.start_all()
            names = cluster.initial
            jars, values, logged_out = [], [], set()
            for i in range(CLIENTS):
                client = Client()
                client.login(cluster.url(names[i % 3]), "user%d" % i)
                # ~100 KB each: a node's file spans many records, so damage costs only some of them.
                value = "cart-%d-" % i + "x" * (100000 + i * 10)
                check(client.put(cluster.url(names[(i + 1) % 3]), "cart", value) == 204, "write %d failed" % i)
                if i % 10 == 9:
                    status = client.request("POST", cluster.url(names[(i + 2) % 3]) + "/logout")[0]
                    check(status in (200, 204), "logout %d answered %d" % (i, status))
                    logged_out.add(i)
                jars.append(dict(client.cookies))
                values.append(value)
                client.close()
            time.sleep(0.5)  # asynchronous replication reaches every node before the stop

            took = restart(cluster, names, "full restart")
            figures = snapshot_figures(cluster, names)
            say("%s, full restart: formed again in %.2f s; per node (restored, bytes, load ms, skipped): %s"
                % (mode, took, figures))

            def served(name, i):
                client = Client(jars[i])
                status, body = client.session(cluster.url(name))
                client.close()
                return status, body

            back = 0
            for i in range(CLIENTS):
                for name in names:
                    status, body = served(name, i)
                    if i in logged_out:
                        check(status == 401, "logged-out session %d answered %d on %s" % (i, status, name))
                        continue
                    check(status == 200, "session %d answered %d on %s after the restart" % (i, status, name))
                    attributes = body["attributes"]
                    check(attributes.get("cart") == values[i] and body.get("user") == "user%d" % i,
                          "session %d on %s came back as %s" % (i, name, json.dumps(body)[:200]))
                    back += 1
            say("%s: every one of %d live sessions back on all 3 nodes with its attributes and old cookies; "
                "%d logged-out sessions stay out" % (mode, back // 3, len(logged_out)))
            if mode == "delta":
                check(all(f[0] == CLIENTS for f in figures.values()), "not every copy restored: %s" % figures)
            else:
                check(sum(f[0] for f in figures.values()) >= 2 * CLIENTS, "copies missing: %s" % figures)
                return

            # Damage two files while the nodes are stopped: n2's gets bytes flipped, n3's is cut in half.
            for name in names:
                check(cluster.stop(name) == 0, "%s did not stop cleanly" % name)
            flipped = os.path.join(directory, "n2", "sessions.snapshot")
            with open(flipped, "r+b") as f:
                data = bytearray(f.read())
                for offset in (len(data) - 20, len(data) - 40):
                    data[offset] ^= 0xFF
                f.seek(0)
                f.write(data)
            truncated = os.path.join(directory, "n3", "sessions.snapshot")
            size = os.path.getsize(truncated)
            with open(truncated, "r+b") as f:
                f.truncate(size // 2)
            for name in names:
                cluster.start(name)
            cluster.wait_formed(names)
            figures = snapshot_figures(cluster, names)
            say("after damage: per node (restored, bytes, load ms, skipped): %s" % figures)
            check(figures["n2"][3] >= 1 and figures["n3"][3] >= 1, "damage not counted: %s" % figures)
            check(0 < figures["n2"][0] < CLIENTS and 0 < figures["n3"][0] < CLIENTS,
                  "the damaged files should still restore their valid records: %s" % figures)
            for name in ("n2", "n3"):
                with open(cluster.path + "." + name + ".log") as log:
                    lines = [line for line in log if "warning" in line and "snapshot" in line]
                check(lines, "%s's log does not say what it skipped" % name)
                for line in lines:
                    say("%s logged: %s" % (name, line.strip()[:240]))
            # Every live session is still served: n1's intact file (and the transfer between nodes) has them all.
            for i in range(CLIENTS):
                for name in names:
                    status, body = served(name, i)
                    expected = 401 if i in logged_out else 200
                    check(status == expected, "after damage, session %d answered %d on %s" % (i, status, name))
            say("after damage: all %d live sessions served on every node" % (CLIENTS - len(logged_out)))
    finally:
        shutil.rmtree(directory, ignore_errors=True)


main(scenario)
