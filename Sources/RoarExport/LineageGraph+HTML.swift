public import Foundation
public import RoarCore

/// The page of `roar dag --format html` (docs/web-view.md): one self-contained HTML file — its
/// style, its script and its data inline, nothing fetched — that draws the laid-out `DagView` as
/// SVG. `roar serve` sends the same page for a run.
public enum WebPage {
    /// The name of the data document embedded in the page.
    public static let schema = "roar.web/1"

    /// The page for `view` laid out as `layout`, embedding `document` (the `roar.dag/1` JSON).
    public static func html(
        title: String, projectDirectory: String, document: Data, view: DagView, layout: GraphLayout,
        generatedAt: Date = Date()
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
        var escaped = ""
        escaped.reserveCapacity(json.utf8.count)
        for scalar in json.unicodeScalars {
            switch scalar {
            case "<": escaped += "\\u003c"
            case ">": escaped += "\\u003e"
            case "&": escaped += "\\u0026"
            case "\u{2028}": escaped += "\\u2028"
            case "\u{2029}": escaped += "\\u2029"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
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
        let document = try JSONSerialization.data(
            withJSONObject: jsonDocument(), options: [.sortedKeys, .withoutEscapingSlashes])
        return try WebPage.html(
            title: title, projectDirectory: projectDirectory, document: document, view: view,
            layout: try layout.layout(view), generatedAt: generatedAt)
    }
}
