// swift-tools-version: 6.1
import PackageDescription

// Petrel's HTTP layer (PetrelNet: NIOHTTP1 server pieces, a hand-written connection pool) against Hummingbird 2 and
// AsyncHTTPClient, in CPU-seconds per remote-write request. Its own package so that neither library reaches the
// agent's build. Run from the repository root: `Benchmarks/HTTPLayers/run.py` (see README.md).
let package = Package(
    name: "HTTPLayers",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "petrel", path: "../.."),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "http-layers",
            dependencies: [
                .product(name: "PetrelKit", package: "petrel"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/HTTPLayers"
        )
    ]
)
