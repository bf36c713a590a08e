import SessionClusterCore

extension Simulation {
    /// Whether two copies of a session have converged: equal versions and equal content. Two ended copies need
    /// only agree on the version and the end: what else a tombstone carries is never served, and it differs by
    /// how the end arrived (a copy that ended by its own delta keeps its attributes; a backup-mode copy ended by a
    /// content-only tombstone, `ReplicationInstance.tombstone(of:for:)`, has none) — found by seed
    /// `backup-async-402847951008`.
    static func converged(_ a: Session, _ b: Session) -> Bool {
        guard a.version == b.version else { return false }
        if let ended = a.content.invalidation, let other = b.content.invalidation { return ended == other }
        return a.content == b.content
    }

    /// The invariants, checked once the cluster settled (faults healed, crashed nodes restarted, no load):
    /// membership agrees; every holder of a session holds the same state and version vector; in backup mode
    /// each live session has one primary, `copies − 1` backups and a copy on its ring-first member; no logged-out
    /// session is valid anywhere; every client's acknowledged writes are present (sync mode: always).
    func checkInvariants() {
        if let traced {
            for slot in liveSlots {
                let node = slots[slot].node!
                let copy = node.replication.session(traced)
                print(
                    "END \(name(of: node.me.id)): \(copy.map { "\($0.version) valid=\($0.isValid)" } ?? "no copy") "
                        + "\(node.replication.placement(of: traced).map { "\($0)" } ?? "-") pins=\(node.replication.debugPins(traced))"
                )
            }
        }
        let live = liveSlots
        let nodes = live.map { slots[$0].node! }
        checkMembership(nodes)
        var copies = [SessionID: [(node: NodeInstance, session: Session)]]()
        for node in nodes {
            for id in node.replication.sessionIDs {
                copies[id, default: []].append((node, node.replication.session(id)!))
            }
            // The counts are kept as copies change (the session limit reads them per create); they must match a
            // scan. Emptied: valid, with attribute entries, every one a tombstone.
            let valid = node.replication.sessionIDs.compactMap { node.replication.session($0) }.filter(\.isValid)
            if node.replication.liveSessionCount != valid.count {
                violation(
                    "\(name(of: node.me.id)) counts \(node.replication.liveSessionCount) live sessions, holds "
                        + "\(valid.count)")
            }
            let emptied = valid.count {
                !$0.content.attributes.isEmpty && $0.content.attributes.allSatisfy { $0.value.value == nil }
            }
            if node.replication.emptiedSessionCount != emptied {
                violation(
                    "\(name(of: node.me.id)) counts \(node.replication.emptiedSessionCount) emptied sessions, holds "
                        + "\(emptied)")
            }
        }
        report.sessionsAtEnd = copies.values.filter { $0.contains { $0.session.isValid } }.count
        for id in copies.keys.sorted() {
            let holders = copies[id]!
            let first = holders[0]
            for other in holders.dropFirst() where !Self.converged(first.session, other.session) {
                violation(
                    "not converged: session \(id) is \(first.session.version) at \(name(of: first.node.me.id)) but "
                        + "\(other.session.version) at \(name(of: other.node.me.id))"
                        + (other.session.version == first.session.version
                            ? "; contents: \(first.session.content) vs \(other.session.content)" : ""))
                break
            }
            if config.mode == .delta && holders.count != nodes.count {
                let missing = nodes.filter { node in !holders.contains { $0.node.me.id == node.me.id } }
                    .map { "\(name(of: $0.me.id)) (transfer \($0.replication.debugTransfer))" }
                violation(
                    "delta mode: session \(id) held by \(holders.count) of \(nodes.count) nodes, not by "
                        + missing.joined(separator: ", "))
            }
        }
        if config.mode == .backup { checkPlacement(copies, nodes: nodes) }
        checkRetired(copies)
        checkClients(copies)
        for node in nodes {
            report.concurrentMerges += node.replication.counters.concurrentMerges
        }
    }

    private func checkMembership(_ nodes: [NodeInstance]) {
        let everyone = Set(nodes.map(\.me.id))
        for node in nodes {
            let seen = Set(node.membership.peers.map(\.id)).union([node.me.id])
            if seen != everyone {
                violation("membership of \(name(of: node.me.id)) is \(seen.count) members, expected \(everyone.count)")
            }
        }
    }

    private func checkPlacement(_ copies: [SessionID: [(node: NodeInstance, session: Session)]], nodes: [NodeInstance])
    {
        let ring = HashRing(members: nodes.map { HashRing.Member(id: $0.me.id, key: $0.me.name) })
        for id in copies.keys.sorted() {
            let holders = copies[id]!.filter { $0.session.isValid }
            guard !holders.isEmpty else { continue }
            let primaries = holders.filter { $0.node.replication.placement(of: id)?.primary == $0.node.me.id }
            let expected = min(config.mode == .backup ? config.copies : 2, nodes.count)
            if primaries.count != 1 || holders.count != expected {
                let locations = holders.map {
                    "\(name(of: $0.node.me.id)): \($0.node.replication.placement(of: id).map { "\($0)" } ?? "none")"
                }
                violation(
                    "placement of \(id): \(primaries.count) primaries, \(holders.count) holders [\(locations.joined(separator: "; "))]"
                )
                continue
            }
            if let first = ring.first(of: id), !holders.contains(where: { $0.node.me.id == first }) {
                violation("placement of \(id): ring-first member \(name(of: first)) holds no copy")
            }
            let placements = Set(holders.compactMap { $0.node.replication.placement(of: id) })
            if placements.count != 1 {
                violation("placement of \(id): holders disagree: \(placements)")
            }
        }
    }

    private func checkRetired(_ copies: [SessionID: [(node: NodeInstance, session: Session)]]) {
        for client in clients {
            for id in client.retired {
                if let revived = copies[id]?.first(where: { $0.session.isValid }) {
                    // Async: the logout is a write like any other; it may die with a crashed holder before it
                    // reached the others. Without a crash, anti-entropy among the holders must repair it.
                    if config.ack == .async, report.crashes > 0 || client.retiredBy[id].map(crashed.contains) == true {
                        report.asyncWritesLost += 1
                        continue
                    }
                    violation(
                        "\(client.name): logged-out session \(id) is valid again at \(name(of: revived.node.me.id))")
                }
            }
        }
    }

    private func checkClients(_ copies: [SessionID: [(node: NodeInstance, session: Session)]]) {
        for client in clients where !client.busy {
            guard let id = client.session else { continue }
            let token = client.token ?? VersionVector()
            guard let copy = copies[id]?.first(where: { $0.session.isValid && $0.session.version.covers(token) }) else {
                if config.ack == .sync {
                    violation(
                        "\(client.name): no copy of session \(id) covers the client's acknowledged writes \(token)")
                } else {
                    report.asyncWritesLost += 1
                }
                continue
            }
            for (key, expected) in client.model where !client.uncertain.contains(key) {
                let actual = copy.session.attribute(key).map { String(decoding: $0, as: UTF8.self) }
                if actual != expected {
                    violation("\(client.name): final \(key) is \(actual ?? "absent"), expected \(expected ?? "absent")")
                }
            }
        }
    }

    /// Backup mode: each live session's placement as its primary knows it.
    package func placements() -> [SessionID: Placement] {
        var result = [SessionID: Placement]()
        for slot in liveSlots {
            let node = slots[slot].node!
            for id in node.replication.sessionIDs {
                if let placement = node.replication.placement(of: id), placement.primary == node.me.id,
                    node.replication.session(id)?.isValid == true
                {
                    result[id] = placement
                }
            }
        }
        return result
    }

    /// Creates `count` sessions directly on random live nodes (logins without a client), for placement
    /// measurements that need many sessions.
    public func createSessions(_ count: Int) {
        for _ in 0..<count {
            let live = liveSlots
            guard !live.isEmpty else { return }
            let slot = live[Int(random.next() % UInt64(live.count))]
            let id = SessionID(using: &random)
            var changes = SessionChanges()
            changes.set("user", "bulk")
            withNode(slots[slot].node!.me.id) { node, time in node.create(id, changes: changes, now: time).directives }
        }
    }

    /// Stops the client load (requests in flight complete or time out).
    public func stopWorkload() { workloadRunning = false }

    /// Number of node slots.
    public var slotCount: Int { slots.count }

    /// Adds a node slot and starts it.
    public func addNode() -> Int {
        slots.append(Slot(name: "n\(slots.count + 1)", node: nil, skew: 0))
        startNode(slots.count - 1)
        return slots.count - 1
    }

    /// Gracefully stops the node in `slot`: a leaving beacon, then the process ends.
    public func stopNode(_ slot: Int) {
        guard let id = slots[slot].node?.me.id else { return }
        withNode(id) { node, time in node.leave(now: time) }
        crashed.insert(id)
        slots[slot].node = nil
    }

    /// Starts nodes and clients without scheduled faults; drive it with `run(until:)`.
    public func startCluster() {
        for slot in slots.indices { startNode(slot) }
        setUpClients()
    }

    /// Runs the invariant checks now and returns the report.
    public func checkNow() -> SimulationReport {
        checkInvariants()
        return report
    }
}
