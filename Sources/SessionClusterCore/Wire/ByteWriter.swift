/// Appends wire-format values to a growing byte array.
///
/// The formats: fixed-width integers big-endian; `writeVarint` LEB128 (7 bits per byte, least significant
/// group first, high bit set on every byte but the last, at most 10 bytes); `writeSignedVarint` zig-zag
/// (0, -1, 1, -2 … → 0, 1, 2, 3 …) then LEB128; `writeBytes` and `writeString` a varint length then the
/// bytes (UTF-8 for strings); `writeBool` one byte, 0 or 1.
package struct ByteWriter: Sendable {
    /// The bytes written so far.
    package private(set) var bytes: [UInt8]

    /// An empty writer with room for `capacity` bytes before it reallocates.
    package init(capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Exchanges the bytes written with `other` (no copy): a caller lends its buffer, writes, and takes it back.
    package mutating func swapBytes(with other: inout [UInt8]) {
        swap(&bytes, &other)
    }

    /// The number of bytes written so far.
    package var count: Int { bytes.count }

    /// Ensures room for at least `minimumCapacity` bytes in total without reallocating.
    package mutating func reserveCapacity(_ minimumCapacity: Int) {
        bytes.reserveCapacity(minimumCapacity)
    }

    /// Appends one byte.
    package mutating func writeUInt8(_ value: UInt8) {
        bytes.append(value)
    }

    /// Appends 2 bytes, big-endian.
    package mutating func writeUInt16(_ value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    /// Appends 4 bytes, big-endian.
    package mutating func writeUInt32(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift)))
        }
    }

    /// Appends 8 bytes, big-endian.
    package mutating func writeUInt64(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }

    /// Appends an unsigned LEB128 varint: 1 byte below 128, at most 10 bytes.
    package mutating func writeVarint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(truncatingIfNeeded: rest))
    }

    /// Appends a signed value as a zig-zag varint, so small magnitudes of either sign stay short.
    package mutating func writeSignedVarint(_ value: Int64) {
        writeVarint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    /// Appends a bool as one byte, 0 or 1.
    package mutating func writeBool(_ value: Bool) {
        bytes.append(value ? 1 : 0)
    }

    /// Appends bytes as they are, without a length.
    package mutating func writeRaw(_ raw: some Collection<UInt8>) {
        bytes.append(contentsOf: raw)
    }

    /// Appends a varint length, then the bytes.
    package mutating func writeBytes(_ raw: some Collection<UInt8>) {
        writeVarint(UInt64(raw.count))
        bytes.append(contentsOf: raw)
    }

    /// Appends a varint length in bytes, then the string's UTF-8.
    package mutating func writeString(_ string: String) {
        let utf8 = string.utf8
        writeVarint(UInt64(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    /// Appends an optional as a presence byte (0 absent, 1 present), then the value written by `body`.
    package mutating func writeOptional<Value>(_ value: Value?, _ body: (inout ByteWriter, Value) -> Void) {
        guard let value else {
            writeUInt8(0)
            return
        }
        writeUInt8(1)
        body(&self, value)
    }

    /// Replaces the 4 bytes at `offset` with `value`, big-endian (fills in a length written ahead of its
    /// payload). `offset + 4` MUST NOT exceed `count`.
    mutating func overwriteUInt32(_ value: UInt32, at offset: Int) {
        for index in 0..<4 {
            bytes[offset + index] = UInt8(truncatingIfNeeded: value >> UInt32(24 - 8 * index))
        }
    }
}
