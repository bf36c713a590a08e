import SessionClusterCore

/// A simulated browser: one session cookie, the version token of the last answer, and what it knows it wrote.
struct Client {
    var name: String
    /// Attribute names this client writes (a tab of a shared session writes only its own).
    var prefix: String
    var session: SessionID?
    var token: VersionVector?
    /// Acknowledged values (nil: removed) of this client's attributes.
    var model: [String: String?] = [:]
    /// Attributes whose last write is not known to have happened (commit not acknowledged, node failed).
    var uncertain: Set<String> = []
    /// Uncertain writes that were committed somewhere (the version they made): until a later acknowledged write
    /// of the attribute covers that version, the two are concurrent — the client got no token from the failed
    /// one — and last-writer-wins may keep either (a node whose clock runs ahead stamps the older write later).
    var shadowed: [String: VersionVector] = [:]
    /// Ids this client logged out of or rotated away from: they must never be served again.
    var retired: [SessionID] = []
    /// The node that ended each retired session (an async logout dies with a node that crashes before
    /// replicating it).
    var retiredBy: [SessionID: NodeID] = [:]
    /// For a shared session: the partner tab; only the owner logs in.
    var partner: Int?
    var owner: Bool
    var busy = false
    var writes = 0
}

enum Operation {
    case login, read
    case write(String, String)
    case remove(String)
    case rotate, logout
    /// A request with a cookie the client already logged out of: must be refused.
    case replay(SessionID)
}

enum Outcome {
    case committed, served
    case failed(AccessFailure)
    case commitUnacknowledged, nodeFailed
}

struct Request {
    var client: Int
    var node: NodeID
    var operation: Operation
    var session: SessionID?
    var newSession: SessionID?
    var version: VersionVector?
}

extension Simulation {
    func setUpClients() {
        for index in 0..<config.clients {
            clients.append(Client(name: "c\(index)", prefix: "c\(index).", owner: true))
        }
        for pair in 0..<config.sharedSessionPairs {
            let first = clients.count
            clients.append(Client(name: "p\(pair)a", prefix: "p\(pair)a.", partner: first + 1, owner: true))
            clients.append(Client(name: "p\(pair)b", prefix: "p\(pair)b.", partner: first, owner: false))
        }
        for index in clients.indices { queue.push(.clientStep(index), at: now + 200 + Int64(random.next() % 300)) }
    }

    func clientStep(_ index: Int) {
        guard workloadRunning, !clients[index].busy else { return }
        let live = liveSlots
        guard !live.isEmpty else {
            queue.push(.clientStep(index), at: now + 50)
            return
        }
        let slot = live[Int(random.next() % UInt64(live.count))]
        let client = clients[index]
        let operation: Operation
        if client.session == nil {
            if client.owner {
                operation = .login
            } else if let partner = client.partner, let shared = clients[partner].session {
                // The second tab picks up the cookie the first one got.
                clients[index].session = shared
                clients[index].token = clients[partner].token
                operation = .read
            } else {
                queue.push(.clientStep(index), at: now + 50)
                return
            }
        } else {
            let roll = random.next() % 100
            let name = client.prefix + "k\(random.next() % 3)"
            let shared = client.partner != nil
            switch roll {
            case 0..<35: operation = .read
            case 35..<75:
                clients[index].writes += 1
                operation = .write(name, "\(client.name)-\(clients[index].writes)")
            case 75..<85: operation = .remove(name)
            case 85..<90 where !shared: operation = .rotate
            case 90..<94 where !shared: operation = .logout
            case 94..<100 where !client.retired.isEmpty:
                operation = .replay(client.retired[Int(random.next() % UInt64(client.retired.count))])
            default: operation = .read
            }
        }
        start(operation, client: index, slot: slot)
    }

    private func start(_ operation: Operation, client index: Int, slot: Int) {
        guard let node = slots[slot].node?.me.id else { return }
        let ticket = nextTicket
        nextTicket += 1
        clients[index].busy = true
        report.requests += 1
        var request = Request(client: index, node: node, operation: operation)
        switch operation {
        case .login:
            let id = SessionID(using: &random)
            request.newSession = id
            requests[ticket] = request
            var changes = SessionChanges()
            changes.set(clients[index].prefix + "user", clients[index].name)
            withNode(node) { instance, time in
                let result = instance.create(id, changes: changes, now: time)
                self.committed(ticket, result, at: node)
                return result.directives
            }
        case .replay(let id):
            request.session = id
            requests[ticket] = request
            withNode(node) { instance, time in instance.access(id, token: nil, ticket: ticket, now: time) }
        default:
            let id = clients[index].session!
            request.session = id
            requests[ticket] = request
            let token = clients[index].token
            withNode(node) { instance, time in instance.access(id, token: token, ticket: ticket, now: time) }
        }
    }

    /// Records a commit's outcome: done now (async, or nothing to wait for) or when acknowledged.
    private func committed(_ ticket: AccessTicket, _ result: NodeCommit, at node: NodeID) {
        requests[ticket]?.version = result.version
        switch (result.outcome, result.awaiting) {
        case (.notFound, _):
            finishLater(ticket, .failed(.notFound))
        case (.committed, let commitID?):
            commitWaits[node, default: [:]][commitID] = ticket
        case (.committed, nil):
            finishLater(ticket, .committed)
        }
    }

    /// Completes a request after the current directive batch (the node may still be executing it).
    private func finishLater(_ ticket: AccessTicket, _ outcome: Outcome) {
        pendingFinishes.append((ticket, outcome))
    }

    func accessReady(_ ticket: AccessTicket, _ session: Session, lostWrites: Bool) {
        guard let request = requests[ticket] else { return }
        let index = request.client
        if case .replay(let id) = request.operation {
            // Async: the logout returned before its invalidation reached every copy, so a stale cookie may
            // still be served in that window. Sync: logout is acknowledged by every holder — never again.
            if config.ack == .sync && report.partitions == 0 {
                violation("invalidated session \(id) was served again by \(name(of: request.node))")
            } else {
                report.replaysServedDuringLag += 1
            }
            withNode(request.node) { instance, _ in
                instance.release(id)
                return []
            }
            finish(ticket, .served)
            return
        }
        // A client that started over while this request was in flight (its partner tab's request found the
        // session lost) has no expectations of the old session left to check.
        if clients[index].session == session.id {
            check(read: session, lostWrites: lostWrites, client: index, at: request.node)
        }
        var changes = SessionChanges()
        switch request.operation {
        case .write(let key, let value): changes.set(key, value)
        case .remove(let key): changes.remove(key)
        case .logout: changes.invalidate()
        default: break
        }
        let node = request.node
        trace("\(clients[index].name) \(request.operation) served at \(name(of: node))", about: [session.id])
        if case .rotate = request.operation {
            let newID = SessionID(using: &random)
            requests[ticket]?.newSession = newID
            trace("\(clients[index].name) rotates \(session.id) to \(newID)", about: [session.id])
            withNode(node) { instance, time in
                let result = instance.changeID(of: session.id, to: newID, now: time)
                self.committed(ticket, result, at: node)
                return result.directives
            }
        } else {
            withNode(node) { instance, time in
                let result = instance.commit(session.id, changes: changes, now: time)
                self.committed(ticket, result, at: node)
                return result.directives
            }
        }
        flushFinishes()
    }

    func accessFailed(_ ticket: AccessTicket, _ failure: AccessFailure) {
        finish(ticket, .failed(failure))
    }

    func flushFinishes() {
        while !pendingFinishes.isEmpty {
            let (ticket, outcome) = pendingFinishes.removeFirst()
            finish(ticket, outcome)
        }
    }

    /// Applies a request's outcome to its client and schedules the client's next step.
    func finish(_ ticket: AccessTicket, _ outcome: Outcome) {
        guard let request = requests.removeValue(forKey: ticket) else { return }
        trace(
            "\(clients[request.client].name) \(request.operation) at \(name(of: request.node)): \(outcome)",
            about: [request.session, request.newSession].compactMap { $0 })
        let index = request.client
        clients[index].busy = false
        queue.push(.clientStep(index), at: now + 5 + Int64(random.next() % 40))
        switch outcome {
        case .committed, .served:
            report.served += 1
            succeeded(request, client: index)
        case .failed(.unavailable):
            report.unavailable += 1
            unhealthyAnswer("503 unavailable", request)
        case .failed(.notFound):
            // Expected for a replayed logged-out cookie; for a live session it means it was wrongly ended.
            if case .replay = request.operation { return }
            violation(
                "\(clients[index].name): live session \(request.session.map { "\($0)" } ?? "?") not found at \(name(of: request.node))"
            )
            detach(index)
        case .failed(.lost):
            if let slot = slotOf[request.node], let node = slots[slot].node {
                let state = node.replication.debugAvailability(now: nodeTime(slot))
                trace("  lost at \(name(of: request.node)): \(state)", about: [request.session].compactMap { $0 })
            }
            if config.ack == .sync {
                violation("\(clients[index].name): session \(request.session.map { "\($0)" } ?? "?") lost in sync mode")
            } else {
                report.asyncSessionsLost += 1
            }
            detach(index)
        case .commitUnacknowledged, .nodeFailed:
            if case .commitUnacknowledged = outcome { unhealthyAnswer("503 not acknowledged", request) }
            uncertain(request, client: index)
        }
    }

    /// A fault-free run (`makeHealthy`) must never answer 503: such an answer is a violation, so that the run —
    /// and its replay — fails exactly when the availability check does.
    private func unhealthyAnswer(_ answer: String, _ request: Request) {
        guard config.healthy else { return }
        violation(
            "healthy cluster answered \(answer) to \(clients[request.client].name) for session "
                + "\(request.session.map { "\($0)" } ?? "new") at \(name(of: request.node))")
    }

    private func succeeded(_ request: Request, client index: Int) {
        if let version = request.version { clients[index].token = version }
        switch request.operation {
        case .login:
            clients[index].session = request.newSession
            clients[index].model = [clients[index].prefix + "user": clients[index].name]
            clients[index].uncertain = []
            clients[index].shadowed = [:]
        case .write(let key, let value):
            clients[index].model[key] = .some(value)
            settle(key, by: request.version, client: index)
            report.writesAcknowledged += 1
        case .remove(let key):
            clients[index].model[key] = .some(nil)
            settle(key, by: request.version, client: index)
            report.writesAcknowledged += 1
        case .rotate:
            if let old = request.session {
                clients[index].retired.append(old)
                clients[index].retiredBy[old] = request.node
            }
            clients[index].session = request.newSession
        case .logout:
            if let old = request.session {
                clients[index].retired.append(old)
                clients[index].retiredBy[old] = request.node
            }
            clients[index].session = nil
            clients[index].token = nil
        case .read, .replay:
            break
        }
    }

    /// An acknowledged write of `key` (making `version`) settles it, unless an uncertain write it does not cover
    /// may still win over it (`Client.shadowed`).
    private func settle(_ key: String, by version: VersionVector?, client index: Int) {
        if let shadow = clients[index].shadowed[key], !(version?.covers(shadow) ?? false) { return }
        clients[index].shadowed[key] = nil
        clients[index].uncertain.remove(key)
    }

    private func uncertain(_ request: Request, client index: Int) {
        report.writesUncertain += 1
        switch request.operation {
        case .write(let key, _), .remove(let key):
            clients[index].uncertain.insert(key)
            if let version = request.version { clients[index].shadowed[key] = version }
        case .login, .read, .replay:
            break
        case .rotate, .logout:
            // Whether the old id ended is unknown: start over without asserting anything about it.
            detach(index)
        }
    }

    /// Forgets the client's session (and its partner tab's, which shares it): both start over.
    private func detach(_ index: Int) {
        for member in [index] + (clients[index].partner.map { [$0] } ?? []) {
            clients[member].session = nil
            clients[member].token = nil
            clients[member].model = [:]
            clients[member].uncertain = []
            clients[member].shadowed = [:]
        }
    }

    /// Read-your-writes and content checks on a copy served to a client.
    private func check(read session: Session, lostWrites: Bool, client index: Int, at node: NodeID) {
        let client = clients[index]
        if let token = client.token, !session.version.covers(token) {
            guard lostWrites else {
                violation("\(client.name): \(name(of: node)) served \(session.version), older than token \(token)")
                return
            }
            let missing = token.entries.filter { $0.counter > session.version[$0.node] }.map(\.node)
            if let alive = missing.first(where: { !crashed.contains($0) }) {
                let state = slotOf[node].flatMap { slot in
                    slots[slot].node.map { $0.replication.debugAvailability(now: nodeTime(slot)) }
                }
                violation(
                    "\(client.name): writes of live node \(alive) declared lost at \(name(of: node)) (\(state ?? "-"))")
            }
            if config.ack == .sync {
                violation("\(client.name): acknowledged writes lost in sync mode (served at \(name(of: node)))")
            }
            report.asyncWritesLost += 1
            adopt(session, client: index)
            return
        }
        for (key, expected) in client.model where !client.uncertain.contains(key) {
            let actual = session.attribute(key).map { String(decoding: $0, as: UTF8.self) }
            if actual != expected {
                violation(
                    "\(client.name): \(key) of \(session.id) is \(actual ?? "absent") at \(name(of: node)), expected \(expected ?? "absent")"
                )
            }
        }
        for key in session.content.liveAttributes.keys where key.hasPrefix(client.prefix) {
            if client.model[key] == nil && !client.uncertain.contains(key) {
                violation(
                    "\(client.name): unexpected attribute \(key) of \(session.id) at \(name(of: node)) "
                        + "(\(session.version))")
            }
        }
    }

    private func adopt(_ session: Session, client index: Int) {
        var model = [String: String?]()
        for (key, value) in session.content.liveAttributes where key.hasPrefix(clients[index].prefix) {
            model[key] = .some(String(decoding: value, as: UTF8.self))
        }
        clients[index].model = model
        // Writes declared lost may still surface (a delta of the dead node was in flight): until the client
        // writes an attribute again, either value is legitimate.
        clients[index].uncertain = Set((0..<3).map { clients[index].prefix + "k\($0)" })
        clients[index].token = session.version
    }

    func violation(_ text: String) {
        report.violations.append("t+\(now - start)ms \(text)")
    }

    func name(of node: NodeID) -> String {
        guard let slot = slotOf[node] else { return "\(node)" }
        return "\(slots[slot].name)/\(node)"
    }
}
