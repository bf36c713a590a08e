import SessionClusterCore

/// The node's log records: a level, a short fixed message and the specifics as fields. Records go to
/// `NodeLogger`, which hands them to the embedder's handler off the loop; below `settings.logLevel` a call costs
/// one comparison (message and fields are autoclosures).
extension NodeRuntime {
    typealias LogFields = [(key: String, value: String)]

    func log(_ level: LogLevel, _ message: @autoclosure () -> String, _ fields: @autoclosure () -> LogFields = []) {
        logger.log(level, message(), fields())
    }

    /// `session`: the first 8 of the id's 22 characters and `…`. An id is a bearer credential, so whoever reads
    /// the logs must not be able to use it; 48 of 128 bits are enough to find the session in the access logs.
    static func sessionField(_ id: SessionID) -> (key: String, value: String) {
        ("session", id.encoded.prefix(8) + "…")
    }

    /// `peer` (its name, when known) and `peer_id` of a member.
    func peerFields(_ id: NodeID) -> LogFields {
        let name = node.member(id)?.info.name ?? directory.introduction(id)?.name
        return (name.map { [("peer", $0)] } ?? []) + [("peer_id", id.description)]
    }

    /// member joined / recovered / left → info; suspect → notice; dead → warning.
    func log(_ event: MembershipEvent) {
        let info = event.member
        let peer: LogFields = [("peer", info.name), ("peer_id", info.id.description)]
        switch event {
        case .joined:
            log(
                .info, "member joined",
                peer + [("replication", info.replication)] + (info.http.isEmpty ? [] : [("http", info.http)]))
        case .suspect: log(.notice, "member is suspect", peer)
        case .recovered: log(.info, "member recovered", peer)
        case .dead: log(.warning, "member is dead", peer)
        case .left: log(.info, "member left", peer)
        }
    }

    /// Transfers → info; expiries → debug; merged concurrent writes → notice (throttled); lost writes and a peer's
    /// clock ahead → warning; a session lost with every holder → error.
    func log(_ event: ReplicationEvent) {
        switch event {
        case .sessionExpired(let id):
            log(.debug, "session expired", [Self.sessionField(id)])
        case .conflict(let id):
            logConflict(id)
        case .writesLost(let id):
            log(.warning, "writes named by the client's token were lost with their node", [Self.sessionField(id)])
        case .sessionLost(let id):
            // One line a second at most: after a whole cluster restarted without persistence, every old cookie
            // would make one.
            guard logger.admits(.error), let count = sessionLostLog.admit(now: EventLoop.monotonicMillis()) else {
                return
            }
            log(
                .error, "session lost: every holder failed (or the whole cluster restarted without persistence)",
                [Self.sessionField(id), ("count", String(count))])
        case .transferStarted(let from):
            log(.info, "state transfer started", peerFields(from))
        case .transferCompleted(let from, let sessions, let millis):
            log(
                .info, "state transfer done",
                peerFields(from) + [("sessions", String(sessions)), ("ms", String(millis))])
        case .clockAhead(let peer, let ahead):
            log(
                .warning, "refused changes from a peer whose clock is ahead by more than maxClockDriftMillis",
                peerFields(peer) + [("ahead_ms", String(ahead))])
        }
    }

    /// Membership datagrams that did not authenticate: at most one line a minute, counting them. Usually a node
    /// started with another `secret` or `cluster` name on the same multicast group or port: it runs alone, and
    /// without this line neither side would say why (`dropped_unauthenticated` counts them too).
    func heardStrangers(_ count: Int) {
        guard logger.admits(.warning) else { return }
        guard let total = strangerLog.admit(now: EventLoop.monotonicMillis(), count: count) else { return }
        log(
            .warning,
            "membership datagrams that do not authenticate: a node with another secret or cluster name on this "
                + "group or port?", [("count", String(total))])
    }

    /// Authentic membership datagrams whose send time is off by more than `ClusterCipher.maxDatagramAgeMillis`:
    /// a recording replayed, or two clocks that disagree (which one, the log cannot tell: it says both).
    func heardStale(_ count: Int, last: (sender: NodeID, ageMillis: Int64)) {
        guard logger.admits(.warning) else { return }
        guard let total = staleLog.admit(now: EventLoop.monotonicMillis(), count: count) else { return }
        let message =
            last.ageMillis >= 0
            ? "dropped membership datagrams sent too long ago by their sender's clock: a recording replayed, or "
                + "the sender's clock behind this node's (or this node's ahead) by more than "
                + "maxClockDriftMillis + 10 s?"
            : "dropped membership datagrams dated ahead of this node's clock: the sender's clock ahead of this "
                + "node's (or this node's behind) by more than maxClockDriftMillis + 10 s?"
        log(
            .warning, message,
            [("count", String(total))] + peerFields(last.sender) + [
                ("age_ms", String(last.ageMillis)), ("max_age_ms", String(cipher.maxDatagramAgeMillis)),
            ])
    }

    /// Concurrent writes merged: routine for keys many clients write at once (a Redis key, a shared session),
    /// so at most one record a second, counting the merges since the last (`conflicts` in the stats counts all).
    private func logConflict(_ id: SessionID) {
        guard logger.admits(.notice), let count = conflictLog.admit(now: EventLoop.monotonicMillis()) else { return }
        log(
            .notice, "concurrent writes merged (last writer wins)",
            [Self.sessionField(id), ("count", String(count))])
    }
}

extension NodeRuntime {
    /// A beacon of this cluster from a node with another number of loops. Membership ignores it (shard k only
    /// replicates with shard k of its peers, so that node cannot take part); the log says why, every 10 s at most
    /// for each such node.
    func heardOtherLoops(_ sender: MemberInfo, loops: Int) {
        let name = sender.name
        if beaconMismatchLogs[name] == nil, beaconMismatchLogs.count >= 64 { beaconMismatchLogs = [:] }
        guard
            let count = beaconMismatchLogs[name, default: LogThrottle(intervalMillis: 10_000)]
                .admit(now: EventLoop.monotonicMillis())
        else { return }
        log(
            .error,
            "ignoring a node that runs another number of loops; set the same \"loops\" on every node of the cluster",
            [
                ("peer", sender.name), ("peer_address", sender.replication),
                ("peer_loops", String(loops)), ("loops", String(shardCount)), ("beacons", String(count)),
            ])
    }

    /// A membership datagram of the other protocol (a beacon at a SWIM node, or the reverse): ignored, and said in
    /// the log every 10 s at most, since such nodes never see each other.
    func heardOtherProtocol(_ sender: MemberInfo, protocol theirs: MembershipProtocol) {
        guard let count = protocolMismatchLog.admit(now: EventLoop.monotonicMillis()) else { return }
        log(
            .error,
            "ignoring a node that runs another membership protocol; set the same \"membership.protocol\" on every "
                + "node of the cluster",
            [
                ("peer", sender.name), ("peer_address", sender.replication), ("peer_protocol", theirs.rawValue),
                ("protocol", node.membership.protocolKind.rawValue), ("datagrams", String(count)),
            ])
    }
}

extension NodeRuntime {
    /// A membership datagram from an incarnation membership does not take as a member: one under this node's own
    /// name, or one older than the live incarnation its name is known by (`NodeID` orders by start time; an older one
    /// never replaces a newer). Said in the log every 10 s at most, since it means two processes share a name (or
    /// an earlier run's datagrams are being replayed). O(1) for a live member's datagrams, the common case.
    func checkIncarnation(_ sender: MemberInfo) {
        let me = node.me
        if sender.name != me.name {
            if let known = node.membership.member(sender.id), known.isPeer { return }
            guard
                let newer = node.membership.members.first(where: {
                    $0.info.name == sender.name && $0.info.id > sender.id && $0.isPeer
                })
            else { return }
            guard let count = incarnationLog.admit(now: EventLoop.monotonicMillis()) else { return }
            log(
                .warning,
                "ignoring membership datagrams from an earlier incarnation of a member: a second process with that "
                    + "name, an earlier run's datagrams replayed, or a clock set back before its restart",
                [
                    ("peer", sender.name), ("peer_id", sender.id.description), ("peer_address", sender.replication),
                    ("current_id", newer.info.id.description), ("current_address", newer.info.replication),
                    ("datagrams", String(count)),
                ])
            return
        }
        guard sender.id != me.id else { return }
        if sender.id > me.id { shards?.laterSameNameHeardAt.store(EventLoop.monotonicMillis(), ordering: .relaxed) }
        guard let count = incarnationLog.admit(now: EventLoop.monotonicMillis()) else { return }
        let fields: LogFields = [
            ("name", me.name), ("other_id", sender.id.description), ("other_address", sender.replication),
            ("id", me.id.description), ("datagrams", String(count)),
        ]
        if sender.id > me.id {
            log(
                .error,
                "another process with this node's name started after this one: the cluster takes it for this node "
                    + "and ignores this one; stop one of them, or give each node its own name",
                fields)
        } else {
            log(
                .error,
                "an earlier process with this node's name is still sending (or an earlier run's datagrams are being "
                    + "replayed): the cluster ignores it; stop it, or give each node its own name",
                fields)
        }
    }
}
