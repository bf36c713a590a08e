#!/usr/bin/env python3
"""kill -9 under load (ack: sync): a bounded load of logins and writes; kill -9 one node; zero sessions and
zero acknowledged writes lost. Prints the time until every survivor dropped the node and until every
session answered again."""
import random
import threading
import time
from cluster import Cluster, Client, check, main, say

CLIENTS, MAX_REQUESTS, MAX_SECONDS, KILL_AFTER, PACE = 8, 3000, 5.0, 1.5, 0.002


def scenario():
    for mode, nodes in (("delta", 3), ("backup", 4)):
        with Cluster(nodes, mode=mode, ack="sync") as cluster:
            cluster.start_all()
            names = cluster.initial
            victim, survivors = names[-1], names[:-1]
            down = threading.Event()
            state = [{"acked": {}, "uncertain": set(), "first_after_kill": None, "requests": 0} for _ in range(CLIENTS)]
            clients = [Client() for _ in range(CLIENTS)]
            for i, client in enumerate(clients):
                client.login(cluster.url(names[i % len(names)]), "u%d" % i)
            start = time.time()

            def load(i):
                rng = random.Random(i)
                client, mine = clients[i], state[i]
                for n in range(MAX_REQUESTS):
                    if time.time() - start > MAX_SECONDS:
                        break
                    time.sleep(PACE)
                    node = rng.choice(survivors if down.is_set() and rng.random() < 0.5 else names)
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
                        if down.is_set() and mine["first_after_kill"] is None:
                            mine["first_after_kill"] = time.time()
                    elif status == 503:
                        mine["uncertain"].add(key)  # not acknowledged in time: may have been applied
                    else:
                        raise AssertionError("client %d: PUT on %s answered %d" % (i, node, status))

            threads = [threading.Thread(target=load, args=(i,)) for i in range(CLIENTS)]
            for thread in threads:
                thread.start()
            time.sleep(KILL_AFTER)
            cluster.kill(victim)
            killed = time.time()
            down.set()
            dropped = {}
            while len(dropped) < len(survivors) and time.time() - killed < 10:
                for peer in survivors:
                    if peer not in dropped and victim not in cluster.alive(peer):
                        dropped[peer] = (time.time() - killed) * 1000
                time.sleep(0.002)
            for thread in threads:
                thread.join(30)
            check(len(dropped) == len(survivors), "%s: survivors that never dropped %s: %s" % (mode, victim, set(survivors) - set(dropped)))
            resumed = [(s["first_after_kill"] - killed) * 1000 for s in state if s["first_after_kill"]]
            check(len(resumed) == CLIENTS, "%s: %d of %d sessions never answered after the kill" % (mode, CLIENTS - len(resumed), CLIENTS))
            lost_sessions = lost_writes = checked = 0
            for i, client in enumerate(clients):
                for peer in survivors:
                    status, session = client.session(cluster.url(peer))
                    if status != 200:
                        lost_sessions += 1
                        continue
                    for key, value in state[i]["acked"].items():
                        if key in state[i]["uncertain"]:
                            continue
                        checked += 1
                        if session["attributes"].get(key) != value:
                            lost_writes += 1
            requests = sum(s["requests"] for s in state)
            check(lost_sessions == 0, "%s: %d session reads failed after the kill" % (mode, lost_sessions))
            check(lost_writes == 0, "%s: %d acknowledged writes lost" % (mode, lost_writes))
            say("%s/sync: %d requests; kill -9 %s -> dropped by every survivor after %s ms; every session answered "
                "again within %.0f ms; 0 of %d sessions and 0 of %d acknowledged writes lost"
                % (mode, requests, victim, "/".join("%.0f" % v for v in sorted(dropped.values())), max(resumed),
                   CLIENTS, checked))


main(scenario)
