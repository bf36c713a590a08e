import SessionClusterCore

/// The session API for callers on the node's own event loop (a server running its sockets there).
extension ClusterNode {
    /// The node's first event loop (shard 0's: membership and the node's sockets). A server that runs its own
    /// sockets on it (as the `session-node` HTTP front end does) can use the callback methods below: called on the
    /// loop of the session's shard, a request for a session held here completes before the call returns — no
    /// thread hop, no task. Anything slow run on the loop delays the node's protocol work.
    public var eventLoop: EventLoop { loop }

    /// Every loop of the node, one per shard (`ClusterNodeSettings.loops`). A server may run connections on each;
    /// a callback method called on one of them for a session of another shard runs there and answers back on the
    /// calling loop (two thread hops). `eventLoop(for:)` names the loop that answers a session at once.
    public var eventLoops: [EventLoop] { shards.loops }

    /// The loop that owns session `id` (its shard's).
    public func eventLoop(for id: SessionID) -> EventLoop { shards.loops[shards.shard(of: id)] }

    /// Reads a session; `done` runs on the node's loop (at once when called there and the copy is here).
    public func read(
        _ id: SessionID, token: VersionToken?, then done: @escaping (Result<SessionSnapshot, SessionError>) -> Void
    ) {
        onShard(of: id, rejected: { .failure(.shuttingDown) }, { $0.read(id, token: token, $1) }, then: done)
    }

    /// Reads session `id` in place: `project` runs on the loop of the session's shard with its held copy, copying
    /// out only what it asks for, and `done` gets its result on the calling loop (for the Redis front end: an
    /// `HGET` on a big hash reads one field, where a snapshot decodes them all into a dictionary). `project` MUST
    /// NOT touch state of the calling loop: with several loops it runs on another thread. Same failures as `read`.
    package func peek<Value>(
        _ id: SessionID, _ project: @escaping (SessionView) -> Value,
        then done: @escaping (Result<Value, SessionError>) -> Void
    ) {
        onShard(of: id, rejected: { .failure(.shuttingDown) }, { $0.peek(id, project, $1) }, then: done)
    }

    /// `update` for a write that does not read the session (a `PUT` of one attribute): `body` records the changes
    /// and runs on the loop of the session's shard (with several loops, another thread: it MUST NOT touch the
    /// caller's state); `done` runs on the calling loop. No snapshot is built, which saves a dictionary of every
    /// attribute per request. Same failures as `update`.
    package func write<Value>(
        _ id: SessionID, token: VersionToken?, _ body: @escaping (inout SessionChanges) throws -> Value,
        then done: @escaping (Result<SessionUpdate<Value>, SessionError>) -> Void
    ) {
        onShard(of: id, rejected: { .failure(.shuttingDown) }, { $0.write(id, token: token, body, $1) }, then: done)
    }

    /// `update` for callers on the loop: `body` and `done` run on the node's loop.
    public func update<Value>(
        _ id: SessionID, token: VersionToken?,
        _ body: @escaping (SessionSnapshot, inout SessionChanges) throws -> Value,
        then done: @escaping (Result<SessionUpdate<Value>, SessionError>) -> Void
    ) {
        onShard(of: id, rejected: { .failure(.shuttingDown) }, { $0.update(id, token: token, body, $1) }, then: done)
    }

    /// `create` for callers on the loop: `done` runs on the node's loop.
    public func create(
        _ changes: SessionChanges, then done: @escaping (Result<SessionUpdate<Void>, SessionError>) -> Void
    ) {
        let id = Self.freshID()
        onShard(
            of: id, rejected: { .failure(.shuttingDown) },
            { runtime, reply in
                runtime.create(id, changes: changes) { reply($0.map { SessionUpdate(id: id, version: $0, value: ()) }) }
            }, then: done)
    }

    /// Creates the session `id`, chosen by the caller, holding `changes`; `done` runs on the node's loop. For
    /// sessions named by something other than a random id — a Redis key (`SessionID(forKey:)`), which every node
    /// maps to the same id. An id live here is refused with `.alreadyExists` (update it instead), one that ended here
    /// with `.notFound`. Two nodes
    /// creating the same id at once both succeed: their copies merge like any concurrent writes.
    public func create(
        _ id: SessionID, _ changes: SessionChanges,
        then done: @escaping (Result<SessionUpdate<Void>, SessionError>) -> Void
    ) {
        onShard(
            of: id, rejected: { .failure(.shuttingDown) },
            { runtime, reply in
                runtime.create(id, changes: changes, named: true) {
                    reply($0.map { SessionUpdate(id: id, version: $0, value: ()) })
                }
            }, then: done)
    }

    /// Redis's `WAIT`: counts the other holders of session `id` that hold this node's writes up to `version` (the
    /// token this node answered a write with). `done` runs on the node's loop with the count once `replicas`
    /// confirmed, every holder asked answered or left, or `timeoutMillis` passed — at once when `replicas` ≤ 0
    /// (with 0) or when no other holder is live. A token that does not authenticate counts nobody. In `sync` mode a
    /// write was confirmed before it was answered, so this answers within a round trip.
    public func confirm(
        _ id: SessionID, version: VersionToken, replicas: Int, timeoutMillis: Int64,
        then done: @escaping (_ holders: Int) -> Void
    ) {
        onShard(
            of: id, rejected: { 0 },
            { $0.confirm(id, version: version, replicas: replicas, timeoutMillis: timeoutMillis, $1) }, then: done)
    }

    /// The valid sessions held here after `cursor` in this node's order, looking at `limit` held ids at most (so a
    /// walk over a million sessions takes bounded steps); `done` gets them with the cursor to continue from, nil once
    /// every held id was looked at. On the node's loop. Backup mode: only the sessions this node holds a copy of.
    /// With `having`, only sessions holding that attribute are listed (the others cost a lookup, not a copy of
    /// their attributes).
    ///
    /// The order is the replica table's: keyed by a secret this process drew at start (see `SessionOrder`), the
    /// same on every shard. A cursor therefore means something only to this process: given to another node, or to
    /// this one after a restart, it starts the walk at an unrelated point (a walk that must see every session
    /// starts again from nil there).
    public func heldSessions(
        after cursor: SessionID?, limit: Int, having attribute: String? = nil,
        then done: @escaping (_ sessions: [HeldSession], _ next: SessionID?) -> Void
    ) {
        let limit = max(1, limit)
        onEveryShard(
            { runtime -> (looked: [SessionID], found: [HeldSession], order: SessionOrder) in
                let replication = runtime.node.replication
                let ids = replication.sessionIDs(after: cursor, limit: limit)
                var found = [HeldSession]()
                for id in ids where replication.holdsValid(id, having: attribute) {
                    guard let session = replication.session(id) else { continue }
                    found.append(
                        HeldSession(
                            id: id, attributes: session.content.liveAttributes,
                            expiresFirst: replication.expiresFirst(id)))
                }
                return (ids, found, replication.sessionOrder)
            },
            then: { parts in
                // Each shard looked at up to `limit` ids after the cursor. Up to the earliest last id of the shards
                // that had more (`bound`), every shard's ids were all looked at: this step ends there, or after
                // `limit` ids. Every shard keeps the same order (the lead's key).
                guard let order = parts.first?.order else { return done([], nil) }
                let bound = parts.filter { $0.looked.count >= limit }.compactMap(\.looked.last)
                    .min(by: order.precedes)
                let looked = parts.flatMap(\.looked).filter { bound == nil || !order.precedes(bound!, $0) }
                    .sorted(by: order.precedes)
                let next: SessionID?
                if looked.count > limit {
                    next = looked[limit - 1]
                } else {
                    next = bound
                }
                let found = parts.flatMap(\.found).filter { next == nil || !order.precedes(next!, $0.id) }
                done(found.sorted { order.precedes($0.id, $1.id) }, next)
            })
    }

    /// `invalidate` for callers on the loop: `done` runs on the node's loop.
    public func invalidate(
        _ id: SessionID, token: VersionToken?, then done: @escaping (Result<Void, SessionError>) -> Void
    ) {
        onShard(of: id, rejected: { .failure(.shuttingDown) }, { $0.invalidate(id, token: token, $1) }, then: done)
    }

    /// `changeID` for callers on the loop: `done` runs on the node's loop.
    public func changeID(
        _ id: SessionID, token: VersionToken?,
        then done: @escaping (Result<SessionUpdate<Void>, SessionError>) -> Void
    ) {
        let newID = freshID(sameShardAs: id)
        onShard(
            of: id, rejected: { .failure(.shuttingDown) },
            { runtime, reply in
                runtime.changeID(id, to: newID, token: token) {
                    reply($0.map { SessionUpdate(id: newID, version: $0, value: ()) })
                }
            }, then: done)
    }

    /// The members this node knows, for callers on the loop (called elsewhere it hops and answers on the loop).
    /// Empty once the node has stopped.
    public func members(then done: @escaping ([Member]) -> Void) {
        onShard(0, rejected: { [] }, { $1($0.node.membership.members) }, then: done)
    }

    /// `stats()` for callers on the loop.
    public func stats(then done: @escaping (NodeStats) -> Void) {
        guard accepting.load(ordering: .acquiring) else { return done(lastStats()) }
        onEveryShard(
            { $0.currentStats },
            then: { [self] parts in done(parts.count == shards.count ? NodeStats(merging: parts) : lastStats()) })
    }
}
