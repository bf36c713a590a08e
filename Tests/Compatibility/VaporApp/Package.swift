// swift-tools-version: 6.2
// A Vapor 4 app whose sessions live in the embedded SessionCluster node (issue 12): proves the library fits Vapor's
// `AsyncSessionDriver` seam. Built and run by Tests/Integration/24-framework-apps.py; a separate package so that
// SessionCluster's own Package.swift stays dependency-free. (The directory is not named "Vapor": a package's
// identity is its directory's name, and it must not clash with the dependency's.)
import PackageDescription

let package = Package(
    name: "vapor-session-app",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/vapor/vapor.git", from: "4.0.0"),
        .package(name: "SessionCluster", path: "../../.."),
    ],
    targets: [
        .executableTarget(
            name: "vapor-session-app",
            dependencies: [
                .product(name: "Vapor", package: "vapor"),
                .product(name: "SessionCluster", package: "SessionCluster"),
            ]
        )
    ],
    swiftLanguageModes: [.v6]
)
