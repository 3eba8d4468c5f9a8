import Foundation

/// A JSON value as Ray's `runtime_env` holds it: what `--runtime-env-json` decodes to and what
/// `--runtime-env` YAML reads into. In RoarCapture because ``SecretRedactor`` masks the JSON
/// options of every recorded command, local runs included. Objects keep no key order; they are written
/// with sorted keys so a rewrite is deterministic.
public enum RuntimeEnvironmentValue: Sendable, Equatable, Codable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([RuntimeEnvironmentValue])
    case object([String: RuntimeEnvironmentValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([RuntimeEnvironmentValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: RuntimeEnvironmentValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// Decodes JSON text; `nil` when it is not valid JSON.
    public static func decode(json text: String) -> RuntimeEnvironmentValue? {
        try? JSONDecoder().decode(RuntimeEnvironmentValue.self, from: Data(text.utf8))
    }

    /// Compact JSON with sorted keys.
    public var jsonText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self) else { return "null" }
        return String(decoding: data, as: UTF8.self)
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var objectValue: [String: RuntimeEnvironmentValue]? {
        if case .object(let value) = self { return value }
        return nil
    }

    public var arrayValue: [RuntimeEnvironmentValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The name Python would give this value's type, for messages that quote Ray's.
    public var pythonTypeName: String {
        switch self {
        case .null: "NoneType"
        case .bool: "bool"
        case .integer: "int"
        case .number: "float"
        case .string: "str"
        case .array: "list"
        case .object: "dict"
        }
    }
}
