// swift-tools-version: 6.2
// A Hummingbird 2 app whose hummingbird-auth sessions live in the embedded SessionCluster node (issue 12): proves the
// library fits Hummingbird's `PersistDriver` seam. Built and run by Tests/Integration/24-framework-apps.py and
// Tests/Compatibility/bench.sh; a separate package so that SessionCluster's own Package.swift stays dependency-free.
// (The directory is not named "Hummingbird": a package's identity is its directory's name, and it must not clash
// with the dependency's. Tools 6.2: hummingbird-auth disables hummingbird's default traits.)
import PackageDescription

let package = Package(
    name: "hb-session-app",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.0.0"),
        .package(name: "SessionCluster", path: "../../.."),
    ],
    targets: [
        .executableTarget(
            name: "hb-session-app",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
                .product(name: "SessionCluster", package: "SessionCluster"),
            ]
        )
    ],
    swiftLanguageModes: [.v6]
)
