import SessionClusterCore

/// The session operations on the loop thread. Each ends by calling `done` exactly once, on the loop: at once
/// when the copy is here and nothing must be awaited, later when a pull or a `sync` acknowledgement is needed.
/// `ClusterNode` exposes them twice: as async methods (any task) and as loop-thread callbacks (no thread hop).
/// Who waits for an access: a request, given a snapshot, or a read in place (`NodeRuntime.peek`), given the copy.
enum AccessWaiter {
    case snapshot((Result<SessionSnapshot, SessionError>) -> Void)
    case view((Result<Session, SessionError>) -> Void)

    func fail(_ error: SessionError) {
        switch self {
        case .snapshot(let waiter): waiter(.failure(error))
        case .view(let waiter): waiter(.failure(error))
        }
    }
}

extension NodeRuntime {
    typealias Completion<Value> = (Result<Value, SessionError>) -> Void

    /// Makes the session available to one request (it stays pinned until `commit` or `release`).
    func access(_ id: SessionID, token: VersionToken?, _ done: @escaping Completion<SessionSnapshot>) {
        access(id, token: token, .snapshot(done))
    }

    /// Asks the core for the session on behalf of `waiter` (answered at once when the copy is here).
    private func access(_ id: SessionID, token: VersionToken?, _ waiter: AccessWaiter) {
        guard !stopping else { return waiter.fail(.shuttingDown) }
        let ticket = nextTicket
        nextTicket += 1
        accessWaiters[ticket] = waiter
        // A token that does not authenticate for this session is ignored: served as if the client had none.
        let version = token.flatMap { tokens.open($0, for: id) }
        execute(node.access(id, token: version, ticket: ticket, now: NodeRuntime.now()))
    }

    /// Reads a session in place: access, `project` on the held copy, release — no snapshot is built, and
    /// `project` runs here, on the shard's loop, whoever asked (see `ClusterNode.peek`).
    func peek<Value>(
        _ id: SessionID, _ project: @escaping (SessionView) -> Value, _ done: @escaping Completion<Value>
    ) {
        access(
            id, token: nil,
            .view { [unowned self] accessed in
                switch accessed {
                case .success(let session):
                    let value = project(SessionView(session: session))
                    node.release(id)
                    done(.success(value))
                case .failure(let error):
                    done(.failure(error))
                }
            })
    }

    /// See `ClusterNode.confirm(_:version:replicas:timeoutMillis:then:)`.
    func confirm(
        _ id: SessionID, version token: VersionToken, replicas: Int, timeoutMillis: Int64,
        _ done: @escaping (Int) -> Void
    ) {
        guard !stopping, let version = token.unsealedVersion(for: id) ?? tokens.open(token, for: id) else {
            return done(0)
        }
        let result = node.confirm(
            id, upTo: version, needed: replicas, timeoutMillis: timeoutMillis, now: NodeRuntime.now())
        if let commitID = result.awaiting { confirmWaiters[commitID] = done }
        execute(result.directives)
        if result.awaiting == nil { done(result.count) }
    }

    /// Reads a session: access, then release at once.
    func read(_ id: SessionID, token: VersionToken?, _ done: @escaping Completion<SessionSnapshot>) {
        access(id, token: token) { [unowned self] result in
            if case .success = result { node.release(id) }
            done(result)
        }
    }

    /// Commits `changes` to an accessed session (whose attributes were `base`) as one delta.
    func commit(
        _ id: SessionID, changes: SessionChanges, base: [String: [UInt8]], _ done: @escaping Completion<VersionToken>
    ) {
        guard !stopping else { return done(.failure(.shuttingDown)) }
        guard fits(changes, on: base) else {
            node.release(id)
            return done(.failure(.tooLarge))
        }
        finish(node.commit(id, changes: changes, now: NodeRuntime.now()), id: id, done)
    }

    /// Access, let `body` record changes, commit: one request against one session.
    func update<Value>(
        _ id: SessionID, token: VersionToken?,
        _ body: @escaping (SessionSnapshot, inout SessionChanges) throws -> Value,
        _ done: @escaping Completion<SessionUpdate<Value>>
    ) {
        access(id, token: token) { [unowned self] accessed in
            let session: SessionSnapshot
            switch accessed {
            case .success(let snapshot): session = snapshot
            case .failure(let error): return done(.failure(error))
            }
            guard let (changes, value) = recordChanges(id, done, { try body(session, &$0) }) else { return }
            commit(id, changes: changes, base: session.attributes) { committed in
                done(committed.map { SessionUpdate(id: id, version: $0, value: value) })
            }
        }
    }

    /// A write that does not read the session (`ClusterNode.write`): access, `body` records the changes, commit.
    /// No snapshot is built (a dictionary of every attribute, and a token, per request), and the size check
    /// reads the held copy in place.
    func write<Value>(
        _ id: SessionID, token: VersionToken?, _ body: @escaping (inout SessionChanges) throws -> Value,
        _ done: @escaping Completion<SessionUpdate<Value>>
    ) {
        access(
            id, token: token,
            .view { [unowned self] accessed in
                let session: Session
                switch accessed {
                case .success(let held): session = held
                case .failure(let error): return done(.failure(error))
                }
                guard let (changes, value) = recordChanges(id, done, body) else { return }
                guard !stopping else { return done(.failure(.shuttingDown)) }
                guard fits(changes, onHeld: session.content.attributes) else {
                    node.release(id)
                    return done(.failure(.tooLarge))
                }
                finish(node.commit(id, changes: changes, now: NodeRuntime.now()), id: id) { committed in
                    done(committed.map { SessionUpdate(id: id, version: $0, value: value) })
                }
            })
    }

    /// Runs an update's body on fresh changes, timed (`noteBodyTime`). A body that throws releases the session
    /// and answers its error to `done`: nil then.
    private func recordChanges<Value>(
        _ id: SessionID, _ done: Completion<SessionUpdate<Value>>,
        _ body: (inout SessionChanges) throws -> Value
    ) -> (SessionChanges, Value)? {
        var changes = SessionChanges()
        let began = EventLoop.monotonicMillis()
        defer { noteBodyTime(since: began) }
        do {
            let value = try body(&changes)
            return (changes, value)
        } catch {
            node.release(id)
            done(.failure(SessionError(thrown: error)))
            return nil
        }
    }

    /// Creates the session `id` holding `changes`. A named one (`named`: a Redis key's) starts its counter at the
    /// clock's reading in ms × 1024, above anything this node issued for it in an earlier life (a key deleted,
    /// purged and written again), so a copy not yet purged elsewhere takes the new first delta.
    func create(
        _ id: SessionID, changes: SessionChanges, named: Bool = false, _ done: @escaping Completion<VersionToken>
    ) {
        guard !stopping else { return done(.failure(.shuttingDown)) }
        if let held = node.replication.session(id), held.isValid { return done(.failure(.alreadyExists)) }
        // With several loops each shard holds its share of the node's bound (ids spread evenly over the shards).
        // Emptied sessions (deleted keys) are left out of the bound, up to a ceiling (`admitsCreate`).
        guard node.replication.admitsCreate(limit: (settings.maxSessions + shardCount - 1) / shardCount) else {
            return done(.failure(.full))
        }
        guard fits(changes, on: [:]) else { return done(.failure(.tooLarge)) }
        let now = NodeRuntime.now()
        let firstCounter = named ? UInt64(clamping: max(1, now.millis)) &* 1024 : 1
        finish(node.create(id, changes: changes, now: now, firstCounter: firstCounter), id: id, done)
    }

    /// `update`, creating the session here with `body`'s changes when no node holds it (`.notFound` or `.lost`
    /// from the access; not when it ended: an ended copy held here refuses the create with `.notFound`). A create
    /// that loses a race with another (`.alreadyExists`) updates the winner's session instead, once.
    func upsert<Value>(
        _ id: SessionID, _ body: @escaping (SessionSnapshot, inout SessionChanges) throws -> Value,
        _ done: @escaping Completion<SessionUpdate<Value>>, attempt: Int = 0
    ) {
        update(id, token: nil, body) { [unowned self] result in
            switch result {
            case .failure(.notFound), .failure(.lost):
                var changes = SessionChanges()
                let value: Value
                do {
                    value = try body(SessionSnapshot(empty: id), &changes)
                } catch {
                    return done(.failure(SessionError(thrown: error)))
                }
                create(id, changes: changes, named: true) { [unowned self] created in
                    switch created {
                    case .success(let version): done(.success(SessionUpdate(id: id, version: version, value: value)))
                    case .failure(.alreadyExists) where attempt == 0: upsert(id, body, done, attempt: 1)
                    case .failure(let error): done(.failure(error))
                    }
                }
            default: done(result)
            }
        }
    }

    /// Warns (at most once a second, with a count) when an `update` body held the loop longer than
    /// `slowBodyMillis`: everything else the node serves and its peers' beacons waited meanwhile.
    func noteBodyTime(since began: Int64) {
        let now = EventLoop.monotonicMillis()
        let took = now - began
        guard took >= Self.slowBodyMillis, let count = slowBodyLog.admit(now: now) else { return }
        log(
            .warning, "an update body held the node's loop",
            [("ms", String(took)), ("count", String(count)), ("hint", "keep bodies short: no I/O, no waiting")])
    }

    /// An `update` body running this long (ms) on the loop is logged as a warning.
    static let slowBodyMillis: Int64 = 100

    /// Ends a session everywhere.
    func invalidate(_ id: SessionID, token: VersionToken?, _ done: @escaping Completion<Void>) {
        access(id, token: token) { [unowned self] accessed in
            if case .failure(let error) = accessed { return done(.failure(error)) }
            var changes = SessionChanges()
            changes.invalidate()
            finish(node.commit(id, changes: changes, now: NodeRuntime.now()), id: id) { done($0.map { _ in () }) }
        }
    }

    /// Moves a session to `newID`; the old id is dead everywhere.
    func changeID(
        _ id: SessionID, to newID: SessionID, token: VersionToken?, _ done: @escaping Completion<VersionToken>
    ) {
        access(id, token: token) { [unowned self] accessed in
            if case .failure(let error) = accessed { return done(.failure(error)) }
            finish(node.changeID(of: id, to: newID, now: NodeRuntime.now()), id: newID, done)
        }
    }

    /// Members by status, and SWIM's totals. O(members): read only when stats are asked for.
    var membershipFigures: MembershipFigures {
        var figures = MembershipFigures()
        for member in node.membership.members {
            switch member.status {
            case .alive: figures.alive += 1
            case .suspect: figures.suspect += 1
            case .dead: figures.dead += 1
            case .leaving: figures.left += 1
            }
        }
        if let swim = node.membership.swim {
            figures.probes = swim.counters.probes
            figures.indirectProbes = swim.counters.indirectProbes
            figures.probesFailed = swim.counters.probesFailed
            figures.refutations = swim.counters.refutations
            figures.localHealth = swim.awareness
        }
        return figures
    }

    /// Session counts and replication / transport counters.
    var currentStats: NodeStats {
        let replication = node.replication
        var figures = NodeStats(
            sessions: replication.liveSessionCount, primaries: replication.primaryCount,
            copies: replication.copyCount, replication: replication.counters, framesReceived: stats.framesReceived,
            framesSent: stats.framesSent, bytesSent: stats.bytesSent, malformedDropped: stats.malformed,
            linksRefused: stats.refused, linksOverflowed: stats.overflowed,
            dropped: Dictionary(uniqueKeysWithValues: cipher.rejected.map { ($0.key.rawValue, $0.value) }))
        figures.emptied = replication.emptiedSessionCount
        figures.replicationLag = lag
        figures.loopTurns = loop.turnStats
        figures.inboundLinks = inbound.count
        figures.linksTimedOut = linkLimits.timedOut
        figures.linksRejected = linkLimits.rejected
        figures.acceptErrors = linkLimits.acceptErrors
        figures.logRecordsDropped = logger.dropped
        figures.tokensRejected = tokens.rejected
        figures.clockMillis = NodeRuntime.now().millis
        figures.hlcMillis = replication.clockReading.wall
        if shard == 0 { figures.membership = membershipFigures }
        if let persistence {
            figures.persistence = persistence.stats
            if let log = persistence.log {
                // The writer thread keeps these.
                let counters = log.counters
                figures.persistence.logBytes = counters.bytes
                figures.persistence.logRecordsAppended = counters.recordsAppended
                figures.persistence.logSessionsAppended = counters.sessionsAppended
                figures.persistence.logWriterLagMillis = log.lagMillis(now: EventLoop.monotonicMillis())
                figures.persistence.logWriterLagMaxMillis = max(
                    figures.persistence.logWriterLagMaxMillis, figures.persistence.logWriterLagMillis)
            }
        }
        return figures
    }
}
