import SessionClusterCore
import Testing

/// One replication message in flight between two instances.
struct Envelope: Hashable, CustomStringConvertible {
    var from: NodeID
    var to: NodeID
    var message: ReplicationMessage

    var description: String { "\(from)→\(to): \(message)" }
}

/// A cluster of `ReplicationInstance`s driven by hand: the test decides which message is delivered when
/// (or lost), and moves the shared manual clock. Nodes are `n1`, `n2`, … with ids 1, 2, …
struct ReplicationCluster {
    var settings: ReplicationSettings
    var now: Timestamp
    var nodes: [NodeID: ReplicationInstance] = [:]
    var names: [NodeID: String] = [:]
    /// Sent and not yet delivered, oldest first.
    var inFlight: [Envelope] = []
    /// Every directive other than a send, per node, in order.
    var outputs: [NodeID: [ReplicationDirective]] = [:]

    static func node(_ index: Int) -> NodeID { NodeID(rawValue: UInt64(index)) }

    /// `count` nodes that all know each other, with the joining traffic (state transfer, digests) delivered.
    init(count: Int, settings: ReplicationSettings, now: Timestamp = Timestamp(millis: 1_700_000_000_000)) {
        self.settings = settings
        self.now = now
        for index in 1...count { addNode(index) }
        for node in ids { setMembers(of: node, to: ids) }
        deliverAll()
        outputs = [:]
    }

    var ids: [NodeID] { nodes.keys.sorted() }

    subscript(node: NodeID) -> ReplicationInstance { nodes[node]! }

    /// The ring every node builds from the current members.
    var ring: HashRing { HashRing(members: ids.map { HashRing.Member(id: $0, key: names[$0]!) }) }

    /// A new, unconnected node. Each keeps its copies in an order of its own, as processes do (`SessionOrder`).
    @discardableResult
    mutating func addNode(_ index: Int) -> NodeID {
        let id = Self.node(index)
        names[id] = "n\(index)"
        nodes[id] = ReplicationInstance(
            settings: settings, me: id, key: "n\(index)", now: now, tableKey: SplitMix64.mix(UInt64(index)))
        return id
    }

    /// Tells `node` its live peers are `members` (itself left out).
    @discardableResult
    mutating func setMembers(of node: NodeID, to members: [NodeID]) -> [ReplicationDirective] {
        var peers = [NodeID: String]()
        for member in members where member != node { peers[member] = names[member] }
        return route(nodes[node]!.onMembersChanged(peers, now: now), from: node)
    }

    /// Crashes / removes `node`: it is gone, and so is everything addressed to it.
    mutating func remove(_ node: NodeID) {
        nodes[node] = nil
        inFlight.removeAll { $0.to == node }
    }

    mutating func advance(_ millis: Int64) { now = now.adding(millis: millis) }

    @discardableResult
    mutating func route(_ directives: [ReplicationDirective], from node: NodeID) -> [ReplicationDirective] {
        for directive in directives {
            if case .send(let message, let to) = directive {
                inFlight.append(Envelope(from: node, to: to, message: message))
            } else {
                outputs[node, default: []].append(directive)
            }
        }
        return directives
    }

    // MARK: Requests (their sends go in flight; the result is returned for assertions)

    @discardableResult
    mutating func create(_ id: SessionID, on node: NodeID, _ changes: SessionChanges = SessionChanges())
        -> CommitResult
    {
        let result = nodes[node]!.create(id, changes: changes, now: now)
        route(result.directives, from: node)
        return result
    }

    @discardableResult
    mutating func commit(_ id: SessionID, on node: NodeID, _ changes: SessionChanges) -> CommitResult {
        let result = nodes[node]!.commit(id, changes: changes, now: now)
        route(result.directives, from: node)
        return result
    }

    /// Starts a confirm (`WAIT`) of `node`'s writes to `id` up to `version`; its asks go in flight.
    @discardableResult
    mutating func confirm(
        _ id: SessionID, on node: NodeID, upTo version: VersionVector, needed: Int, timeoutMillis: Int64
    ) -> (awaiting: CommitID?, count: Int, directives: [ReplicationDirective]) {
        let result = nodes[node]!.confirm(id, upTo: version, needed: needed, timeoutMillis: timeoutMillis, now: now)
        route(result.directives, from: node)
        return result
    }

    @discardableResult
    mutating func changeID(of id: SessionID, to newID: SessionID, on node: NodeID) -> CommitResult {
        let result = nodes[node]!.changeID(of: id, to: newID, now: now)
        route(result.directives, from: node)
        return result
    }

    @discardableResult
    mutating func access(_ id: SessionID, on node: NodeID, token: VersionVector?, ticket: AccessTicket)
        -> [ReplicationDirective]
    {
        route(nodes[node]!.access(id, token: token, ticket: ticket, now: now), from: node)
    }

    @discardableResult
    mutating func tick(_ node: NodeID) -> [ReplicationDirective] {
        route(nodes[node]!.onTick(now: now), from: node)
    }

    // MARK: Network

    /// Feeds `message` to `node` as sent by `peer` (a delivery, a re-delivery or an injected message).
    @discardableResult
    mutating func receive(_ message: ReplicationMessage, at node: NodeID, from peer: NodeID) -> [ReplicationDirective] {
        guard nodes[node] != nil else { return [] }
        return route(nodes[node]!.onMessage(message, from: peer, now: now), from: node)
    }

    @discardableResult
    mutating func deliver(_ envelope: Envelope) -> [ReplicationDirective] {
        receive(envelope.message, at: envelope.to, from: envelope.from)
    }

    /// Delivers the oldest in-flight envelope to `node` that matches; returns what the receiver answered.
    @discardableResult
    mutating func deliverNext(
        to node: NodeID, where predicate: (Envelope) -> Bool = { _ in true },
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> [ReplicationDirective] {
        guard let index = inFlight.firstIndex(where: { $0.to == node && predicate($0) }) else {
            Issue.record("nothing in flight to \(node); in flight: \(inFlight)", sourceLocation: sourceLocation)
            return []
        }
        return deliver(inFlight.remove(at: index))
    }

    /// Removes and returns the in-flight envelopes that match: lost, unless the test delivers them later.
    mutating func take(where predicate: (Envelope) -> Bool) -> [Envelope] {
        let taken = inFlight.filter(predicate)
        inFlight.removeAll(where: predicate)
        return taken
    }

    /// Delivers matching envelopes oldest first, including those sent in reply, until none is left.
    mutating func deliverAll(where predicate: (Envelope) -> Bool = { _ in true }) {
        var steps = 0
        while let index = inFlight.firstIndex(where: predicate) {
            deliver(inFlight.remove(at: index))
            steps += 1
            precondition(steps < 10_000, "messages keep flowing: \(inFlight.prefix(5))")
        }
    }

    /// Nodes holding a copy of `id`, valid or not.
    func copies(of id: SessionID) -> [NodeID] { ids.filter { nodes[$0]!.session(id) != nil } }

    /// Nodes holding a valid copy of `id`.
    func holders(of id: SessionID) -> [NodeID] { ids.filter { nodes[$0]!.session(id)?.isValid == true } }
}

extension ReplicationSettings {
    /// Small time-outs so that tests move the clock by milliseconds; sweeps and anti-entropy out of the way
    /// unless a test turns them on.
    static func unitTest(_ mode: ReplicationMode = .delta, ack: AckMode = .async) -> ReplicationSettings {
        var settings = ReplicationSettings(mode: mode, ack: ack)
        settings.gapHoldMillis = 10
        settings.fetchTimeoutMillis = 50
        settings.accessWaitMillis = 200
        settings.syncAckTimeoutMillis = 100
        settings.sweepIntervalMillis = 3_600_000
        settings.antiEntropyIntervalMillis = 3_600_000
        return settings
    }
}

extension ReplicationMessage {
    var delta: SessionDelta? {
        if case .delta(let delta, _) = self { delta } else { nil }
    }
}

extension Envelope {
    /// Whether this carries the delta `counter` of `origin`.
    func carries(_ origin: NodeID, _ counter: UInt64) -> Bool {
        message.delta?.dot == Dot(origin: origin, counter: counter)
    }
}

extension Array where Element == ReplicationDirective {
    /// The request id of the first fetch among the directives.
    var fetchRequest: RequestID? {
        for directive in self {
            if case .send(.fetch(let request, _, _), _) = directive { return request }
        }
        return nil
    }

    var hasAccessReady: Bool {
        contains { if case .accessReady = $0 { true } else { false } }
    }
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Changes that set the given attributes (in order).
func setting(_ pairs: KeyValuePairs<String, String>) -> SessionChanges {
    var changes = SessionChanges()
    for (name, value) in pairs { changes.set(name, value) }
    return changes
}

/// A deterministic session id per seed.
func sessionID(_ seed: UInt64) -> SessionID {
    var generator = SplitMix64(seed: seed)
    return SessionID(using: &generator)
}
