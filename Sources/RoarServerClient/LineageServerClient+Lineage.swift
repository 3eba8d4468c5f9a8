import Foundation
import NIOHTTP1

extension LineageServerClient {
    /// A job as the server summarises it (docs/server-api.md, "Job summary").
    public struct JobSummary: Decodable, Sendable, Hashable {
        public var uid: String
        public var step: Int?
        public var role: String
        public var status: String
        public var command: String
        public var function: String?
        public var parentUID: String?
        public var startedAt: Double

        enum CodingKeys: String, CodingKey {
            case uid, step, role, status, command, function
            case parentUID = "parent_uid"
            case startedAt = "started_at"
        }
    }

    /// The answer of `GET …/lineage`.
    public struct LineageAnswer: Decodable, Sendable {
        public struct Reached: Decodable, Sendable {
            public var job: JobSummary
            public var depth: Int
        }

        public struct Edge: Decodable, Sendable, Hashable {
            public var from: String
            public var to: String
            public var path: String
        }

        public var start: [JobSummary]
        public var jobs: [Reached]
        public var edges: [Edge]
        public var truncated: Bool
    }

    /// What a lineage walk starts from.
    public enum LineageStart: Sendable {
        case path(String)
        case digest(String)
    }

    /// The jobs upstream (`isUpstream`) or downstream of a path or digest in `project`.
    public func lineage(project: String, from start: LineageStart, isUpstream: Bool, depth: Int = 100)
        async throws(ClientError) -> LineageAnswer
    {
        var components = URLComponents()
        let (name, value): (String, String) =
            switch start {
            case .path(let path): ("path", path)
            case .digest(let digest): ("digest", digest)
            }
        components.queryItems = [
            URLQueryItem(name: name, value: value),
            URLQueryItem(name: "direction", value: isUpstream ? "upstream" : "downstream"),
            URLQueryItem(name: "depth", value: String(depth)),
        ]
        // `+` is a space to most query parsers: spell it out, as every other reserved character.
        let query = (components.percentEncodedQuery ?? "").replacingOccurrences(of: "+", with: "%2B")
        let path = "/api/v1/projects/\(project)/lineage?" + query
        return try decode(LineageAnswer.self, try await call(.GET, path), what: "lineage")
    }
}
