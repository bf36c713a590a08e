#!/usr/bin/env python3
"""16 nodes, backup mode with `copies: 3`, sync acknowledgements: the cluster forms; sessions logged in through a
round-robin balancer leave the primaries balanced (max/min per node <= 1.25) and every session held 3 times;
then kill -9 of two nodes at the same moment under a bounded write load: every session and every acknowledged
write is still readable through every survivor (zero lost). Prints the times and the per-node spread of
primaries and copies (copies follow the ring's virtual nodes)."""
# scenario-timeout: 240
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Client, Cluster, check, main, say  # noqa: E402

NODES, COPIES, SESSIONS = 16, 3, 320
WRITERS, MAX_REQUESTS, MAX_SECONDS, KILL_AFTER, PACE = 16, 400, 6.0, 2.0, 0.01


def spread(per, field):
    values = [s[field] for s in per.values()]
    return max(values), min(values), (max(values) / min(values) if min(values) else float("inf"))


def settle(cluster, names, sessions, timeout):
    """Waits until the survivors hold COPIES copies of every session and one primary each; returns the stats."""
    deadline = time.time() + timeout
    while True:
        per = {n: cluster.stats(n) for n in names}
        held = sum(s["sessions"] for s in per.values())
        primaries = sum(s["primaries"] for s in per.values())
        if (held, primaries) == (COPIES * sessions, sessions) or time.time() > deadline:
            return per, held, primaries
        time.sleep(0.1)


def scenario():
    with Cluster(NODES, mode="backup", ack="sync", copies=COPIES) as cluster:
        names = cluster.initial
        began = time.time()
        for name in names:
            cluster.start(name)
        cluster.wait_formed(names, timeout=60)
        formed = time.time() - began
        say("%d nodes formed in %.1f s" % (NODES, formed))

        clients = []
        for i in range(SESSIONS):
            client = Client()
            client.login(cluster.url(names[i % NODES]), "u%d" % i)  # a round-robin balancer
            clients.append(client)
        per, held, primaries = settle(cluster, names, SESSIONS, 15)
        top, bottom, ratio = spread(per, "primaries")
        copies_top, copies_bottom, copies_ratio = spread(per, "sessions")
        say("%d sessions: %d copies held (want %d), %d primaries; primaries per node %d..%d (max/min %.2f), "
            "copies per node %d..%d (max/min %.2f)"
            % (SESSIONS, held, COPIES * SESSIONS, primaries, bottom, top, ratio, copies_bottom, copies_top,
               copies_ratio))
        check(held == COPIES * SESSIONS and primaries == SESSIONS,
              "%d copies and %d primaries, expected %d and %d" % (held, primaries, COPIES * SESSIONS, SESSIONS))
        check(ratio <= 1.25, "primaries per node max/min %.2f > 1.25" % ratio)

        victims = random.Random().sample(names, 2)
        survivors = [n for n in names if n not in victims]
        down = threading.Event()
        state = [{"acked": {}, "uncertain": set(), "requests": 0, "refused": 0} for _ in range(WRITERS)]
        start = time.time()

        def load(i):
            rng = random.Random(i)
            client, mine = clients[i], state[i]
            for n in range(MAX_REQUESTS):
                if time.time() - start > MAX_SECONDS:
                    break
                time.sleep(PACE)
                node = rng.choice(survivors if down.is_set() else names)
                key, value = "k%d" % (n % 4), "%d-%d" % (i, n)
                try:
                    status = client.put(cluster.url(node), key, value)
                except OSError:
                    mine["uncertain"].add(key)  # the node died under the request: the write may or may not be there
                    continue
                mine["requests"] += 1
                if status == 204:
                    mine["acked"][key] = value
                    mine["uncertain"].discard(key)
                elif status == 503:
                    mine["uncertain"].add(key)  # not acknowledged in time: may have been applied
                    mine["refused"] += 1
                else:
                    raise AssertionError("writer %d: PUT on %s answered %d" % (i, node, status))

        threads = [threading.Thread(target=load, args=(i,)) for i in range(WRITERS)]
        for thread in threads:
            thread.start()
        time.sleep(KILL_AFTER)
        for victim in victims:
            cluster.processes[victim].kill()  # SIGKILL both before waiting for either
        for victim in victims:
            cluster.processes[victim].wait(10)
        killed = time.time()
        down.set()
        dropped = {}
        while len(dropped) < len(survivors) and time.time() - killed < 15:
            for peer in survivors:
                if peer not in dropped and not set(victims) & set(cluster.alive(peer)):
                    dropped[peer] = (time.time() - killed) * 1000
            time.sleep(0.01)
        for thread in threads:
            thread.join(30)
        check(len(dropped) == len(survivors), "survivors that never dropped %s: %s" % (victims, set(survivors) - set(dropped)))
        per, held, primaries = settle(cluster, survivors, SESSIONS, 20)
        repaired = time.time() - killed
        top, bottom, ratio = spread(per, "primaries")
        say("kill -9 %s at once: dropped by all %d survivors within %.0f ms; %d copies (want %d), %d primaries "
            "%.1f s after the kill; primaries per survivor %d..%d (max/min %.2f)"
            % ("+".join(victims), len(survivors), max(dropped.values()), held, COPIES * SESSIONS, primaries,
               repaired, bottom, top, ratio))
        check(held == COPIES * SESSIONS and primaries == SESSIONS,
              "after the kill: %d copies and %d primaries, expected %d and %d"
              % (held, primaries, COPIES * SESSIONS, SESSIONS))

        lost_sessions = lost_writes = checked = reads = 0
        for i, client in enumerate(clients):
            for peer in survivors:
                status, session = client.session(cluster.url(peer))
                reads += 1
                if status != 200:
                    lost_sessions += 1
                    continue
                check(session["user"] == "u%d" % i, "session of u%d read through %s is %s's" % (i, peer, session["user"]))
                if i >= WRITERS:
                    continue
                for key, value in state[i]["acked"].items():
                    if key in state[i]["uncertain"]:
                        continue
                    checked += 1
                    if session["attributes"].get(key) != value:
                        lost_writes += 1
        requests = sum(s["requests"] for s in state)
        refused = sum(s["refused"] for s in state)
        check(lost_sessions == 0, "%d of %d session reads failed after the kill" % (lost_sessions, reads))
        check(lost_writes == 0, "%d of %d acknowledged writes lost" % (lost_writes, checked))
        say("%d writes (%d answered 503); %d reads of %d sessions through all %d survivors: 0 sessions lost, "
            "0 of %d acknowledged writes lost; %.0f s in all" % (requests, refused, reads, SESSIONS, len(survivors),
                                                              checked, time.time() - began))
        for client in clients:
            client.close()


if __name__ == "__main__":
    main(scenario)
