import Foundation
import Hummingbird
import NIOCore

/// The JSON API of docs/server-api.md, under `/api/v1`.
struct LineageRoutes {
    let storage: any LineageStorage
    let metrics: ServerMetrics
    let maximumBodyBytes: Int

    func add(to group: RouterGroup<LineageRequestContext>) {
        group.get("whoami") { _, context in try whoami(context) }
        group.get("projects") { _, context in try await projects(context) }
        group.post("projects/{project}/register") { request, context in try await register(request, context) }
        group.get("projects/{project}/runs") { request, context in try await runs(request, context) }
        group.get("projects/{project}/jobs/{uid}") { _, context in try await job(context) }
        group.get("projects/{project}/artifacts") { request, context in try await artifacts(request, context) }
        group.get("projects/{project}/lineage") { request, context in try await lineage(request, context) }
        group.get("projects/{project}/search") { request, context in try await search(request, context) }
    }

    // MARK: - Handlers

    func whoami(_ context: LineageRequestContext) throws -> Response {
        let identity = try context.requireIdentity()
        let grants = identity.grants.mapValues(\.rawValue)
        return try JSONResponse.encode(WhoAmI(name: identity.name, admin: identity.isAdmin, projects: grants))
    }

    func projects(_ context: LineageRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        return try JSONResponse.encode(["projects": try await storage.projects(visibleTo: identity)])
    }

    func register(_ request: Request, _ context: LineageRequestContext) async throws -> Response {
        let project = try self.project(context, needs: .writer)
        let batch = try RegisterPayload.decode(try await RequestBodies.bytes(request, limit: maximumBodyBytes))
        let outcome = try await storage.register(batch, project: project)
        // Readers registered after a foreign writer's events are joined to it (docs/openlineage.md, "Edges").
        _ = try await storage.inferForeignEdges(project: project, paths: batch.referencedPaths)
        metrics.registered(outcome)
        return try JSONResponse.encode(outcome)
    }

    func runs(_ request: Request, _ context: LineageRequestContext) async throws -> Response {
        let project = try self.project(context, needs: .reader)
        return try JSONResponse.encode(
            try await storage.runs(project: project, page: try QueryParameters.page(request)))
    }

    func job(_ context: LineageRequestContext) async throws -> Response {
        let project = try self.project(context, needs: .reader)
        let uid = context.parameters.get("uid") ?? ""
        guard FieldReader.isIdentifier(uid), let detail = try await storage.job(project: project, uid: uid) else {
            throw ServerError(.notFound, "no job \(uid.prefix(40)) in project \(project)")
        }
        let children = String(decoding: try JSONEncoder().encode(detail.children), as: UTF8.self)
        return JSONResponse.raw(#"{"children":\#(children),"job":\#(detail.document)}"#)
    }

    func artifacts(_ request: Request, _ context: LineageRequestContext) async throws -> Response {
        let project = try self.project(context, needs: .reader)
        let query: ArtifactQuery = try QueryParameters.artifact(request)
        let page = try QueryParameters.page(request)
        return try JSONResponse.encode(try await storage.artifactUses(project: project, query: query, page: page))
    }

    func lineage(_ request: Request, _ context: LineageRequestContext) async throws -> Response {
        let project = try self.project(context, needs: .reader)
        let start = try QueryParameters.lineageStart(request)
        let direction = try QueryParameters.direction(request)
        let depth = try QueryParameters.integer(request, "depth", default: 10, range: 1...100)
        let result = try await storage.lineage(project: project, start: start, direction: direction, depth: depth)
        return try JSONResponse.encode(result)
    }

    func search(_ request: Request, _ context: LineageRequestContext) async throws -> Response {
        let project = try self.project(context, needs: .reader)
        guard let text = request.uri.queryParameters.get("q"), !text.isEmpty else {
            throw ServerError(.badRequest, "q: missing (a function name, command or path prefix to search for)")
        }
        let page = try QueryParameters.page(request)
        return try JSONResponse.encode(try await storage.search(project: project, text: text, page: page))
    }

    /// The route's project, checked: a well-formed name the token has `role` on (403 otherwise).
    func project(_ context: LineageRequestContext, needs role: ProjectRole) throws -> String {
        let identity = try context.requireIdentity()
        let project = context.parameters.get("project") ?? ""
        guard ProjectName.isValid(project) else {
            throw ServerError(.badRequest, "project: \(ProjectName.rule), got \"\(project.prefix(40))\"")
        }
        guard identity.may(role, project: project) else {
            throw ServerError(
                .forbidden, "token \(identity.name) may not \(role == .writer ? "write" : "read") project \(project)")
        }
        return project
    }
}

struct WhoAmI: Codable {
    var name: String
    var admin: Bool
    var projects: [String: String]
}

/// Project names: what a URL path segment and a folder name can both hold.
public enum ProjectName {
    static let rule = "expected 1 to 128 of A-Z a-z 0-9 _ . - (not starting with .)"

    public static func isValid(_ name: String) -> Bool {
        FieldReader.isIdentifier(name) && !name.hasPrefix(".")
    }
}

/// Query-string parameters, each checked with a 400 that names it.
enum QueryParameters {
    static func page(_ request: Request) throws(ServerError) -> PageRequest {
        let limit = try integer(
            request, "limit", default: PageRequest.defaultLimit, range: 1...PageRequest.maximumLimit)
        guard let after = request.uri.queryParameters.get("after") else { return PageRequest(limit: limit) }
        guard let cursor = Int64(after), cursor >= 0 else {
            throw ServerError(
                .badRequest, "after: expected the `next` cursor of the previous page, got \"\(after.prefix(40))\"")
        }
        return PageRequest(limit: limit, after: cursor)
    }

    static func integer(_ request: Request, _ name: String, default value: Int, range: ClosedRange<Int>)
        throws(ServerError) -> Int
    {
        guard let text = request.uri.queryParameters.get(name) else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw ServerError(
                .badRequest,
                "\(name): expected an integer from \(range.lowerBound) to \(range.upperBound), got \"\(text.prefix(40))\""
            )
        }
        return number
    }

    static func artifact(_ request: Request) throws(ServerError) -> ArtifactQuery {
        switch try lineageStart(request, allowsJob: false) {
        case .path(let path): .path(path)
        case .digest(let digest): .digest(digest)
        case .job: .path("")  // not reached: allowsJob is false
        }
    }

    static func lineageStart(_ request: Request, allowsJob: Bool = true) throws(ServerError) -> LineageStart {
        let parameters = request.uri.queryParameters
        let given =
            [("path", parameters.get("path")), ("digest", parameters.get("digest"))]
            + (allowsJob ? [("job", parameters.get("job"))] : [])
        let present = given.compactMap { name, value in value.map { (name, $0) } }
        guard present.count == 1, let (name, value) = present.first, !value.isEmpty else {
            let names = given.map(\.0).joined(separator: ", ")
            throw ServerError(.badRequest, "give exactly one of \(names)")
        }
        switch name {
        case "path": return .path(value)
        case "digest":
            let hex = value.split(separator: ":").last.map(String.init) ?? value
            guard hex.count >= 8, hex.allSatisfy(\.isHexDigit) else {
                throw ServerError(.badRequest, "digest: expected at least 8 hex digits (optionally after `algorithm:`)")
            }
            return .digest(value.lowercased())
        default:
            guard FieldReader.isIdentifier(value) else { throw ServerError(.badRequest, "job: expected a job uid") }
            return .job(value)
        }
    }

    static func direction(_ request: Request) throws(ServerError) -> LineageDirection {
        guard let text = request.uri.queryParameters.get("direction") else { return .upstream }
        guard let direction = LineageDirection(rawValue: text) else {
            throw ServerError(.badRequest, "direction: expected upstream or downstream, got \"\(text.prefix(40))\"")
        }
        return direction
    }
}

enum JSONResponse {
    static func encode(_ value: some Encodable) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return raw(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    static func raw(_ json: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: json)))
    }
}
