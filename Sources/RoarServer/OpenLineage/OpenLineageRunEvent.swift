import Foundation
import RoarCore
import RoarExport

/// One OpenLineage RunEvent as `POST /api/v1/lineage` takes it (any producer: roar's own export, Spark,
/// Airflow, dbt…), checked field by field: the first wrong field is named in the 400
/// (`run.runId: expected a UUID, got "x"`). Only what the server uses is required: `eventTime`, `run.runId`,
/// `job.namespace`, `job.name`, and `namespace`/`name` of every dataset (docs/openlineage.md, "Ingesting").
struct OpenLineageRunEvent: Sendable {
    enum EventType: String, Sendable, CaseIterable {
        case start = "START"
        case running = "RUNNING"
        case complete = "COMPLETE"
        case abort = "ABORT"
        case fail = "FAIL"
        case other = "OTHER"

        var isTerminal: Bool { self == .complete || self == .abort || self == .fail }
    }

    struct Dataset: Sendable {
        var namespace: String
        var name: String
        var facets: [String: JSONValue]
        var outputFacets: [String: JSONValue]
    }

    var eventType: EventType
    var eventTime: Microseconds
    /// `run.runId`, lower-cased.
    var runID: String
    var jobNamespace: String
    var jobName: String
    var producer: String?
    var runFacets: [String: JSONValue]
    var inputs: [Dataset]
    var outputs: [Dataset]

    static func decode(_ bytes: [UInt8]) throws(ServerError) -> OpenLineageRunEvent {
        let root: JSONValue
        do {
            root = try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        } catch {
            throw ServerError(.badRequest, "the body is not JSON: \(RegisterPayload.describe(error))")
        }
        return try decode(root)
    }

    static func decode(_ root: JSONValue) throws(ServerError) -> OpenLineageRunEvent {
        let reader = FieldReader(path: "")
        let event = try reader.object(root)
        guard event["run"] != nil else {
            let kind = event["dataset"] != nil ? "a DatasetEvent" : event["job"] != nil ? "a JobEvent" : "no event"
            throw reader.error("run", "missing: this is \(kind); only RunEvents are stored (their run and datasets)")
        }
        var eventType = EventType.other
        if let text = try reader.optionalString(event, "eventType") {
            guard let known = EventType(rawValue: text) else {
                throw reader.error(
                    "eventType", "expected one of \(EventType.allCases.map(\.rawValue)), got \"\(text.prefix(40))\"")
            }
            eventType = known
        }
        let timeText = try reader.string(event, "eventTime")
        guard let eventTime = Microseconds(rfc3339: timeText) else {
            throw reader.error("eventTime", "expected an RFC 3339 date-time, got \"\(timeText.prefix(40))\"")
        }
        let runReader = FieldReader(path: "run")
        let run = try runReader.object(try reader.field(event, "run"))
        let runID = try runReader.string(run, "runId")
        guard UUID(uuidString: runID) != nil else {
            throw runReader.error("runId", "expected a UUID, got \"\(runID.prefix(40))\"")
        }
        let jobReader = FieldReader(path: "job")
        let job = try jobReader.object(try reader.field(event, "job"))
        let namespace = try jobReader.nonEmptyString(job, "namespace")
        let name = try jobReader.nonEmptyString(job, "name")
        return OpenLineageRunEvent(
            eventType: eventType, eventTime: eventTime, runID: runID.lowercased(), jobNamespace: namespace,
            jobName: name, producer: try reader.optionalString(event, "producer"),
            runFacets: try runReader.optionalObject(run, "facets") ?? [:],
            inputs: try datasets(event, "inputs", reader: reader),
            outputs: try datasets(event, "outputs", reader: reader))
    }

    static func datasets(_ event: [String: JSONValue], _ field: String, reader: FieldReader) throws(ServerError)
        -> [Dataset]
    {
        var datasets: [Dataset] = []
        for (index, value) in (try reader.optionalArray(event, field) ?? []).enumerated() {
            let datasetReader = FieldReader(path: "\(field)[\(index)]")
            let object = try datasetReader.object(value)
            datasets.append(
                Dataset(
                    namespace: try datasetReader.nonEmptyString(object, "namespace"),
                    name: try datasetReader.string(object, "name"),
                    facets: try datasetReader.optionalObject(object, "facets") ?? [:],
                    outputFacets: try datasetReader.optionalObject(object, "outputFacets") ?? [:]))
        }
        return datasets
    }
}

extension FieldReader {
    func optionalString(_ object: [String: JSONValue], _ name: String) throws(ServerError) -> String? {
        guard let value = object[name], value != .null else { return nil }
        return try string(object, name)
    }

    func nonEmptyString(_ object: [String: JSONValue], _ name: String) throws(ServerError) -> String {
        let text = try string(object, name)
        guard !text.isEmpty else { throw error(name, "expected a non-empty string") }
        return text
    }
}
