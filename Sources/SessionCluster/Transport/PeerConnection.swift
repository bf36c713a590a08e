import SessionClusterCore

/// A replication link: a `TCPStream` carrying length-prefixed, versioned frames (`FrameDecoder`).
final class PeerConnection {
    let stream: TCPStream
    /// The peer's id: known from the start for outgoing links, from its hello for incoming ones.
    var peer: NodeID?
    var onFrame: (PeerFrame) -> Void = { _ in }
    /// Called once when the link ends; `malformed` carries the decoding error of a garbled stream.
    var onClose: (StreamCloseReason, WireError?) -> Void = { _, _ in }
    private var decoder: FrameDecoder
    private var malformed: WireError?

    init(_ stream: TCPStream, maxFrameBytes: Int) {
        self.stream = stream
        self.decoder = FrameDecoder(maxFrameBytes: maxFrameBytes)
        stream.onBytes = { [unowned self] bytes in received(bytes) }
        stream.onClose = { [unowned self] reason in onClose(reason, malformed) }
    }

    var isClosed: Bool { stream.state == .closed }
    var queuedBytes: Int { stream.queuedBytes }

    /// Queues one encoded frame; false when the link is closed or overflowed.
    @discardableResult
    func enqueue(_ frame: [UInt8]) -> Bool { stream.write(frame) }

    func close() { stream.close(.local) }

    private func received(_ bytes: ArraySlice<UInt8>) {
        decoder.append(bytes)
        do throws(WireError) {
            while stream.state == .open, let frame = try decoder.next() { onFrame(frame) }
        } catch {
            // The stream cannot resynchronise after a bad frame: drop the link (counted by the owner).
            malformed = error
            stream.close(.local)
        }
    }
}
