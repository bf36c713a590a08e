import SessionClusterCore

extension NodeRuntime {
    /// Whether `attributes` with `changes` applied stay within the session limits.
    func fits(_ changes: SessionChanges, on attributes: [String: [UInt8]]) -> Bool {
        Self.fits(changes, on: attributes, within: sessionLimits)
    }

    /// `fits` for a held copy's attributes, read in place (`write`).
    func fits(_ changes: SessionChanges, onHeld attributes: AttributeMap) -> Bool {
        Self.fits(changes, onHeld: attributes, within: sessionLimits)
    }

    /// The most attributes, and bytes of names and values, a session may hold.
    typealias SessionLimits = (attributes: Int, bytes: Int)

    var sessionLimits: SessionLimits { (settings.maxAttributesPerSession, settings.maxSessionBytes) }

    static func fits(
        _ changes: SessionChanges, on attributes: [String: [UInt8]], within limits: SessionLimits
    ) -> Bool {
        fits(
            changes, count: attributes.count,
            bytes: attributes.reduce(0) { $0 + $1.key.utf8.count + $1.value.count },
            length: { attributes[$0]?.count }, within: limits)
    }

    /// Whether a held copy's attributes with `changes` applied stay within the session limits, read in place: one
    /// pass for the totals, then a lookup per changed name (a table of the lengths when many are changed: a
    /// search each would cost k × n).
    static func fits(_ changes: SessionChanges, onHeld attributes: AttributeMap, within limits: SessionLimits) -> Bool {
        var count = 0
        var bytes = 0
        let many = changes.changes.count > 8
        var lengths = [String: Int]()
        attributes.forEachEntry { name, value, _ in
            guard let value else { return }
            count += 1
            bytes += name.count + value.count
            if many { lengths[String(decoding: name, as: UTF8.self)] = value.count }
        }
        return fits(
            changes, count: count, bytes: bytes,
            length: { many ? lengths[$0] : attributes.valueLength(named: $0) }, within: limits)
    }

    /// Whether attributes numbering `count`, of `bytes` names and values in all, whose value lengths `length` gives
    /// by name (nil: absent), stay within the session limits with `changes` applied.
    private static func fits(
        _ changes: SessionChanges, count: Int, bytes: Int, length: (String) -> Int?, within limits: SessionLimits
    ) -> Bool {
        var count = count
        var bytes = bytes
        // The changes' last word per attribute counts; the request's copy of the session is not rebuilt.
        // (A few changes, the common case, are checked against the later ones in place: no set, no array.)
        let all = changes.changes
        var decided = Set<String>()
        let hashing = all.count > 8
        func isFirst(_ name: String, at index: Int) -> Bool {
            if hashing { return decided.insert(name).inserted }
            return !all[(index + 1)...].contains { later in
                switch later {
                case .set(let other, _), .remove(let other): other == name
                case .setMaxInactive, .invalidate: false
                }
            }
        }
        for index in all.indices.reversed() {
            let change = all[index]
            let name: String
            let value: [UInt8]?
            switch change {
            case .set(let changed, let bytes):
                name = changed
                value = bytes
            case .remove(let changed):
                name = changed
                value = nil
            case .setMaxInactive, .invalidate: continue
            }
            guard isFirst(name, at: index) else { continue }
            if let old = length(name) {
                count -= 1
                bytes -= name.utf8.count + old
            }
            if let value {
                count += 1
                bytes += name.utf8.count + value.count
            }
        }
        return count <= limits.attributes && bytes <= limits.bytes
    }

    /// Completes a commit of session `id` with its new token: at once, or when a `sync` commit is acknowledged.
    /// The waiter is registered before the directives run: they may complete the commit (and a completion with
    /// no waiter would be lost, leaving the request unanswered).
    func finish(_ result: NodeCommit, id: SessionID, _ done: @escaping (Result<VersionToken, SessionError>) -> Void) {
        guard result.outcome == .committed else {
            execute(result.directives)
            return done(.failure(.notFound))
        }
        let token = tokens.sealLater(result.version, for: id)
        guard let commitID = result.awaiting else {
            execute(result.directives)
            // `log`/`always`: answered after the append and fsync that end this turn.
            return answersWaitForLog ? durably { done(.success(token)) } : done(.success(token))
        }
        commitWaiters[commitID] = { [unowned self] acknowledged in
            durably { done(acknowledged ? .success(token) : .failure(.notAcknowledged)) }
        }
        execute(result.directives)
    }

    /// Installs a new keyring (key rotation) for cluster traffic and version tokens.
    func install(_ keyring: Keyring) {
        let sealingKeyChanged =
            keyring.current != cipher.keyring.current
            || keyring.secret(keyring.current) != cipher.keyring.secret(cipher.keyring.current)
        cipher.install(keyring)
        tokens.install(keyring)
        // `log` mode: new segments and the snapshot are sealed under the new current key from now on, so the old
        // key may be retired once this compaction is done (`log compacted` in the log). Adding a key that is not
        // current yet changes nothing on disk.
        if sealingKeyChanged { compactLog(reason: "current key changed") }
    }

    /// Sends the leaving beacon, waits (at most a second) for queued frames to leave, then closes.
    func leave(then done: @escaping (()) -> Void) {
        // Shard 0 says goodbye for the node; the other shards only drain their links.
        if isLead { execute(node.leave(now: NodeRuntime.now())) }
        let deadline = EventLoop.monotonicMillis() + 1_000
        func waitForDrain() {
            let pending = outbound.values.contains { !$0.isClosed && $0.queuedBytes > 0 }
            if pending && EventLoop.monotonicMillis() < deadline {
                loop.schedule(afterMillis: 10) { waitForDrain() }
                return
            }
            // After the drain: every delta peers sent before hearing we leave is in the copies written.
            writeSnapshot()
            close()
            done(())
        }
        waitForDrain()
    }

    /// Closes every socket once; pending requests fail with `.shuttingDown`.
    func close() {
        stopping = true
        if let tickTimer { loop.cancel(tickTimer) }
        for link in Array(outbound.values) + Array(inbound.values) { link.close() }
        outbound = [:]
        inbound = [:]
        if let listener {
            loop.deregister(listener.fd)
            listener.close()
        }
        if let datagrams {
            loop.deregister(datagrams.fd)
            datagrams.close()
        }
        if let receiver = multicastReceiver {
            loop.deregister(receiver.fd)
            receiver.close()
        }
        for waiter in accessWaiters.values { waiter.fail(.shuttingDown) }
        for waiter in commitWaiters.values { waiter(false) }
        for waiter in confirmWaiters.values { waiter(0) }
        // What is pending goes into the log, then the answers waiting for it (failed commits above join them).
        flushLogAndWait()
        persistence?.log?.close()
        persistence?.store.lock?.release()
        accessWaiters = [:]
        commitWaiters = [:]
        confirmWaiters = [:]
        if isLead { events.finish() }
    }
}
