#!/usr/bin/env python3
"""Concurrent writers: two clients share one session and write different attributes through different nodes
at the same moment, many times; at the end every node holds both sets of writes (the merge keeps both)."""
import threading
import time
from cluster import Cluster, Client, check, main, say


def scenario():
    for mode, nodes in (("delta", 3), ("backup", 3)):
        with Cluster(nodes, mode=mode) as cluster:
            cluster.start_all()
            names = cluster.initial
            first = Client()
            first.login(cluster.url(names[0]), "shared")
            second = Client(cookies=first.cookies)
            rounds, errors, last = 150, [], {}

            def writer(client, prefix, offset):
                for i in range(rounds):
                    url = cluster.url(names[(i + offset) % len(names)])
                    status = client.put(url, "%s%d" % (prefix, i % 5), str(i))
                    if status == 204:
                        last["%s%d" % (prefix, i % 5)] = str(i)
                    elif status != 503:
                        errors.append((prefix, i, status))

            start = time.time()
            threads = [threading.Thread(target=writer, args=(first, "a", 0)),
                       threading.Thread(target=writer, args=(second, "b", 1))]
            [t.start() for t in threads]
            [t.join(60) for t in threads]
            took = time.time() - start
            check(not errors, "%s: unexpected answers %s" % (mode, errors[:5]))
            time.sleep(0.5)
            merged = 0
            for name in names:
                reader = Client(cookies={"SESSIONID": first.cookies["SESSIONID"]})
                status, session = reader.session(cluster.url(name))
                check(status == 200, "%s: %s answered %d" % (mode, name, status))
                for key, value in last.items():
                    check(session["attributes"].get(key) == value,
                          "%s: %s has %s=%s, last acknowledged %s" % (mode, name, key, session["attributes"].get(key), value))
                merged = max(merged, cluster.stats(name).get("concurrent_merges", 0))
            say("%s: 2 writers x %d writes in %.1f s; every node holds all %d attributes; %d concurrent merges"
                % (mode, rounds, took, len(last), merged))


main(scenario)
