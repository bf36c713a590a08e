/// The membership protocol of one node incarnation as a value-type state machine: events in, directives out.
///
/// It does no I/O and reads no clock: the shell passes `now` with every call, carries out the returned
/// `MembershipDirective`s (send beacons, publish events) and calls `onTick(now:)` regularly — at least a few
/// times per `heartbeatMillis`, since beacons and timeouts only advance on ticks.
///
/// Failure detection is a plain timeout on direct beacons (alive → suspect → dead), sharpened by evidence from
/// the replication link: a refused connection is fatal at once, a lost one makes the member suspect.
/// Every status change (joins included) is decided by one transition table, `event(from:to:of:)`, which is the
/// only place events are made: one event per transition, never more.
package struct MembershipInstance: Sendable {
    /// What this node remembers about one member incarnation, beyond what `Member` shows.
    struct Record: Sendable {
        var member: Member
        /// When `member.status` last changed; dead and left records are forgotten relative to it.
        var statusSince: Timestamp
        /// The highest beacon sequence seen directly from this incarnation; `nil` if only gossiped.
        var lastSequence: UInt64?
        /// Dead because a newer incarnation with the same name appeared: it must never recover.
        var superseded = false
        /// Dead on hard evidence (a refused connection), not a time-out: known gone, so not gossiped as dead.
        var refused = false
    }

    /// The settings this instance runs with (assumed valid: see `MembershipSettings.validate()`).
    package let settings: MembershipSettings
    /// The cluster name; beacons naming another cluster are ignored.
    package let cluster: String
    /// This node's number of shards (loops); beacons from a node with another number are ignored too (see
    /// `Beacon.shards`).
    package let shards: Int
    /// This node incarnation.
    package let me: MemberInfo

    var records: [NodeID: Record] = [:]
    /// Sequence of the last beacon sent; the first one carries 1.
    var sequence: UInt64 = 0
    /// When the next periodic beacon is due.
    var nextBeaconAt: Timestamp
    /// Set by `leave(now:)`: no periodic beacons any more.
    package private(set) var isLeaving = false

    /// A node that knows no one yet; its first `onTick` sends a beacon at once.
    ///
    /// - Parameters:
    ///   - settings: MUST have passed `validate()`.
    ///   - me: this incarnation; `me.id` MUST be fresh for every process start.
    package init(settings: MembershipSettings, cluster: String, shards: Int = 1, me: MemberInfo, now: Timestamp) {
        self.settings = settings
        self.cluster = cluster
        self.shards = shards
        self.me = me
        self.nextBeaconAt = now
    }

    // MARK: Queries

    /// Whether `beacon` is from this cluster and from a node with this node's number of shards: the only beacons
    /// membership listens to.
    package func admits(_ beacon: Beacon) -> Bool { beacon.cluster == cluster && beacon.shards == shards }

    /// Every remembered member, including dead and left ones until forgotten, sorted by name then id.
    package var members: [Member] {
        records.values.map(\.member).sorted(by: Self.memberOrder)
    }

    /// The member with incarnation `id`, if remembered.
    package func member(_ id: NodeID) -> Member? { records[id]?.member }

    /// Members that are alive or suspect — the ones replication keeps sending to — sorted by name then id.
    package var peers: [MemberInfo] { members.filter(\.isPeer).map(\.info) }

    static func memberOrder(_ lhs: Member, _ rhs: Member) -> Bool {
        (lhs.info.name, lhs.info.id) < (rhs.info.name, rhs.info.id)
    }

    /// Record ids in name-then-id order, so that event order never depends on hashing.
    var orderedIDs: [NodeID] { members.map(\.info.id) }

    // MARK: Inputs

    /// Advances time: times out silent members, forgets long-dead ones and sends a beacon when one is due.
    ///
    /// Events come first, so the beacon already reflects them. After `leave(now:)` no beacon is sent.
    package mutating func onTick(now: Timestamp) -> [MembershipDirective] {
        var directives: [MembershipDirective] = []
        for id in orderedIDs {
            guard let record = records[id] else { continue }
            let silence = now.millis(since: record.member.lastHeard)
            switch record.member.status {
            case .alive where silence >= settings.deadAfterMillis, .suspect where silence >= settings.deadAfterMillis:
                directives += transition(id, to: .dead, now: now)
            case .alive where silence >= settings.suspectAfterMillis:
                directives += transition(id, to: .suspect, now: now)
            case .dead, .leaving:
                if now.millis(since: record.statusSince) >= settings.deadRetentionMillis {
                    records[id] = nil
                }
            default:
                break
            }
        }
        if !isLeaving, now >= nextBeaconAt {
            nextBeaconAt = now.adding(millis: settings.heartbeatMillis)
            directives += beaconDirective(status: .alive)
        }
        return directives
    }

    /// Hard evidence: the peer's replication port refused a connection, so the incarnation is gone.
    /// The member is dead at once (no event if it already is dead or has left, or is unknown).
    package mutating func onLinkRefused(_ id: NodeID, now: Timestamp) -> [MembershipDirective] {
        guard let status = records[id]?.member.status, status == .alive || status == .suspect else { return [] }
        records[id]?.refused = true
        return transition(id, to: .dead, now: now)
    }

    /// Soft evidence: an established replication link dropped. An alive member becomes suspect at once;
    /// death still needs the timeout or a refused reconnect, and its next beacon recovers it.
    package mutating func onLinkLost(_ id: NodeID, now: Timestamp) -> [MembershipDirective] {
        guard records[id]?.member.status == .alive else { return [] }
        return transition(id, to: .suspect, now: now)
    }

    /// Graceful stop: returns a `.leaving` beacon to send now (multicast and unicast as usual); afterwards ticks
    /// send no more beacons. Calling it again resends the leaving beacon, as UDP may lose one.
    package mutating func leave(now: Timestamp) -> [MembershipDirective] {
        isLeaving = true
        return beaconDirective(status: .leaving)
    }

    // MARK: Transitions

    /// The transition table: which event a status change makes, or `nil` for a change that is not allowed.
    ///
    /// `nil → alive` is a join. Left is final. Dead → suspect has no meaning and nothing asks for it.
    static func event(from old: MemberStatus?, to new: MemberStatus, of info: MemberInfo) -> MembershipEvent? {
        switch (old, new) {
        case (nil, .alive): .joined(info)
        case (.leaving?, _): nil
        case (let old?, _) where old == new: nil
        case (_?, .leaving): .left(info)
        case (_?, .dead): .dead(info)
        case (.alive?, .suspect): .suspect(info)
        case (_?, .alive): .recovered(info)
        default: nil
        }
    }

    /// The one place a known member's status changes; returns the event for the change, if any.
    mutating func transition(_ id: NodeID, to status: MemberStatus, now: Timestamp) -> [MembershipDirective] {
        guard var record = records[id],
            let event = Self.event(from: record.member.status, to: status, of: record.member.info)
        else { return [] }
        record.member.status = status
        record.statusSince = now
        records[id] = record
        return [.event(event)]
    }

    /// Adds a member not known before, alive, and returns its `joined` event.
    mutating func admit(_ info: MemberInfo, direct: Bool, sequence: UInt64?, now: Timestamp) -> [MembershipDirective] {
        guard records[info.id] == nil, let event = Self.event(from: nil, to: .alive, of: info) else { return [] }
        let member = Member(info: info, status: .alive, lastHeard: now, heardDirectly: direct)
        records[info.id] = Record(member: member, statusSince: now, lastSequence: sequence)
        return [.event(event)]
    }
}
