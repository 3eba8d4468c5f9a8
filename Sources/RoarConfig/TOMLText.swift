import Foundation
import TOMLKit

/// Small conversions between Swift values and TOML text.
enum TOMLText {
    /// A TOML basic string: `"a \"b\""`.
    static func quoted(_ string: String) -> String {
        var out = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += String(format: "\\u%04X", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// The string a person typed, with TOML quotes (`"a"`, `'a'`) removed when present;
    /// `nil` when it starts with a quote but is not a valid TOML string.
    static func unquoted(_ text: String) -> String? {
        guard text.hasPrefix("\"") || text.hasPrefix("'") else { return text }
        return parsedValue(text)?.string
    }

    /// The strings of a TOML array literal such as `["/a", '/b']`; `nil` when it is not one.
    static func stringArray(_ text: String) -> [String]? {
        guard let array = parsedValue(text)?.array else { return nil }
        var strings: [String] = []
        for element in array {
            guard let string = element.string else { return nil }
            strings.append(string)
        }
        return strings
    }

    /// Parses `text` as the value of a one-key TOML document.
    private static func parsedValue(_ text: String) -> (any TOMLValueConvertible)? {
        guard !text.contains("\n"), !text.contains("\0"),
            let table = try? TOMLTable(string: "value = " + text)
        else { return nil }
        return table["value"]
    }

    /// A TOML value as a person would write it, for `got …` in messages.
    static func rendered(_ value: any TOMLValueConvertible) -> String {
        switch value.type {
        case .string: return quoted(value.string ?? "")
        case .bool: return value.bool.map { String($0) } ?? ""
        case .int: return value.int.map { String($0) } ?? ""
        case .double: return value.double.map { String($0) } ?? ""
        case .array:
            guard let array = value.array else { return "[]" }
            return "[" + array.map { rendered($0) }.joined(separator: ", ") + "]"
        case .table:
            guard let table = value.table else { return "{}" }
            let pairs = table.map { key, value in "\(key) = \(rendered(value))" }
            return pairs.isEmpty ? "{}" : "{ " + pairs.joined(separator: ", ") + " }"
        case .date, .time, .dateTime: return value.debugDescription
        }
    }
}

enum URLCheck {
    /// Whether `text` is an absolute `http` or `https` URL with a host.
    static func isHTTP(_ text: String) -> Bool {
        guard let components = URLComponents(string: text),
            let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = components.host, !host.isEmpty
        else { return false }
        return true
    }
}

enum Suggestion {
    /// The candidate nearest to `name` in edit distance, when near enough to be a typo.
    static func closest(to name: String, among candidates: [String]) -> String? {
        let limit = max(1, min(3, name.count / 3))
        var best: (candidate: String, distance: Int)?
        for candidate in candidates {
            let distance = editDistance(name.lowercased(), candidate.lowercased())
            if distance <= limit, distance < (best?.distance ?? Int.max) {
                best = (candidate, distance)
            }
        }
        return best?.candidate
    }

    /// Whether one name holds the other (`atribution` and `actor_attribution` are one typo
    /// apart once the prefix is dropped), for names long enough to mean something.
    static func isPart(_ typed: String, of candidate: String) -> Bool {
        guard typed.count >= 4 else { return false }
        let typed = typed.lowercased()
        let candidate = candidate.lowercased()
        if candidate.contains(typed) || typed.contains(candidate) { return true }
        // The end of the candidate, as long as what was typed, within one edit.
        return editDistance(typed, String(candidate.suffix(typed.count))) <= 1
    }

    /// Levenshtein distance, counting a swap of two neighbours as one edit.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previousPrevious = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], previousPrevious[j - 2] + 1)
                }
            }
            (previousPrevious, previous, current) = (previous, current, previousPrevious)
        }
        return previous[b.count]
    }
}

extension ConfigError {
    /// `unknown key 'ray.actor_atribution' (did you mean 'ray.actor_attribution'?)`.
    static func unknownKey(_ name: String, file: String?, line: Int?) -> ConfigError {
        let allNames = RoarConfig.keys.map(\.name)
        let section = String(name.prefix { $0 != "." })
        let field = String(name.drop { $0 != "." }.dropFirst())
        var message = "unknown key '\(name)'"
        let sectionKeys = RoarConfig.keys.filter { $0.section == section }
        if let match = Suggestion.closest(to: name, among: allNames)
            ?? RoarConfig.keys.first(where: { !field.isEmpty && $0.field == field })?.name
            ?? sectionKeys.first(where: { Suggestion.isPart(field, of: $0.field) })?.name
        {
            message += " (did you mean '\(match)'?)"
        } else if ConfigKey.sections.contains(section) {
            message += "; [\(section)] has the keys " + ConfigKey.fields(inSection: section).joined(separator: ", ")
        } else {
            message += "; `roar config list` shows every key"
        }
        return ConfigError(code: .unknownKey, file: file, line: line, key: name, message: message)
    }

    /// A key outside any section, e.g. `enabled = true` above the first `[table]`.
    static func topLevelKey(_ name: String, file: String?, line: Int?) -> ConfigError {
        var message = "unknown key '\(name)' outside any section"
        let fields = RoarConfig.keys.map(\.field)
        if let field = Suggestion.closest(to: name, among: fields),
            let key = RoarConfig.keys.first(where: { $0.field == field })
        {
            message += " (did you mean '\(key.name)'? write it as \(key.field) under [\(key.section)])"
        } else {
            message += "; settings go in the sections " + ConfigKey.sections.map { "[\($0)]" }.joined(separator: ", ")
        }
        return ConfigError(code: .unknownKey, file: file, line: line, key: name, message: message)
    }

    /// `unknown section [rey] (did you mean [ray]?)`.
    static func unknownSection(_ name: String, file: String?, line: Int?) -> ConfigError {
        var message = "unknown section [\(name)]"
        if let match = Suggestion.closest(to: name, among: ConfigKey.sections) {
            message += " (did you mean [\(match)]?)"
        } else {
            message += "; the sections are " + ConfigKey.sections.map { "[\($0)]" }.joined(separator: ", ")
        }
        return ConfigError(code: .unknownKey, file: file, line: line, key: name, message: message)
    }
}
