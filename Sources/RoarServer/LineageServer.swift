import Foundation
public import Hummingbird
import HummingbirdCore
import HummingbirdTLS
public import Logging
import Metrics
import NIOSSL
import Prometheus

/// `roar serve`: the lineage server (docs/server.md). ``router(storage:metrics:configuration:)``
/// is the whole HTTP surface (what the in-process tests drive); ``application(…)`` binds it.
public enum LineageServer {
    public struct Configuration: Sendable {
        /// 127.0.0.1 unless told otherwise: a lineage server is not for the open internet by accident.
        public var host = "127.0.0.1"
        /// 0 picks a free port (printed once listening).
        public var port = 8377
        public var tlsCertificatePath: String?
        public var tlsKeyPath: String?
        public var maximumBodyBytes = 32 << 20
        /// Failed authentications per address and minute before 429.
        public var authenticationFailureLimit = 20

        public init() {}
    }

    public static func router(storage: any LineageStorage, metrics: ServerMetrics, configuration: Configuration)
        -> Router<LineageRequestContext>
    {
        let router = Router(context: LineageRequestContext.self)
        router.add(middleware: AccessLog())
        router.add(middleware: MetricsMiddleware())
        router.get("healthz") { _, _ in JSONResponse.raw(#"{"status":"ok"}"#) }
        router.get("metrics") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: .init(string: metrics.exposition())))
        }
        router.get("api/v1/openapi.json") { _, _ in JSONResponse.raw(ServerAPIDocument.openAPI) }
        let authentication = BearerAuthentication(
            storage: storage, failures: AuthFailureLimit(limit: configuration.authenticationFailureLimit),
            metrics: metrics)
        WebViewRoutes(storage: storage, isSecure: configuration.tlsCertificatePath != nil)
            .add(to: router, authentication: authentication)
        let api = router.group("api/v1").add(middleware: authentication)
        LineageRoutes(storage: storage, metrics: metrics, maximumBodyBytes: configuration.maximumBodyBytes).add(to: api)
        SessionRoutes(storage: storage, maximumBodyBytes: configuration.maximumBodyBytes).add(to: api)
        OpenLineageRoutes(storage: storage, metrics: metrics, maximumBodyBytes: configuration.maximumBodyBytes)
            .add(to: api)
        return router
    }

    /// Once per process, before ``application(…)``: logs to standard error at `logLevel`, and
    /// swift-metrics (Hummingbird's request metrics) into the Prometheus registry `/metrics` shows.
    public static func bootstrapLoggingAndMetrics(logLevel: Logger.Level) -> ServerMetrics {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = logLevel
            return handler
        }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return ServerMetrics(registry: registry)
    }

    /// Migrates the storage and serves until SIGTERM or SIGINT (a graceful shutdown).
    public static func run(
        storage: any LineageStorage, metrics: ServerMetrics, configuration: Configuration, logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void
    ) async throws {
        try await storage.migrate()
        let application = try application(
            storage: storage, metrics: metrics, configuration: configuration, logger: logger, onListening: onListening)
        try await application.runService()
    }

    /// The server, ready for `runService()` (SIGTERM and SIGINT shut it down gracefully: requests
    /// in flight finish). `onListening` gets the bound port.
    public static func application(
        storage: any LineageStorage, metrics: ServerMetrics, configuration: Configuration, logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void
    ) throws(ServerError) -> some ApplicationProtocol {
        let server: HTTPServerBuilder
        switch (configuration.tlsCertificatePath, configuration.tlsKeyPath) {
        case (nil, nil):
            server = .http1()
        case (let certificate?, let key?):
            do {
                let chain = try NIOSSLCertificate.fromPEMFile(certificate).map {
                    NIOSSLCertificateSource.certificate($0)
                }
                let tls = TLSConfiguration.makeServerConfiguration(
                    certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
                server = try .tls(.http1(), tlsConfiguration: tls)
            } catch {
                throw ServerError(
                    .configuration, "cannot use the TLS files \(certificate) and \(key): \(error)",
                    underlyingError: error)
            }
        default:
            throw ServerError(.configuration, "give both --tls-cert and --tls-key, or neither")
        }
        return Application(
            router: router(storage: storage, metrics: metrics, configuration: configuration), server: server,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "roar"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? configuration.port) },
            logger: logger)
    }
}
