// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "shop",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "../SessionCluster")],
    targets: [
        .executableTarget(name: "shop", dependencies: [.product(name: "SessionCluster", package: "SessionCluster")])
    ]
)
