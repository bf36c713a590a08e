import SessionCluster

/// What a command does with the keys it names, built before it runs (`RESPCommands.plan`). Single-key reads and
/// writes are pure functions of the key's model, so a `MULTI` block on one key composes them into one delta.
enum Plan {
    /// An answer that needs no key (connection commands, argument errors).
    case reply(RESPValue)
    /// Reads one key. The body runs where the key's copy is, on its shard's loop (`KeySpace.peek`): it MUST be a
    /// pure function of the view and the command's arguments.
    case read([UInt8], (KeyView) -> RESPValue)
    /// Reads and changes one key: its changes are committed as one delta before the answer is given.
    case write([UInt8], (inout KeyModel) -> RESPValue)
    /// Anything else (several keys, walks over the held sessions): runs, then answers once, on the loop.
    case run((KeySpace, @escaping (RESPValue) -> Void) -> Void)
}

/// The keys of database 0, kept in the cluster's sessions (a key is a session: `SessionID(forKey:)`). Every
/// method runs on the node's loop and answers there, at once when the key's copy is held here.
struct KeySpace {
    let node: ClusterNode
    /// The loop this key space's connections run on: continuations of long work (`runAll`, walks) are put off to
    /// a later turn of this loop.
    var loop: EventLoop
    /// The writes of the connection this key space serves (`WAIT`); nil for the server's own work (expiry).
    var writes: WriteLog? = nil

    /// This key space, recording its writes in `log`.
    func recording(into log: WriteLog) -> KeySpace {
        var copy = self
        copy.writes = log
        return copy
    }

    /// Unix time in ms, as the node's clock reads it.
    static func now() -> Int64 { EventLoop.wallMillis() }

    /// The key's model as a read sees it: absent when no session holds it (never written, or every copy lost).
    func read(_ key: [UInt8], _ done: @escaping (Result<KeyModel, SessionError>) -> Void) {
        node.read(SessionID(forKey: key), token: nil) { result in
            switch result {
            case .success(let snapshot):
                done(.success(KeyModel(key: key, attributes: snapshot.attributes, now: Self.now())))
            case .failure(.notFound), .failure(.lost):
                done(.success(KeyModel(key: key, attributes: [:], now: Self.now())))
            case .failure(let error):
                done(.failure(error))
            }
        }
    }

    /// Answers `body` over the key as held, read in place on the loop of the key's shard (`ClusterNode.peek`):
    /// only what `body` asks for is copied out of the copy, and that work stays on the key's loop (decoding a big
    /// hash on the connection's loop moved its cost to whichever loop the connection happened to be on). `done`
    /// runs on this loop.
    func peek(
        _ key: [UInt8], _ body: @escaping (KeyView) -> RESPValue,
        _ done: @escaping (Result<RESPValue, SessionError>) -> Void
    ) {
        node.peek(
            SessionID(forKey: key), { view in body(KeyView(held: view, now: Self.now())) },
            then: { result in
                switch result {
                case .success(let reply):
                    done(.success(reply))
                case .failure(.notFound), .failure(.lost):
                    done(.success(body(KeyView(state: nil, now: Self.now()))))
                case .failure(let error):
                    done(.failure(error))
                }
            })
    }

    /// Runs `body` on the key's model and commits what it changed as one delta (in `sync` mode, answered once the
    /// other holders applied it). A key no session holds gets one, created here with `body`'s changes.
    func write(
        _ key: [UInt8], _ body: @escaping (inout KeyModel) -> RESPValue,
        _ done: @escaping (Result<RESPValue, SessionError>) -> Void
    ) {
        write(key, body, done, attempt: 0)
    }

    private func write(
        _ key: [UInt8], _ body: @escaping (inout KeyModel) -> RESPValue,
        _ done: @escaping (Result<RESPValue, SessionError>) -> Void, attempt: Int
    ) {
        let id = SessionID(forKey: key)
        node.update(
            id, token: nil,
            { snapshot, changes in
                var model = KeyModel(key: key, attributes: snapshot.attributes, now: Self.now())
                let reply = body(&model)
                changes = model.changes
                return reply
            },
            then: { result in
                switch result {
                case .success(let update):
                    writes?.record(id, update.version)
                    done(.success(update.value))
                case .failure(.notFound), .failure(.lost):
                    var model = KeyModel(key: key, attributes: [:], now: Self.now())
                    let reply = body(&model)
                    guard model.changed else { return done(.success(reply)) }
                    var changes = model.changes
                    // A key lives until it is deleted or its own expiry passes: no sliding session expiry.
                    changes.setMaxInactive(seconds: 0)
                    node.create(id, changes) { created in
                        switch created {
                        case .success(let update):
                            writes?.record(id, update.version)
                            done(.success(reply))
                        case .failure(.alreadyExists) where attempt == 0, .failure(.notFound) where attempt == 0:
                            // Created here meanwhile by another client: write to it.
                            write(key, body, done, attempt: 1)
                        case .failure(let error): done(.failure(error))
                        }
                    }
                case .failure(let error):
                    done(.failure(error))
                }
            })
    }

    /// Redis's `WAIT`: how many other holders hold the keys this connection's last writing command wrote (the
    /// fewest over its keys). 0 when it wrote nothing.
    func confirmWrites(replicas: Int, timeoutMillis: Int64, _ done: @escaping (Int) -> Void) {
        let written = writes?.last ?? []
        guard !written.isEmpty else { return done(0) }
        var fewest = Int.max
        var remaining = written.count
        for (id, version) in written {
            node.confirm(id, version: version, replicas: replicas, timeoutMillis: timeoutMillis) { holders in
                fewest = min(fewest, holders)
                remaining -= 1
                if remaining == 0 { done(fewest) }
            }
        }
    }

    /// Runs a plan and answers once.
    func run(_ plan: Plan, _ reply: @escaping (RESPValue) -> Void) {
        switch plan {
        case .reply(let value):
            reply(value)
        case .read(let key, let body):
            peek(key, body) { reply($0.replyOrError) }
        case .write(let key, let body):
            write(key, body) { reply($0.replyOrError) }
        case .run(let body):
            body(self, reply)
        }
    }

    /// Plans `runAll` runs in one loop turn at most: a `DEL` of a million keys or a `MULTI` block of 10,000 must
    /// not hold the loop (other clients, heartbeats) for its whole length.
    static let plansPerTurn = 256

    /// Runs plans one after the other; `done` gets their answers in order. A loop, not a recursion: plans that
    /// complete at once (the copy is here) would otherwise nest one call per plan and overflow the stack on a
    /// long `MULTI` block or a `DEL` of many keys. After `plansPerTurn` plans the rest waits for a later turn.
    func runAll(
        _ plans: [Plan], _ done: @escaping ([RESPValue]) -> Void, tooLarge: ((_ bytes: Int) -> Void)? = nil
    ) {
        var replies = [RESPValue]()
        replies.reserveCapacity(plans.count)
        // With `tooLarge`, the replies are measured as they come: past `maxReplyBytes` the rest is not kept (the
        // reads are not even run; writes still are, since they change keys), and `tooLarge` answers instead. An
        // `MGET` naming one 200 KB key a thousand times built 400 MB before the connection's output cap dropped it.
        var replyBytes = 0
        var overLimit: Bool { tooLarge != nil && replyBytes > Self.maxReplyBytes }
        let loop = self.loop
        func drive() {
            var ranThisTurn = 0
            while replies.count < plans.count {
                if ranThisTurn == Self.plansPerTurn {
                    loop.schedule(afterMillis: 0) { drive() }
                    return
                }
                ranThisTurn += 1
                if overLimit, case .read = plans[replies.count] {
                    replies.append(.null)
                    continue
                }
                var returned = false
                var completed = false
                run(plans[replies.count]) { value in
                    replyBytes += value.encodedSizeEstimate
                    replies.append(overLimit ? .null : value)
                    if returned { drive() } else { completed = true }  // later (a pull, an ack): resume the loop
                }
                returned = true
                guard completed else { return }
            }
            if overLimit, let tooLarge { return tooLarge(replyBytes) }
            done(replies)
        }
        drive()
    }

    /// The most bytes a reply may take: it is built whole before it is queued, and the connection drops past
    /// 64 MiB queued. The commands that answer many values (`MGET`, `EXEC`, `HMGET`, `KEYS`, `SCAN`) measure
    /// theirs as they build it and answer an error past it; the connection refuses any other reply over it.
    static let maxReplyBytes = 32 << 20

    /// The error a command answers when its reply would be over `maxReplyBytes`.
    static func replyTooLarge(_ command: String?, bytes: Int, ran: Bool, asking: String = "fewer keys") -> RESPValue {
        .err(
            (command.map { "\($0) reply" } ?? "reply")
                + " too large: over \(maxReplyBytes >> 20) MiB (\(bytes >> 20) MiB at least)"
                + (ran ? "; its writes were applied, its reply not sent" : "; ask for \(asking) at once"))
    }

    /// Active expiry, as Redis does it besides expiring on access: deletes the expired keys held here, this node
    /// first (`HeldSession.expiresFirst`), the other holders `graceMillis` later should it be gone. A deleted
    /// key's session is then forgotten after the tombstone retention (`ReplicationCounters.emptyPurged`): without
    /// this, every key that expired unread would stay. `batch` sessions are looked at per step, a step every
    /// `pauseMillis`: the pass costs a bounded share of the loop however many keys are held, in steps short enough
    /// not to hold a request up (128 keys take about 0.2 ms at 5,000,000 keys, 256 took 0.35–0.5 ms; a million keys
    /// take about 23 s to go round, 50,000 about a second).
    func expireDue(
        batch: Int = 128, pauseMillis: Int64 = 3, graceMillis: Int64 = 10_000,
        done: @escaping (_ deleted: Int) -> Void
    ) {
        var deleted = 0
        eachHeld(
            batch: batch, having: KeyLayout.expiry, pauseMillis: pauseMillis,
            { held, now in
                guard let name = held.attributes[KeyLayout.name],
                    let expiry = held.attributes[KeyLayout.expiry].flatMap({
                        Int64(String(decoding: $0, as: UTF8.self))
                    }),
                    expiry <= now, held.expiresFirst || now - expiry >= graceMillis
                else { return }
                deleted += 1
                write(
                    name,
                    { model in
                        // Written again since (a new SET): nothing to do.
                        if model.state == nil { model.delete() }
                        return .ok
                    }
                ) { _ in }
            }, done: { done(deleted) })
    }

    /// Every key held here (valid sessions holding a live key), visited `batch` sessions per loop turn so that
    /// a walk over a million sessions never stalls the node; `done` gets `(key, state)` pairs.
    func walk(
        batch: Int = 1_024, _ visit: @escaping ([UInt8], KeyState) -> Void, done: @escaping () -> Void
    ) {
        eachHeld(
            batch: batch, having: KeyLayout.name,
            { held, now in
                guard let name = held.attributes[KeyLayout.name],
                    let state = KeyState(attributes: held.attributes, now: now)
                else { return }
                visit(name, state)
            }, done: done)
    }

    /// Every valid session held here that holds `attribute`, `batch` looked at per step, each step in a later loop
    /// turn (a timer: the loop's inbox is drained within the turn) `pauseMillis` after the last, so other
    /// connections and the node's own work run between; `visit` gets the session and the clock (Unix ms) of its
    /// step.
    private func eachHeld(
        batch: Int, having attribute: String, pauseMillis: Int64 = 0,
        _ visit: @escaping (HeldSession, Int64) -> Void, done: @escaping () -> Void
    ) {
        func step(after cursor: SessionID?) {
            node.heldSessions(after: cursor, limit: batch, having: attribute) { sessions, next in
                let now = Self.now()
                for held in sessions { visit(held, now) }
                guard let next else { return done() }
                loop.schedule(afterMillis: pauseMillis) { step(after: next) }
            }
        }
        step(after: nil)
    }
}

/// The keys one connection's last writing command wrote, with the versions it was answered with (`WAIT`).
final class WriteLog {
    /// At most this many writes of one command are kept (the latest): `WAIT` after a `DEL` of thousands of keys
    /// confirms its last ones. In delta mode every key has the same holders.
    static let maxKept = 16
    /// Bumped before each command runs: the first write of a new command starts a new list.
    var command = 0
    private var recordedCommand = -1
    private(set) var last: [(SessionID, VersionToken)] = []

    func record(_ id: SessionID, _ version: VersionToken) {
        if recordedCommand != command {
            recordedCommand = command
            last.removeAll(keepingCapacity: true)
        }
        if last.count == Self.maxKept { last.removeFirst() }
        last.append((id, version))
    }
}

extension Result where Success == RESPValue, Failure == SessionError {
    /// The answer, or the error a client gets for a failed session operation.
    var replyOrError: RESPValue {
        switch self {
        case .success(let value): value
        case .failure(let error): RESPValue(error)
        }
    }
}

extension RESPValue {
    /// Redis's closest error for a failed session operation.
    init(_ error: SessionError) {
        switch error {
        case .notFound, .lost: self = .err("no such key")
        case .unavailable:
            self = .error("TRYAGAIN key temporarily unavailable: no up-to-date copy is reachable, retry")
        case .notAcknowledged:
            self = .error(
                "NOREPLICAS the write was applied on this node but the other holders did not acknowledge it in time")
        case .shuttingDown: self = .error("LOADING the node is shutting down")
        case .tooLarge:
            self = .err(
                "the key would exceed a session's limits (sessions.maxAttributes fields, sessions.maxSessionBytes "
                    + "bytes)")
        case .full:
            // DBSIZE may well say 0: deleted keys are held until 10 minutes after their last write, up to twice the
            // limit. The message says so, or the refusal looks absurd.
            self = .error(
                "OOM command not allowed: this node holds its maximum number of sessions (sessions.maxSessions; "
                    + "deleted keys count until 10 minutes after their last write, up to twice the limit)")
        case .alreadyExists, .invalidAttribute, .aborted: self = .err("\(error)")  // not raised by key writes
        }
    }
}
