import Foundation

/// The YAML subset roar reads from `ray job submit --runtime-env FILE`: what runtime_env files
/// hold in practice, read as PyYAML's `safe_load` would read it.
///
/// - a top-level mapping `key: value`;
/// - values: a scalar, a flow list `[a, b]` or flow map `{K: v}` of scalars, or an indented
///   block list (`- item`) or block map (`K: v`) of scalars;
/// - scalars: plain, `'single'` or `"double"` quoted; `null`/`~`/empty, YAML 1.1 booleans
///   (`true`, `yes`, `on`, …), decimal integers and simple decimals are typed as PyYAML types them;
/// - `#` comments, blank lines, a leading `---`.
///
/// Anything else (anchors, tags, block scalars `|`/`>`, deeper nesting, numbers PyYAML reads in
/// another base or as a date) is refused with the line number: guessing would change the
/// runtime_env Ray sees.
public enum RuntimeEnvironmentYAML {
    public static func parse(_ text: String, file: String) throws(RaySubmitError) -> RuntimeEnvironmentValue {
        var lines: [(number: Int, indent: Int, text: String)] = []
        for (offset, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = offset + 1
            var line = String(raw)
            if line.hasSuffix("\r") { line.removeLast() }
            if line.contains("\t") && line.prefix(while: { $0 == " " || $0 == "\t" }).contains("\t") {
                throw refusal(file, number, "tabs in indentation")
            }
            let content = try stripComment(line, file: file, line: number)
            let trimmed = content.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            if trimmed == "---" && lines.isEmpty { continue }
            if trimmed == "---" || trimmed == "..." { throw refusal(file, number, "more than one YAML document") }
            lines.append((number, content.prefix(while: { $0 == " " }).count, trimmed))
        }
        if lines.isEmpty { return .null }  // safe_load of an empty file
        var result: [String: RuntimeEnvironmentValue] = [:]
        var index = 0
        while index < lines.count {
            let line = lines[index]
            guard line.indent == 0 else { throw refusal(file, line.number, "unexpected indentation") }
            let (key, rest) = try splitKey(line.text, file: file, line: line.number)
            index += 1
            if !rest.isEmpty {
                result[key] = try value(rest, file: file, line: line.number)
                continue
            }
            var children: [(number: Int, indent: Int, text: String)] = []
            while index < lines.count,
                lines[index].indent > 0 || lines[index].text.hasPrefix("- ") || lines[index].text == "-"
            {
                children.append(lines[index])
                index += 1
            }
            result[key] = try block(children, file: file)
        }
        return .object(result)
    }

    private static func block(
        _ lines: [(number: Int, indent: Int, text: String)], file: String
    ) throws(RaySubmitError) -> RuntimeEnvironmentValue {
        guard let first = lines.first else { return .null }
        for line in lines where line.indent != first.indent {
            throw refusal(file, line.number, "nesting deeper than one level")
        }
        if first.text.hasPrefix("- ") || first.text == "-" {
            var items: [RuntimeEnvironmentValue] = []
            for line in lines {
                guard line.text.hasPrefix("- ") || line.text == "-" else {
                    throw refusal(file, line.number, "a list item expected")
                }
                let item = line.text.dropFirst().trimmingCharacters(in: .whitespaces)
                if item.hasPrefix("[") || item.hasPrefix("{") || isMappingEntry(item) {
                    throw refusal(file, line.number, "nested collections in a list")
                }
                items.append(try scalar(item, file: file, line: line.number))
            }
            return .array(items)
        }
        var map: [String: RuntimeEnvironmentValue] = [:]
        for line in lines {
            let (key, rest) = try splitKey(line.text, file: file, line: line.number)
            if rest.hasPrefix("[") || rest.hasPrefix("{") {
                throw refusal(file, line.number, "nesting deeper than one level")
            }
            map[key] = try scalar(rest, file: file, line: line.number)
        }
        return .object(map)
    }

    private static func value(_ text: String, file: String, line: Int) throws(RaySubmitError) -> RuntimeEnvironmentValue
    {
        if text.hasPrefix("[") {
            guard text.hasSuffix("]") else { throw refusal(file, line, "a flow list that spans lines") }
            return .array(
                try flowItems(String(text.dropFirst().dropLast()), file: file, line: line).map {
                    (item) throws(RaySubmitError) in try scalar(item, file: file, line: line)
                })
        }
        if text.hasPrefix("{") {
            guard text.hasSuffix("}") else { throw refusal(file, line, "a flow map that spans lines") }
            var map: [String: RuntimeEnvironmentValue] = [:]
            for item in try flowItems(String(text.dropFirst().dropLast()), file: file, line: line) {
                let (key, rest) = try splitKey(item, file: file, line: line)
                map[key] = try scalar(rest, file: file, line: line)
            }
            return .object(map)
        }
        return try scalar(text, file: file, line: line)
    }

    /// Splits `a, 'b, c', d` at top-level commas; nested brackets are refused.
    private static func flowItems(_ text: String, file: String, line: Int) throws(RaySubmitError) -> [String] {
        var items: [String] = []
        var current = ""
        var quote: Character?
        for character in text {
            if let open = quote {
                current.append(character)
                if character == open { quote = nil }
            } else if character == "'" || character == "\"" {
                quote = character
                current.append(character)
            } else if character == "[" || character == "]" || character == "{" || character == "}" {
                throw refusal(file, line, "nested flow collections")
            } else if character == "," {
                items.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
            } else {
                current.append(character)
            }
        }
        let last = current.trimmingCharacters(in: .whitespaces)
        if !last.isEmpty { items.append(last) }
        if items.contains(where: \.isEmpty) { throw refusal(file, line, "an empty item in a flow collection") }
        return items
    }

    private static func isMappingEntry(_ text: String) -> Bool {
        guard !text.hasPrefix("'") && !text.hasPrefix("\"") else { return false }
        return text.contains(": ") || text.hasSuffix(":")
    }

    private static func splitKey(_ text: String, file: String, line: Int) throws(RaySubmitError) -> (String, String) {
        let keyPart: Substring
        let rest: Substring
        if text.hasPrefix("'") || text.hasPrefix("\"") {
            guard let close = text.dropFirst().firstIndex(of: text.first!) else {
                throw refusal(file, line, "an unterminated quoted key")
            }
            keyPart = text[...close]
            let after = text[text.index(after: close)...]
            guard after.hasPrefix(":") else { throw refusal(file, line, "`key: value` expected") }
            rest = after.dropFirst()
        } else if let range = text.range(of: ": ") {
            keyPart = text[..<range.lowerBound]
            rest = text[range.upperBound...]
        } else if text.hasSuffix(":") {
            keyPart = text.dropLast()
            rest = ""
        } else {
            throw refusal(file, line, "`key: value` expected")
        }
        guard
            case .string(let key) = try scalar(
                keyPart.trimmingCharacters(in: .whitespaces), file: file, line: line, typed: false)
        else { throw refusal(file, line, "a key that is not a string") }
        return (key, rest.trimmingCharacters(in: .whitespaces))
    }

    private static func scalar(
        _ text: String, file: String, line: Int, typed: Bool = true
    ) throws(RaySubmitError) -> RuntimeEnvironmentValue {
        if text.hasPrefix("'") {
            guard text.count >= 2, text.hasSuffix("'") else {
                throw refusal(file, line, "an unterminated quoted string")
            }
            let inner = String(text.dropFirst().dropLast())
            return .string(inner.replacingOccurrences(of: "''", with: "'"))
        }
        if text.hasPrefix("\"") {
            guard text.count >= 2, text.hasSuffix("\"") else {
                throw refusal(file, line, "an unterminated quoted string")
            }
            let inner = String(text.dropFirst().dropLast())
            if inner.contains("\\") { throw refusal(file, line, "escape sequences in a double-quoted string") }
            return .string(inner)
        }
        if let first = text.first, "&*!|>%@`".contains(first) {
            throw refusal(file, line, "the YAML construct `\(first)`")
        }
        if text.hasPrefix("- ") || text.hasPrefix("? ") || text.contains(": ") {
            throw refusal(file, line, "a nested collection")
        }
        guard typed else { return .string(text) }
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON": return .bool(true)
        case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF": return .bool(false)
        default: break
        }
        let unsigned = text.hasPrefix("-") || text.hasPrefix("+") ? String(text.dropFirst()) : text
        let digits = unsigned.allSatisfy(\.isASCIIDigit)
        if digits && !unsigned.isEmpty {
            if unsigned.count > 1 && unsigned.hasPrefix("0") {
                throw refusal(file, line, "`\(text)` (PyYAML reads a leading 0 as octal); quote it")
            }
            guard let value = Int64(text) else { throw refusal(file, line, "the integer `\(text)` is too large") }
            return .integer(value)
        }
        let parts = unsigned.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count == 2, !parts[0].isEmpty, parts.allSatisfy({ $0.allSatisfy(\.isASCIIDigit) }),
            let value = Double(text)
        {
            return .number(value)
        }
        // Forms PyYAML types as numbers, dates or special floats: refuse rather than guess.
        let numberLike = Set("0123456789_:.+-eExXoObB")
        if let first = unsigned.first, first.isASCIIDigit || first == ".", unsigned.contains(where: \.isASCIIDigit),
            unsigned.allSatisfy({ numberLike.contains($0) })
        {
            throw refusal(file, line, "`\(text)` (PyYAML may read it as a number or date); quote it")
        }
        if [".inf", ".Inf", ".INF", ".nan", ".NaN", ".NAN"].contains(unsigned) {
            throw refusal(file, line, "`\(text)` (a special float); quote it")
        }
        return .string(text)
    }

    private static func stripComment(_ line: String, file: String, line number: Int) throws(RaySubmitError) -> String {
        var quote: Character?
        var previous: Character = " "
        var result = ""
        for character in line {
            if let open = quote {
                if character == open { quote = nil }
            } else if (character == "'" || character == "\"") && " [{,:-".contains(previous) {
                quote = character
            } else if character == "#" && (previous == " " || previous == "\t") {
                return result
            }
            result.append(character)
            previous = character
        }
        return result
    }

    private static func refusal(_ file: String, _ line: Int, _ what: String) -> RaySubmitError {
        RaySubmitError(
            .unsupportedYAML,
            "\(file):\(line): roar reads a subset of YAML for `--runtime-env` and this file uses \(what); "
                + "pass the runtime env as `--runtime-env-json` instead")
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
