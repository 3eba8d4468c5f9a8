import Foundation
import Hummingbird
import NIOCore
import RoarCore

/// Reading request bodies, each bounded: larger than the limit is a 413 that names the option.
enum RequestBodies {
    static func bytes(_ request: Request, limit: Int) async throws -> [UInt8] {
        do {
            return Array(buffer: try await request.body.collect(upTo: limit))
        } catch is NIOTooManyBytesError {
            throw ServerError(
                .tooLarge,
                "the body is larger than \(Self.describe(limit)) (`roar serve --max-body-mib`): send smaller batches")
        }
    }

    /// A JSON object body.
    static func jsonObject(_ request: Request, limit: Int) async throws -> [String: JSONValue] {
        let bytes = try await bytes(request, limit: limit)
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        } catch {
            throw ServerError(.badRequest, "the body is not JSON: \(RegisterPayload.describe(error))")
        }
        return try FieldReader(path: "").object(value)
    }

    /// An `application/x-www-form-urlencoded` body.
    static func form(_ request: Request, limit: Int) async throws -> [String: String] {
        var fields: [String: String] = [:]
        for pair in String(decoding: try await bytes(request, limit: limit), as: UTF8.self).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            if let name = parts.first { fields[name] = parts.count > 1 ? parts[1] : "" }
        }
        return fields
    }

    static func describe(_ limit: Int) -> String {
        limit >= 1 << 20 ? "\(limit >> 20) MiB" : "\(limit >> 10) KiB"
    }
}
