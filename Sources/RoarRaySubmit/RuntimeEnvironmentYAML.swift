import Foundation
public import RoarCapture
public import RoarCore
import Yams

/// Reads `ray job submit --runtime-env FILE` as Ray does (`yaml.safe_load`), with Yams.
///
/// Why Yams and not PyYAML in the user's Python: Yams' default resolver is PyYAML's YAML 1.1
/// one (`yes`/`on` are booleans, `010` is octal, `1:20` sexagesimal, `2024-01-02` a date), so
/// it types scalars as Ray sees them, while the rewrite stays in process, without a Python
/// start-up on every submit and testable without Ray installed.
///
/// What `safe_load` reads but JSON cannot carry (a date or timestamp, binary, `.inf`/`.nan`,
/// a non-string key) is refused naming the file and the field: Ray could not send it to the
/// cluster either. Several documents in one file are refused, as `safe_load` refuses them.
public enum RuntimeEnvironmentYAML {
    public static func parse(_ text: String, file: String) throws(RaySubmitError) -> RuntimeEnvironmentValue {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw RaySubmitError(
                .unreadableRuntimeEnvironment,
                "`--runtime-env \(file)` is not valid YAML: \(error); fix the file or pass the runtime env as "
                    + "`--runtime-env-json`",
                underlyingError: error)
        }
        guard let root else { return .null }  // safe_load of an empty file
        // Checked before Yams constructs values: its constructor traps on a key that is a list or a
        // mapping, and expands every alias (a few lines of nested aliases become billions of values).
        var budget = maximumValues
        try check(root, at: "", depth: 0, budget: &budget, file: file)
        return try value(of: root.any, at: "", file: file)
    }

    /// More values than this, counting each alias expansion, is refused (an alias bomb).
    static let maximumValues = 100_000
    /// Deeper nesting than this is refused (Python's recursion limit stops PyYAML near 1000).
    static let maximumDepth = 256

    /// Refuses what Yams cannot construct safely: keys that are not scalars (PyYAML's `safe_load`
    /// refuses them as unhashable), nesting deeper than ``maximumDepth``, more than
    /// ``maximumValues`` values.
    private static func check(
        _ node: Node, at field: String, depth: Int, budget: inout Int, file: String
    ) throws(RaySubmitError) {
        budget -= 1
        guard budget >= 0 else {
            throw tooLarge(file, "", "more than \(maximumValues) values once its aliases are expanded")
        }
        guard depth <= maximumDepth else {
            throw tooLarge(file, field, "values nested more than \(maximumDepth) levels deep")
        }
        switch node {
        case .scalar, .alias: return
        case .sequence(let sequence):
            for (index, item) in sequence.enumerated() {
                try check(item, at: "\(field)[\(index)]", depth: depth + 1, budget: &budget, file: file)
            }
        case .mapping(let mapping):
            for (key, item) in mapping {
                guard case .scalar(let scalar) = key else {
                    let what = key.sequence != nil ? "a list" : "a mapping"
                    throw refusal(file, field, "a key that is \(what), not a string (PyYAML refuses it too)")
                }
                let name = field.isEmpty ? scalar.string : "\(field).\(scalar.string)"
                try check(item, at: name, depth: depth + 1, budget: &budget, file: file)
            }
        }
    }

    private static func value(of node: Any, at field: String, file: String) throws(RaySubmitError)
        -> RuntimeEnvironmentValue
    {
        switch node {
        case is NSNull: return .null
        case let flag as Bool: return .bool(flag)
        case let number as Int: return .integer(Int64(number))
        case let number as Double:
            guard number.isFinite else { throw refusal(file, field, "`\(number)` (a special float)") }
            return .number(number)
        case let text as String: return .string(text)
        case let list as [Any]:
            var items: [RuntimeEnvironmentValue] = []
            for (index, item) in list.enumerated() {
                items.append(try value(of: item, at: "\(field)[\(index)]", file: file))
            }
            return .array(items)
        case let map as [AnyHashable: Any]:
            var object: [String: RuntimeEnvironmentValue] = [:]
            for (key, item) in map {
                guard let name = key.base as? String else {
                    throw refusal(file, field, "the key `\(key.base)`, which is not a string (quote it)")
                }
                object[name] = try value(of: item, at: field.isEmpty ? name : "\(field).\(name)", file: file)
            }
            return .object(object)
        case is Date: throw refusal(file, field, "a date or timestamp (quote it)")
        case is Data: throw refusal(file, field, "binary data")
        default: throw refusal(file, field, "a value of type \(type(of: node))")
        }
    }

    private static func tooLarge(_ file: String, _ field: String, _ what: String) -> RaySubmitError {
        RaySubmitError(
            .unreadableRuntimeEnvironment,
            "`--runtime-env \(file)`: \(field.isEmpty ? "the document" : "`\(field)`") holds \(what); roar reads "
                + "no more than that (nor can Ray sensibly send it). Change the file or pass the runtime env as "
                + "`--runtime-env-json`")
    }

    private static func refusal(_ file: String, _ field: String, _ what: String) -> RaySubmitError {
        RaySubmitError(
            .unsupportedYAML,
            "\(file): \(field.isEmpty ? "the document" : "`\(field)`") holds \(what), which has no JSON form; "
                + "Ray could not send it to the cluster. Change the file or pass the runtime env as "
                + "`--runtime-env-json`")
    }
}
