/// Why wire decoding failed, and where: the code names the failure and its value, `offset` the byte at which
/// it was detected (from the start of the message, frame or stream being decoded).
///
/// Decoding never traps on input: every malformed, truncated or oversized input ends in one of these.
package struct WireError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, with the offending value.
    package enum Code: Hashable, Sendable {
        /// The input ended before a value was complete: `needed` bytes were required, `remaining` were left.
        case truncated(needed: Int, remaining: Int)
        /// A varint ran past 10 bytes or past the range of `UInt64`.
        case varintOverflow
        /// A frame did not start with "SC"; `found` holds the bytes in the magic position.
        case badMagic(found: [UInt8])
        /// A frame of a wire version this build does not speak.
        case unsupportedVersion(UInt8)
        /// A frame kind byte that names no known kind.
        case unknownFrameKind(UInt8)
        /// A replication message type byte that names no known message.
        case unknownMessageType(UInt8)
        /// A field held a value outside its domain (an enum raw value, a presence byte, an unsorted vector…).
        case invalidValue(field: String, value: String)
        /// A string field was not valid UTF-8.
        case invalidUTF8(field: String)
        /// A declared size exceeds the accepted limit.
        case tooLarge(size: Int, limit: Int)
        /// A message or frame decoded completely with `count` bytes left over.
        case trailingBytes(count: Int)
    }

    /// What went wrong.
    package var code: Code
    /// The byte offset at which the failure was detected.
    package var offset: Int

    /// An error of `code` detected at byte `offset`.
    package init(_ code: Code, offset: Int) {
        self.code = code
        self.offset = offset
    }

    /// "wire decoding failed at byte <offset>: <what, with the value>".
    package var description: String {
        "wire decoding failed at byte \(offset): \(reason)"
    }

    private var reason: String {
        switch code {
        case .truncated(let needed, let remaining):
            "truncated: needed \(needed) byte\(needed == 1 ? "" : "s"), \(remaining) remain"
        case .varintOverflow:
            "varint longer than 10 bytes or larger than UInt64.max"
        case .badMagic(let found):
            "bad magic \(found.map { "0x" + hex(UInt64($0), width: 2) }.joined(separator: " ")), expected 0x53 0x43"
        case .unsupportedVersion(let version):
            "unsupported wire version \(version), this build speaks \(Frame.currentVersion)"
        case .unknownFrameKind(let kind):
            "unknown frame kind \(kind)"
        case .unknownMessageType(let type):
            "unknown replication message type \(type)"
        case .invalidValue(let field, let value):
            "invalid value for \(field): \(value)"
        case .invalidUTF8(let field):
            "\(field) is not valid UTF-8"
        case .tooLarge(let size, let limit):
            "declared size \(size) exceeds the limit of \(limit)"
        case .trailingBytes(let count):
            "\(count) trailing byte\(count == 1 ? "" : "s") after a complete value"
        }
    }
}
