/// One RESP2 reply.
indirect enum RESPValue: Equatable {
    case simple(String)
    case error(String)
    case integer(Int64)
    case bulk([UInt8]?)
    case array([RESPValue]?)
}

struct RESPError: Error, CustomStringConvertible {
    var description: String
}

/// A small blocking Redis client (RESP2): one command, one reply, one round trip — the way Spring Session's
/// `RedisSessionRepository` talks to Redis without pipelining. One client per thread.
final class RESPClient {
    private let socket: ClientSocket
    private var buffer: [UInt8] = []
    private var request: [UInt8] = []

    init(host: String, port: UInt16) throws {
        socket = try ClientSocket(host: host, port: port)
        buffer.reserveCapacity(65_536)
    }

    /// Sends one command and returns its reply (a Redis error reply is thrown).
    @discardableResult
    func call(_ arguments: [[UInt8]]) throws -> RESPValue {
        try send(arguments)
        return try readReply()
    }

    /// Sends a command without waiting (pipelining, used only to seed data quickly).
    func send(_ arguments: [[UInt8]]) throws {
        request.removeAll(keepingCapacity: true)
        encode(arguments, into: &request)
        try socket.send(request)
    }

    /// Sends several commands in one write and reads their replies (seeding only).
    func pipeline(_ commands: [[[UInt8]]]) throws {
        request.removeAll(keepingCapacity: true)
        for command in commands { encode(command, into: &request) }
        try socket.send(request)
        for _ in commands { _ = try readReply() }
    }

    func readReply() throws -> RESPValue {
        while true {
            var index = 0
            if let value = try parse(&index) {
                buffer.removeSubrange(0..<index)
                if case .error(let message) = value { throw RESPError(description: "redis: \(message)") }
                return value
            }
            if try socket.receive(into: &buffer) == 0 { throw RESPError(description: "redis closed the connection") }
        }
    }

    func close() { socket.close() }

    private func encode(_ arguments: [[UInt8]], into out: inout [UInt8]) {
        out.append(0x2A)
        out.append(contentsOf: String(arguments.count).utf8)
        out.append(contentsOf: [0x0D, 0x0A])
        for argument in arguments {
            out.append(0x24)
            out.append(contentsOf: String(argument.count).utf8)
            out.append(contentsOf: [0x0D, 0x0A])
            out.append(contentsOf: argument)
            out.append(contentsOf: [0x0D, 0x0A])
        }
    }

    /// Parses one reply at `index`; nil when the buffer does not hold all of it yet.
    private func parse(_ index: inout Int) throws -> RESPValue? {
        guard index < buffer.count else { return nil }
        let kind = buffer[index]
        guard let lineEnd = lineEnd(from: index + 1) else { return nil }
        let line = buffer[(index + 1)..<lineEnd]
        var next = lineEnd + 2
        switch kind {
        case 0x2B:  // +
            index = next
            return .simple(String(decoding: line, as: UTF8.self))
        case 0x2D:  // -
            index = next
            return .error(String(decoding: line, as: UTF8.self))
        case 0x3A:  // :
            index = next
            return .integer(integer(line))
        case 0x24:  // $
            let length = integer(line)
            if length < 0 {
                index = next
                return .bulk(nil)
            }
            guard buffer.count >= next + Int(length) + 2 else { return nil }
            let value = Array(buffer[next..<(next + Int(length))])
            index = next + Int(length) + 2
            return .bulk(value)
        case 0x2A:  // *
            let count = integer(line)
            if count < 0 {
                index = next
                return .array(nil)
            }
            var elements = [RESPValue]()
            elements.reserveCapacity(Int(count))
            for _ in 0..<count {
                guard let element = try parse(&next) else { return nil }
                elements.append(element)
            }
            index = next
            return .array(elements)
        default:
            throw RESPError(description: "unexpected RESP type byte \(kind)")
        }
    }

    private func lineEnd(from start: Int) -> Int? {
        var index = start
        while index + 1 < buffer.count {
            if buffer[index] == 0x0D && buffer[index + 1] == 0x0A { return index }
            index += 1
        }
        return nil
    }

    private func integer(_ digits: ArraySlice<UInt8>) -> Int64 {
        var value: Int64 = 0
        var negative = false
        for byte in digits {
            if byte == 0x2D {
                negative = true
            } else {
                value = value * 10 + Int64(byte - 0x30)
            }
        }
        return negative ? -value : value
    }
}
