import CLinuxShims

#if canImport(Glibc)
    import Glibc
#endif

/// Why a TCP stream ended.
package enum StreamCloseReason: Equatable, Sendable {
    /// The peer's port refused the connection.
    case refused
    /// The connection broke or the peer closed it.
    case lost
    /// The queue to a slow peer exceeded its bound.
    case overflow
    /// The owner closed it (also after a protocol error).
    case local
}

/// A non-blocking TCP connection owned by one event loop, closed exactly once.
///
/// Writes are appended to a bounded buffer and sent together at the end of the loop iteration, so many
/// small messages leave in one `send`; received bytes are handed to `onBytes` as they arrive.
package final class TCPStream: IterationEndTask {
    package enum State: Sendable { case connecting, open, closed }

    package let fd: Int32
    package private(set) var state: State
    /// Called on the loop with each chunk of received bytes.
    package var onBytes: (ArraySlice<UInt8>) -> Void = { _ in }
    /// Called once, on the loop, when the stream ends.
    package var onClose: (StreamCloseReason) -> Void = { _ in }
    /// Called when everything queued has been written (e.g. to close after a response).
    package var onDrained: () -> Void = {}

    let loop: EventLoop
    private var outbound: [UInt8] = []
    private var written = 0
    private let maxQueuedBytes: Int
    private var flushScheduled = false
    /// The deadline of `closeAfterDraining`.
    private var graceTimer: UInt64?
    /// Whether epoll currently watches for writability (only while a write would block): changing the watch
    /// costs an `epoll_ctl`, so it is changed only when this flips — not on every flush.
    private var watchingWritable = false
    /// Whether reading is paused (`pauseReading`): epoll then does not watch for input.
    package private(set) var readingPaused = false
    private var readBuffer: [UInt8]

    private init(fd: Int32, state: State, loop: EventLoop, maxQueuedBytes: Int, readChunk: Int) {
        self.fd = fd
        self.state = state
        self.loop = loop
        self.maxQueuedBytes = maxQueuedBytes
        self.readBuffer = [UInt8](repeating: 0, count: readChunk)
    }

    /// Starts connecting to `host:port`; the outcome arrives through `onClose` (`.refused`) or writes flowing.
    package static func connect(
        to address: String, loop: EventLoop, maxQueuedBytes: Int, readChunk: Int = 64 * 1024
    ) throws(SystemError) -> TCPStream {
        let target = try SocketAddress(parsing: address)
        let fd = try System.socket(SOCK_STREAM, label: "TCP")
        try? System.setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1, "TCP_NODELAY")
        let connected: Bool
        do throws(SystemError) {
            connected = try System.connect(fd, target)
        } catch {
            System.close(fd)
            throw error
        }
        let stream = TCPStream(
            fd: fd, state: connected ? .open : .connecting, loop: loop, maxQueuedBytes: maxQueuedBytes,
            readChunk: readChunk)
        try stream.watch()
        return stream
    }

    /// Wraps a descriptor returned by `Listener.accept()`.
    package static func accepted(fd: Int32, loop: EventLoop, maxQueuedBytes: Int, readChunk: Int = 64 * 1024)
        throws(SystemError) -> TCPStream
    {
        try? System.setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1, "TCP_NODELAY")
        let stream = TCPStream(fd: fd, state: .open, loop: loop, maxQueuedBytes: maxQueuedBytes, readChunk: readChunk)
        try stream.watch()
        return stream
    }

    private func watch() throws(SystemError) {
        let events = EPOLLIN.rawValue | EPOLLRDHUP.rawValue | (state == .connecting ? EPOLLOUT.rawValue : 0)
        watchingWritable = state == .connecting
        do throws(SystemError) {
            try loop.register(fd, events: events) { [self] ready in handle(ready) }
        } catch {
            System.close(fd)
            state = .closed
            throw error
        }
    }

    /// Bytes waiting to be written.
    package var queuedBytes: Int { outbound.count - written }

    /// Queues bytes. Returns false (and closes the stream with `.overflow`) when the bound is exceeded.
    @discardableResult
    package func write(_ bytes: [UInt8]) -> Bool {
        guard state != .closed else { return false }
        if queuedBytes + bytes.count > maxQueuedBytes {
            close(.overflow)
            return false
        }
        outbound += bytes
        scheduleFlush()
        return true
    }

    /// Takes a place in this iteration's end-of-iteration work for the flush, now, even before any byte is queued:
    /// a writer that queues its bytes at the end of the iteration (a link sealing its batch) keeps the place in
    /// the order of sends that it would have had writing at once.
    func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        loop.afterIteration(self)
    }

    /// The flush `scheduleFlush` queued (`IterationEndTask`).
    package func iterationEnded() {
        flushScheduled = false
        flush()
    }

    private func flush() {
        guard state == .open else { return }
        while written < outbound.count {
            let result = outbound.withUnsafeBytes { raw in
                Result { () throws(SystemError) -> Int? in
                    try System.send(fd, UnsafeRawBufferPointer(rebasing: raw[written...]))
                }
            }
            switch result {
            case .success(let count?):
                written += count
            case .success(nil):
                compactOutbound()
                watchWritable(true)
                return
            case .failure:
                close(.lost)
                return
            }
        }
        outbound.removeAll(keepingCapacity: outbound.count < 1 << 20)
        written = 0
        watchWritable(false)
        onDrained()
    }

    /// Drops the written prefix of the outbound buffer once it is over half of it or over 64 KiB, so a peer that
    /// reads steadily but slowly (the buffer never drains fully) cannot make it grow past the bound plus that.
    private func compactOutbound() {
        guard written > 0, written * 2 >= outbound.count || written >= 64 * 1024 else { return }
        outbound.removeFirst(written)
        written = 0
    }

    /// Bytes the outbound buffer holds, written or not (for tests of the compaction).
    var outboundStorageBytes: Int { outbound.count }

    private func watchWritable(_ watch: Bool) {
        guard watch != watchingWritable else { return }
        watchingWritable = watch
        updateWatch()
    }

    private func updateWatch() {
        guard state != .closed else { return }
        let input = readingPaused ? 0 : EPOLLIN.rawValue | EPOLLRDHUP.rawValue
        loop.modify(fd, events: input | (watchingWritable ? EPOLLOUT.rawValue : 0))
    }

    /// Stops reading (back-pressure): the kernel's receive buffer fills and the peer's TCP window closes, and
    /// `onBytes` is not called until `resumeReading()`. Writing goes on. While paused, only a hang-up or error
    /// (the connection is gone) is noticed, and closes the stream with `.lost`.
    package func pauseReading() {
        guard !readingPaused, state != .closed else { return }
        readingPaused = true
        if state == .open { updateWatch() }
    }

    /// Resumes reading after `pauseReading()`; bytes that arrived meanwhile are delivered on the next turn.
    package func resumeReading() {
        guard readingPaused, state != .closed else { return }
        readingPaused = false
        if state == .open { updateWatch() }
    }

    /// Whether bytes (or the peer's FIN) wait in the kernel, not read yet: one `recv(MSG_PEEK)`.
    package var hasUnreadInput: Bool {
        state == .open && System.hasPendingInput(fd)
    }

    /// Turns on TCP keepalive: after `idleSeconds` without traffic the kernel probes every `intervalSeconds`, and
    /// after `count` unanswered probes the connection fails (`onClose(.lost)`) — a peer that vanished without a
    /// FIN or RST (power loss, a dropped NAT entry) is noticed in `idle + interval × count` seconds.
    /// Returns false when the kernel refused an option.
    @discardableResult
    package func enableKeepalive(idleSeconds: Int32, intervalSeconds: Int32, count: Int32) -> Bool {
        do throws(SystemError) {
            try System.setOption(fd, SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE")
            try System.setOption(fd, Int32(IPPROTO_TCP), TCP_KEEPIDLE, max(1, idleSeconds), "TCP_KEEPIDLE")
            try System.setOption(fd, Int32(IPPROTO_TCP), TCP_KEEPINTVL, max(1, intervalSeconds), "TCP_KEEPINTVL")
            try System.setOption(fd, Int32(IPPROTO_TCP), TCP_KEEPCNT, max(1, count), "TCP_KEEPCNT")
            return true
        } catch {
            return false
        }
    }

    private func handle(_ ready: UInt32) {
        if state == .connecting {
            guard ready & (EPOLLOUT.rawValue | EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 else { return }
            let error = System.pendingError(fd)
            guard error == 0 else {
                close(error == ECONNREFUSED ? .refused : .lost)
                return
            }
            state = .open
            watchWritable(false)  // registered with EPOLLOUT while connecting
            flush()
            return
        }
        if readingPaused {
            // epoll reports hang-ups and errors even when input is not watched; level-triggered, they would
            // repeat every turn, and the connection is gone anyway.
            if ready & (EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 {
                close(.lost)
                return
            }
        } else if ready & (EPOLLIN.rawValue | EPOLLHUP.rawValue | EPOLLRDHUP.rawValue | EPOLLERR.rawValue) != 0 {
            readAvailable()
        }
        if state == .open, ready & EPOLLOUT.rawValue != 0 { flush() }
    }

    private func readAvailable() {
        while state == .open, !readingPaused {
            let count: Int?
            do throws(SystemError) {
                count = try System.read(fd, into: &readBuffer)
            } catch {
                close(.lost)
                return
            }
            guard let count else { return }
            if count == 0 {
                close(.lost)
                return
            }
            onBytes(readBuffer[0..<count])
            // A short read took everything there was: skip the read that would only say EAGAIN (one syscall per
            // request saved). epoll is level-triggered, so anything arriving later wakes the loop again — and so
            // does what is left when the turn has served long enough: a peer applying 200,000 replicated deletes
            // read and applied them all in one 2 s turn, and its own peers suspected it (fresh-eyes finding).
            if count < readBuffer.count || loop.turnIsOverServingBudget() { return }
        }
    }

    /// Ends the stream politely: once everything queued has been sent, sends FIN (`shutdown(SHUT_WR)`) and reads
    /// and discards whatever the peer still sends until it closes too — so the last answer is not destroyed by
    /// an RST, as closing with unread input would do — and closes it after `graceMillis` in any case.
    /// Replaces `onBytes` and `onDrained`; queue nothing after calling it.
    package func closeAfterDraining(graceMillis: Int64) {
        guard state == .open else {
            close(.local)
            return
        }
        onBytes = { _ in }
        if graceTimer == nil {
            graceTimer = loop.schedule(afterMillis: graceMillis) { [self] in close(.local) }
        }
        if queuedBytes == 0 && !flushScheduled {
            halfClose()
        } else {
            onDrained = { [unowned self] in halfClose() }
        }
    }

    private func halfClose() {
        guard state == .open else { return }
        onDrained = {}
        System.shutdownWrite(fd)
        resumeReading()
    }

    /// Lets go of the descriptor without closing it, to be wrapped again on another loop (`accepted(fd:loop:)`):
    /// the stream stops being watched and ends as closed (`onClose(.local)`). Nil, and nothing done, unless the
    /// stream is open with nothing queued to write.
    package func detach() -> Int32? {
        guard state == .open, queuedBytes == 0, !flushScheduled else { return nil }
        state = .closed
        if let graceTimer { loop.cancel(graceTimer) }
        graceTimer = nil
        loop.deregister(fd)
        outbound = []
        onClose(.local)
        return fd
    }

    /// Closes the stream (once) and reports `reason`.
    package func close(_ reason: StreamCloseReason = .local) {
        guard state != .closed else { return }
        state = .closed
        if let graceTimer { loop.cancel(graceTimer) }
        graceTimer = nil
        loop.deregister(fd)
        System.close(fd)
        outbound = []
        onClose(reason)
    }
}
