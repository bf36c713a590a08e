import Foundation
import SessionClusterCore
import Synchronization
import Testing

@testable import SessionCluster

/// Frames on a replication link: those queued in one loop iteration share one sealed envelope.
@Suite struct PeerConnectionTests {
    static let keyring = try! Keyring(secret: "peer connection test secret, 32 bytes or more")

    /// Two ends of a link on one loop; `bytes` counts what reaches the receiving socket.
    final class Link: @unchecked Sendable {
        let pair = try! TCPStreamTests.Pair()
        var sender: PeerConnection!
        var receiver: PeerConnection!
        let frames = Mutex<[PeerFrame]>([])
        let bytes = Mutex(0)
        let closed = Mutex<Bool?>(nil)

        func open() async throws {
            try await pair.connect()
            try await pair.onLoop { [self] in
                sender = PeerConnection(
                    pair.client, cipher: ClusterCipher(cluster: "c", me: NodeID(rawValue: 1), keyring: keyring),
                    maxFrameBytes: 1 << 20)
                receiver = PeerConnection(
                    pair.server, cipher: ClusterCipher(cluster: "c", me: NodeID(rawValue: 2), keyring: keyring),
                    maxFrameBytes: 1 << 20)
                receiver.onFrame = { [self] frame, _ in frames.withLock { $0.append(frame) } }
                receiver.onClose = { [self] _, malformed in closed.withLock { $0 = malformed } }
                let read = pair.server.onBytes
                pair.server.onBytes = { [self] chunk in
                    bytes.withLock { $0 += chunk.count }
                    read(chunk)
                }
            }
        }

        func await(frames count: Int) async throws {
            for _ in 0..<400 where frames.withLock({ $0.count }) < count && closed.withLock({ $0 }) == nil {
                try await Task.sleep(for: .milliseconds(5))
            }
        }

        func stop() async throws {
            try await pair.onLoop { [self] in
                sender.close()
                receiver.close()
            }
            await pair.loop.stop()
        }
    }

    @Test func framesOfOneIterationShareOneEnvelopeInOrder() async throws {
        let link = Link()
        try await link.open()
        try await link.pair.onLoop {
            for index in 0..<100 { #expect(link.sender.enqueue(WireCodec.frame(.clock(UInt64(index))))) }
        }
        try await link.await(frames: 100)
        #expect(link.frames.withLock { $0 } == (0..<100).map { PeerFrame.clock(UInt64($0)) })
        // One length prefix, one envelope header and tag around the 100 frames of 16 bytes.
        #expect(link.bytes.withLock { $0 } == 4 + ClusterCipher.overhead + 100 * 16)
        try await link.stop()
    }

    @Test func aBatchEndsBeforeItPassesTheBoundAndALargeFrameGoesAlone() async throws {
        let link = Link()
        try await link.open()
        let big = WireCodec.frame(.hello(PeerHello(cluster: String(repeating: "x", count: 100_000), member: MemberInfo(
            id: NodeID(rawValue: 1), name: "n1", replication: "", http: ""))))
        var expected: [PeerFrame] = (0..<5000).map { .clock(UInt64($0)) }
        expected.insert(try WireCodec.decodeFrame(big), at: 4000)
        try await link.pair.onLoop {
            for index in 0..<5000 {
                if index == 4000 { #expect(link.sender.enqueue(big)) }
                #expect(link.sender.enqueue(WireCodec.frame(.clock(UInt64(index)))))
            }
        }
        try await link.await(frames: 5001)
        #expect(link.frames.withLock { $0 } == expected)
        // 64 KiB batches: 4,000 clocks (64,000 B) → one envelope, then the large frame alone, then 1,000 clocks.
        #expect(link.bytes.withLock { $0 } == 3 * (4 + ClusterCipher.overhead) + 5000 * 16 + big.count)
        try await link.stop()
    }

    @Test func anEnvelopeEndingInAPartialFrameEndsTheLink() async throws {
        let link = Link()
        try await link.open()
        try await link.pair.onLoop {
            #expect(link.sender.enqueueAlone(WireCodec.frame(.clock(1)) + Array(WireCodec.frame(.clock(2)).prefix(9))))
        }
        try await link.await(frames: 2)
        #expect(link.closed.withLock { $0 } == true, "closed as malformed")
        #expect(link.frames.withLock { $0 } == [.clock(1)], "the whole frame before it was delivered")
        try await link.stop()
    }
}
