public import Foundation

/// Where Graphviz put each node and edge of a `DagView`, in points, with the origin at the top
/// left (the page's SVG coordinates).
public struct GraphLayout: Codable, Hashable, Sendable {
    public struct Box: Codable, Hashable, Sendable {
        /// The centre.
        public var x: Double
        public var y: Double
        public var width: Double
        public var height: Double
    }

    public struct Spline: Codable, Hashable, Sendable {
        /// A cubic B-spline as Graphviz gives it: a start point, then three points per segment.
        public var points: [[Double]]
        /// The tip of the arrow head, when there is one.
        public var arrowTip: [Double]?
        /// Where the label goes.
        public var labelAt: [Double]?
    }

    public var width: Double
    public var height: Double
    public var nodes: [String: Box]
    public var edges: [String: Spline]
}

/// Lays a `DagView` out with Graphviz's `dot` (the layered layout Graphviz is known for): roar
/// writes the graph in DOT with every box at its drawn size, `dot -Tjson0` places the boxes and
/// routes the edges, and roar reads the positions back.
public struct GraphvizLayout: Sendable {
    /// The `dot` executable.
    public var executable: String

    public init(executable: String) {
        self.executable = executable
    }

    /// `dot` from `PATH`.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> GraphvizLayout
    {
        let folders = (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":")
        for folder in folders {
            let candidate = String(folder) + "/dot"
            if FileManager.default.isExecutableFile(atPath: candidate) { return GraphvizLayout(executable: candidate) }
        }
        throw ExportError(
            .graphvizMissing,
            "the HTML view is laid out by Graphviz, and `dot` is not on PATH: install Graphviz "
                + "(Debian/Ubuntu: `apt-get install graphviz`, macOS: `brew install graphviz`) and run again")
    }

    public func layout(_ view: DagView) throws -> GraphLayout {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("roar-dot-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = folder.appendingPathComponent("dag.dot")
        let output = folder.appendingPathComponent("dag.json")
        let errors = folder.appendingPathComponent("stderr")
        try Data(Self.dotSource(of: view).utf8).write(to: source)
        FileManager.default.createFile(atPath: errors.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-Tjson0", "-o", output.path, source.path]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: errors)
        do {
            try process.run()
        } catch {
            throw ExportError(.graphvizFailed, "could not start \(executable)", underlyingError: error)
        }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
            throw ExportError(
                .graphvizFailed,
                "\(executable) exited \(process.terminationStatus) laying out the graph: "
                    + text.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return try Self.parse(try Data(contentsOf: output), view: view)
    }

    /// The view in DOT: nodes `n0`, `n1`, … at their drawn sizes, edges with their view ids. Labels
    /// are placeholders of the label's length (dot only makes room for them; the page draws the
    /// text), so no path ever reaches Graphviz's label syntax.
    public static func dotSource(of view: DagView) -> String {
        var lines = [
            "digraph roar {",
            "  graph [rankdir=LR, nodesep=0.35, ranksep=0.8, splines=true, outputorder=edgesfirst];",
            "  node [shape=box, fixedsize=true, label=\"\"];",
            "  edge [fontsize=10, fontname=\"Courier\"];",
        ]
        var names: [String: String] = [:]
        for (index, node) in view.nodes.enumerated() {
            names[node.id] = "n\(index)"
            lines.append("  n\(index) [width=\(inches(node.width)), height=\(inches(node.height))];")
        }
        for (index, edge) in view.edges.enumerated() {
            guard let from = names[edge.from], let to = names[edge.to] else { continue }
            var attributes = ["id=\"x\(index)\""]
            if edge.kind == .parent { attributes.append("style=dashed") }
            if !edge.label.isEmpty {
                attributes.append("label=\"" + String(repeating: "x", count: edge.label.count) + "\"")
            }
            lines.append("  \(from) -> \(to) [\(attributes.joined(separator: ", "))];")
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    static func inches(_ points: Double) -> String {
        String(format: "%.3f", points / 72)
    }

    /// Reads `dot -Tjson0`: `bb`, each object's `pos`/`width`/`height` (inches) and each edge's
    /// `pos` spline (`e,x,y` the arrow tip, then the points) and `lp`; y flipped to grow downwards.
    static func parse(_ data: Data, view: DagView) throws -> GraphLayout {
        func unreadable(_ what: String) -> ExportError {
            ExportError(.layoutUnreadable, "dot's JSON layout has \(what); is this Graphviz 2.40 or newer?")
        }
        guard let document = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw unreadable("no JSON object")
        }
        guard let box = (document["bb"] as? String).flatMap(numbers), box.count == 4 else {
            throw unreadable("no bounding box")
        }
        let margin = 16.0
        let height = box[3] - box[1]
        func point(_ xy: [Double]) -> [Double] { [xy[0] - box[0] + margin, height - (xy[1] - box[1]) + margin] }

        var layout = GraphLayout(
            width: box[2] - box[0] + 2 * margin, height: height + 2 * margin, nodes: [:], edges: [:])
        let objects = document["objects"] as? [[String: Any]] ?? []
        for object in objects {
            guard let name = object["name"] as? String, name.hasPrefix("n"), let index = Int(name.dropFirst()),
                view.nodes.indices.contains(index)
            else { continue }
            guard let position = (object["pos"] as? String).flatMap(numbers), position.count == 2,
                let width = (object["width"] as? String).flatMap(Double.init),
                let nodeHeight = (object["height"] as? String).flatMap(Double.init)
            else { throw unreadable("a node without a position") }
            let centre = point(position)
            layout.nodes[view.nodes[index].id] = GraphLayout.Box(
                x: centre[0], y: centre[1], width: width * 72, height: nodeHeight * 72)
        }
        for edge in document["edges"] as? [[String: Any]] ?? [] {
            guard let id = edge["id"] as? String, id.hasPrefix("x"), let index = Int(id.dropFirst()),
                view.edges.indices.contains(index), let spline = edge["pos"] as? String
            else { continue }
            var geometry = GraphLayout.Spline(points: [])
            for token in spline.split(separator: " ") {
                if token.hasPrefix("e,") {
                    geometry.arrowTip = numbers(String(token.dropFirst(2))).flatMap { $0.count == 2 ? point($0) : nil }
                } else if token.hasPrefix("s,") {
                    continue
                } else if let xy = numbers(String(token)), xy.count == 2 {
                    geometry.points.append(point(xy))
                }
            }
            geometry.labelAt = (edge["lp"] as? String).flatMap(numbers).flatMap { $0.count == 2 ? point($0) : nil }
            layout.edges[view.edges[index].id] = geometry
        }
        guard layout.nodes.count == view.nodes.count else { throw unreadable("fewer nodes than the graph") }
        return layout
    }

    static func numbers(_ text: String) -> [Double]? {
        let values = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        return values.contains(nil) ? nil : values.compactMap { $0 }
    }
}
