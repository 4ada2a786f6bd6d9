// swift-tools-version: 6.1
import PackageDescription

// Micro-benchmarks of the hot paths (remote-write and OTLP codecs, transforms), with package-benchmark.
// Its own package so that the benchmark dependency never reaches the agent's build.
// Run from the repository root: `swift package --package-path Benchmarks benchmark`.
let package = Package(
    name: "PetrelBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "petrel", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
    ],
    targets: [
        .executableTarget(
            name: "HotPath",
            dependencies: [
                .product(name: "PetrelKit", package: "petrel"),
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            path: "Benchmarks/HotPath",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark")
            ]
        )
    ]
)
