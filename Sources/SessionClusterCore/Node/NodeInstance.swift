/// What the shell must do after feeding an event to `NodeInstance`.
package enum NodeDirective: Hashable, Sendable {
    /// Send a membership beacon: to the multicast group when `multicast`, and to each `host:port` in `unicast`.
    case beacon(Beacon, multicast: Bool, unicast: [String])
    /// Send a SWIM datagram (`membership.protocol` `swim`), the same ways as a beacon.
    case swim(SwimDatagram, multicast: Bool, unicast: [String])
    /// A replication directive (send to a peer, access ready / failed, sync commit completed, event).
    case replication(ReplicationDirective)
    /// A membership transition, for logs and the embedder's event stream.
    case member(MembershipEvent)
}

/// What membership told replication, replayed on the other shards of a node that runs several loops
/// (`NodeInstance.follower`): each shard's replication hears exactly what shard 0's heard, in the same order.
package enum MembershipMirror: Hashable, Sendable {
    /// `ReplicationInstance.onDeparted`.
    case departed(NodeID)
    /// `ReplicationInstance.onHeardUnreachable`.
    case heardUnreachable(NodeID)
    /// `ReplicationInstance.onMembersChanged` with the live peers, and membership's table (for addresses).
    case membersChanged([NodeID: String], members: [Member])
}

/// One node's whole protocol: membership and replication composed, still without I/O.
///
/// Membership decides who the live peers are; every time that set changes the replication instance is told
/// (ring rebuilt, backups re-placed, state transfer, anti-entropy). The shell and the simulator both drive
/// this type, so what the simulator proves is what the running node does.
///
/// A node served by several loops runs one instance per shard of the sessions. Shard 0's runs membership and
/// records what it tells replication (`takeMirror`); the other shards' are followers (`follower: true`): their
/// membership never ticks nor hears beacons, and `apply` replays shard 0's record into their replication. Each
/// shard's replication is thus an instance of the same protocol over the same members, exchanging messages only
/// with the same shard of each peer.
package struct NodeInstance: Sendable {
    /// The beacon protocol or SWIM (`MembershipSettings.protocolKind`): replication hears of both the same way.
    package private(set) var membership: NodeMembership
    package private(set) var replication: ReplicationInstance
    /// A shard other than 0 of a node with several loops: membership comes from shard 0 (`apply`).
    package let isFollower: Bool
    /// Shard 0 of a node with several loops records what membership told replication (`takeMirror`).
    package var recordsMirror = false
    private var mirror: [MembershipMirror] = []
    /// A follower's copy of shard 0's member table (from the last `.membersChanged`).
    private var mirroredMembers: [NodeID: Member] = [:]
    /// The current incarnation per node name, to recognise a restart (the old incarnation is gone for good).
    private var incarnations: [String: NodeID] = [:]
    /// Past this many names, those whose incarnation membership forgot are dropped from `incarnations`.
    static let maxIncarnations = 1_024

    /// `tableKey`: the secret of the order the replica table keeps (`ReplicationInstance.init`); the shell MUST
    /// pass one from the system generator, the same on every shard of a node.
    package init(
        cluster: String, me: MemberInfo, membership: MembershipSettings, replication: ReplicationSettings,
        shards: Int = 1, now: Timestamp, follower: Bool = false, tableKey: UInt64 = 0
    ) {
        self.isFollower = follower
        self.membership = NodeMembership(settings: membership, cluster: cluster, shards: shards, me: me, now: now)
        self.replication = ReplicationInstance(
            settings: replication, me: me.id, key: me.name, now: now, tableKey: tableKey)
        self.replication.adoptMembershipTiming(
            settleMillis: membership.deadAfterMillis, retentionMillis: membership.deadRetentionMillis)
        self.replication.expectedPeerNames = Set(membership.expectedMembers).subtracting([me.name])
        self.replication.rosterIsOnlyMe = membership.expectedMembers == [me.name]
    }

    package var me: MemberInfo { membership.me }

    /// Installs copies from this node's snapshot file (before joining): see `ReplicationInstance.restore`.
    package mutating func restore(_ sessions: [Session], now: Timestamp) -> (RestoreOutcome, [NodeDirective]) {
        let outcome = replication.restore(sessions, now: now)
        return (outcome, Self.wrap(outcome.directives))
    }

    // MARK: Events

    /// Timer tick: beacons and failure detection, then replication time-outs and sweeps.
    /// See `ReplicationInstance.trackChanges()`.
    package mutating func trackChanges() { replication.trackChanges() }

    /// See `ReplicationInstance.takeChangedCopies()`.
    package mutating func takeChangedCopies() -> [Session] { replication.takeChangedCopies() }

    /// See `ReplicationInstance.hasMaintenanceBacklog`.
    package var hasMaintenanceBacklog: Bool { replication.hasMaintenanceBacklog }

    package mutating func onTick(now: Timestamp) -> [NodeDirective] {
        if isFollower { return Self.wrap(replication.onTick(now: now)) }
        let membershipDirectives = membership.onTick(now: now)
        return translate(membershipDirectives, now: now) + Self.wrap(replication.onTick(now: now))
    }

    /// A membership beacon arrived (already authenticated and decoded by the shell).
    package mutating func onBeacon(_ beacon: Beacon, now: Timestamp) -> [NodeDirective] {
        let directives = translate(membership.onBeacon(beacon, now: now), now: now)
        if membership.admits(beacon) {
            for entry in beacon.members where entry.status == .dead && entry.member.id != me.id {
                heardDead(entry.member, now: now)
            }
        }
        return directives
    }

    /// A SWIM datagram arrived (already authenticated and decoded by the shell). Dead members it carries are
    /// handled as a beacon's dead entries.
    package mutating func onSwim(_ datagram: SwimDatagram, now: Timestamp) -> [NodeDirective] {
        let directives = translate(membership.onSwim(datagram, now: now), now: now)
        if membership.admits(datagram) {
            for update in datagram.updates where update.status == .dead && update.member.id != me.id {
                heardDead(update.member, now: now)
            }
        }
        return directives
    }

    /// A peer says `member` is dead.
    private mutating func heardDead(_ member: MemberInfo, now: Timestamp) {
        if isSuperseded(member) {
            // Another incarnation of a name that is live now (this node's own previous one, say): two
            // never run at once under one name, so this one is gone for good, not out of reach.
            departed(member.id)
        } else {
            replication.onHeardUnreachable(member.id, now: now)
            if recordsMirror { mirror.append(.heardUnreachable(member.id)) }
        }
    }

    /// A replication message arrived from `peer` over its link.
    package mutating func onMessage(_ message: ReplicationMessage, from peer: NodeID, now: Timestamp) -> [NodeDirective]
    {
        Self.wrap(replication.onMessage(message, from: peer, now: now))
    }

    /// A connection to `peer` was refused: hard evidence it is gone.
    /// A follower only stops counting on the peer; its shell tells shard 0, whose membership decides.
    package mutating func onLinkRefused(_ peer: NodeID, now: Timestamp) -> [NodeDirective] {
        departed(peer)
        if isFollower { return [] }
        return translate(membership.onLinkRefused(peer, now: now), now: now)
    }

    /// An established link to `peer` broke: soft evidence. (A follower's shell tells shard 0 instead.)
    package mutating func onLinkLost(_ peer: NodeID, now: Timestamp) -> [NodeDirective] {
        if isFollower { return [] }
        return translate(membership.onLinkLost(peer, now: now), now: now)
    }

    // MARK: Shards

    /// What membership told replication since the last call (shard 0 with `recordsMirror`), for `apply` on the
    /// node's other shards.
    package mutating func takeMirror() -> [MembershipMirror] {
        defer { mirror = [] }
        return mirror
    }

    /// A follower replays what shard 0's membership told its replication.
    package mutating func apply(_ change: MembershipMirror, now: Timestamp) -> [NodeDirective] {
        switch change {
        case .departed(let peer):
            replication.onDeparted(peer)
            return []
        case .heardUnreachable(let peer):
            replication.onHeardUnreachable(peer, now: now)
            return []
        case .membersChanged(let peers, let members):
            mirroredMembers = Dictionary(members.map { ($0.info.id, $0) }, uniquingKeysWith: { $1 })
            return Self.wrap(replication.onMembersChanged(peers, now: now))
        }
    }

    /// The member `id` as membership knows it (a follower: as shard 0's membership knew it last).
    package func member(_ id: NodeID) -> Member? {
        isFollower ? mirroredMembers[id] : membership.member(id)
    }

    /// Every member known (a follower: shard 0's table as of its last change).
    package var members: [Member] {
        isFollower ? Array(mirroredMembers.values) : membership.members
    }

    /// Graceful stop: announce leaving. Peers drop this node at once (their replication re-places its sessions).
    package mutating func leave(now: Timestamp) -> [NodeDirective] {
        translate(membership.leave(now: now), now: now)
    }

    // MARK: Requests

    /// See `ReplicationInstance.access(_:token:ticket:now:)`.
    package mutating func access(_ id: SessionID, token: VersionVector?, ticket: AccessTicket, now: Timestamp)
        -> [NodeDirective]
    {
        Self.wrap(replication.access(id, token: token, ticket: ticket, now: now))
    }

    /// See `ReplicationInstance.release(_:)`.
    package mutating func release(_ id: SessionID) {
        replication.release(id)
    }

    /// See `ReplicationInstance.create(_:changes:now:firstCounter:)`.
    package mutating func create(
        _ id: SessionID, changes: SessionChanges, now: Timestamp, firstCounter: UInt64 = 1
    ) -> NodeCommit {
        NodeCommit(replication.create(id, changes: changes, now: now, firstCounter: firstCounter))
    }

    /// See `ReplicationInstance.confirm(_:upTo:needed:timeoutMillis:now:)`.
    package mutating func confirm(
        _ id: SessionID, upTo version: VersionVector, needed: Int, timeoutMillis: Int64, now: Timestamp
    ) -> (awaiting: CommitID?, count: Int, directives: [NodeDirective]) {
        let result = replication.confirm(id, upTo: version, needed: needed, timeoutMillis: timeoutMillis, now: now)
        return (result.awaiting, result.count, Self.wrap(result.directives))
    }

    /// See `ReplicationInstance.commit(_:changes:now:)`.
    package mutating func commit(_ id: SessionID, changes: SessionChanges, now: Timestamp) -> NodeCommit {
        NodeCommit(replication.commit(id, changes: changes, now: now))
    }

    /// See `ReplicationInstance.changeID(of:to:now:)`.
    package mutating func changeID(of id: SessionID, to newID: SessionID, now: Timestamp) -> NodeCommit {
        NodeCommit(replication.changeID(of: id, to: newID, now: now))
    }

    // MARK: Plumbing

    /// Whether `member` is an older incarnation of this node or of a live peer (same name, another id).
    private func isSuperseded(_ member: MemberInfo) -> Bool {
        if member.name == me.name { return true }
        return membership.peers.contains { $0.name == member.name && $0.id != member.id }
    }

    /// Carries membership directives over, and tells replication when the set of live peers changed.
    private mutating func translate(_ directives: [NodeDirective], now: Timestamp) -> [NodeDirective] {
        var out = [NodeDirective]()
        var changed = false
        for directive in directives {
            switch directive {
            case .beacon, .swim, .replication:
                out.append(directive)
            case .member(let event):
                out.append(directive)
                changed = true
                switch event {
                case .joined(let info), .recovered(let info):
                    if let previous = incarnations[info.name], previous != info.id { departed(previous) }
                    incarnations[info.name] = info.id
                    if incarnations.count > Self.maxIncarnations {
                        // Names membership forgot (long dead or left) need not be remembered.
                        incarnations = incarnations.filter { membership.member($0.value) != nil }
                    }
                case .left(let info):
                    departed(info.id)
                case .suspect, .dead:
                    break
                }
            }
        }
        if changed {
            var peers = [NodeID: String]()
            for info in membership.peers where info.id != me.id { peers[info.id] = info.name }
            if recordsMirror { mirror.append(.membersChanged(peers, members: membership.members)) }
            out += Self.wrap(replication.onMembersChanged(peers, now: now))
        }
        return out
    }

    /// `peer` is gone for good: replication stops counting on it (and shard 0 records it for the others).
    private mutating func departed(_ peer: NodeID) {
        replication.onDeparted(peer)
        if recordsMirror { mirror.append(.departed(peer)) }
    }

    /// Static on purpose: an instance method here would borrow `self` while the argument (a mutating call on
    /// `replication`) runs, forcing a copy of the whole node state — every session — on each event.
    private static func wrap(_ directives: [ReplicationDirective]) -> [NodeDirective] {
        directives.map { .replication($0) }
    }
}

/// A commit's outcome at node level: the replication result with its directives wrapped.
package struct NodeCommit: Hashable, Sendable {
    package var outcome: CommitResult.Outcome
    /// The client's new version token.
    package var version: VersionVector
    /// Set for `sync` commits still waiting for acknowledgements.
    package var awaiting: CommitID?
    package var directives: [NodeDirective]

    init(_ result: CommitResult) {
        outcome = result.outcome
        version = result.version
        awaiting = result.awaiting
        directives = result.directives.map { .replication($0) }
    }
}
