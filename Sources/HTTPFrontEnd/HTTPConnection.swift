import SessionCluster

/// One client connection: parses requests, runs one at a time, writes answers in order, and enforces the
/// connection's deadlines (`HTTPServerSettings`).
///
/// Its life is a cycle of phases, each with its own bound:
/// - idle (nothing of a request received, none running): closed silently after the idle timeout;
/// - head arriving (counted from its first byte): 408 and close after the header timeout;
/// - body arriving (counted from the end of the head): 408 and close after the body timeout;
/// - request running: no deadline, and nothing is read (back-pressure: the client's bytes wait in the kernel,
///   then in its own send buffer) until the answer is queued.
/// Reading also pauses while more than `maxPendingOutputBytes` of answers wait to be taken by the client.
/// One timer per connection: moving a deadline later does not re-arm it; it re-checks when it fires.
final class HTTPConnection {
    let stream: TCPStream
    private unowned let server: ServerState
    private var parser: HTTPRequestParser
    private var busy = false
    private var closing = false
    /// Whether `serveNext` is running (answers completed inside the handler continue its loop, not recurse).
    private var serving = false
    /// Whether this connection's requests were put off to a later turn (the turn had served long enough).
    private var yielded = false
    /// When the request now served began (monotonic µs), and whether the last one held the loop long
    /// (`EventLoop.heavyCommandMicros`: put-off requests then wait behind cheap clients').
    private var requestBegan: Int64 = 0
    private var cost = EventLoop.ServingCost.unknown

    /// The server list this connection is in (`ServerState.place`), and its links there.
    var listed: ConnectionList.Kind?
    var listPrevious: HTTPConnection?
    var listNext: HTTPConnection?
    /// When the first byte of the request now partly received arrived (monotonic ms): the cap policy displaces
    /// the oldest incomplete request first.
    private(set) var requestStart: Int64 = 0
    /// The server's accept pass that admitted this connection.
    var acceptPass = 0

    private enum Phase { case idle, head, body, running }
    private var phase = Phase.idle
    /// When the current phase began (monotonic ms).
    private var phaseStart: Int64
    private var timer: UInt64?
    /// When `timer` fires (monotonic ms).
    private var timerDue: Int64 = .max

    init(stream: TCPStream, server: ServerState) {
        self.stream = stream
        self.server = server
        self.parser = HTTPRequestParser(limits: server.limits)
        self.phaseStart = EventLoop.monotonicMillis()
    }

    func start() {
        stream.onBytes = { [unowned self] bytes in
            parser.append(bytes)
            // Bytes while a request runs (a pipelining client): held, and nothing more is read until it is
            // answered — at most one read's worth is buffered.
            if busy { stream.pauseReading() }
            serveNext()
        }
        stream.onDrained = { [unowned self] in
            guard !busy, !closing else { return updatePhase() }
            if stream.readingPaused { stream.resumeReading() }
            // Requests already in the parser (pipelined, read before reading paused for output) are served now:
            // no new bytes may ever arrive to trigger it. serveNext ends with updatePhase (an answer fully taken
            // may make the connection idle).
            serveNext()
        }
        updatePhase()
    }

    /// The stream closed: stop the timer.
    func closed() {
        if let timer { server.loop.cancel(timer) }
        timer = nil
    }

    /// Serves the requests received, in order, until one must wait, the client must read, or the turn has served
    /// long enough (`EventLoop.turnIsOverServingBudget`: the rest waits for a later turn, so a hundred clients
    /// pipelining big session reads cannot hold the loop for seconds). `resumed`: called by the turn the
    /// requests were put off to, which serves one at least, however long it has already run.
    private func serveNext(resumed: Bool = false) {
        guard !serving, !yielded else { return }
        serving = true
        defer {
            serving = false
            updatePhase()
        }
        var served = 0
        while !busy, !closing, stream.state == .open {
            if stream.queuedBytes > server.settings.maxPendingOutputBytes {
                stream.pauseReading()  // resumed by onDrained
                return
            }
            let now = EventLoop.monotonicMicros()
            if served > 0 { cost = now - requestBegan > EventLoop.heavyCommandMicros ? .heavy : .cheap }
            if (served > 0 || !resumed) && !parser.isIdle && server.loop.turnIsOverServingBudget(now: now) {
                yielded = true
                stream.pauseReading()
                server.loop.serveLater(cost) { [self] in
                    yielded = false
                    guard !closing, stream.state == .open else { return }
                    if !busy && stream.queuedBytes <= server.settings.maxPendingOutputBytes { stream.resumeReading() }
                    serveNext(resumed: true)
                }
                return
            }
            requestBegan = now
            served += 1
            let request: HTTPRequest?
            do throws(HTTPParseError) {
                request = try parser.next()
            } catch {
                respond(.error(error), keepAlive: false, version: .http11)
                return
            }
            if parser.takeContinueRequest() { stream.write(HTTPResponse.continueInterim) }
            guard let request else { return }
            busy = true
            updatePhase()
            server.handler(request) { [self] response in
                busy = false
                respond(
                    response, keepAlive: request.keepAlive, version: request.version, head: request.methodKind == .head)
                if !closing && stream.state == .open && stream.queuedBytes <= server.settings.maxPendingOutputBytes {
                    stream.resumeReading()
                }
                if !serving { serveNext() }
            }
            // Answered later (a sync wait, a pull, another loop): reading pauses only if more bytes arrive meanwhile
            // (`onBytes`), so a client that waits for its answer costs no epoll change either way.
        }
    }

    private func respond(_ response: HTTPResponse, keepAlive: Bool, version: HTTPRequest.Version, head: Bool = false) {
        guard stream.state == .open else { return }
        stream.write(response.serialized(keepAlive: keepAlive, requestVersion: version, includeBody: !head))
        if !keepAlive { finish() }
    }

    /// Sends nothing more: closes after the queued answer has drained (or the close grace passed).
    private func finish() {
        closing = true
        server.place(self, in: nil)
        stream.closeAfterDraining(graceMillis: server.settings.closeGraceMillis)
        closed()
    }

    // MARK: Deadlines

    /// Works out the phase after bytes arrived or an answer was queued, and the deadline that goes with it.
    private func updatePhase() {
        guard !closing, stream.state == .open else { return }
        let now = EventLoop.monotonicMillis()
        let next: Phase =
            busy ? .running : parser.isReceivingBody ? .body : parser.isIdle && !parser.isFailed ? .idle : .head
        if next != phase {
            if next == .head || (next == .body && phase != .head) { requestStart = now }
            phase = next
            phaseStart = now
        }
        let list: ConnectionList.Kind? =
            switch phase {
            case .idle: stream.queuedBytes == 0 ? .idle : nil
            case .head, .body: .incomplete
            case .running: nil
            }
        server.place(self, in: list)
        guard let deadline else {
            return
        }
        if timer == nil || timerDue > deadline { arm(at: deadline) }
    }

    /// When the current phase times out (monotonic ms); nil while a request runs.
    private var deadline: Int64? {
        let settings = server.settings
        switch phase {
        case .idle: return phaseStart + settings.idleTimeoutMillis
        case .head: return phaseStart + settings.headerTimeoutMillis
        case .body: return phaseStart + settings.bodyTimeoutMillis
        case .running: return nil
        }
    }

    private func arm(at due: Int64) {
        if let timer { server.loop.cancel(timer) }
        timerDue = due
        timer = server.loop.schedule(afterMillis: max(0, due - EventLoop.monotonicMillis())) { [self] in
            timerFired()
        }
    }

    private func timerFired() {
        timer = nil
        timerDue = .max
        guard !closing, stream.state == .open, let deadline else { return }
        if EventLoop.monotonicMillis() < deadline {
            arm(at: deadline)
            return
        }
        switch phase {
        case .idle:
            server.stats.idleTimeouts += 1
            stream.close()
        case .head, .body:
            if phase == .head { server.stats.headerTimeouts += 1 } else { server.stats.bodyTimeouts += 1 }
            respond(HTTPResponse.text(408, "request timeout\n"), keepAlive: false, version: .http11)
        case .running:
            break
        }
    }
}
