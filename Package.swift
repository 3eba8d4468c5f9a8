// swift-tools-version: 6.2
import PackageDescription

/// One settings array for every Swift target (hummingbird's convention).
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "roar",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "roar", targets: ["roar"]),
        .library(name: "RoarCore", targets: ["RoarCore"]),
        // The node agent of host-submit: built with --static-swift-stdlib by scripts/build.
        .executable(name: "roar-agent", targets: ["roar-agent"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // BLAKE3 in C: the same sources are compiled into libroar_preload.so by scripts/build.
        // Optimised even in debug builds: roar hashes every input it records, and -O0 C hashes 40x slower.
        .target(
            name: "CBLAKE3",
            cSettings: [.define("_GNU_SOURCE"), .unsafeFlags(["-O2"])]
        ),
        .target(
            name: "RoarHash",
            dependencies: [
                "CBLAKE3",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "RoarCore",
            dependencies: ["CBLAKE3"],
            swiftSettings: swiftSettings
        ),
        // The graph's exchange formats: roar.dag/1 JSON, Graphviz, Mermaid (OpenLineage and PROV later).
        .target(
            name: "RoarExport",
            dependencies: ["RoarCore"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "RoarStore",
            dependencies: [
                "RoarCore",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "RoarConfig",
            dependencies: [
                "RoarCore",
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            swiftSettings: swiftSettings
        ),
        // Local tracing: launching a command under the preload library and recording its spool.
        .target(
            name: "RoarCapture",
            dependencies: ["RoarCore", "RoarStore", "RoarReconstitute"],
            swiftSettings: swiftSettings
        ),
        // `roar run ray job submit …`: parse, rewrite (runtime_env merge), submission, drain, fetch.
        .target(
            name: "RoarRaySubmit",
            dependencies: [
                "RoarCapture", "RoarCore", "RoarStore", "RoarReconstitute", "RoarTransport",
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "RoarReconstitute",
            dependencies: ["RoarCore", "RoarHash", "RoarStore"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "RoarTransport",
            dependencies: [
                "RoarCore",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // The node agent: ships a node's spool to the host as sealed batches (docs/agent.md).
        .target(
            name: "RoarAgent",
            dependencies: ["RoarCore", "RoarTransport", "RoarHash"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "roar-agent",
            dependencies: [
                "RoarAgent", "RoarTransport", "RoarCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        // `roar serve`: the lineage server (docs/server.md, docs/server-api.md).
        .target(
            name: "RoarServer",
            dependencies: [
                "RoarCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Talking to a lineage server: `roar login`, `roar register` (docs/server.md).
        .target(
            name: "RoarServerClient",
            dependencies: [
                "RoarCore", "RoarExport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "roar",
            dependencies: [
                "RoarCore", "RoarHash", "RoarStore", "RoarConfig", "RoarCapture", "RoarRaySubmit", "RoarReconstitute",
                "RoarTransport", "RoarExport", "RoarServer", "RoarServerClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // libFuzzer targets (docs/fuzzing.md): fuzzes only as built by scripts/fuzz (-D ROAR_FUZZ).
        .executableTarget(
            name: "roar-fuzz",
            dependencies: [
                "RoarCore", "RoarCapture", "RoarConfig", "RoarRaySubmit", "RoarTransport",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RoarHashTests",
            dependencies: ["RoarHash"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RoarCoreTests",
            dependencies: ["RoarCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RoarStoreTests",
            dependencies: ["RoarStore", "RoarCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RoarConfigTests",
            dependencies: ["RoarConfig"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RoarTransportTests",
            dependencies: ["RoarTransport", "RoarReconstitute", "RoarCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RoarAgentTests",
            dependencies: ["RoarAgent", "RoarTransport", "RoarCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RoarCaptureTests",
            dependencies: ["RoarCapture", "RoarCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RoarRaySubmitTests",
            dependencies: [
                "RoarRaySubmit", "RoarCapture", "RoarReconstitute", "RoarTransport", "RoarStore", "RoarCore",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RoarExportTests",
            dependencies: ["RoarExport", "RoarCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RoarServerTests",
            dependencies: [
                "RoarServer", "RoarCore",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RoarReconstituteTests",
            dependencies: ["RoarReconstitute", "RoarStore", "RoarCore", "RoarHash"],
            swiftSettings: swiftSettings
        ),
    ]
)
