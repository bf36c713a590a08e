/// Cuts a TCP byte stream into frames: append bytes as they arrive, then call `next()` until it returns nil.
///
/// The header is validated as soon as its bytes arrive, and a payload longer than `maxFrameBytes` is rejected
/// from the header, before it is buffered. After `next()` throws, the stream is out of sync for good: the
/// decoder keeps throwing the same error (with `offset` counted from the start of the stream) and ignores
/// further input, and the owner MUST close the link.
package struct FrameDecoder: Sendable {
    /// The largest accepted payload, in bytes.
    package let maxFrameBytes: Int

    /// Received bytes; those before `readIndex` are consumed and dropped at the next compaction.
    private var buffer: [UInt8] = []
    private var readIndex = 0
    /// Stream offset of `buffer[0]`, so errors point into the stream rather than into the buffer.
    private var bufferStreamOffset = 0
    private var failure: WireError?

    /// A decoder accepting payloads of up to `maxFrameBytes` bytes (default 16 MiB).
    package init(maxFrameBytes: Int = Frame.defaultMaxPayloadBytes) {
        self.maxFrameBytes = maxFrameBytes
    }

    /// Bytes received but not yet returned as frames.
    package var bufferedByteCount: Int { buffer.count - readIndex }

    /// Whether the decoder failed; it then only rethrows its error.
    package var hasFailed: Bool { failure != nil }

    /// Adds received bytes. Ignored after a failure.
    package mutating func append(_ bytes: some Sequence<UInt8>) {
        guard failure == nil else { return }
        compactIfWorthwhile()
        buffer.append(contentsOf: bytes)
    }

    /// The next complete frame, or nil when more bytes are needed. Throws on malformed input, and from then on.
    package mutating func next() throws(WireError) -> PeerFrame? {
        if let failure { throw failure }
        do throws(WireError) {
            let pending = buffer[readIndex...]
            guard let header = try Frame.parseHeader(pending, limit: maxFrameBytes) else { return nil }
            let frameEnd = readIndex + Frame.headerSize + header.payloadLength
            guard frameEnd <= buffer.count else { return nil }
            let frame = try WireCodec.decodeFrame(buffer[readIndex..<frameEnd], limit: maxFrameBytes)
            readIndex = frameEnd
            return frame
        } catch {
            var located = error
            located.offset += bufferStreamOffset + readIndex
            failure = located
            buffer = []
            readIndex = 0
            throw located
        }
    }

    /// Drops the consumed prefix once it is at least half the buffer, so each byte is moved O(1) times on
    /// average rather than on every frame.
    private mutating func compactIfWorthwhile() {
        guard readIndex > 0, readIndex * 2 >= buffer.count else { return }
        bufferStreamOffset += readIndex
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: true)
        } else {
            buffer.removeSubrange(0..<readIndex)
        }
        readIndex = 0
    }
}
