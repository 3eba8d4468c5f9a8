#if canImport(FoundationEssentials)
    import FoundationEssentials  // what roar-agent links: full Foundation brings ICU (45 MB)
#else
    import Foundation
#endif

/// What `roar_runtime` reports about itself (`docs/ray-events.md`): counters of what went wrong inside
/// it (`runtime_stats`), and a Ray internal it relies on that this Ray lacks (`runtime_issue`). Written by
/// whatever thread noticed, often under Ray's own tag: read from every tag, and charged to the run.
public enum RuntimeEvent: Hashable, Sendable {
    /// Counters such as `task_begin_failed`: each is lineage not recorded.
    case stats(counters: [String: Int])
    /// `name` (e.g. `ray._private.state.jobs`) is missing or changed; `use` says what roar needed it for.
    case issue(kind: String, name: String, use: String, knownFor: String?, rayVersion: String?)

    /// Decodes a `runtime_stats` or `runtime_issue` event; `nil` for any other event kind.
    public static func decode(json: String) throws -> RuntimeEvent? {
        // Cheap test first: every E event passes here, and almost none is one of these.
        guard json.contains(#""event":"runtime_"#) else { return nil }
        struct Probe: Decodable {
            var event: String
            var counters: [String: Int]?
            var kind: String?
            var name: String?
            var use: String?
            var knownFor: String?
            var rayVersion: String?

            enum CodingKeys: String, CodingKey {
                case event, counters, kind, name, use
                case knownFor = "known_for"
                case rayVersion = "ray_version"
            }
        }
        let probe = try JSONDecoder().decode(Probe.self, from: Data(json.utf8))
        switch probe.event {
        case "runtime_stats":
            return .stats(counters: probe.counters ?? [:])
        case "runtime_issue":
            return .issue(
                kind: probe.kind ?? "unknown", name: probe.name ?? "?", use: probe.use ?? "",
                knownFor: probe.knownFor, rayVersion: probe.rayVersion)
        default:
            return nil
        }
    }
}
