"""redis-py, unchanged, against three nodes: writes on one node read on the others, DEL and RENAME seen everywhere,
concurrent HSETs of different fields on different nodes both kept, expiry replicated, WAIT.

Usage: redispy_across_nodes.py PROTOCOL MODE ACK PORT1 PORT2 PORT3. Prints one line per property and, at the
end, the replication lag it measured (async); exits non-zero with the failed property otherwise."""
import sys
import time

import redis

protocol, mode, ack = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ports = [int(p) for p in sys.argv[4:7]]
nodes = [redis.Redis(host="127.0.0.1", port=p, protocol=protocol, socket_timeout=10) for p in ports]
n1, n2, n3 = nodes
prefix = "py%d:" % protocol
lags = []


def check(condition, what):
    if not condition:
        print("FAILED: " + what, flush=True)
        sys.exit(1)
    print("ok: " + what, flush=True)


def eventually(read, want, what, timeout=5.0):
    """Polls `read` until it returns `want`: at once in sync mode, within the lag in async mode."""
    start = time.monotonic()
    while True:
        got = read()
        if got == want:
            if ack == "async":
                lags.append(time.monotonic() - start)
                print("ok: " + what, flush=True)
            else:
                check(time.monotonic() - start < 0.05, what + " (sync: readable at once, not %r)" % got)
            return
        if ack == "sync":
            check(False, "%s: sync read %r, wanted %r" % (what, got, want))
        check(time.monotonic() - start < timeout, "%s: still %r after %.0f s, wanted %r" % (what, got, timeout, want))
        time.sleep(0.002)


# A string written on n1 is read on n2 and n3.
key = prefix + "greeting"
check(n1.set(key, "hello") is True, "SET on n1")
for node, name in ((n2, "n2"), (n3, "n3")):
    eventually(lambda: node.get(key), b"hello", "GET on %s sees n1's SET" % name)

# A hash written field by field on different nodes at once: both fields survive everywhere.
session = prefix + "session"
n1.hset(session, mapping={"user": "alice", "cart": "0"})
eventually(lambda: n2.hget(session, "user"), b"alice", "HSET on n1 read on n2")
eventually(lambda: n3.hget(session, "user"), b"alice", "HSET on n1 read on n3")
n2.hset(session, "cart", "2")
n3.hset(session, "theme", "dark")
want = {b"user": b"alice", b"cart": b"2", b"theme": b"dark"}
for node, name in ((n1, "n1"), (n2, "n2"), (n3, "n3")):
    eventually(lambda: node.hgetall(session), want, "concurrent HSETs of two fields on n2 and n3 both kept on " + name)

# Expiry is replicated and reads do not extend it.
n1.pexpire(session, 1500)
eventually(lambda: n3.pttl(session) > 0, True, "PEXPIRE on n1 seen by PTTL on n3")
time.sleep(1.6)
for node, name in ((n1, "n1"), (n2, "n2"), (n3, "n3")):
    check(node.exists(session) == 0, "the key expired on %s at its replicated time" % name)

# DEL leaves a tombstone: gone everywhere; a later SET creates the key anew.
doomed = prefix + "doomed"
n1.set(doomed, "1")
eventually(lambda: n3.get(doomed), b"1", "SET on n1 read on n3")
check(n2.delete(doomed) == 1, "DEL on n2")
for node, name in ((n1, "n1"), (n3, "n3")):
    eventually(lambda: node.exists(doomed), 0, "DEL on n2 seen on " + name)
n3.set(doomed, "again")
eventually(lambda: n1.get(doomed), b"again", "a SET after DEL creates the key anew")

# RENAME: the old key is gone everywhere, the new one holds the data.
old, new = prefix + "old", prefix + "new"
n1.hset(old, mapping={"a": "1", "b": "2"})
eventually(lambda: n2.hlen(old), 2, "HSET on n1 read on n2")
check(n2.rename(old, new) is True, "RENAME on n2")
for node, name in ((n1, "n1"), (n3, "n3")):
    eventually(lambda: node.exists(old), 0, "the old name is gone on " + name)
    eventually(lambda: node.hgetall(new), {b"a": b"1", b"b": b"2"}, "the new name holds the hash on " + name)

# MULTI/EXEC as redis-actionpack sends it, on one node; read on another.
lock = prefix + "lock"
pipe = n1.pipeline(transaction=True)
pipe.setnx(lock, "1")
pipe.expire(lock, 100)
check(pipe.execute() == [True, True], "MULTI SETNX EXPIRE EXEC")
eventually(lambda: n2.ttl(lock) > 90, True, "the block's expiry read on n2")

# WAIT: the other holders of this connection's last write (delta: both peers; backup: its backup).
holders = 2 if mode == "delta" else 1
n1.set(prefix + "waited", "1")
check(n1.wait(2, 2000) == holders, "WAIT 2 2000 after a SET counts %d other holders" % holders)
check(n1.wait(0, 0) == 0, "WAIT 0 0 does not wait")
fresh = redis.Redis(host="127.0.0.1", port=ports[1], protocol=protocol, socket_timeout=10)
check(fresh.wait(1, 100) == 0, "WAIT on a connection that wrote nothing answers 0")

for key in (prefix + "greeting", doomed, new, lock, prefix + "waited"):
    n1.delete(key)
if lags:
    lags.sort()
    print("lag: %d reads, median %.1f ms, max %.1f ms" % (len(lags), lags[len(lags) // 2] * 1000, lags[-1] * 1000))
