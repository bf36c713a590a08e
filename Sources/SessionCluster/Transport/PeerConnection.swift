import SessionClusterCore

/// A replication link: a `TCPStream` carrying sealed envelopes (`ClusterCipher`, stream channel), each
/// `u32 length ‖ envelope`, whose plaintext is one or more whole versioned frames (`WireCodec.frame`) back to back.
///
/// The frames queued during one loop iteration are sealed together at its end (up to `batchBytes`): one AES-GCM
/// operation, one header and one tag per batch, not per frame. The hello is sealed alone (`enqueueAlone`): the
/// accepting node may hand the descriptor to another loop right after it.
///
/// Every envelope is authenticated before its frames are parsed; one that fails ends the link (a stream cannot
/// resynchronise) and is counted by the cipher.
final class PeerConnection: IterationEndTask {
    let stream: TCPStream
    /// The peer's id: known from the start for outgoing links, from its authenticated hello for incoming ones.
    var peer: NodeID?
    /// A frame and the authenticated sender of its envelope.
    var onFrame: (PeerFrame, NodeID) -> Void = { _, _ in }
    /// Called once when the link ends; `malformed` says the peer sent something that is not an authentic frame.
    var onClose: (StreamCloseReason, _ malformed: Bool) -> Void = { _, _ in }
    /// Lag sampling: when this (outgoing) link last stamped a frame (monotonic ms), and the stamp an incoming
    /// link received for the frame that follows it.
    var lastClockMillis: Int64?
    /// Order of acceptance of an incoming link (the oldest anonymous one makes room at the cap).
    var sequence = 0
    var pendingClock: UInt64?
    private let cipher: ClusterCipher
    private let maxFrameBytes: Int
    private var buffer: [UInt8] = []
    private var consumed = 0
    private var malformed = false
    /// Frames queued this iteration, not sealed yet.
    private var unsealed: [UInt8] = []
    private var sealScheduled = false
    /// At most this many bytes of frames share an envelope (a larger frame goes alone); below the smallest
    /// `maxFrameBytes` a node accepts, so any peer takes a batch.
    static let batchBytes = 64 << 10

    init(_ stream: TCPStream, cipher: ClusterCipher, maxFrameBytes: Int) {
        self.stream = stream
        self.cipher = cipher
        self.maxFrameBytes = maxFrameBytes
        stream.onBytes = { [unowned self] bytes in received(bytes) }
        stream.onClose = { [unowned self] reason in onClose(reason, malformed) }
    }

    var isClosed: Bool { stream.state == .closed }
    var queuedBytes: Int { stream.queuedBytes }

    /// Queues one encoded frame, sealed with the others of this iteration at its end; false when the link is
    /// closed or overflowed.
    @discardableResult
    func enqueue(_ frame: [UInt8]) -> Bool {
        guard !isClosed else { return false }
        if !unsealed.isEmpty, unsealed.count + frame.count > Self.batchBytes, !sealUnsealed() { return false }
        unsealed += frame
        if !sealScheduled {
            sealScheduled = true
            stream.loop.afterIteration(self)
            // The link's bytes leave in the order they would have without batching: a delta queued before a
            // request's answer is sent before it (a client that reads on another node next finds it there sooner).
            stream.scheduleFlush()
        }
        return true
    }

    /// Seals `frame` in an envelope of its own and queues it now, after anything queued before it.
    @discardableResult
    func enqueueAlone(_ frame: [UInt8]) -> Bool {
        sealUnsealed() && write(frame)
    }

    /// The batch `enqueue` queued for the end of the iteration, sealed (`IterationEndTask`).
    func iterationEnded() {
        sealScheduled = false
        sealUnsealed()
    }

    /// Seals the frames queued so far into one envelope and hands it to the stream.
    @discardableResult
    private func sealUnsealed() -> Bool {
        guard !unsealed.isEmpty else { return !isClosed }
        defer { unsealed.removeAll(keepingCapacity: unsealed.count <= Self.batchBytes) }
        return write(unsealed)
    }

    private func write(_ plaintext: [UInt8]) -> Bool {
        guard !isClosed else { return false }
        let envelope = cipher.seal(plaintext, channel: .stream)
        guard !envelope.isEmpty else { return false }
        let length = UInt32(envelope.count)
        return stream.write(
            [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
                + envelope)
    }

    func close() { stream.close(.local) }

    /// Lets go of the link's descriptor (from within `onFrame`, after the hello) with the bytes received after
    /// that frame, for another loop to carry on with (`continue(with:)`). Nil when the stream cannot be detached.
    func detach() -> (fd: Int32, pending: [UInt8])? {
        guard unsealed.isEmpty else { return nil }
        let pending = Array(buffer[consumed...])
        guard let fd = stream.detach() else { return nil }
        buffer = []
        consumed = 0
        return (fd, pending)
    }

    /// Takes the bytes another loop had received on this link after its hello (`detach()`).
    func `continue`(with pending: [UInt8]) {
        guard !pending.isEmpty else { return }
        received(pending[...])
    }

    private func received(_ bytes: ArraySlice<UInt8>) {
        buffer += bytes
        while stream.state == .open, buffer.count - consumed >= 4 {
            let length =
                Int(buffer[consumed]) << 24 | Int(buffer[consumed + 1]) << 16 | Int(buffer[consumed + 2]) << 8
                | Int(buffer[consumed + 3])
            guard length >= ClusterCipher.overhead,
                length <= max(maxFrameBytes, Self.batchBytes) + ClusterCipher.overhead + 64
            else {
                return fail()
            }
            guard buffer.count - consumed >= 4 + length else { break }
            let envelope = buffer[(consumed + 4)..<(consumed + 4 + length)]
            consumed += 4 + length
            guard let (sender, plaintext) = cipher.open(envelope, channel: .stream) else { return fail() }
            // The frames of the envelope, each whole; a link closed or handed on by one of them reads no further.
            var offset = 0
            repeat {
                let rest = plaintext[offset...]
                guard let size = try? WireCodec.frameSize(rest, limit: maxFrameBytes), rest.count >= size else {
                    return fail()
                }
                let end = offset + size
                guard let frame = try? WireCodec.decodeFrame(plaintext[offset..<end], limit: maxFrameBytes) else {
                    return fail()
                }
                offset = end
                onFrame(frame, sender)
            } while offset < plaintext.count && stream.state == .open
        }
        if consumed > 0 && consumed * 2 >= buffer.count {
            buffer.removeFirst(consumed)
            consumed = 0
        }
    }

    private func fail() {
        malformed = true
        buffer = []
        consumed = 0
        stream.close(.local)
    }
}
