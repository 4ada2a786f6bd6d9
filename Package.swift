// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "petrel",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "petrel", targets: ["petrel"]),
        // For the benchmark package in Benchmarks/, which measures the codecs and transforms directly.
        .library(
            name: "PetrelKit",
            targets: ["PetrelCore", "PetrelCodecs", "PetrelSources", "PetrelTransforms", "PetrelSinks", "PetrelConfig"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        .systemLibrary(name: "CSnappy", pkgConfig: "snappy", providers: [.apt(["libsnappy-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(
            name: "PetrelCore",
            dependencies: [.product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "PetrelCodecs",
            dependencies: ["PetrelCore", "CSnappy", "CZlib"]
        ),
        .target(
            name: "PetrelSources",
            dependencies: [
                "PetrelCore", "PetrelCodecs",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .target(
            name: "PetrelTransforms",
            dependencies: ["PetrelCore", "PetrelCodecs"]
        ),
        .target(
            name: "PetrelSinks",
            dependencies: [
                "PetrelCore", "PetrelCodecs",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .target(
            name: "PetrelConfig",
            dependencies: [
                "PetrelCore", "PetrelSources", "PetrelTransforms", "PetrelSinks",
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .target(
            name: "PetrelTopology",
            dependencies: [
                "PetrelCore", "PetrelConfig",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "petrel",
            dependencies: [
                "PetrelCore", "PetrelConfig", "PetrelTopology",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "PetrelCoreTests", dependencies: ["PetrelCore"]),
        .testTarget(name: "PetrelCodecsTests", dependencies: ["PetrelCodecs"]),
        .testTarget(
            name: "PetrelComponentTests",
            dependencies: ["PetrelSources", "PetrelTransforms", "PetrelSinks", "PetrelTestSupport"]
        ),
        .testTarget(name: "PetrelConfigTests", dependencies: ["PetrelConfig"]),
        .target(name: "PetrelTestSupport", path: "Tests/PetrelTestSupport"),
        .testTarget(
            name: "PetrelTopologyTests",
            dependencies: [
                "PetrelTopology", "PetrelConfig", "PetrelTestSupport",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["PetrelTopology", "PetrelConfig", "PetrelCodecs", "PetrelSinks", "PetrelTestSupport"]
        ),
    ]
)
