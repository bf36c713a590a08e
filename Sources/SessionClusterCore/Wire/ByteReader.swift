/// Reads wire-format values (see `ByteWriter` for the formats) from a byte array, with a cursor.
///
/// Every read is bounds-checked and throws `WireError` instead of trapping. Lengths and collection counts are
/// checked against the bytes that remain *before* anything is allocated, so a hostile length costs nothing.
/// The reader does not copy its input: it holds an `ArraySlice` of the caller's array.
package struct ByteReader: Sendable {
    private let bytes: ArraySlice<UInt8>
    private var position: Int

    /// A reader at the start of `bytes`.
    package init(_ bytes: [UInt8]) {
        self.init(bytes[...])
    }

    /// A reader at the start of `bytes`; offsets in errors count from `bytes.startIndex`.
    package init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.position = bytes.startIndex
    }

    /// Bytes consumed so far.
    package var offset: Int { position - bytes.startIndex }

    /// Bytes not yet consumed.
    package var remaining: Int { bytes.endIndex - position }

    /// Whether every byte was consumed.
    package var isAtEnd: Bool { position == bytes.endIndex }

    /// An error of `code` at `offset` (default: the current offset).
    package func failure(_ code: WireError.Code, at offset: Int? = nil) -> WireError {
        WireError(code, offset: offset ?? self.offset)
    }

    /// Throws `trailingBytes` unless every byte was consumed. Decoders call it last: a message is exactly its
    /// bytes.
    package func expectEnd() throws(WireError) {
        guard isAtEnd else { throw failure(.trailingBytes(count: remaining)) }
    }

    /// Consumes `count` bytes and returns where they start; throws `truncated` when fewer remain.
    private mutating func advance(by count: Int) throws(WireError) -> Int {
        guard count <= remaining else { throw failure(.truncated(needed: count, remaining: remaining)) }
        let start = position
        position += count
        return start
    }

    /// Reads one byte.
    package mutating func readUInt8() throws(WireError) -> UInt8 {
        bytes[try advance(by: 1)]
    }

    /// Reads 2 bytes, big-endian.
    package mutating func readUInt16() throws(WireError) -> UInt16 {
        let start = try advance(by: 2)
        return UInt16(bytes[start]) << 8 | UInt16(bytes[start + 1])
    }

    /// Reads 4 bytes, big-endian.
    package mutating func readUInt32() throws(WireError) -> UInt32 {
        let start = try advance(by: 4)
        var value: UInt32 = 0
        for index in start..<start + 4 { value = value << 8 | UInt32(bytes[index]) }
        return value
    }

    /// Reads 8 bytes, big-endian.
    package mutating func readUInt64() throws(WireError) -> UInt64 {
        let start = try advance(by: 8)
        var value: UInt64 = 0
        for index in start..<start + 8 { value = value << 8 | UInt64(bytes[index]) }
        return value
    }

    /// Reads an unsigned LEB128 varint. More than 10 bytes, or a 10th byte above 1 (bits beyond 64), throws
    /// `varintOverflow`. Over-long encodings of small values (`0x80 0x00`) are accepted.
    package mutating func readVarint() throws(WireError) -> UInt64 {
        let start = offset
        var value: UInt64 = 0
        for index in 0..<10 {
            let byte = try readUInt8()
            // Nine bytes carry 63 bits; the tenth may only add bit 63 and must end the varint.
            if index == 9 && byte > 1 { throw failure(.varintOverflow, at: start) }
            value |= UInt64(byte & 0x7F) << UInt64(7 * index)
            if byte & 0x80 == 0 { return value }
        }
        throw failure(.varintOverflow, at: start)  // unreachable: the tenth byte either ended or threw
    }

    /// Reads a zig-zag varint (see `ByteWriter.writeSignedVarint`).
    package mutating func readSignedVarint() throws(WireError) -> Int64 {
        let raw = try readVarint()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    /// Reads a varint that must fit in `UInt32`; larger values throw `invalidValue(field:)`.
    package mutating func readVarintUInt32(field: String) throws(WireError) -> UInt32 {
        let start = offset
        let value = try readVarint()
        guard let narrow = UInt32(exactly: value) else {
            throw failure(.invalidValue(field: field, value: "\(value) exceeds UInt32"), at: start)
        }
        return narrow
    }

    /// Reads a bool byte: 0 or 1; anything else throws `invalidValue(field:)`.
    package mutating func readBool(field: String) throws(WireError) -> Bool {
        let start = offset
        switch try readUInt8() {
        case 0: return false
        case 1: return true
        case let other: throw failure(.invalidValue(field: field, value: "\(other) is not 0 or 1"), at: start)
        }
    }

    /// Reads an optional's presence byte: 0 (absent) or 1 (present); anything else throws.
    package mutating func readPresence(field: String) throws(WireError) -> Bool {
        try readBool(field: field)
    }

    /// Consumes `count` bytes and returns them without copying; throws `truncated` when fewer remain.
    package mutating func readRaw(count: Int) throws(WireError) -> ArraySlice<UInt8> {
        let start = try advance(by: count)
        return bytes[start..<start + count]
    }

    /// Reads a varint length and checks it against the remaining bytes, before any allocation.
    package mutating func readLength() throws(WireError) -> Int {
        let start = offset
        let length = try readVarint()
        guard length <= UInt64(remaining) else {
            throw failure(.truncated(needed: Int(clamping: length), remaining: remaining), at: start)
        }
        return Int(length)
    }

    /// Reads a length-prefixed byte string.
    package mutating func readBytes() throws(WireError) -> [UInt8] {
        Array(try readRaw(count: try readLength()))
    }

    /// Reads a length-prefixed UTF-8 string; invalid UTF-8 throws `invalidUTF8(field:)`.
    package mutating func readString(field: String) throws(WireError) -> String {
        let start = offset
        let raw = try readRaw(count: try readLength())
        guard let string = String(validating: raw, as: UTF8.self) else {
            throw failure(.invalidUTF8(field: field), at: start)
        }
        return string
    }

    /// Reads a varint element count, rejecting counts whose elements (each at least `minimumElementSize`
    /// bytes) could not fit in the remaining bytes, and counts above `limit`. So hostile counts never reach an
    /// allocation.
    package mutating func readCount(minimumElementSize: Int, limit: Int = .max) throws(WireError) -> Int {
        let start = offset
        let count = Int(clamping: try readVarint())
        guard count <= limit else { throw failure(.tooLarge(size: count, limit: limit), at: start) }
        let (needed, overflow) = count.multipliedReportingOverflow(by: max(1, minimumElementSize))
        guard !overflow, needed <= remaining else {
            throw failure(.truncated(needed: overflow ? .max : needed, remaining: remaining), at: start)
        }
        return count
    }

    /// Reads an optional: a presence byte (see `readPresence(field:)`), then the value read by `body`.
    package mutating func readOptional<Value>(
        field: String, _ body: (inout ByteReader) throws(WireError) -> Value
    ) throws(WireError) -> Value? {
        guard try readPresence(field: field) else { return nil }
        return try body(&self)
    }
}
