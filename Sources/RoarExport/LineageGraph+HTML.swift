public import Foundation
public import RoarCore

/// The page of `roar dag --format html` (docs/web-view.md): one self-contained HTML file — its
/// style, its script and its data inline, nothing fetched — that draws the laid-out `DagView` as
/// SVG. `roar serve` sends the same page for a run.
public enum WebPage {
    /// The name of the data document embedded in the page.
    public static let schema = "roar.web/1"

    /// The page for `view` laid out as `layout`, embedding `document` (the `roar.dag/1` JSON, as
    /// `LineageGraph.pageDocument()` makes it) and `composites` (the parts of its datasets).
    public static func html(
        title: String, projectDirectory: String, document: Data, composites: Data, view: DagView,
        layout: GraphLayout, generatedAt: Date = Date()
    ) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let header = try JSONSerialization.data(
            withJSONObject: [
                "schema": schema, "title": title, "project": projectDirectory,
                "generated_at": ISO8601DateFormatter().string(from: generatedAt),
            ], options: [.sortedKeys, .withoutEscapingSlashes])
        var payload = String(decoding: header.dropLast(), as: UTF8.self)
        payload += ",\"dag\":" + String(decoding: document, as: UTF8.self)
        payload += ",\"composites\":" + String(decoding: composites, as: UTF8.self)
        payload += ",\"view\":" + String(decoding: try encoder.encode(view), as: UTF8.self)
        payload += ",\"layout\":" + String(decoding: try encoder.encode(layout), as: UTF8.self) + "}"
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; \
            script-src 'unsafe-inline'; img-src data:">
            <title>\(htmlEscaped(title)) · roar</title>
            <style>
            \(style)
            </style>
            </head>
            <body>
            \(body)
            <script type="application/json" id="roar-data">\(scriptSafe(payload))</script>
            <script>
            \(script)
            </script>
            </body>
            </html>

            """
    }

    /// JSON text that can sit inside `<script>`: `<`, `>`, `&` and the two JavaScript line
    /// separators written as `\u` escapes. Outside strings JSON has none of them, so the text still
    /// parses to the same value, and no path can close the script element or open a comment.
    public static func scriptSafe(_ json: String) -> String {
        let bytes = Array(json.utf8)
        var escaped: [UInt8] = []
        escaped.reserveCapacity(bytes.count + bytes.count / 64)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "<"): escaped += Array("\\u003c".utf8)
            case UInt8(ascii: ">"): escaped += Array("\\u003e".utf8)
            case UInt8(ascii: "&"): escaped += Array("\\u0026".utf8)
            // U+2028 and U+2029 are E2 80 A8 and E2 80 A9 in UTF-8.
            case 0xE2 where index + 2 < bytes.count && bytes[index + 1] == 0x80 && (bytes[index + 2] & 0xFE) == 0xA8:
                escaped += Array((bytes[index + 2] == 0xA8 ? "\\u2028" : "\\u2029").utf8)
                index += 2
            default: escaped.append(byte)
            }
            index += 1
        }
        return String(decoding: escaped, as: UTF8.self)
    }

    static func htmlEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

extension LineageGraph {
    /// The web view of the whole graph: fan-outs grouped, laid out by `layout` (Graphviz).
    public func webPage(
        projectDirectory: String, layout: GraphvizLayout,
        groupingThreshold: Int = DagView.defaultGroupingThreshold, generatedAt: Date = Date()
    ) throws -> String {
        let view = DagView(graph: self, projectDirectory: projectDirectory, groupingThreshold: groupingThreshold)
        let title = URL(fileURLWithPath: projectDirectory).lastPathComponent
        let (document, composites) = pageDocument()
        let options: JSONSerialization.WritingOptions = [.sortedKeys, .withoutEscapingSlashes]
        return try WebPage.html(
            title: title, projectDirectory: projectDirectory,
            document: try JSONSerialization.data(withJSONObject: document, options: options),
            composites: try JSONSerialization.data(withJSONObject: composites, options: options), view: view,
            layout: try layout.layout(view), generatedAt: generatedAt)
    }

    /// The `roar.dag/1` document as the page embeds it: the same but that a composite ref has no
    /// `components`; they are listed once, in the second value, under the composite's
    /// `blake3_merkle` digest. Each writer of a dataset carries the dataset's ref, so 1000 tasks
    /// writing a dataset of 1000 parts would otherwise embed a million parts.
    public func pageDocument() -> (document: [String: Any], composites: [String: Any]) {
        var composites: [String: Any] = [:]
        func stripped(_ ref: Ref) -> Ref {
            guard ref.components != nil, let digest = ref.hashes[Composite.algorithm] else { return ref }
            if composites[digest] == nil { composites[digest] = Self.jsonObject(for: ref)["components"] }
            var copy = ref
            copy.components = nil
            return copy
        }
        let jobs = jobs.map { recorded in
            var copy = recorded
            copy.inputs = recorded.inputs.map(stripped)
            copy.outputs = recorded.outputs.map(stripped)
            return Self.jsonObject(for: copy)
        }
        let document: [String: Any] = [
            "schema": "roar.dag/1", "jobs": jobs,
            "edges": edges.map { ["from": $0.from, "to": $0.to, "path": $0.path] },
        ]
        return (document, composites)
    }
}

extension LineageGraph {
    /// The jobs of one `roar run` (the run and every task under it, `root(of:)`) and the edges
    /// between them: what a page for one run shows (`roar serve`).
    public func subgraph(ofRun runUID: String) -> LineageGraph {
        let kept = jobs.filter { root(of: $0.job).uid == runUID }
        let uids = Set(kept.map(\.job.uid))
        return LineageGraph(jobs: kept, edges: edges.filter { uids.contains($0.from) && uids.contains($0.to) })
    }
}
