import Foundation
import Hummingbird
import RoarCore

/// `POST /api/v1/lineage`: the OpenLineage HTTP endpoint (the route Marquez serves), so that any
/// OpenLineage client — `roar register --openlineage`, Spark's or Airflow's HTTP transport — can send
/// RunEvents here, one per request. The project is `?project=NAME`; without it, the job namespace
/// `roar://NAME` of roar's own events; without that, the one project the token may write.
struct OpenLineageRoutes {
    let storage: any LineageStorage
    let metrics: ServerMetrics
    let maximumBodyBytes: Int

    func add(to group: RouterGroup<LineageRequestContext>) {
        group.post("lineage") { request, context in try await ingest(request, context) }
    }

    func ingest(_ request: Request, _ context: LineageRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        let event = try OpenLineageRunEvent.decode(try await RequestBodies.bytes(request, limit: maximumBodyBytes))
        let project = try Self.project(
            request.uri.queryParameters.get("project"), namespace: event.jobNamespace, identity: identity)
        guard identity.may(.writer, project: project) else {
            throw ServerError(.forbidden, "token \(identity.name) may not write project \(project)")
        }
        let outcome = try await storage.foldJob(uid: OpenLineageRunDocument.uid(of: event), project: project) {
            stored in OpenLineageRunDocument.fold(event, into: stored)
        }
        metrics.ingested(outcome)
        return try JSONResponse.encode(OpenLineageAnswer(project: project, outcome: outcome))
    }

    static func project(_ given: String?, namespace: String, identity: Identity) throws(ServerError) -> String {
        if let given {
            guard ProjectName.isValid(given) else {
                throw ServerError(.badRequest, "project: \(ProjectName.rule), got \"\(given.prefix(40))\"")
            }
            return given
        }
        if namespace.hasPrefix("roar://"), ProjectName.isValid(String(namespace.dropFirst(7))) {
            return String(namespace.dropFirst(7))
        }
        let writable = identity.grants.filter { $0.value == .writer }.map(\.key)
        if !identity.isAdmin, writable.count == 1, let only = writable.first { return only }
        throw ServerError(
            .badRequest,
            "project: missing: give ?project=NAME (the job namespace \"\(namespace.prefix(60))\" names no roar project)"
        )
    }
}

/// The answer: where the event went and what it changed.
struct OpenLineageAnswer: Encodable {
    var project: String
    var job: String
    var stored: FoldOutcome.Stored
    var edgesInserted: Int

    init(project: String, outcome: FoldOutcome) {
        self.project = project
        job = outcome.job
        stored = outcome.stored
        edgesInserted = outcome.edgesInserted
    }

    enum CodingKeys: String, CodingKey {
        case project, job, stored
        case edgesInserted = "edges_inserted"
    }
}
