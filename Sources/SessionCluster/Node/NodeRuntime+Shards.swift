import SessionClusterCore
import Synchronization

/// A node's loops and their runtimes, one per shard of the sessions (`ClusterNodeSettings.loops`).
///
/// Runtimes reach each other only by running work on the other's loop (`run(on:_:)`); nothing of one is
/// touched from another's thread.
final class ShardSet: Sendable {
    let loops: [EventLoop]
    let runtimes: [LoopConfined<NodeRuntime>]
    /// Inbound links shard 0 handed to the other shards and still open: they count against the node's
    /// `maxInboundLinks` as shard 0's own do.
    let handedOffLinks = Atomic<Int>(0)
    /// When shard 0 last heard a membership datagram from a process with this node's name that started after this
    /// one (monotonic ms; `Int64.min` never): the cluster then takes that process for this node and ignores this
    /// one (`ClusterNode.notServingReason`).
    let laterSameNameHeardAt = Atomic<Int64>(.min)
    /// How long after the later process's last datagram this node counts as displaced: until the members have
    /// found that process dead (`deadAfterMillis`) and heard this node again (two heartbeats).
    let displacedForMillis: Int64

    init(_ runtimes: [NodeRuntime]) {
        loops = runtimes.map(\.loop)
        self.runtimes = runtimes.map { LoopConfined(value: $0) }
        let membership = runtimes[0].settings.membership
        displacedForMillis = membership.deadAfterMillis + 2 * membership.heartbeatMillis
    }

    var count: Int { runtimes.count }

    /// The shard that owns `id`.
    func shard(of id: SessionID) -> Int { Shards.shard(of: id, count: runtimes.count) }

    /// The shard whose loop is the calling thread, if any.
    var current: Int? { loops.firstIndex { $0.inLoop } }

    /// Runs `work` with shard `index`'s runtime on its loop (soon, never at once); false once that loop stopped.
    @discardableResult
    func run(on index: Int, _ work: @escaping @Sendable (NodeRuntime) -> Void) -> Bool {
        let runtime = runtimes[index]
        return loops[index].execute { work(runtime.value) }
    }
}

extension NodeRuntime {
    // MARK: Shard 0: membership for every shard

    /// Replays on the other shards what membership told this shard's replication (shard 0, several loops).
    func mirrorMembership() {
        let changes = node.takeMirror()
        guard !changes.isEmpty, let shards else { return }
        for index in 1..<shards.count {
            shards.run(on: index) { $0.applyMirror(changes) }
        }
    }

    /// Shard 0 hears from another shard that its link to `peer` was refused (hard evidence) or lost (soft).
    func shardLinkEvidence(_ peer: NodeID, refused: Bool) {
        guard !stopping else { return }
        if refused {
            let now = EventLoop.monotonicMillis()
            directory.refused(peer, untilMillis: now + 200, nowMillis: now)
            execute(node.onLinkRefused(peer, now: NodeRuntime.now()))
        } else {
            execute(node.onLinkLost(peer, now: NodeRuntime.now()))
            if node.member(peer)?.isPeer == true { connect(to: peer) }
        }
    }

    /// Shard 0 accepted a link whose hello names another shard: that shard's runtime takes the descriptor over,
    /// with what had arrived after the hello.
    func handOff(_ link: PeerConnection, hello: PeerHello) {
        guard let shards, hello.shard < shards.count, let (fd, pending) = link.detach() else {
            link.close()
            return
        }
        let handed = shards.run(on: hello.shard) { $0.adoptInbound(fd: fd, pending: pending, hello: hello) }
        if !handed { System.close(fd) }
    }

    // MARK: Other shards

    /// Follows shard 0's membership: replication hears what shard 0's heard; links follow the live peers.
    func applyMirror(_ changes: [MembershipMirror]) {
        guard !stopping else { return }
        for change in changes {
            let before = Set(livePeerIDs)
            execute(node.apply(change, now: NodeRuntime.now()))
            guard case .membersChanged = change else { continue }
            let after = Set(livePeerIDs)
            for gone in before.subtracting(after) {
                outbound.removeValue(forKey: gone)?.close()
                directory.forgetIntroduction(gone)
            }
            // An open link turns a crash into hard evidence at once: it breaks, the redial is refused.
            for joined in after.subtracting(before) {
                directory.forgetIntroduction(joined)
                connect(to: joined)
            }
        }
    }

    /// The peers alive or suspect, as this shard knows them.
    private var livePeerIDs: [NodeID] {
        node.members.filter { $0.isPeer && $0.info.id != node.me.id }.map(\.info.id)
    }

    /// Takes over an inbound link shard 0 accepted for this shard (its hello already checked there).
    func adoptInbound(fd: Int32, pending: [UInt8], hello: PeerHello) {
        guard !stopping,
            let stream = try? TCPStream.accepted(fd: fd, loop: loop, maxQueuedBytes: settings.maxQueuedBytesPerPeer)
        else {
            if stopping { System.close(fd) }
            return
        }
        if let keepalive = settings.peerKeepalive {
            stream.enableKeepalive(
                idleSeconds: keepalive.idleSeconds, intervalSeconds: keepalive.intervalSeconds, count: keepalive.count)
        }
        let link = PeerConnection(stream, cipher: cipher, maxFrameBytes: settings.maxFrameBytes)
        linkLimits.accepted += 1
        link.sequence = linkLimits.accepted
        link.peer = hello.member.id
        directory.introduce(hello.member)
        inbound[fd] = link
        shards?.handedOffLinks.add(1, ordering: .relaxed)
        let counted = shards
        link.onFrame = { [unowned self, unowned link] frame, sender in received(frame, from: sender, on: link) }
        link.onClose = { [unowned self] _, malformed in
            if malformed { stats.malformed += 1 }
            inbound[fd] = nil
            counted?.handedOffLinks.subtract(1, ordering: .relaxed)
        }
        link.continue(with: pending)
    }
}

/// Collects one result per shard from the shards' loops (`ClusterNode.onEveryShard`).
final class ShardGather<T>: @unchecked Sendable {
    // @unchecked: the slots are only touched under the lock; each value was made on its shard's loop and is
    // handed over whole, read only by the one completion that runs after the last slot is filled.
    private let state: Mutex<(slots: [LoopConfined<T>?], remaining: Int)>

    init(count: Int) { state = Mutex((Array(repeating: nil, count: count), count)) }

    /// Fills slot `index` (nil: that shard could not answer); true for the call that filled the last one.
    func put(_ value: LoopConfined<T>?, at index: Int) -> Bool {
        state.withLock { state in
            state.slots[index] = value
            state.remaining -= 1
            return state.remaining == 0
        }
    }

    /// The results in shard order, without the shards that could not answer.
    var results: LoopConfined<[T]> {
        LoopConfined(value: state.withLock { $0.slots.compactMap { $0?.value } })
    }
}
