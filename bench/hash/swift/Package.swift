// swift-tools-version: 6.2
// A release-built stand-in for `roar hash` over the RoarHash module (Sources/ holds symlinks to the real
// CBLAKE3 and RoarHash sources), so bench/hash/run can time the Swift path without building all of roar.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "roar-hash-bench",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2")
    ],
    targets: [
        .target(name: "CBLAKE3", cSettings: [.define("_GNU_SOURCE")]),
        .target(
            name: "RoarHash",
            dependencies: ["CBLAKE3", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(name: "roar-hash-bench", dependencies: ["RoarHash"], swiftSettings: swiftSettings),
    ]
)
