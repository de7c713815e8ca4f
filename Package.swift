// swift-tools-version:6.1
// The IoTSocket v1.01 concentrator: six services over Redis Streams, shared libraries, tests, tools.

import PackageDescription

let services: [(product: String, target: String, path: String)] = [
    ("router", "Router", "Services/Router"),
    ("tcp-gateway", "TCPGateway", "Services/TCPGateway"),
    ("udp-telemetry", "UDPTelemetry", "Services/UDPTelemetry"),
    ("http-api", "HTTPAPI", "Services/HTTPAPI"),
    ("webhook-dispatcher", "WebhookDispatcher", "Services/WebhookDispatcher"),
    ("remote-sync", "RemoteSync", "Services/RemoteSync"),
]

let nio = "swift-nio"
let serviceDependencies: [Target.Dependency] = [
    "IoTSocket",
    "Messaging",
    "RedisBus",
    "ServiceKit",
    .product(name: "ArgumentParser", package: "swift-argument-parser"),
    .product(name: "Logging", package: "swift-log"),
    .product(name: "Metrics", package: "swift-metrics"),
    .product(name: "NIOCore", package: nio),
    .product(name: "NIOPosix", package: nio),
    .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
]

/// Dependencies one service needs beyond `serviceDependencies`, by target.
let extraServiceDependencies: [String: [Target.Dependency]] = [
    "TCPGateway": [.product(name: "NIOSSL", package: "swift-nio-ssl")],
    "HTTPAPI": [
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "HummingbirdCore", package: "hummingbird"),
        .product(name: "HummingbirdHTTP2", package: "hummingbird"),
        .product(name: "HTTPTypes", package: "swift-http-types"),
        .product(name: "NIOHTTP1", package: nio),
        .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
        .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
    ],
    "WebhookDispatcher": [
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "Crypto", package: "swift-crypto"),
    ],
]

let package = Package(
    name: "iotsocket-concentrator",
    platforms: [.macOS(.v14)],
    products: services.map { .executable(name: $0.product, targets: [$0.target]) } + [
        .executable(name: "iotsocket-bench", targets: ["IoTSocketBench"]),
        .library(name: "IoTSocket", targets: ["IoTSocket"]),
        .library(name: "RedisBus", targets: ["RedisBus"]),
        .library(name: "ServiceKit", targets: ["ServiceKit"]),
        .library(name: "Messaging", targets: ["Messaging"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.0"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        // hiredis 0.14 from Debian (libhiredis-dev): formats commands and parses RESP replies.
        .systemLibrary(
            name: "CHiredis",
            path: "Shared/CHiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        // epoll(7) for the benchmark's raw-socket clients (libc: nothing to install or link).
        .systemLibrary(
            name: "CEpoll",
            path: "Tools/CEpoll"
        ),
        // The IoTSocket v1.01 wire format. No I/O beyond NIO's ByteBuffer and codec protocols.
        .target(
            name: "IoTSocket",
            dependencies: [
                .product(name: "NIOCore", package: nio),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Shared/IoTSocket"
        ),
        // A non-blocking Redis client on SwiftNIO with hiredis doing RESP, plus stream primitives.
        .target(
            name: "RedisBus",
            dependencies: [
                "CHiredis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: nio),
                .product(name: "NIOPosix", package: nio),
            ],
            path: "Shared/RedisBus"
        ),
        // The messages services exchange over Redis Streams.
        .target(
            name: "Messaging",
            dependencies: ["IoTSocket", "RedisBus"],
            path: "Shared/Messaging"
        ),
        // Configuration, logging, metrics, admin endpoints and lifecycle shared by every service.
        .target(
            name: "ServiceKit",
            dependencies: [
                "IoTSocket",
                "Messaging",
                "RedisBus",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Shared/ServiceKit"
        ),
    ] + services.map {
        .executableTarget(name: $0.target, dependencies: serviceDependencies + (extraServiceDependencies[$0.target] ?? []), path: $0.path)
    } + [
        .executableTarget(
            name: "IoTSocketBench",
            dependencies: [
                "CEpoll",
                "IoTSocket",
                "Messaging",
                "RedisBus",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOCore", package: nio),
                .product(name: "NIOHTTP1", package: nio),
                .product(name: "NIOPosix", package: nio),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Tools/IoTSocketBench"
        ),
        // The harness for tests: a private redis-server, service processes, free ports.
        .target(
            name: "TestSupport",
            dependencies: [
                "IoTSocket",
                "RedisBus",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: nio),
                .product(name: "NIOHTTP1", package: nio),
                .product(name: "NIOPosix", package: nio),
            ],
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "IoTSocketTests",
            dependencies: ["IoTSocket", "TestSupport", .product(name: "NIOCore", package: nio)]
        ),
        .testTarget(
            name: "RedisBusTests",
            dependencies: ["RedisBus", "TestSupport", .product(name: "NIOPosix", package: nio)]
        ),
        .testTarget(
            name: "MessagingTests",
            dependencies: ["IoTSocket", "Messaging", "RedisBus"]
        ),
        .testTarget(
            name: "ServiceKitTests",
            dependencies: ["ServiceKit", "TestSupport"]
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "IoTSocket",
                "Messaging",
                "RedisBus",
                "TestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: nio),
                .product(name: "NIOPosix", package: nio),
            ]
        ),
    ]
)
