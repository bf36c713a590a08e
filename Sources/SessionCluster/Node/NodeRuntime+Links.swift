import CLinuxShims
import SessionClusterCore

#if canImport(Glibc)
    import Glibc
#endif

extension NodeRuntime {
    /// The replication address of `peer`: from membership, or from its hello when membership lags.
    func address(of peer: NodeID) -> String? {
        node.member(peer)?.info.replication ?? directory.introduction(peer)?.replication
    }

    /// Sends `message` over our link to `peer`, dialling it when there is none. Messages to an unknown or
    /// recently refusing peer are dropped (the protocol retries, pulls or reconciles).
    func send(_ message: ReplicationMessage, to peer: NodeID) {
        if case .transferChunk = message {
            transferQueue.append((message, peer))
            scheduleTransferDrain()
            return
        }
        sendNow(message, to: peer)
    }

    /// State-transfer chunks go one per loop turn: a window's chunks (about 1 MB of sessions) encoded, sealed and
    /// copied in one turn held the node's requests up for 5–25 ms while it held a million sessions. A chunk arriving
    /// after a later delta of one of its sessions is merged as any late snapshot is (version vectors).
    private func scheduleTransferDrain() {
        guard !transferDrainScheduled, !transferQueue.isEmpty, !stopping else { return }
        transferDrainScheduled = true
        _ = loop.schedule(afterMillis: 0) { [self] in
            transferDrainScheduled = false
            guard !stopping, !transferQueue.isEmpty else { return }
            let (message, peer) = transferQueue.removeFirst()
            sendNow(message, to: peer)
            scheduleTransferDrain()
        }
    }

    private func sendNow(_ message: ReplicationMessage, to peer: NodeID) {
        guard let link = link(to: peer) else { return }
        if settings.lagSampleMillis > 0, case .delta = message {
            let now = EventLoop.monotonicMillis()
            if link.lastClockMillis.map({ now - $0 >= settings.lagSampleMillis }) ?? true {
                link.lastClockMillis = now
                // Counted apart from framesSent / bytesSent, which stay the cost of replication itself.
                if link.enqueue(WireCodec.frame(.clock(UInt64(EventLoop.wallMicros())))) { lag.stampsSent += 1 }
            }
        }
        let frame = encoded(message)
        if link.enqueue(frame) {
            stats.framesSent += 1
            stats.bytesSent += frame.count
        }
    }

    /// The frame of `message`. A delta goes to every peer (delta mode) in a row: its frame is encoded once. A
    /// delta is named by its session and dot (one writer never issues a dot twice), so that is what is compared.
    private func encoded(_ message: ReplicationMessage) -> [UInt8] {
        guard case .delta(let delta, let ack) = message else { return WireCodec.frame(.replication(message)) }
        if let last = lastDeltaFrame, last.id == delta.sessionID, last.dot == delta.dot, last.ack == ack {
            return last.frame
        }
        let frame = WireCodec.frame(.replication(message))
        lastDeltaFrame = (delta.sessionID, delta.dot, ack, frame)
        return frame
    }

    /// A second link in a row that the peer closes within this many ms of its opening is not redialled before as
    /// long again (`PeerDirectory.linkEnded`).
    static let shortLinkMillis: Int64 = 500

    /// Opens our link to `peer` if there is none (a hello goes first).
    func connect(to peer: NodeID) {
        _ = link(to: peer)
    }

    private func link(to peer: NodeID) -> PeerConnection? {
        if let link = outbound[peer], !link.isClosed { return link }
        guard !stopping, let target = address(of: peer), let address = try? SocketAddress(parsing: target) else {
            return nil
        }
        guard directory.mayDial(peer, nowMillis: EventLoop.monotonicMillis()) else { return nil }
        let link: PeerConnection
        do throws(SystemError) {
            let stream = try TCPStream.connect(
                to: address.description, loop: loop, maxQueuedBytes: settings.maxQueuedBytesPerPeer)
            if let keepalive = settings.peerKeepalive {
                stream.enableKeepalive(
                    idleSeconds: keepalive.idleSeconds, intervalSeconds: keepalive.intervalSeconds,
                    count: keepalive.count)
            }
            link = PeerConnection(stream, cipher: cipher, maxFrameBytes: settings.maxFrameBytes)
        } catch {
            log(.warning, "cannot connect to a peer", peerFields(peer) + [("address", target), ("error", "\(error)")])
            return nil
        }
        link.peer = peer
        let opened = EventLoop.monotonicMillis()
        link.onClose = { [unowned self, unowned link] reason, malformed in
            if outbound[peer] === link { outbound[peer] = nil }
            if malformed { stats.malformed += 1 }
            let now = EventLoop.monotonicMillis()
            if reason == .lost, directory.linkEnded(peer, short: now - opened < Self.shortLinkMillis) {
                // Closed by the peer right after it opened, again (it refuses our hello: another number of loops,
                // say): dialled again at once, it would close again at once, as fast as the two loops can go.
                directory.refused(peer, untilMillis: now + Self.shortLinkMillis, nowMillis: now)
            }
            linkClosed(peer, reason: reason)
        }
        outbound[peer] = link
        link.enqueueAlone(
            WireCodec.frame(
                .hello(PeerHello(cluster: settings.cluster, member: node.me, shard: shard, of: shardCount))))
        return link
    }

    private func linkClosed(_ peer: NodeID, reason: StreamCloseReason) {
        guard !stopping else { return }
        if !isLead, reason == .refused || reason == .lost || reason == .overflow {
            // Membership is shard 0's: it hears the evidence.
            shards?.run(on: 0) { $0.shardLinkEvidence(peer, refused: reason == .refused) }
        }
        switch reason {
        case .refused:
            stats.refused += 1
            let now = EventLoop.monotonicMillis()
            directory.refused(peer, untilMillis: now + 200, nowMillis: now)
            execute(node.onLinkRefused(peer, now: NodeRuntime.now()))
        case .lost, .overflow:
            if reason == .overflow {
                // Everything queued is lost with the link; the protocol repairs it, but an operator should know.
                stats.overflowed += 1
                log(
                    .warning, "link reset: more than maxQueuedBytesPerPeer bytes queued to a slow peer",
                    peerFields(peer) + [("max_queued_bytes", String(settings.maxQueuedBytesPerPeer))])
            }
            execute(node.onLinkLost(peer, now: NodeRuntime.now()))
            // Probe at once: a crashed process's port refuses, which is hard evidence (see `.refused`).
            if node.member(peer)?.isPeer == true { connect(to: peer) }
        case .local:
            break
        }
    }

    /// Accepts every pending connection; each must open with a hello of this cluster within
    /// `settings.helloTimeoutMillis`, and at most `settings.maxInboundLinks` may be open at once: at the cap the
    /// oldest link still without a hello is closed to admit the newcomer, and only when all have said hello is
    /// the newcomer closed at once. Both are counted: anyone who can reach the port can open connections.
    func acceptAll() {
        // At most 64 per turn: a flood of connections is interleaved with the rest of the loop's work (the
        // listener stays ready, and the next turn takes the next batch).
        for _ in 0..<64 {
            let fd: Int32
            do throws(SystemError) {
                guard let accepted = try listener?.accept() else { return }
                fd = accepted
            } catch {
                linkLimits.acceptErrors += 1
                if [EMFILE, ENFILE, ENOBUFS, ENOMEM].contains(error.errno) {
                    // The connection stays queued, so the listener would be ready again at once and the loop would
                    // spin: stop watching it for a while.
                    guard let listener else { return }
                    loop.modify(listener.fd, events: 0)
                    loop.schedule(afterMillis: 100) { [self] in
                        guard !stopping else { return }
                        loop.modify(listener.fd, events: EPOLLIN.rawValue)
                    }
                    return
                }
                continue
            }
            // The node's cap: this shard's links and those it handed to the others.
            if inbound.count + (shards?.handedOffLinks.load(ordering: .relaxed) ?? 0) >= settings.maxInboundLinks {
                // Full. A peer must still get in while strangers hold the slots: the oldest link that has not said
                // hello yet makes room; only when every link is authenticated is the newcomer refused.
                linkLimits.rejected += 1
                guard let oldest = inbound.values.filter({ $0.peer == nil }).min(by: { $0.sequence < $1.sequence })
                else {
                    System.close(fd)
                    continue
                }
                oldest.close()
            }
            guard
                let stream = try? TCPStream.accepted(fd: fd, loop: loop, maxQueuedBytes: settings.maxQueuedBytesPerPeer)
            else { continue }
            if let keepalive = settings.peerKeepalive {
                stream.enableKeepalive(
                    idleSeconds: keepalive.idleSeconds, intervalSeconds: keepalive.intervalSeconds,
                    count: keepalive.count)
            }
            let link = PeerConnection(stream, cipher: cipher, maxFrameBytes: settings.maxFrameBytes)
            linkLimits.accepted += 1
            link.sequence = linkLimits.accepted
            inbound[fd] = link
            let helloDeadline = loop.schedule(afterMillis: settings.helloTimeoutMillis) { [self, link] in
                guard link.peer == nil, !link.isClosed else { return }
                linkLimits.timedOut += 1
                link.close()
            }
            link.onFrame = { [unowned self, unowned link] frame, sender in received(frame, from: sender, on: link) }
            link.onClose = { [unowned self] _, malformed in
                loop.cancel(helloDeadline)
                if malformed { stats.malformed += 1 }
                inbound[fd] = nil
            }
        }
    }

    func received(_ frame: PeerFrame, from sender: NodeID, on link: PeerConnection) {
        stats.framesReceived += 1
        switch (frame, link.peer) {
        case (.hello(let hello), nil) where hello.cluster == settings.cluster && hello.member.id == sender:
            guard hello.shards == shardCount else {
                // Shard k replicates only with shard k of its peers: the nodes' numbers of loops must agree.
                linkLimits.shardMismatches += 1
                if let count = shardMismatchLog.admit(now: EventLoop.monotonicMillis()) {
                    log(
                        .error,
                        "refused a peer's link: it runs another number of loops; set the same \"loops\" on every node",
                        peerFields(hello.member.id) + [
                            ("peer_loops", String(hello.shards)), ("loops", String(shardCount)),
                            ("count", String(count)),
                        ])
                }
                link.close()
                return
            }
            if hello.shard != shard { return handOff(link, hello: hello) }
            link.peer = hello.member.id
            directory.introduce(hello.member)
        case (.replication(let message), let peer?) where peer == sender:
            execute(node.onMessage(message, from: peer, now: NodeRuntime.now()))
            if let sent = link.pendingClock {
                link.pendingClock = nil
                lag.record(micros: EventLoop.wallMicros() - Int64(clamping: sent))
            }
        case (.clock(let sent), let peer?) where peer == sender:
            link.pendingClock = sent
        default:
            // A stranger, another cluster, or frames out of order: drop the link.
            stats.malformed += 1
            link.close()
        }
    }
}
