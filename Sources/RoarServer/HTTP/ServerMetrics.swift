public import Prometheus

/// roar's own counters on `/metrics`, beside Hummingbird's request metrics (which reach the same
/// registry through swift-metrics when `roar serve` bootstraps it).
public struct ServerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let registeredJobs: Counter
    let unchangedJobs: Counter
    let authenticationFailures: Counter
    let openLineageEvents: [FoldOutcome.Stored: Counter]

    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        registeredJobs = registry.makeCounter(
            name: "roar_register_jobs_stored_total", help: "Jobs inserted or updated by roar register.")
        unchangedJobs = registry.makeCounter(
            name: "roar_register_jobs_unchanged_total", help: "Jobs sent again that were already stored as sent.")
        authenticationFailures = registry.makeCounter(
            name: "roar_authentication_failures_total", help: "Requests refused for a missing or unknown token.")
        var events: [FoldOutcome.Stored: Counter] = [:]
        for stored in [FoldOutcome.Stored.inserted, .updated, .unchanged, .ignored] {
            events[stored] = registry.makeCounter(
                name: "roar_openlineage_events_total", labels: [("stored", stored.rawValue)],
                help: "OpenLineage RunEvents stored at POST /api/v1/lineage, by what they did to their job.")
        }
        openLineageEvents = events
    }

    func registered(_ outcome: RegisterOutcome) {
        registeredJobs.increment(by: Int64(outcome.inserted + outcome.updated))
        unchangedJobs.increment(by: Int64(outcome.unchanged))
    }

    func ingested(_ outcome: FoldOutcome) { openLineageEvents[outcome.stored]?.increment() }

    func authenticationFailed() { authenticationFailures.increment() }

    /// The Prometheus text exposition of everything in the registry.
    func exposition() -> String {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}
