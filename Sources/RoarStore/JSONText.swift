// RoarStore: `.roar/roar.db` — the schema and its named migrations (Schema), one-transaction merges, the queries
// behind every command, and what a `roar show` target names. GRDB stays inside this module.

import Foundation

/// The JSON text of the two flat maps the store keeps in TEXT columns (`jobs.coverage`,
/// `job_inputs.hashes`, `job_outputs.hashes`): an object with sorted keys, no whitespace.
///
/// Written by hand because a merge encodes one map per job and per ref, and `JSONEncoder` was
/// most of the time of a 10,000-job merge. Reading uses `JSONDecoder` except for the empty map.
enum JSONText {
    static func encode(_ map: [String: String]) -> String {
        if map.isEmpty { return "{}" }
        var text = "{"
        for (index, key) in map.keys.sorted().enumerated() {
            if index > 0 { text += "," }
            appendQuoted(key, to: &text)
            text += ":"
            appendQuoted(map[key]!, to: &text)
        }
        return text + "}"
    }

    static func encode(_ map: [String: Int]) -> String {
        if map.isEmpty { return "{}" }
        var text = "{"
        for (index, key) in map.keys.sorted().enumerated() {
            if index > 0 { text += "," }
            appendQuoted(key, to: &text)
            text += ":\(map[key]!)"
        }
        return text + "}"
    }

    static func decode<Value: Decodable>(_ text: String, as type: [String: Value].Type, decoder: JSONDecoder) throws
        -> [String: Value]
    {
        if text == "{}" { return [:] }
        return try decoder.decode(type, from: Data(text.utf8))
    }

    /// Appends `string` as a JSON string literal (RFC 8259 §7: escape `"`, `\` and controls).
    private static func appendQuoted(_ string: String, to text: inout String) {
        text += "\""
        if !string.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            text += string + "\""
            return
        }
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }
}
