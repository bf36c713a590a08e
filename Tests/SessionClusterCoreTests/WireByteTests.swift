import SessionClusterCore
import Testing

@Suite struct WireByteTests {
    @Test func fixedWidthIntegersAreBigEndian() throws {
        var writer = ByteWriter()
        writer.writeUInt8(0xAB)
        writer.writeUInt16(0x0102)
        writer.writeUInt32(0x0304_0506)
        writer.writeUInt64(0x0708_090A_0B0C_0D0E)
        #expect(writer.bytes == [0xAB, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14])
        var reader = ByteReader(writer.bytes)
        #expect(try reader.readUInt8() == 0xAB)
        #expect(try reader.readUInt16() == 0x0102)
        #expect(try reader.readUInt32() == 0x0304_0506)
        #expect(try reader.readUInt64() == 0x0708_090A_0B0C_0D0E)
        #expect(reader.isAtEnd)
    }

    @Test func varintsUseLEB128AndRoundTripEdgeValues() throws {
        var writer = ByteWriter()
        writer.writeVarint(300)
        #expect(writer.bytes == [0xAC, 0x02])
        let values: [UInt64] = [0, 1, 127, 128, 16_383, 16_384, UInt64(UInt32.max), 1 << 63 - 1, 1 << 63, .max]
        var all = ByteWriter()
        for value in values { all.writeVarint(value) }
        var reader = ByteReader(all.bytes)
        for value in values { #expect(try reader.readVarint() == value) }
        #expect(reader.isAtEnd)
        var max = ByteWriter()
        max.writeVarint(.max)
        #expect(max.bytes == Array(repeating: 0xFF, count: 9) + [0x01])
    }

    @Test func signedVarintsZigZagSoSmallNegativesStayShort() throws {
        var writer = ByteWriter()
        writer.writeSignedVarint(-1)
        writer.writeSignedVarint(1)
        #expect(writer.bytes == [0x01, 0x02])
        let values: [Int64] = [0, -1, 1, -64, 64, .min, .max, -1_700_000_000_000, 1_700_000_000_000]
        var all = ByteWriter()
        for value in values { all.writeSignedVarint(value) }
        var reader = ByteReader(all.bytes)
        for value in values { #expect(try reader.readSignedVarint() == value) }
    }

    @Test func varintOfElevenBytesIsAnOverflow() {
        var reader = ByteReader(Array(repeating: 0x80, count: 10) + [0x00])
        #expect(wireError { try reader.readVarint() } == WireError(.varintOverflow, offset: 0))
    }

    @Test func varintBeyondUInt64IsAnOverflow() {
        var reader = ByteReader(Array(repeating: 0xFF, count: 9) + [0x02])
        #expect(wireError { try reader.readVarint() }?.code == .varintOverflow)
    }

    @Test func overlongVarintOfSmallValueIsAccepted() throws {
        var reader = ByteReader([0x80, 0x80, 0x00])
        #expect(try reader.readVarint() == 0)
    }

    @Test func truncatedReadsThrowAndReportWhatWasNeeded() {
        var reader = ByteReader([1, 2, 3])
        #expect(wireError { try reader.readUInt64() } == WireError(.truncated(needed: 8, remaining: 3), offset: 0))
        var varint = ByteReader([0x80, 0x80])
        #expect(wireError { try varint.readVarint() }?.code.isTruncated == true)
        var empty = ByteReader([])
        #expect(wireError { try empty.readUInt8() }?.code == .truncated(needed: 1, remaining: 0))
    }

    @Test func lengthBeyondRemainingBytesIsRejectedBeforeReading() {
        var writer = ByteWriter()
        writer.writeVarint(1 << 62)
        writer.writeRaw([1, 2, 3])
        var reader = ByteReader(writer.bytes)
        #expect(wireError { try reader.readBytes() }?.code == .truncated(needed: 1 << 62, remaining: 3))
        var maxLength = ByteReader(Array(repeating: 0xFF, count: 9) + [0x01])
        #expect(wireError { try maxLength.readString(field: "s") }?.code == .truncated(needed: .max, remaining: 0))
    }

    @Test func countsMustFitTheRemainingBytesAndTheLimit() throws {
        var writer = ByteWriter()
        writer.writeVarint(4)
        writer.writeRaw([0, 0, 0, 0, 0, 0, 0, 0])
        var fits = ByteReader(writer.bytes)
        #expect(try fits.readCount(minimumElementSize: 2) == 4)
        var tooMany = ByteReader(writer.bytes)
        #expect(
            wireError { try tooMany.readCount(minimumElementSize: 3) }?.code == .truncated(needed: 12, remaining: 8))
        var overLimit = ByteReader(writer.bytes)
        #expect(
            wireError { try overLimit.readCount(minimumElementSize: 1, limit: 3) }?.code == .tooLarge(size: 4, limit: 3)
        )
        var huge = ByteWriter()
        huge.writeVarint(.max)
        var overflowing = ByteReader(huge.bytes)
        #expect(wireError { try overflowing.readCount(minimumElementSize: 16) }?.code.isTruncated == true)
    }

    @Test func stringsRoundTripAndInvalidUTF8IsRejected() throws {
        var writer = ByteWriter()
        writer.writeString("héllo, 世界 🌍")
        writer.writeString("")
        var reader = ByteReader(writer.bytes)
        #expect(try reader.readString(field: "greeting") == "héllo, 世界 🌍")
        #expect(try reader.readString(field: "empty") == "")
        for invalid: [UInt8] in [[0xFF], [0xC3], [0xED, 0xA0, 0x80], [0xC0, 0xAF], [0x61, 0x80]] {
            var bad = ByteWriter()
            bad.writeBytes(invalid)
            var badReader = ByteReader(bad.bytes)
            #expect(
                wireError { try badReader.readString(field: "name") }
                    == WireError(.invalidUTF8(field: "name"), offset: 0))
        }
    }

    @Test func boolsAndPresenceBytesAcceptOnlyZeroAndOne() throws {
        var reader = ByteReader([0, 1, 2])
        #expect(try reader.readBool(field: "flag") == false)
        #expect(try reader.readBool(field: "flag") == true)
        #expect(wireError { try reader.readPresence(field: "opt") }?.code.isInvalidValue(field: "opt") == true)
    }

    @Test func optionalsWriteAPresenceByteThenTheValue() throws {
        var writer = ByteWriter()
        writer.writeOptional(UInt64?.none) { $0.writeVarint($1) }
        writer.writeOptional(UInt64?.some(5)) { $0.writeVarint($1) }
        #expect(writer.bytes == [0, 1, 5])
        var reader = ByteReader(writer.bytes)
        #expect(try reader.readOptional(field: "x") { r throws(WireError) in try r.readVarint() } == nil)
        #expect(try reader.readOptional(field: "x") { r throws(WireError) in try r.readVarint() } == 5)
    }

    @Test func readerOverASliceReportsOffsetsFromTheSliceStart() throws {
        let bytes: [UInt8] = [9, 9, 9, 1, 2]
        var reader = ByteReader(bytes[3...])
        #expect(try reader.readUInt8() == 1)
        #expect(reader.offset == 1)
        #expect(wireError { try reader.expectEnd() } == WireError(.trailingBytes(count: 1), offset: 1))
    }
}
