#!/usr/bin/env python3
"""A recording of a gone node's membership datagrams, replayed to a node that never heard them (restarted since),
shows the gone node as a member only while the recording is young: datagrams carry their send time, and a node
drops those sent more than `maxClockDriftMillis` + 10 s ago (here 0.1 + 10 s), counts them (`dropped_stale`) and
logs it. The first replay, while the recording is young, proves the attack is real (the ghost joins); the second,
once it is older than the bound, must bring nothing."""
import json
import socket
import time
from cluster import Client, Cluster, SkipScenario, check, main, say

MAX_AGE = 10.1  # seconds: maxClockDriftMillis 100 + 10 s


def record(group, port, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((group, port))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(group) + socket.inet_aton("127.0.0.1"))
    s.settimeout(0.2)
    datagrams, deadline = [], time.time() + seconds
    try:
        while time.time() < deadline:
            try:
                datagrams.append(s.recv(65536))
            except socket.timeout:
                pass
    finally:
        s.close()
    return datagrams


def sender(datagram):
    """The sender id in an envelope's clear header ("SE", version, channel, key id, sender id (8), counter (8))."""
    return datagram[5:13].hex() if len(datagram) > 21 and datagram[:2] == b"SE" else None


def log_since(cluster, name, offset):
    with open(cluster.path + "." + name + ".log") as f:
        return f.read()[offset:]


def log_size(cluster, name):
    with open(cluster.path + "." + name + ".log") as f:
        return len(f.read())


def replay_to_restarted_n1(cluster, recording, group, port):
    """Restarts n1 (a new process: it never heard the recording) and replays the recording to it; returns its log
    since the restart."""
    cluster.stop("n1")
    offset = log_size(cluster, "n1")
    cluster.start("n1")
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            if cluster.alive("n1") == ["n1"]:
                break
        except OSError:
            pass
        time.sleep(0.05)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    for datagram in recording:
        udp.sendto(datagram, (group, port))
        time.sleep(0.002)
    udp.close()
    time.sleep(1.0)
    return log_since(cluster, "n1", offset)


def scenario():
    with Cluster(2, mode="delta") as cluster:
        config = json.load(open(cluster.path))
        config["replication"]["maxClockDriftMillis"] = 100
        json.dump(config, open(cluster.path, "w"), indent=2)
        multicast = config["membership"]["multicast"]
        group, port = multicast["group"], multicast["port"]
        cluster.start_all()
        recorded_at = time.time()
        recording = record(group, port, 1.5)
        senders = {sender(d) for d in recording} - {None}
        if len(senders) < 2:
            raise SkipScenario("recorded datagrams of %d sender(s) on the multicast group: this membership "
                               "protocol multicasts too rarely to record both nodes" % len(senders))
        say("recorded %d datagrams of %d senders" % (len(recording), len(senders)))
        cluster.kill("n2")
        # Young recording: the ghost of n2 joins the restarted n1 (the attack this scenario guards against).
        young = replay_to_restarted_n1(cluster, recording, group, port)
        age = time.time() - recorded_at
        check(age < MAX_AGE - 2, "the first replay came too late (%.1f s) to be young" % age)
        check("member joined" in young and "peer=n2" in young,
              "a young recording did not bring n2 back: the replay path is not what this scenario tests")
        say("young recording (%.1f s): the ghost of n2 joined the restarted n1, as expected" % age)
        # Old recording: nothing.
        time.sleep(max(0, recorded_at + MAX_AGE + 1.5 - time.time()))
        old = replay_to_restarted_n1(cluster, recording, group, port)
        age = time.time() - recorded_at
        joined = [line for line in old.splitlines() if "member joined" in line and "peer=n2" in line]
        check(not joined, "a recording %.1f s old brought n2 back: %s" % (age, joined[:1]))
        status, body, _ = Client().request("GET", cluster.url("n1") + "/metrics")
        stale = [line for line in body.splitlines() if line.startswith("sessioncluster_dropped_stale")]
        check(stale and int(stale[0].rsplit(" ", 1)[1]) >= len(recording) // 2,
              "n1 did not count the stale datagrams: %s" % stale)
        check("dropped membership datagrams sent too long ago" in old, "n1 did not log the stale datagrams")
        check(cluster.alive("n1") == ["n1"], "n1's members after the old replay: %s" % cluster.members("n1"))
        say("old recording (%.1f s): n2 never joined the restarted n1; %s" % (age, stale[0]))


if __name__ == "__main__":
    main(scenario)
