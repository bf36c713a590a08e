/// Limits a RESP connection's parser enforces as bytes arrive. A client over a limit gets Redis's protocol error
/// and is closed (an oversized argument: an error for that command only); nothing it sent is applied past the last
/// complete command.
public struct RESPLimits: Sendable, Equatable {
    /// Most arguments in one command (a multibulk's length), the command name included.
    public var maxArguments = 1_048_576
    /// Most bytes of arguments one command may hold (a `DEL` of 500,000 keys fits): without it, one unfinished
    /// command of a million 256 KiB arguments would hold 256 GiB. Over it is a protocol error that closes the
    /// connection, as Redis's `client-query-buffer-limit` does.
    public var maxCommandBytes = 16 << 20
    /// Largest bulk string (one argument), bytes: values larger than a session may hold are refused here.
    public var maxBulkBytes = 1 << 20
    /// Longest inline command (a line typed into `redis-cli` or telnet), and longest `*` / `$` header line, bytes.
    /// Redis's own `PROTO_INLINE_MAX_SIZE`.
    public var maxInlineBytes = 64 << 10
    /// Before `AUTH` succeeds (when a password is set): most arguments and largest bulk, as Redis limits
    /// unauthenticated clients, so a stranger cannot make the node buffer much.
    public var unauthenticatedMaxArguments = 10
    /// Largest bulk before `AUTH`, in bytes.
    public var unauthenticatedMaxBulkBytes = 16_384
    /// An argument over `maxBulkBytes` but at most this (Redis's `proto-max-bulk-len`, 512 MiB) is read past and
    /// its command refused (`RESPCommandParser.Item.tooLarge`): the client gets an error, not a closed connection.
    /// Longer is a protocol error, as in Redis. Only after authentication.
    public var maxSkippedBulkBytes = 512 << 20

    /// Redis's limits, and this node's `maxBulkBytes`.
    public init() {}
}

/// Why a connection's bytes are not a RESP command stream. `message` is Redis's own wording (clients and tests
/// match on it); the reply is `-ERR Protocol error: <message>` and the connection is closed.
public struct RESPProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Redis's wording, e.g. `invalid bulk length`.
    public var message: String

    /// The error `message`.
    public init(_ message: String) { self.message = message }

    public var description: String { "Protocol error: \(message)" }
}

/// An incremental RESP request parser for one connection: bytes in, commands (argument lists) out.
///
/// Accepts both forms Redis accepts: multibulk (`*<n>\r\n` then `n` times `$<len>\r\n<bytes>\r\n`, what every
/// client library sends) and inline (`GET key\r\n`, what `redis-cli` in a pipe and telnet send; quoted arguments
/// with Redis's escapes). Several pipelined commands in one read come out one by one, in order.
///
/// Limits (`RESPLimits`) are checked as bytes arrive: a header line or inline command that is already too long
/// fails before its line ending shows up, and a bulk length over the limit is read past without being kept (its
/// command refused, `Item.tooLarge`) or, past `maxSkippedBulkBytes` or before authentication, fails at its
/// header, so the parser never holds much more than one argument plus the last `append`. Each argument is copied out once when
/// complete; consumed bytes are compacted away once they outnumber the rest.
///
/// After `next()` throws, the parser is failed: it keeps throwing the same error and ignores further input.
public struct RESPCommandParser: Sendable {
    /// The limits this parser enforces.
    public let limits: RESPLimits
    /// Whether the client has authenticated (or no password is set): the full limits apply, not the
    /// unauthenticated ones.
    public var authenticated: Bool

    private var buffer: [UInt8] = []
    private var readIndex = 0
    /// Where the search for the next line feed resumes; bytes in `readIndex..<scanIndex` hold none.
    private var scanIndex = 0
    /// A multibulk under way: arguments still expected, and those complete so far.
    private var expected = 0
    private var arguments: [[UInt8]] = []
    /// The length of the bulk string whose header was read, while its bytes are awaited.
    private var bulkLength: Int?
    /// Bytes of an oversized argument (and its CRLF) still to be read past, and the largest such argument of the
    /// multibulk under way (0: none).
    private var skipping = 0
    private var oversized = 0
    /// Bytes of the arguments of the multibulk under way kept so far (and announced by the header being read).
    private var commandBytes = 0
    private var failure: RESPProtocolError?

    /// A parser with `limits`; an unauthenticated one applies the stricter `unauthenticated…` limits.
    public init(limits: RESPLimits = RESPLimits(), authenticated: Bool = true) {
        self.limits = limits
        self.authenticated = authenticated
    }

    /// Bytes received and not yet returned as part of a command.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// Whether nothing of a command is partly received.
    public var isIdle: Bool { failure == nil && expected == 0 && skipping == 0 && readIndex == buffer.count }

    /// Whether the stream broke the protocol (the connection must close after the error reply).
    public var isFailed: Bool { failure != nil }

    /// Adds bytes read from the connection. Ignored once the parser has failed.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        guard failure == nil else { return }
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// What `nextItem()` parsed.
    public enum Item: Equatable, Sendable {
        /// A complete command: its name first; never empty.
        case command([[UInt8]])
        /// A multibulk with an argument over `maxBulkBytes` (at most `maxSkippedBulkBytes`): its bytes were read
        /// and dropped; the command must be refused. `bytes` is the largest argument's size.
        case tooLarge(bytes: Int)
    }

    /// The next complete command, or nil when more bytes are needed. Commands with an oversized argument are
    /// dropped here (see `nextItem()` to answer them).
    public mutating func next() throws(RESPProtocolError) -> [[UInt8]]? {
        while let item = try nextItem() {
            if case .command(let command) = item { return command }
        }
        return nil
    }

    /// The next complete command or refused oversized one, or nil when more bytes are needed.
    public mutating func nextItem() throws(RESPProtocolError) -> Item? {
        if let failure { throw failure }
        do throws(RESPProtocolError) {
            while true {
                if expected == 0 {
                    guard readIndex < buffer.count else { return nil }
                    if buffer[readIndex] == UInt8(ascii: "*") {
                        guard try readMultibulkHeader() else { return nil }
                        if expected == 0 { continue }  // `*0` or a negative count: an empty command, skipped
                    } else {
                        guard let line = try readInlineLine() else { return nil }
                        let words = try Self.splitInline(line)
                        if words.isEmpty { continue }  // an empty line (telnet's Enter)
                        return .command(words)
                    }
                }
                guard try readArguments() else { return nil }
                let command = arguments
                arguments = []
                if oversized > 0 {
                    defer { oversized = 0 }
                    return .tooLarge(bytes: oversized)
                }
                return .command(command)
            }
        } catch {
            failure = error
            buffer = []
            readIndex = 0
            scanIndex = 0
            throw error
        }
    }

    private var maxArguments: Int { authenticated ? limits.maxArguments : limits.unauthenticatedMaxArguments }
    private var maxBulkBytes: Int { authenticated ? limits.maxBulkBytes : limits.unauthenticatedMaxBulkBytes }

    /// Reads `*<count>`; false when its line is not complete yet.
    private mutating func readMultibulkHeader() throws(RESPProtocolError) -> Bool {
        guard let line = try nextLine(tooLong: "too big mbulk count string") else { return false }
        guard let count = Self.integer(line.dropFirst()), count <= Int(Int32.max) else {
            throw RESPProtocolError("invalid multibulk length")
        }
        if count > maxArguments {
            throw RESPProtocolError(authenticated ? "invalid multibulk length" : "unauthenticated multibulk length")
        }
        expected = max(0, count)
        arguments.reserveCapacity(min(expected, 1_024))
        return true
    }

    /// Reads the arguments of the multibulk under way; false when more bytes are needed.
    private mutating func readArguments() throws(RESPProtocolError) -> Bool {
        while arguments.count < expected {
            if bulkLength == nil {
                guard readIndex < buffer.count else { return false }
                let marker = buffer[readIndex]
                guard marker == UInt8(ascii: "$") else {
                    throw RESPProtocolError("expected '$', got '\(Character(Unicode.Scalar(marker)))'")
                }
                guard let line = try nextLine(tooLong: "too big bulk count string") else { return false }
                guard let length = Self.integer(line.dropFirst()), length >= 0, length <= Int(Int32.max) else {
                    throw RESPProtocolError("invalid bulk length")
                }
                if length > maxBulkBytes {
                    guard authenticated, length <= limits.maxSkippedBulkBytes else {
                        throw RESPProtocolError(authenticated ? "invalid bulk length" : "unauthenticated bulk length")
                    }
                    // Read past it, keeping nothing: the command is refused once it is complete.
                    skipping = length + 2
                    oversized = max(oversized, length)
                } else {
                    commandBytes += length
                    if commandBytes > limits.maxCommandBytes {
                        throw RESPProtocolError("command of more than \(limits.maxCommandBytes) bytes")
                    }
                }
                bulkLength = length
            }
            if skipping > 0 {
                let taken = min(skipping, buffer.count - readIndex)
                readIndex += taken
                scanIndex = readIndex
                skipping -= taken
                guard skipping == 0 else { return false }
                arguments.append([])
                bulkLength = nil
                continue
            }
            let length = bulkLength!
            // The bytes and the CRLF after them (not checked, as Redis does not).
            guard buffer.count - readIndex >= length + 2 else { return false }
            arguments.append(Array(buffer[readIndex..<readIndex + length]))
            readIndex += length + 2
            scanIndex = readIndex
            bulkLength = nil
        }
        expected = 0
        commandBytes = 0
        return true
    }

    /// The next line (without its CR LF / LF), consuming it; nil when its line feed has not arrived. Throws
    /// `tooLong` when more than `maxInlineBytes` wait without one.
    private mutating func nextLine(tooLong: String) throws(RESPProtocolError) -> ArraySlice<UInt8>? {
        var index = max(scanIndex, readIndex)
        while index < buffer.count, buffer[index] != UInt8(ascii: "\n") { index += 1 }
        guard index < buffer.count else {
            scanIndex = index
            if buffer.count - readIndex > limits.maxInlineBytes { throw RESPProtocolError(tooLong) }
            return nil
        }
        if index - readIndex > limits.maxInlineBytes { throw RESPProtocolError(tooLong) }
        var end = index
        if end > readIndex, buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        let line = buffer[readIndex..<end]
        readIndex = index + 1
        scanIndex = readIndex
        return line
    }

    private mutating func readInlineLine() throws(RESPProtocolError) -> ArraySlice<UInt8>? {
        try nextLine(tooLong: "too big inline request")
    }

    /// A decimal integer as Redis's `string2ll` reads it: optional `-`, digits, nothing else; no leading zero
    /// (`0` alone is zero; `01` and `-0` are not integers).
    static func integer(_ bytes: ArraySlice<UInt8>) -> Int? {
        guard !bytes.isEmpty, bytes.count <= 20 else { return nil }
        if bytes.count == 1, bytes.first == UInt8(ascii: "0") { return 0 }
        var value = 0
        var negative = false
        var index = bytes.startIndex
        if bytes[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
            guard index < bytes.endIndex else { return nil }
        }
        guard bytes[index] != UInt8(ascii: "0") else { return nil }
        while index < bytes.endIndex {
            let byte = bytes[index]
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
            index += 1
        }
        return negative ? -value : value
    }

    /// Splits an inline command as Redis's `sdssplitargs` does: words separated by spaces; `"…"` with `\n \r \t
    /// \b \a \\ \" \xHH` escapes; `'…'` with `\'`; a closing quote must be followed by a space or the end.
    static func splitInline(_ line: ArraySlice<UInt8>) throws(RESPProtocolError) -> [[UInt8]] {
        let unbalanced = RESPProtocolError("unbalanced quotes in request")
        var words = [[UInt8]]()
        var index = line.startIndex
        func isSpace(_ byte: UInt8) -> Bool {
            byte == 32 || byte == 9 || byte == 10 || byte == 13 || byte == 11 || byte == 12 || byte == 0
        }
        while true {
            while index < line.endIndex, isSpace(line[index]) { index += 1 }
            guard index < line.endIndex else { return words }
            var word = [UInt8]()
            var inDouble = false
            var inSingle = false
            var done = false
            while !done {
                if inDouble {
                    guard index < line.endIndex else { throw unbalanced }
                    let byte = line[index]
                    if byte == UInt8(ascii: "\\"), index + 3 < line.endIndex, line[index + 1] == UInt8(ascii: "x"),
                        let high = hexValue(line[index + 2]), let low = hexValue(line[index + 3])
                    {
                        word.append(high << 4 | low)
                        index += 3
                    } else if byte == UInt8(ascii: "\\"), index + 1 < line.endIndex {
                        index += 1
                        switch line[index] {
                        case UInt8(ascii: "n"): word.append(10)
                        case UInt8(ascii: "r"): word.append(13)
                        case UInt8(ascii: "t"): word.append(9)
                        case UInt8(ascii: "b"): word.append(8)
                        case UInt8(ascii: "a"): word.append(7)
                        default: word.append(line[index])
                        }
                    } else if byte == UInt8(ascii: "\"") {
                        // The closing quote must be followed by a space or end the line.
                        if index + 1 < line.endIndex, !isSpace(line[index + 1]) { throw unbalanced }
                        done = true
                    } else {
                        word.append(byte)
                    }
                } else if inSingle {
                    guard index < line.endIndex else { throw unbalanced }
                    let byte = line[index]
                    if byte == UInt8(ascii: "\\"), index + 1 < line.endIndex, line[index + 1] == UInt8(ascii: "'") {
                        index += 1
                        word.append(UInt8(ascii: "'"))
                    } else if byte == UInt8(ascii: "'") {
                        if index + 1 < line.endIndex, !isSpace(line[index + 1]) { throw unbalanced }
                        done = true
                    } else {
                        word.append(byte)
                    }
                } else {
                    guard index < line.endIndex else { break }
                    let byte = line[index]
                    switch byte {
                    case _ where isSpace(byte): done = true
                    case UInt8(ascii: "\""): inDouble = true
                    case UInt8(ascii: "'"): inSingle = true
                    default: word.append(byte)
                    }
                }
                if index < line.endIndex { index += 1 }
            }
            words.append(word)
        }
    }

    /// The value of a hexadecimal digit (either case); nil for any other byte.
    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Drops consumed bytes once they outnumber the rest (amortised O(1) per byte).
    private mutating func compact() {
        guard readIndex > 0, readIndex >= buffer.count - readIndex else { return }
        buffer.removeSubrange(0..<readIndex)
        scanIndex -= readIndex
        readIndex = 0
    }
}
