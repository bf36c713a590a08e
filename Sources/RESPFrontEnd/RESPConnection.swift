import SessionCluster

/// One client connection: parses commands, runs them one at a time, writes answers in order.
///
/// While a command waits (a pull of the key's copy, a `sync` acknowledgement, another loop), reading pauses as soon
/// as more bytes arrive (back-pressure: the client's next commands wait in the kernel). Reading also pauses while more than `maxPendingOutputBytes` of
/// answers wait for the client. A protocol error is answered with Redis's `-ERR Protocol error: …` and the
/// connection closed, as Redis does.
final class RESPConnection {
    let stream: TCPStream
    /// The server. Held strongly: a weak reference would give the server a side table, and every retain and
    /// release of it the runtime's slow path. The server closes and drops its connections when it closes.
    private let server: RESPServerState
    let settings: RESPServerSettings
    let keys: KeySpace
    /// This connection's last writes, for `WAIT`.
    let writes = WriteLog()
    private let loop: EventLoop
    private var parser: RESPCommandParser
    let id: Int
    /// This connection's index in the server's sample array.
    var slot = 0
    /// The client's protocol version: 2 until `HELLO 3`.
    var version = 2
    var authenticated: Bool {
        didSet { parser.authenticated = authenticated }
    }
    var name: [UInt8]?
    /// Commands queued since `MULTI`, and whether one was refused (`EXEC` then aborts).
    var queued: [[[UInt8]]]? {
        didSet { if queued == nil || queued!.isEmpty { queuedBytes = 0 } }
    }
    var queueFailed = false
    /// Bytes of the arguments in `queued`.
    var queuedBytes = 0
    private var busy = false
    private var closing = false
    /// Bytes of answers queued since the stream last drained: counted in the server's `pendingOutput` (a partly
    /// sent answer still counts whole until the rest has gone).
    private(set) var countedOutput = 0
    private var serving = false
    /// When the connection last finished a command (monotonic ms): the cap displaces the idle longest.
    private(set) var idleSince = EventLoop.monotonicMillis()
    /// When the command now partly received began to arrive (monotonic ms); nil when none is.
    private(set) var partialSince: Int64?

    init(stream: TCPStream, server: RESPServerState, id: Int) {
        self.stream = stream
        self.server = server
        self.settings = server.settings
        self.keys = server.keys.recording(into: writes)
        self.loop = server.loop
        self.id = id
        let open = server.settings.password == nil
        self.authenticated = open
        self.parser = RESPCommandParser(limits: server.settings.limits, authenticated: open)
    }

    var node: ClusterNode { keys.node }
    /// The server's figures (`INFO`, counters); nil once it is gone.
    var state: RESPServerState? { server }

    /// Whether nothing is running or partly received.
    var isIdle: Bool { !busy && parser.isIdle && stream.queuedBytes == 0 }

    func start() {
        // Unowned: the stream calls these only while open, and the server holds an open connection. Each is ONE
        // method call: a command may close the stream (an answer over its output cap), and the server then lets go
        // of this connection, so code after such a call would read a destroyed object (the caller keeps `self`
        // alive only for the duration of the call it makes).
        stream.onBytes = { [unowned self] bytes in received(bytes) }
        stream.onDrained = { [unowned self] in drained() }
    }

    private func received(_ bytes: ArraySlice<UInt8>) {
        parser.append(bytes)
        // Bytes while a command waits: held, and nothing more is read until it is answered (one read's worth
        // buffered at most). A client that waits for its answer costs no epoll change.
        if busy { stream.pauseReading() }
        serveNext()
        if parser.isIdle {
            partialSince = nil
        } else if partialSince == nil {
            partialSince = EventLoop.monotonicMillis()
        }
    }

    private func drained() {
        server.pendingOutput -= countedOutput
        countedOutput = 0
        guard !busy, !closing else { return }
        if stream.readingPaused { stream.resumeReading() }
        serveNext()
    }

    /// Commands one connection runs per loop turn at most: a client pipelining without end must not hold the
    /// loop (other clients, replication and membership heartbeats wait behind it — peers declared the node dead).
    static let commandsPerTurn = 128
    /// And the time (µs) after which it runs no further command this turn: commands on a big hash cost its size
    /// each (~10 ms at 30,000 fields), so 128 of them held the loop over a second.
    static let microsPerTurn: Int64 = 2_000
    /// Whether the rest of this connection's commands were put off to a later turn.
    private var yielded = false
    /// When the command now running began (monotonic µs), and whether the last one held the loop long
    /// (`EventLoop.heavyCommandMicros`: its put-off work then waits behind cheap clients').
    private var commandStart: Int64 = 0
    private var cost = EventLoop.ServingCost.unknown

    /// Runs the commands received, in order, until one must wait, the client must read, or this connection's
    /// share of the turn is used up. `resumed`: called by the turn this connection put its work off to, which
    /// runs one command at least, however long the turn has already run.
    private func serveNext(resumed: Bool = false) {
        guard !serving, !yielded else { return }
        serving = true
        defer { serving = false }
        var served = 0
        let began = EventLoop.monotonicMicros()
        while !busy, !closing, stream.state == .open {
            if stream.queuedBytes > settings.maxPendingOutputBytes {
                stream.pauseReading()  // resumed by onDrained
                return
            }
            let now = EventLoop.monotonicMicros()
            if served > 0 { cost = now - commandStart > EventLoop.heavyCommandMicros ? .heavy : .cheap }
            if served >= Self.commandsPerTurn || (served > 0 && now - began >= Self.microsPerTurn)
                || ((served > 0 || !resumed) && loop.turnIsOverServingBudget(now: now))
            {
                yielded = true
                stream.pauseReading()
                // Not `execute`: the loop drains its inbox within the turn. Put-off work runs after this turn's
                // other sockets and timers, the cheap clients' first.
                loop.serveLater(cost) { [self] in
                    yielded = false
                    guard !closing, stream.state == .open else { return }
                    if !busy && stream.queuedBytes <= settings.maxPendingOutputBytes { stream.resumeReading() }
                    serveNext(resumed: true)
                }
                return
            }
            commandStart = now
            served += 1
            let command: [[UInt8]]
            do throws(RESPProtocolError) {
                guard let next = try parser.nextItem() else { return }
                switch next {
                case .command(let parsed):
                    command = parsed
                case .tooLarge(let bytes):
                    // Read past and refused; the connection goes on (Redis would take it: its limit is 512 MiB).
                    server.commands += 1
                    if queued != nil { queueFailed = true }
                    write(
                        .err(
                            "argument of \(bytes) bytes is over this node's limit of \(parser.limits.maxBulkBytes) "
                                + "bytes per value (sessions.maxSessionBytes)"))
                    continue
                }
            } catch {
                write(.err(error.description))
                return finish()
            }
            busy = true
            server.commands += 1
            writes.command &+= 1
            RESPCommands.execute(command, on: self) { [self] reply, close in
                busy = false
                idleSince = EventLoop.monotonicMillis()
                if let reply { write(reply) }
                if close { return finish() }
                if stream.state == .open && stream.queuedBytes <= settings.maxPendingOutputBytes {
                    stream.resumeReading()
                }
                if !serving { serveNext() }
            }
        }
    }

    private func write(_ reply: RESPValue) {
        guard stream.state == .open, !closing else { return }
        // The commands that can answer many values measure their replies as they build them; this catches any
        // other: a reply over the cap is not queued (past 64 MiB queued the stream drops the connection).
        let size = reply.encodedSizeEstimate
        guard size <= KeySpace.maxReplyBytes else {
            stream.write(KeySpace.replyTooLarge(nil, bytes: size, ran: false, asking: "less").encoded(version: version))
            return
        }
        let bytes = reply.encoded(version: version)
        countedOutput += bytes.count
        server.pendingOutput += bytes.count
        stream.write(bytes)
        // The loop's connections hold too many answers: a client that is not reading its own (more than its
        // share waiting) is closed, as Redis's output-buffer limit does; a client that reads is left alone.
        if server.pendingOutput > settings.maxTotalPendingOutputBytes,
            stream.queuedBytes > settings.maxPendingOutputBytes
        {
            server.closedForOutput += 1
            closing = true
            stream.close(.overflow)
        }
    }

    /// Sends nothing more: closes once the queued answers drained (or the grace passed).
    private func finish() {
        closing = true
        stream.closeAfterDraining(graceMillis: settings.closeGraceMillis)
    }
}
