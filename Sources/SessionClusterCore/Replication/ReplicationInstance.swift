/// The replication protocol of one node, as a value type: events in, directives out, no I/O.
///
/// Events: the shell's requests (`access`, `commit`, `create`, `changeID`), messages from peers
/// (`onMessage`), membership changes (`onMembersChanged`) and timer ticks (`onTick`). Each returns the
/// directives to carry out: messages to send, accesses that may proceed or failed, sync commits completed.
///
/// Guarantees (checked by the simulator over thousands of seeded schedules):
/// - a delta is applied only in causal order (its base covered); duplicates are ignored; gaps are held,
///   then a full copy is pulled;
/// - concurrent deltas merge attribute by attribute, last-writer-wins by (HLC, node), so every copy that
///   joined the same deltas holds the same content in any arrival order;
/// - an access whose version token the local copy does not cover pulls from a holder or fails — it is
///   never served stale; an invalidated session never comes back.
package struct ReplicationInstance: Sendable {
    struct HeldDelta: Sendable {
        var delta: SessionDelta
        var ack: CommitID?
        var from: NodeID
        var since: Timestamp
    }

    struct PendingAccess: Sendable {
        var ticket: AccessTicket
        var sessionID: SessionID
        var token: VersionVector
        var deadline: Timestamp
    }

    struct PendingFetch: Sendable {
        var sessionID: SessionID
        var takeover: Bool
        var candidates: [NodeID]
        var asking: NodeID
        var deadline: Timestamp
        /// Whether some holder did not answer in time (then "nobody has it" cannot be concluded).
        var timedOut: Bool
        /// Whether some member answered with a valid copy: then the session is not lost, whatever else the pass
        /// meets (it may be moving between members). Its missing writes may be: that member answered without them.
        var liveCopySeen = false
        /// Which pass over the candidates this is (see `fetchRounds`).
        var round: Int
        /// Who was asked in this pass: "no live member has it" needs every current peer among them (a peer
        /// that joined meanwhile, e.g. as a partition healed, was not).
        var asked: Set<NodeID>
    }

    /// Passes over the candidates a fetch makes before concluding that no live member holds what a waiting
    /// request needs. A session can move (a takeover, a placement change) while it is asked for node by node,
    /// so one pass of "not here" answers proves nothing in a healthy cluster; the access deadline bounds them all.
    static let fetchRounds = 3

    struct PendingCommit: Sendable {
        var awaiting: Set<NodeID>
        var deadline: Timestamp
        /// Backup mode, a write: `copies − 1` more copies are what is awaited, so an acknowledgement from any peer
        /// not counted yet stands for one awaited backup — the backup's own, or that of the node the delta was passed
        /// on to after the session moved. Peers that left are no longer awaited (`awaiting` shrinks).
        var anyPeer: Bool = false
        /// Peers whose acknowledgement was counted (`anyPeer`): a second one from the same peer counts nothing.
        var acknowledgedBy: Set<NodeID> = []
        /// The committed delta: a copy from a peer that covers it proves the peer holds it (see `onCopy`).
        var sessionID: SessionID
        var dot: Dot
        /// A commit made before this node heard from any peer, moments after it started (`mayBeAlone`): its delta,
        /// sent once peers appear (`sendUnsentCommits`). Acknowledged, as by nobody, if none has by the time
        /// membership settled; nil once sent.
        var unsent: SessionDelta? = nil
        /// A change of id is two commits (the new session, the old one's end): the first is answered only once the
        /// second (`after`) completed too, and as not acknowledged if it was not. `dependent` links back.
        var after: CommitID? = nil
        var afterFailed = false
        var dependent: CommitID? = nil
    }

    enum Transfer: Sendable {
        /// Delta mode, no peer to ask (none seen yet, or every one left mid-transfer): ask one when one appears,
        /// resuming the progress if any.
        case waitingForPeers(TransferProgress?)
        /// Pulling windows from a donor (`ReplicationInstance+Transfer`).
        case receiving(TransferProgress)
        case done
    }

    package let settings: ReplicationSettings
    /// This node's incarnation id.
    package let me: NodeID
    /// This node's ring key (its name).
    package let myKey: String

    var clock = HybridLogicalClock()
    /// Live peers (alive or suspect; not self) and their ring keys.
    var peers: [NodeID: String] = [:] {
        didSet { peerIDs = peers.keys.sorted() }
    }
    /// The live peers this instance replicates to, ascending: kept with `peers`, since every commit reads it
    /// (sorting the keys there cost an allocation and n log n per write).
    package private(set) var peerIDs: [NodeID] = []
    var ring: HashRing
    var replicas: ReplicaTable
    var held: [SessionID: [HeldDelta]] = [:]
    var accesses = AccessTable()
    var fetches: [RequestID: PendingFetch] = [:]
    /// Which fetch is under way for a session (at most one).
    var fetchBySession: [SessionID: RequestID] = [:]
    var commits: [CommitID: PendingCommit] = [:]
    /// `WAIT`s under way (`confirm`); their ids are commit ids, so an `.ack` names one or the other.
    var confirms: [CommitID: PendingConfirm] = [:]
    /// Backup mode: a session this node handed off and dropped.
    struct Moved: Sendable {
        /// Where it went.
        var placement: Placement
        var until: Timestamp
        /// The highest delta counter this node issued for it. A copy taken back later MUST cover it before
        /// this node writes again: otherwise its next delta would reuse a dot, and peers would drop it as a
        /// duplicate while believing they hold it.
        var ownCounter: UInt64
    }

    var moved: [SessionID: Moved] = [:]
    /// Live sessions restored from this node's snapshot (`restore`) that no peer has confirmed yet: the first access
    /// to one while peers are known asks them before serving it, so a copy older than the cluster's (a write or a
    /// logout since the snapshot) is not served. Emptied once a delta-mode state transfer completed.
    var unconfirmedRestores: Set<SessionID> = []
    var transfer: Transfer
    /// Incarnations known to be gone for good (restarted under the same name, left, or refusing connections).
    /// Only their missing writes may be declared lost: a silent node may just be partitioned away.
    var departed: Set<NodeID> = []
    /// Peers that stopped being live without being known gone (dead by timeout: crashed without a refusal, or cut
    /// off by a partition), with when: they may still hold sessions, so a session nobody live holds is only
    /// "unavailable" while one is remembered. Forgotten after `membershipTiming.retentionMillis`, as membership
    /// forgets dead members.
    var unreachable: [NodeID: Timestamp] = [:]
    /// Writers named by clients' tokens that are no member this node knows (an incarnation from before a restart,
    /// or a node whose first beacon has not arrived yet), with when first seen. Capped: tokens come from outside.
    var unknownWriters: [NodeID: Timestamp] = [:]
    static let unknownWritersCap = 1_024
    /// When this incarnation started: until `membershipTiming.settleMillis` later it may not know every live member.
    let startedAt: Timestamp
    /// How long membership needs to hear from every live member, and how long it remembers a dead one (ms).
    /// `NodeInstance` sets them from its membership settings; the defaults are those settings' defaults.
    package internal(set) var membershipTiming = (settleMillis: Int64(3_000), retentionMillis: Int64(60_000))
    /// `departed` in the order recorded: past `maxDeparted` the oldest is forgotten (a write it made and no
    /// one holds then reads as unavailable rather than lost — acceptable for an incarnation gone that long).
    var departedOrder: [NodeID] = []
    /// Most departed incarnations remembered. Each restart or leave adds one.
    package static let maxDeparted = 4_096
    /// Anti-entropy digests being received, per peer: ids seen in the current round.
    var digestRounds: [NodeID: (round: UInt64, seen: Set<SessionID>)] = [:]
    /// Sessions this node heard were ended (an invalidation delta arrived): when, and the ending write. Never
    /// served again, even before the invalidation is applied to a local copy (it may wait for a predecessor).
    /// In backup mode a peer that still shows a live copy of one (a snapshot or digest entry not covering the
    /// ending write: it was cut off when the end went round) is sent a tombstone (`tombstone(of:for:)`).
    /// Forgotten after `tombstoneRetentionMillis`.
    var ended: [SessionID: Ended] = [:]

    struct Ended {
        var since: Timestamp
        var dot: Dot
        var invalidation: Invalidation
    }

    /// Sessions already reported lost (the event and `sessionsLost`), so that a client replaying an old cookie
    /// is counted and logged once, not once per request. The oldest half is forgotten past `maxLostReported`.
    var lostReported: Set<SessionID> = []
    var lostReportedOrder: [SessionID] = []
    static let maxLostReported = 4_096
    /// `ended` ids by when they may be forgotten (`noteEnded`), and `moved` ids by their `until`.
    var endedExpiry: DeadlineQueue<SessionID>
    var movedExpiry: DeadlineQueue<SessionID>
    /// Copies in use by a request (between `accessReady` and `commit` / `release`), and those to drop once
    /// no request uses them: a placement change must not pull a copy from under a running request.
    var pins: [SessionID: Int] = [:]
    var dropWhenUnpinned: Set<SessionID> = []
    var nextRequestID: RequestID = 1
    var nextCommitID: CommitID = 1
    var nextDigestRound: UInt64 = 1
    var nextSweep: Timestamp
    var nextAntiEntropy: Timestamp
    var antiEntropyCursor = 0
    /// When the last `clockAhead` event was emitted (they are rate-limited; the counter is not).
    var lastClockAheadReport: Timestamp?
    /// Whether the last sweep stopped at its batch with more due: the next tick sweeps again.
    var sweepBacklog = false

    /// Whether maintenance has more to do than the last tick's budget covered (a sweep stopped at its batch, a
    /// digest, push-back or re-placement walk under way): the shell then ticks again sooner (`NodeRuntime`), so a
    /// backlog goes at the same pace in shorter loop turns.
    package var hasMaintenanceBacklog: Bool {
        sweepBacklog || !outgoingDigests.isEmpty || !pushBacks.isEmpty || replacement != nil
    }
    /// Digests being sent, a bounded step per tick (`ReplicationInstance+Walks`).
    var outgoingDigests: [NodeID: OutgoingDigest] = [:]
    /// Ids to push to a peer whose digest did not list them, walked a bounded step per tick.
    var pushBacks: [NodeID: PushBack] = [:]
    /// Backup mode: the re-placement pass after a membership change, when one is under way (its cursor).
    var replacement: ReplacementPass?

    /// How much the incremental maintenance did, for tests and diagnostics.
    package internal(set) var maintenance = MaintenanceProgress()

    package internal(set) var counters = ReplicationCounters()

    /// A node with no sessions. `key` is its stable ring key (the node name). `tableKey` keys the order the copies
    /// are kept and walked in (`SessionOrder`): the shell MUST pass a secret one (`SystemRandomNumberGenerator`)
    /// where clients choose ids, the simulator one derived from its seed; tests may leave the default.
    package init(settings: ReplicationSettings, me: NodeID, key: String, now: Timestamp, tableKey: UInt64 = 0) {
        self.settings = settings
        self.me = me
        self.myKey = key
        self.ring = HashRing(members: [HashRing.Member(id: me, key: key)])
        self.replicas = ReplicaTable(
            rule: MaintenanceRule(settings: settings, me: me), order: SessionOrder(key: tableKey))
        self.endedExpiry = DeadlineQueue(granularity: settings.sweepIntervalMillis)
        self.movedExpiry = DeadlineQueue(granularity: settings.sweepIntervalMillis)
        self.transfer = settings.mode == .delta ? .waitingForPeers(nil) : .done
        self.startedAt = now
        self.nextSweep = now.adding(millis: settings.sweepIntervalMillis)
        self.nextAntiEntropy = now.adding(millis: settings.antiEntropyIntervalMillis)
    }

    // MARK: Queries

    /// The copy of a session held here, valid or not.
    package func session(_ id: SessionID) -> Session? { replicas[id]?.session }

    /// Whether `id` is held as a valid session (holding a value of `attribute`, when given), read without copying
    /// the session out: a walk over millions of keys asks this of each (`ClusterNode.heldSessions`).
    package func holdsValid(_ id: SessionID, having attribute: String?) -> Bool {
        guard let replica = replicas[id] else { return false }
        guard let attribute else { return replica.isValid }
        return replica.isValid(having: attribute)
    }

    /// Backup mode: the placement this node knows for a held session.
    package func placement(of id: SessionID) -> Placement? { replicas[id]?.placement }

    /// Ids of every copy held here (including tombstones), sorted.
    package var sessionIDs: [SessionID] { replicas.keys.sorted() }

    /// Ids of the copies held here after `cursor` in the table's order (`sessionOrder`), valid or not, at most
    /// `limit`: one bounded step of a walk over every held session (the RESP front end's `SCAN`). The order is
    /// keyed by this instance's secret, so a cursor means nothing to another process.
    package func sessionIDs(after cursor: SessionID?, limit: Int) -> [SessionID] {
        replicas.ids(after: cursor, limit: limit)
    }

    /// The order `sessionIDs(after:limit:)` walks in (a node's shards share it, so their walks merge).
    package var sessionOrder: SessionOrder { replicas.order }

    /// Whether this node expires session `id` first (delta mode: the ring's first member; backup mode: its
    /// primary); the other holders act only after a grace, should it be gone.
    package func expiresFirst(_ id: SessionID) -> Bool {
        switch settings.mode {
        case .delta: ringFirst(id) == me
        case .backup: (replicas[id]?.placement?.primary ?? ringFirst(id)) == me
        }
    }

    /// How many valid sessions this node holds a copy of (emptied ones included).
    package var liveSessionCount: Int { replicas.liveCount }

    /// How many of the valid sessions held are emptied: attribute entries, every one a tombstone (a deleted Redis
    /// key kept until `tombstoneRetentionMillis` after its last write; an HTTP session whose attributes were all
    /// removed).
    package var emptiedSessionCount: Int { replicas.emptiedCount }

    /// Whether a new session may be created here under a limit of `limit` sessions (`maxSessions`, or a loop's
    /// share of it). Counted: the valid sessions that hold something, or nothing yet (a fresh login: counting only
    /// those holding a value would admit empty creates without bound). Not counted: emptied ones — a churn of
    /// distinct Redis keys set and deleted would otherwise fill the limit with keys `DBSIZE` no longer shows and
    /// refuse logins for the whole retention.
    ///
    /// Emptied copies still take memory (a copy keeps its buffer's capacity when its values become tombstones,
    /// so one may weigh what it did when live), hence a ceiling on every valid copy held: twice the limit. Held
    /// memory stays within twice what the limit alone allowed, and `limit` emptied sessions fit beside a full
    /// limit: at the default 1,000,000 a node absorbs ~1,600 distinct keys deleted per second for the default
    /// 10-minute retention before creates are refused again. O(1): both counts are kept as copies change.
    package func admitsCreate(limit: Int) -> Bool {
        replicas.liveCount - replicas.emptiedCount < limit
            && replicas.liveCount < Self.heldCeiling(limit: limit)
    }

    /// The most valid copies (emptied ones included) a limit of `limit` sessions lets a node hold before it
    /// refuses creates: `2 × limit`, saturating.
    package static func heldCeiling(limit: Int) -> Int { limit.saturatingMultiplied(by: 2) }

    /// How many copies (valid or tombstones) this node holds.
    package var copyCount: Int { replicas.count }

    /// Backup mode: valid sessions this node is primary for.
    package var primaryCount: Int { replicas.primaryCount }

    /// Requests currently using `id` and whether its drop is deferred (diagnostics).
    package func debugPins(_ id: SessionID) -> String {
        "\(pins[id] ?? 0)\(dropWhenUnpinned.contains(id) ? " drop-deferred" : "")"
    }

    /// What decides "lost" versus "unavailable" here (diagnostics): peers, unreachable and unknown writers.
    package func debugAvailability(now: Timestamp) -> String {
        "peers \(peerIDs) unreachable \(unreachable.mapValues { now.millis(since: $0) }) "
            + "unknown writers \(unknownWriters.mapValues { now.millis(since: $0) }) departed \(departed.count) "
            + "up \(now.millis(since: startedAt)) ms missing \(missingExpectedPeers.sorted())"
    }

    /// Whether a delta-mode joiner has finished receiving existing sessions.
    package var isTransferComplete: Bool {
        if case .done = transfer { return true }
        return false
    }

    /// The state transfer's progress (diagnostics).
    package var debugTransfer: String { "\(transfer)" }

    /// Deltas held waiting for a predecessor.
    package var heldDeltaCount: Int { held.values.reduce(0) { $0 + $1.count } }

    /// Whether anything is in flight: held deltas, fetches, pending sync commits or accesses.
    package var isQuiet: Bool {
        held.isEmpty && fetches.isEmpty && commits.isEmpty && accesses.isEmpty && confirms.isEmpty
    }

    /// Records that incarnation `node` is gone for good (see `departed`).
    package mutating func onDeparted(_ node: NodeID) {
        guard node != me else { return }
        unreachable[node] = nil
        guard departed.insert(node).inserted else { return }
        departedOrder.append(node)
        if departedOrder.count > Self.maxDeparted {
            // Shifting 4,096 ids once per departure (a restart or leave somewhere) costs nothing that matters.
            departed.remove(departedOrder.removeFirst())
        }
    }

    /// A peer remembers `node` as dead by time-out (gossip): unless known gone or live here, it may be out of reach
    /// holding sessions (this node may have started into a partition and never seen it). See `unreachable`.
    package mutating func onHeardUnreachable(_ node: NodeID, now: Timestamp) {
        guard node != me, !departed.contains(node), peers[node] == nil else { return }
        if unreachable[node] == nil, unreachable.count >= Self.unknownWritersCap,
            let oldest = unreachable.min(by: { $0.value < $1.value })?.key
        {
            unreachable[oldest] = nil
        }
        unreachable[node] = now
    }

    /// Takes membership's timing (see `membershipTiming`): its `deadAfterMillis` and `deadRetentionMillis`.
    package mutating func adoptMembershipTiming(settleMillis: Int64, retentionMillis: Int64) {
        membershipTiming = (max(0, settleMillis), max(0, retentionMillis))
    }

    /// Whether no live member can hold a copy this node did not find on any of them: membership has settled
    /// (every live member was heard from, so every one was asked) and no member that may be alive out of reach —
    /// dead by timeout, not known gone — is still remembered, nor any expected member missing (`expectedPeerNames`;
    /// both for at most `retentionMillis`). Then a session (or write) that no live member
    /// produced is gone, not "behind a partition": the request is answered lost (401), not 503 forever.
    func noOneElseCanHold(now: Timestamp) -> Bool {
        let up = now.millis(since: startedAt)
        guard up >= membershipTiming.settleMillis else { return false }
        if up < membershipTiming.retentionMillis && !missingExpectedPeers.isEmpty { return false }
        return !unreachable.values.contains { now.millis(since: $0) < membershipTiming.retentionMillis }
    }

    /// Names of the other members the cluster is made of (`MembershipSettings.expectedMembers`); empty when not
    /// known. While one of them is not live here, nothing is declared lost until `retentionMillis` after start:
    /// it may be out of reach holding sessions without this node ever having heard of it.
    package var expectedPeerNames: Set<String> = []
    /// Whether the roster is known and names this node alone (a one-node cluster file): then "no peer" is certain
    /// from the start, and a `sync` commit with nobody to wait for is answered at once.
    package var rosterIsOnlyMe = false
    /// Whether membership has named any peer since this incarnation started: until then "no peer" may only mean
    /// that no beacon has arrived yet.
    var heardFromPeers = false

    /// Expected members not live here (diagnostics and the lost rule).
    var missingExpectedPeers: Set<String> {
        expectedPeerNames.isEmpty ? [] : expectedPeerNames.subtracting(peers.values)
    }

    /// How many departed incarnations are remembered (at most `maxDeparted`).
    package var departedCount: Int { departed.count }

    /// Whether the writes of `writers` that a waiting request needs can no longer be found, every live member
    /// having been asked without a time-out: each writer is gone for good, or — when no one else can hold them
    /// (`noOneElseCanHold`) — has been no member this node knows for the settle window (an incarnation from
    /// before a restart, not a joiner whose beacon is still on its way). With `askedLive`, a live writer that was
    /// asked counts too: it answered without them (backup mode: it handed the session on to holders that died).
    mutating func writesCannotBeFound(_ writers: [NodeID], askedLive: Bool, now: Timestamp) -> Bool {
        if writers.allSatisfy({ departed.contains($0) }) { return true }
        var gone = true
        for writer in writers where !departed.contains(writer) {
            if writer == me || isPeer(writer) {
                gone = gone && askedLive
            } else if let since = unreachable[writer] {
                gone = gone && now.millis(since: since) >= membershipTiming.retentionMillis
            } else if let since = unknownWriters[writer] {
                gone = gone && now.millis(since: since) >= membershipTiming.settleMillis
            } else {
                if unknownWriters.count >= Self.unknownWritersCap,
                    let oldest = unknownWriters.min(by: { $0.value < $1.value })?.key
                {
                    unknownWriters[oldest] = nil
                }
                unknownWriters[writer] = now
                gone = gone && membershipTiming.settleMillis == 0
            }
        }
        return gone && noOneElseCanHold(now: now)
    }

    /// Ends a request that accessed `id` without committing (see `access`). Every `accessReady` MUST be
    /// followed by exactly one `commit`, `changeID` or `release` of that session.
    package mutating func release(_ id: SessionID) {
        unpin(id)
    }

    // MARK: Shared helpers

    /// Backup mode: forgets the copy of `id`, remembering where it went and this node's own counter.
    /// `now` nil keeps the existing moved record's expiry (set when the drop was decided).
    mutating func drop(_ id: SessionID, movedTo placement: Placement, now: Timestamp?) {
        let ownCounter = max(replicas[id]?.version[me] ?? 0, moved[id]?.ownCounter ?? 0)
        replicas[id] = nil
        // A held delta awaiting acknowledgement stays: its writer may have named this node in a placement not
        // seen here yet (links reorder), and the copy that comes with it lets the delta apply and be acknowledged.
        // Otherwise it is pulled for after `gapHoldMillis`, and let go when the holders do not name this node.
        let awaited = held[id]?.filter { $0.ack != nil } ?? []
        held[id] = awaited.isEmpty ? nil : awaited
        if let now { remember(id, movedTo: placement, now: now) }
        moved[id, default: Moved(placement: placement, until: .zero, ownCounter: 0)].ownCounter = ownCounter
        // Without `now`, the record keeps the time set when the drop was decided (`remember` scheduled it then,
        // and the copy was held, so that entry was put off): forgotten from that time on, at once if it passed.
        if now == nil { movedExpiry.schedule(id, at: moved[id]!.until) }
    }

    /// What a request on `id` must see: the client's token, plus every delta this node itself issued.
    func requirement(_ id: SessionID, token: VersionVector) -> VersionVector {
        guard let own = moved[id]?.ownCounter, own > 0 else { return token }
        var required = token
        required.raise(me, to: own)
        return required
    }

    mutating func pin(_ id: SessionID) { pins[id, default: 0] += 1 }

    mutating func unpin(_ id: SessionID) {
        guard let count = pins[id] else { return }
        pins[id] = count > 1 ? count - 1 : nil
        if count == 1, dropWhenUnpinned.remove(id) != nil, let replica = replicas[id],
            let placement = replica.placement, !placement.holders.contains(me), replica.session.isValid
        {
            drop(id, movedTo: placement, now: nil)
        }
    }

    mutating func allocateRequestID() -> RequestID {
        defer { nextRequestID += 1 }
        return nextRequestID
    }

    /// The ring-first live member for a session: its expiry owner in delta mode, the fetch target in backup mode.
    func ringFirst(_ id: SessionID) -> NodeID { ring.first(of: id) ?? me }

    func isPeer(_ node: NodeID) -> Bool { peers[node] != nil }

    /// Whether messages to `node` are worth sending: not this node and not known to be gone for good. Hand-offs
    /// use this rather than `isPeer`, since a node that just started may not have heard every beacon yet.
    func isReachable(_ node: NodeID) -> Bool { node != me && !departed.contains(node) }

    /// Backup mode: the backups this node (as primary) should use for `id`: the ring's choice (`copies − 1`
    /// members clockwise), or — while the ring knows no other member, e.g. just after a start — a holder of the
    /// previous placement, so that a write is never acknowledged with no second copy while one is known.
    func chooseBackups(_ id: SessionID, previous: Placement?) -> [NodeID] {
        let chosen = ring.backups(of: id, primary: me, count: settings.copies - 1)
        if !chosen.isEmpty { return chosen }
        return previous?.holders.first { isReachable($0) }.map { [$0] } ?? []
    }

    /// Sends a full copy of `id` (with its placement in backup mode) to `node`.
    mutating func snapshot(_ id: SessionID, to node: NodeID) -> ReplicationDirective? {
        guard node != me, let replica = replicas[id] else { return nil }
        counters.snapshotsSent += 1
        return .send(.snapshot(replica.session, replica.placement), to: node)
    }

    /// Observes every stamp in a patch so later local writes are stamped after it.
    mutating func observe(_ content: SessionContent) {
        for stamp in content.attributes.stamps { clock.observe(stamp.time) }
        if let stamp = content.maxInactiveStamp { clock.observe(stamp.time) }
        if let invalidation = content.invalidation { clock.observe(invalidation.stamp.time) }
    }
}
