extension ReplicationInstance {
    /// The held copies by session id, counting the valid ones as they change.
    ///
    /// The shell checks its session limit on every create: a scan of every copy per create would make filling a
    /// node quadratic (and each copy is a pointer away, so a scan misses the cache once per session).
    struct ReplicaTable: Sendable, Sequence {
        private var replicas: [SessionID: Replica] = [:]
        /// How many held copies are valid sessions.
        private(set) var liveCount = 0

        subscript(id: SessionID) -> Replica? {
            get { replicas[id] }
            // Assignments and in-place mutations both come through here, so every change of validity is counted.
            _modify {
                let wasLive = replicas[id]?.isValid == true
                defer {
                    let isLive = replicas[id]?.isValid == true
                    if wasLive != isLive { liveCount += isLive ? 1 : -1 }
                }
                yield &replicas[id]
            }
        }

        var keys: Dictionary<SessionID, Replica>.Keys { replicas.keys }
        var values: Dictionary<SessionID, Replica>.Values { replicas.values }
        var count: Int { replicas.count }

        func makeIterator() -> Dictionary<SessionID, Replica>.Iterator { replicas.makeIterator() }
    }
}
