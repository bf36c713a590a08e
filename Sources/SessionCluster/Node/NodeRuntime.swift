import CLinuxShims
import SessionClusterCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The node's engine, confined to its event loop: it owns the sockets and the `NodeInstance`, feeds events in
/// and carries out the directives. `ClusterNode` is its thread-safe face.
///
/// A node served by several loops has one runtime per loop, each owning one shard of the sessions
/// (`Shards.shard(of:count:)`) and its own replication links to the same shard of every peer. Shard 0 (the
/// lead) also runs membership, the beacon sockets and the replication listener: it hands each accepted link to
/// the shard its hello names, and replays what membership tells its replication on the others (`MembershipMirror`).
final class NodeRuntime {
    let settings: ClusterNodeSettings
    let loop: EventLoop
    var node: NodeInstance
    /// This runtime's shard and the node's number of shards (loops).
    let shard: Int
    let shardCount: Int
    /// The node's runtimes, for work handed between shards; set before `begin`.
    weak var shards: ShardSet?
    /// Shard 0 only: the replication listener and the beacon sockets.
    let listener: Listener?
    let datagrams: DatagramSocket?
    let multicastReceiver: DatagramSocket?
    let multicastGroup: SocketAddress?
    let events: EventHub
    let cipher: ClusterCipher
    /// Authenticates the clients' version tokens (keyed from the same keyring as `cipher`).
    var tokens: VersionTokenSealer

    /// Links we opened, used to send to each peer; links peers opened to us, used to receive.
    var outbound: [NodeID: PeerConnection] = [:]
    var inbound: [Int32: PeerConnection] = [:]
    /// Peers' hello information (address) for peers membership does not know yet; redial bans.
    var directory = PeerDirectory()
    var accessWaiters: [AccessTicket: AccessWaiter] = [:]
    var commitWaiters: [CommitID: (Bool) -> Void] = [:]
    var confirmWaiters: [CommitID: (Int) -> Void] = [:]
    var nextTicket: AccessTicket = 1
    var stopping = false
    var tickTimer: UInt64?
    var datagramBuffer = [UInt8](repeating: 0, count: 65_536)
    var stats = (framesReceived: 0, framesSent: 0, bytesSent: 0, malformed: 0, refused: 0, overflowed: 0)
    /// Inbound links closed for want of a hello in time, refused over the cap; `accept` failures.
    var linkLimits = (timedOut: 0, rejected: 0, acceptErrors: 0, accepted: 0, shardMismatches: 0)
    /// Replication lag measured from peers' clock stamps (`settings.lagSampleMillis` on the senders).
    var lag = ReplicationLag()
    /// Conflict log records are rate-limited (`logConflict`).
    var conflictLog = LogThrottle(intervalMillis: 1_000)
    /// "session lost" lines: a whole cluster restarted without persistence makes one per old cookie.
    var sessionLostLog = LogThrottle(intervalMillis: 1_000)
    /// Membership datagrams that did not authenticate (another secret or cluster name on the same group or port).
    var strangerLog = LogThrottle(intervalMillis: 60_000)
    var staleLog = LogThrottle(intervalMillis: 60_000)
    /// `update` bodies that held the loop over `slowBodyMillis`: one warning a second at most.
    var slowBodyLog = LogThrottle(intervalMillis: 1_000)
    /// Links refused because the peer runs another number of loops: one error a second at most.
    var shardMismatchLog = LogThrottle(intervalMillis: 1_000)
    /// Beacons of this cluster from nodes with another number of loops: membership ignores them (see
    /// `Beacon.shards`); this says so in the log, at most once every 10 s per node name (at most 64 names).
    var beaconMismatchLogs: [String: LogThrottle] = [:]
    /// Datagrams of the other membership protocol (beacons at a SWIM node, SWIM at a beacon node): one log line
    /// every 10 s at most.
    var protocolMismatchLog = LogThrottle(intervalMillis: 10_000)
    /// Datagrams under this node's name from another process, or from an incarnation older than the known one.
    var incarnationLog = LogThrottle(intervalMillis: 10_000)
    /// Hands log records to `settings.logHandler` off the loop (bounded; drops and counts when it falls behind).
    let logger: NodeLogger
    /// The last delta's frame (`send`): the same delta to the next peer is not encoded again.
    var lastDeltaFrame: (id: SessionID, dot: Dot, ack: CommitID?, frame: [UInt8])?
    /// State-transfer chunks waiting for their loop turn (`send`), and whether one is scheduled.
    var transferQueue: [(message: ReplicationMessage, peer: NodeID)] = []
    var transferDrainScheduled = false
    /// The snapshot file and its figures; nil without persistence.
    var persistence: PersistenceState?

    /// The runtime of shard 0 of `shardCount` (it binds the sockets), or with `lead`, of shard `shard`: it takes the
    /// lead's identity and logger and opens no socket of its own until it dials its peers.
    init(
        settings: ClusterNodeSettings, keyring: Keyring, loop: EventLoop, events: EventHub,
        persistence: PersistenceState? = nil, shard: Int = 0, of shardCount: Int = 1, lead: NodeRuntime? = nil
    )
        throws(SystemError)
    {
        self.settings = settings
        self.loop = loop
        self.events = events
        self.persistence = persistence
        self.shard = shard
        self.shardCount = max(1, shardCount)
        let me: MemberInfo
        if let lead {
            listener = nil
            datagrams = nil
            multicastReceiver = nil
            multicastGroup = nil
            me = lead.node.me
        } else {
            let (listener, datagrams) = try Self.openReplicationSockets(settings)
            self.listener = listener
            self.datagrams = datagrams
            if let multicast = settings.multicast {
                multicastReceiver = try DatagramSocket.multicastReceiver(
                    group: multicast.group, port: multicast.port, interface: multicast.interface)
                multicastGroup = try SocketAddress(host: multicast.group, port: multicast.port)
            } else {
                multicastReceiver = nil
                multicastGroup = nil
            }
            me = MemberInfo(
                id: Self.newIncarnation(), name: settings.name, replication: listener.address,
                http: settings.httpAddress)
        }
        // A datagram's send time is by its sender's clock, which may be behind this node's by up to the drift
        // allowed, and in flight a while: older ones are a recording (or a node whose clock is too far behind).
        let drift = settings.replication.maxClockDriftMillis
        cipher = ClusterCipher(
            cluster: settings.cluster, me: me.id, keyring: keyring, shard: shard,
            maxDatagramAgeMillis: drift > Int64.max - 10_000 ? Int64.max : drift + 10_000)
        tokens = VersionTokenSealer(cluster: settings.cluster, keyring: keyring)
        var membership = settings.membership
        membership.multicast = settings.multicast != nil
        if let forced = Self.testMembershipProtocol { membership.protocolKind = forced }
        // The replica table's order is keyed by a secret (clients choose key names, hence ids: a known order would
        // let them pile ids into one probe run); every shard takes the lead's, so that their walks merge.
        var system = SystemRandomNumberGenerator()
        node = NodeInstance(
            cluster: settings.cluster, me: me, membership: membership, replication: settings.replication,
            shards: shardCount, now: Self.now(), follower: lead != nil,
            tableKey: lead?.node.replication.sessionOrder.key ?? system.next())
        node.recordsMirror = lead == nil && self.shardCount > 1
        // Last: it starts a thread, which a socket that failed to open above would leave behind.
        logger =
            lead?.logger
            ?? NodeLogger(
                node: settings.name, level: settings.logLevel, capacity: settings.logQueueCapacity,
                handler: settings.logHandler)
    }

    /// The replication listener and the beacons' UDP socket, on the same port number. With port 0 the kernel picks
    /// the TCP port alone, and the same UDP port may be taken (another program's ephemeral socket): then it picks
    /// again, up to 20 times.
    private static func openReplicationSockets(
        _ settings: ClusterNodeSettings
    ) throws(SystemError) -> (Listener, DatagramSocket) {
        var attempt = 0
        while true {
            let listener = try Listener(host: settings.replicationHost, port: settings.replicationPort)
            do throws(SystemError) {
                let bound = try SocketAddress(parsing: listener.address)
                let socket = try DatagramSocket.unicast(bind: bound, multicastInterface: settings.multicast?.interface)
                return (listener, socket)
            } catch {
                listener.close()
                attempt += 1
                guard settings.replicationPort == 0, error.errno == EADDRINUSE, attempt < 20 else { throw error }
            }
        }
    }

    /// Whether this is shard 0, which runs membership and the node's sockets.
    var isLead: Bool { listener != nil }

    /// The last incarnation id this process issued (`newIncarnation`).
    private static let lastIncarnation = Mutex<NodeID?>(nil)

    /// A new incarnation id: the start time in its top bits, and larger than any this process issued before.
    static func newIncarnation() -> NodeID {
        var random = SystemRandomNumberGenerator()
        return lastIncarnation.withLock { last in
            let id = NodeID(started: now(), after: last, using: &random)
            last = id
            return id
        }
    }

    /// The node's wall clock, as the core sees it.
    static func now() -> Timestamp { Timestamp(millis: EventLoop.wallMillis() &+ testClockOffsetMillis) }

    /// TEST ONLY: `SESSIONCLUSTER_CLOCK_OFFSET_MILLIS` (a signed integer) shifts this process's node clocks, so
    /// a scenario can run a node whose clock is wrong (drift bound, scenario 19). Never set it in production.
    static let testClockOffsetMillis: Int64 = {
        guard let text = getenv("SESSIONCLUSTER_CLOCK_OFFSET_MILLIS").map({ String(cString: $0) }),
            let millis = Int64(text), abs(millis) <= 10 * 365 * 86_400_000
        else { return 0 }
        return millis
    }()

    /// TEST ONLY: `SESSIONCLUSTER_TEST_MEMBERSHIP` (`beacon` or `swim`; anything else is ignored) overrides every
    /// node's `membership.protocol` in this process, so whole test suites run with either protocol. Never set it in
    /// production.
    static let testMembershipProtocol: MembershipProtocol? = getenv("SESSIONCLUSTER_TEST_MEMBERSHIP").flatMap {
        MembershipProtocol(rawValue: String(cString: $0))
    }

    /// Registers the sockets and starts ticking (on the loop).
    func begin() {
        // Before the first tick: restored copies are in place before any peer hears of this node.
        restoreSnapshot()
        do throws(SystemError) {
            if let listener {
                try loop.register(listener.fd, events: EPOLLIN.rawValue) { [unowned self] _ in acceptAll() }
            }
            if let datagrams {
                try loop.register(datagrams.fd, events: EPOLLIN.rawValue) { [unowned self] _ in
                    receiveDatagrams(datagrams)
                }
            }
            if let receiver = multicastReceiver {
                try loop.register(receiver.fd, events: EPOLLIN.rawValue) { [unowned self] _ in
                    receiveDatagrams(receiver)
                }
            }
        } catch {
            log(.error, "cannot watch sockets", [("error", "\(error)")])
        }
        tick()
    }

    /// How soon the next tick comes while maintenance has a backlog (ms).
    static let backlogTickMillis: Int64 = 3

    private func tick() {
        guard !stopping else { return }
        execute(node.onTick(now: Self.now()))
        // A maintenance backlog (a sweep of many expiries, a digest of millions of ids) goes on in small steps
        // every few ms rather than in big ones every tick: the same pace, in loop turns short enough not to hold
        // requests up.
        let next = node.hasMaintenanceBacklog ? min(settings.tickMillis, Self.backlogTickMillis) : settings.tickMillis
        tickTimer = loop.schedule(afterMillis: next) { [unowned self] in tick() }
    }

    // MARK: Directives

    func execute(_ directives: [NodeDirective]) {
        // Whatever the core was just told may have changed copies: the append log takes them at the turn's end.
        if persistence?.log != nil { scheduleLogFlush() }
        // Last, after this shard's own directives (its log lines come first): the other shards replay membership.
        defer { if node.recordsMirror { mirrorMembership() } }
        for directive in directives {
            switch directive {
            case .beacon(let beacon, let multicast, let unicast):
                send(.beacon(beacon), multicast: multicast, unicast: unicast)
            case .swim(let datagram, let multicast, let unicast):
                send(.swim(datagram), multicast: multicast, unicast: unicast)
            case .replication(.send(let message, let peer)):
                send(message, to: peer)
            case .replication(.accessReady(let ticket, let session, let lostWrites)):
                switch accessWaiters.removeValue(forKey: ticket) {
                case .snapshot(let waiter)?:
                    let token = tokens.sealLater(session.version, for: session.id)
                    waiter(.success(SessionSnapshot(session, version: token, lostWrites: lostWrites)))
                case .view(let waiter)?: waiter(.success(session))
                case nil: break
                }
            case .replication(.accessFailed(let ticket, let failure)):
                accessWaiters.removeValue(forKey: ticket)?.fail(SessionError(failure))
            case .replication(.commitCompleted(let commitID, let acknowledged)):
                commitWaiters.removeValue(forKey: commitID)?(acknowledged)
            case .replication(.confirmCompleted(let commitID, let count)):
                confirmWaiters.removeValue(forKey: commitID)?(count)
            case .replication(.event(let event)):
                log(event)
                events.yield(.replication(event))
            case .member(let event):
                log(event)
                events.yield(.member(event))
                switch event {
                case .dead(let info), .left(let info):
                    outbound.removeValue(forKey: info.id)?.close()
                    directory.forgetIntroduction(info.id)
                case .joined(let info), .recovered(let info):
                    directory.forgetIntroduction(info.id)
                    // An open link turns a crash into hard evidence at once: it breaks, the redial is refused.
                    connect(to: info.id)
                case .suspect:
                    break
                }
            }
        }
    }

    // MARK: Membership datagrams

    /// Sends a beacon or SWIM datagram, sealed with the cluster secret, to the group and to each `host:port`.
    private func send(_ datagram: PeerFrame, multicast: Bool, unicast: [String]) {
        guard let datagrams else { return }
        let frame = cipher.seal(WireCodec.frame(datagram), channel: .datagram)
        if multicast, let group = multicastGroup { try? datagrams.send(frame, to: group) }
        for target in unicast {
            guard let address = try? SocketAddress(parsing: target) else { continue }
            try? datagrams.send(frame, to: address)
        }
    }

    /// Beacons or SWIM datagrams, whichever protocol this node runs; the other one's are ignored (and logged).
    private func receiveDatagrams(_ socket: DatagramSocket) {
        let running = node.membership.protocolKind
        // Datagrams that did not authenticate (another secret or cluster name?): counted by the cipher, logged.
        func strangers() -> Int {
            cipher.rejected[.unauthenticated, default: 0] + cipher.rejected[.unknownKey, default: 0]
        }
        let before = strangers()
        let staleBefore = cipher.rejected[.stale, default: 0]
        defer {
            if strangers() > before { heardStrangers(strangers() - before) }
            let stale = cipher.rejected[.stale, default: 0] - staleBefore
            if stale > 0, let last = cipher.lastStale { heardStale(stale, last: last) }
        }
        while let count = try? socket.receive(into: &datagramBuffer) {
            // Authenticated first: anything else is dropped (and counted by the cipher) before parsing.
            guard let (sender, plaintext) = cipher.open(datagramBuffer[0..<count], channel: .datagram) else { continue }
            switch try? WireCodec.decodeFrame(plaintext, limit: 65_536) {
            case .beacon(let beacon)? where beacon.sender.id == sender:
                stats.framesReceived += 1
                guard beacon.cluster == settings.cluster else { continue }
                guard running == .beacon else {
                    heardOtherProtocol(beacon.sender, protocol: .beacon)
                    continue
                }
                if beacon.shards != shardCount { heardOtherLoops(beacon.sender, loops: beacon.shards) }
                checkIncarnation(beacon.sender)
                execute(node.onBeacon(beacon, now: Self.now()))
            case .swim(let datagram)? where datagram.sender.id == sender:
                stats.framesReceived += 1
                guard datagram.cluster == settings.cluster else { continue }
                guard running == .swim else {
                    heardOtherProtocol(datagram.sender, protocol: .swim)
                    continue
                }
                if datagram.shards != shardCount { heardOtherLoops(datagram.sender, loops: datagram.shards) }
                checkIncarnation(datagram.sender)
                execute(node.onSwim(datagram, now: Self.now()))
            default:
                stats.malformed += 1
            }
        }
    }
}
