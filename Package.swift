// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "SessionCluster",
    platforms: [.macOS(.v15)],
    products: [
        // The embeddable node: `ClusterNode`, its settings, the cluster file, the cookie seam (`SessionCookies`).
        .library(name: "SessionCluster", targets: ["SessionCluster"]),
        // The front ends of `session-node`, for servers that want them as they are.
        .library(name: "HTTPFrontEnd", targets: ["HTTPFrontEnd"]),
        .library(name: "RESPFrontEnd", targets: ["RESPFrontEnd"]),
        .executable(name: "session-node", targets: ["session-node"]),
        .executable(name: "session-bench", targets: ["session-bench"]),
    ],
    targets: [
        // Pure logic: no sockets, threads, clock reads or unseeded randomness.
        .target(name: "SessionClusterCore"),
        // Linux headers Glibc does not expose (epoll, eventfd, timerfd, accept4).
        .target(name: "CLinuxShims"),
        // The system's libcrypto (AES-256-GCM, HKDF): `apt-get install libssl-dev`.
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // The I/O shell and the embeddable API.
        .target(name: "SessionCluster", dependencies: ["SessionClusterCore", "CLinuxShims", "CCrypto"]),
        // HTTP/1.1 front end of `session-node`, built on the public `ClusterNode` API (the embedding example).
        .target(name: "HTTPFrontEnd", dependencies: ["SessionCluster"]),
        // RESP2/RESP3 front end: the Redis protocol over the same sessions (issue 11).
        .target(name: "RESPFrontEnd", dependencies: ["SessionCluster"]),
        .executableTarget(
            name: "session-node", dependencies: ["SessionCluster", "HTTPFrontEnd", "RESPFrontEnd", "CLinuxShims"]),
        .executableTarget(
            name: "session-bench",
            dependencies: ["SessionCluster", "HTTPFrontEnd", "SessionClusterSimulator", "CLinuxShims"]),
        // Deterministic, seeded cluster simulator over the core (used by tests; replayable by seed).
        .target(name: "SessionClusterSimulator", dependencies: ["SessionClusterCore"]),
        // What the test targets share: running long synchronous work off Swift's cooperative pool.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "SessionClusterCoreTests", dependencies: ["SessionClusterCore", "TestSupport"]),
        .testTarget(name: "SessionClusterTests", dependencies: ["SessionCluster", "TestSupport"]),
        .testTarget(name: "HTTPFrontEndTests", dependencies: ["HTTPFrontEnd", "TestSupport"]),
        .testTarget(name: "RESPFrontEndTests", dependencies: ["RESPFrontEnd", "HTTPFrontEnd", "TestSupport"]),
        // Starts the real `session-node` executable (built because this target depends on it).
        .testTarget(name: "SessionNodeTests", dependencies: ["session-node", "SessionCluster", "TestSupport"]),
        .testTarget(
            name: "SimulationTests", dependencies: ["SessionClusterSimulator", "SessionClusterCore", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
