import SessionCluster

/// One client connection: parses commands, runs them one at a time, writes answers in order.
///
/// A command that waits (a pull of the key's copy, a `sync` acknowledgement) pauses reading (back-pressure: the
/// client's next commands wait in the kernel). Reading also pauses while more than `maxPendingOutputBytes` of
/// answers wait for the client. A protocol error is answered with Redis's `-ERR Protocol error: …` and the
/// connection closed, as Redis does.
final class RESPConnection {
    let stream: TCPStream
    private unowned let server: RESPServerState
    private var parser: RESPCommandParser
    let id: Int
    /// The client's protocol version: 2 until `HELLO 3`.
    var version = 2
    var authenticated: Bool {
        didSet { parser.authenticated = authenticated }
    }
    var name: [UInt8]?
    /// Commands queued since `MULTI`, and whether one was refused (`EXEC` then aborts).
    var queued: [[[UInt8]]]?
    var queueFailed = false
    private var busy = false
    private var closing = false
    private var serving = false
    /// When the connection last finished a command (monotonic ms): the cap displaces the idle longest.
    private(set) var idleSince = EventLoop.monotonicMillis()
    /// When the command now partly received began to arrive (monotonic ms); nil when none is.
    private(set) var partialSince: Int64?

    init(stream: TCPStream, server: RESPServerState, id: Int) {
        self.stream = stream
        self.server = server
        self.id = id
        let open = server.settings.password == nil
        self.authenticated = open
        self.parser = RESPCommandParser(limits: server.settings.limits, authenticated: open)
    }

    var settings: RESPServerSettings { server.settings }
    var keys: KeySpace { server.keys }
    var node: ClusterNode { server.node }
    var state: RESPServerState { server }

    /// Whether nothing is running or partly received.
    var isIdle: Bool { !busy && parser.isIdle && stream.queuedBytes == 0 }

    func start() {
        stream.onBytes = { [unowned self] bytes in
            parser.append(bytes)
            serveNext()
            if parser.isIdle {
                partialSince = nil
            } else if partialSince == nil {
                partialSince = EventLoop.monotonicMillis()
            }
        }
        stream.onDrained = { [unowned self] in
            guard !busy, !closing else { return }
            if stream.readingPaused { stream.resumeReading() }
            serveNext()
        }
    }

    private func serveNext() {
        guard !serving else { return }
        serving = true
        defer { serving = false }
        while !busy, !closing, stream.state == .open {
            if stream.queuedBytes > settings.maxPendingOutputBytes {
                stream.pauseReading()  // resumed by onDrained
                return
            }
            let command: [[UInt8]]
            do throws(RESPProtocolError) {
                guard let next = try parser.next() else { return }
                command = next
            } catch {
                write(.err(error.description))
                return finish()
            }
            busy = true
            server.commands += 1
            RESPCommands.execute(command, on: self) { [self] reply, close in
                busy = false
                idleSince = EventLoop.monotonicMillis()
                write(reply)
                if close { return finish() }
                if stream.state == .open && stream.queuedBytes <= settings.maxPendingOutputBytes {
                    stream.resumeReading()
                }
                if !serving { serveNext() }
            }
            if busy { stream.pauseReading() }
        }
    }

    private func write(_ reply: RESPValue) {
        guard stream.state == .open, !closing else { return }
        stream.write(reply.encoded(version: version))
    }

    /// Sends nothing more: closes once the queued answers drained (or the grace passed).
    private func finish() {
        closing = true
        stream.closeAfterDraining(graceMillis: settings.closeGraceMillis)
    }
}
