import Foundation
import RoarCore

/// The body of `POST /api/v1/projects/{project}/register` (`roar.register/1`, docs/server-api.md):
/// `roar.dag/1` job objects and edges. Checked field by field: the first wrong field is named in
/// the 400 (`jobs[3].outputs[0].path: expected a string, got int`).
public enum RegisterPayload {
    public static let schema = "roar.register/1"

    public static func decode(_ bytes: [UInt8]) throws(ServerError) -> RegisterBatch {
        let root: JSONValue
        do {
            root = try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        } catch {
            throw ServerError(.badRequest, "the body is not JSON: \(Self.describe(error))", underlyingError: error)
        }
        var reader = FieldReader(path: "")
        let object = try reader.object(root)
        let schema = try reader.string(object, "schema")
        guard schema == Self.schema else {
            throw ServerError(.badRequest, "schema: expected \"\(Self.schema)\", got \"\(schema)\"")
        }
        let jobs = try reader.array(object, "jobs").enumerated().map { (index, value) throws(ServerError) in
            try job(value, at: "jobs[\(index)]")
        }
        let edges = try (reader.optionalArray(object, "edges") ?? []).enumerated().map {
            (index, value) throws(ServerError) in
            var edgeReader = FieldReader(path: "edges[\(index)]")
            let edge = try edgeReader.object(value)
            return LineageEdge(
                from: try edgeReader.identifier(edge, "from"), to: try edgeReader.identifier(edge, "to"),
                path: try edgeReader.string(edge, "path"))
        }
        return RegisterBatch(jobs: jobs, edges: edges)
    }

    static func job(_ value: JSONValue, at path: String) throws(ServerError) -> RegisteredJob {
        var reader = FieldReader(path: path)
        let object = try reader.object(value)
        let uid = try reader.identifier(object, "uid")
        let role = try reader.string(object, "role")
        guard Job.Role(rawValue: role) != nil else {
            throw reader.error("role", "expected one of \(Job.Role.allCases.map(\.rawValue)), got \"\(role)\"")
        }
        let status = try reader.string(object, "status")
        guard Job.Status(rawValue: status) != nil else {
            throw reader.error("status", "expected one of \(Job.Status.allCases.map(\.rawValue)), got \"\(status)\"")
        }
        var function: String?
        if let ray = try reader.optionalObject(object, "ray") {
            var rayReader = FieldReader(path: path + ".ray")
            function = try rayReader.string(ray, "function")
        }
        var references: [RegisteredReference] = []
        for (field, direction) in [("inputs", RegisteredReference.Direction.input), ("outputs", .output)] {
            for (index, item) in (try reader.optionalArray(object, field) ?? []).enumerated() {
                references.append(try reference(item, direction: direction, at: "\(path).\(field)[\(index)]"))
            }
        }
        for (index, item) in (try reader.optionalArray(object, "deletes") ?? []).enumerated() {
            guard case .string(let deleted) = item, !deleted.isEmpty else {
                throw ServerError(.badRequest, "\(path).deletes[\(index)]: expected a path (a non-empty string)")
            }
            references.append(
                RegisteredReference(direction: .delete, path: deleted, kind: "file", digest: nil, size: nil))
        }
        return RegisteredJob(
            uid: uid, parentUID: try reader.optionalIdentifier(object, "parent_uid"),
            step: try reader.optionalInteger(object, "step").map(Int.init), role: role, status: status,
            command: try reader.string(object, "command"), function: function,
            startedAt: try reader.number(object, "started_at"), references: references, document: value.jsonText)
    }

    static func reference(_ value: JSONValue, direction: RegisteredReference.Direction, at path: String)
        throws(ServerError) -> RegisteredReference
    {
        var reader = FieldReader(path: path)
        let object = try reader.object(value)
        let hashes = try reader.optionalObject(object, "hashes") ?? [:]
        var digests: [String: String] = [:]
        for (algorithm, digest) in hashes {
            guard case .string(let text) = digest else {
                throw reader.error("hashes.\(algorithm)", "expected a string, got \(digest.pythonTypeName)")
            }
            digests[algorithm] = text
        }
        let size = try reader.optionalInteger(object, "size")
        let main = ["blake3", "blake3_merkle", "sha256", "etag"].first { digests[$0] != nil }
        let path = try reader.string(object, "path")
        guard !path.isEmpty else { throw reader.error("path", "expected a non-empty path") }
        return RegisteredReference(
            direction: direction, path: path, kind: try reader.string(object, "kind"),
            digest: main.map { "\($0):\(digests[$0]!)" }, size: size)
    }

    static func describe(_ error: any Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            return context.underlyingError.map { "\($0)" } ?? context.debugDescription
        }
        return "\(error)"
    }
}

/// Reads typed fields out of JSON objects, naming `path.field` in every error.
struct FieldReader {
    var path: String

    func error(_ field: String, _ problem: String) -> ServerError {
        ServerError(.badRequest, "\(path.isEmpty ? "" : path + ".")\(field): \(problem)")
    }

    func object(_ value: JSONValue) throws(ServerError) -> [String: JSONValue] {
        guard case .object(let object) = value else {
            throw ServerError(
                .badRequest, "\(path.isEmpty ? "the body" : path): expected an object, got \(value.pythonTypeName)")
        }
        return object
    }

    func field(_ object: [String: JSONValue], _ name: String) throws(ServerError) -> JSONValue {
        guard let value = object[name], value != .null else { throw error(name, "missing") }
        return value
    }

    func string(_ object: [String: JSONValue], _ name: String) throws(ServerError) -> String {
        let value = try field(object, name)
        guard case .string(let text) = value else {
            throw error(name, "expected a string, got \(value.pythonTypeName)")
        }
        return text
    }

    /// A job uid: 1 to 128 characters of `[A-Za-z0-9_.-]`.
    func identifier(_ object: [String: JSONValue], _ name: String) throws(ServerError) -> String {
        let text = try string(object, name)
        guard Self.isIdentifier(text) else {
            throw error(name, "expected a job uid (1 to 128 of A-Z a-z 0-9 _ . -), got \"\(text.prefix(40))\"")
        }
        return text
    }

    func optionalIdentifier(_ object: [String: JSONValue], _ name: String) throws(ServerError) -> String? {
        guard let value = object[name], value != .null else { return nil }
        return try identifier(object, name)
    }

    static func isIdentifier(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 128
            && text.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == 0x2D || byte == 0x5F || byte == 0x2E
            }
    }

    func number(_ object: [String: JSONValue], _ name: String) throws(ServerError) -> Double {
        switch try field(object, name) {
        case .integer(let value): return Double(value)
        case .number(let value): return value
        case let other: throw error(name, "expected a number, got \(other.pythonTypeName)")
        }
    }

    func optionalInteger(_ object: [String: JSONValue], _ name: String) throws(ServerError) -> Int64? {
        switch object[name] {
        case nil, .null: return nil
        case .integer(let value): return value
        case let other?: throw error(name, "expected an integer or null, got \(other.pythonTypeName)")
        }
    }

    func array(_ object: [String: JSONValue], _ name: String) throws(ServerError) -> [JSONValue] {
        guard let items = try optionalArray(object, name) else { throw error(name, "missing") }
        return items
    }

    func optionalArray(_ object: [String: JSONValue], _ name: String) throws(ServerError) -> [JSONValue]? {
        switch object[name] {
        case nil, .null: return nil
        case .array(let items): return items
        case let other?: throw error(name, "expected an array, got \(other.pythonTypeName)")
        }
    }

    func optionalObject(_ object: [String: JSONValue], _ name: String) throws(ServerError) -> [String: JSONValue]? {
        switch object[name] {
        case nil, .null: return nil
        case .object(let value): return value
        case let other?: throw error(name, "expected an object, got \(other.pythonTypeName)")
        }
    }
}
