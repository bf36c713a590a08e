// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "SessionCluster",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "SessionClusterCore", targets: ["SessionClusterCore"]),
        .library(name: "SessionCluster", targets: ["SessionCluster"]),
        .executable(name: "session-node", targets: ["session-node"]),
    ],
    targets: [
        // Pure logic: no sockets, threads, clock reads or unseeded randomness.
        .target(name: "SessionClusterCore"),
        // Linux headers Glibc does not expose (epoll, eventfd, timerfd, accept4).
        .target(name: "CLinuxShims"),
        // The I/O shell and the embeddable API.
        .target(name: "SessionCluster", dependencies: ["SessionClusterCore", "CLinuxShims"]),
        .executableTarget(name: "session-node", dependencies: ["SessionCluster"]),
        // Deterministic, seeded cluster simulator over the core (used by tests; replayable by seed).
        .target(name: "SessionClusterSimulator", dependencies: ["SessionClusterCore"]),
        .testTarget(name: "SessionClusterCoreTests", dependencies: ["SessionClusterCore"]),
        .testTarget(name: "SimulationTests", dependencies: ["SessionClusterSimulator", "SessionClusterCore"]),
    ],
    swiftLanguageModes: [.v6]
)
