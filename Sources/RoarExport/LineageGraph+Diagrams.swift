// RoarExport: the lineage graph's formats — `roar.dag/1` JSON (docs/dag-json.md), Graphviz DOT, Mermaid, and
// the text layout of `roar dag`.

import Foundation
public import RoarCore

extension LineageGraph {
    /// Graphviz: jobs as boxes, artifacts as ellipses, so the files that connect steps show.
    public func dot() -> String {
        var lines = ["digraph roar {", "  rankdir=LR;", "  node [fontname=\"monospace\"];"]
        var artifactIDs: [String: String] = [:]
        func artifactNode(_ ref: Ref) -> String {
            let key = ref.path + "@" + (ref.primaryHash?.digest ?? "")
            if let id = artifactIDs[key] { return id }
            let id = "a\(artifactIDs.count)"
            artifactIDs[key] = id
            let digest = ref.primaryHash.map { " " + String($0.digest.prefix(8)) } ?? ""
            lines.append("  \(id) [shape=ellipse, label=\(Self.dotQuoted(Self.shortPath(ref.path) + digest))];")
            return id
        }
        for recorded in jobs {
            let job = recorded.job
            let label = "@\(job.step.map(String.init) ?? "?") \(Self.title(of: job))"
            let style = job.status == .ok ? "" : ", color=red"
            lines.append("  j\(job.uid) [shape=box, label=\(Self.dotQuoted(label))\(style)];")
            for input in recorded.inputs { lines.append("  \(artifactNode(input)) -> j\(job.uid);") }
            for output in recorded.outputs { lines.append("  j\(job.uid) -> \(artifactNode(output));") }
        }
        lines.append("}")
        return lines.joined(separator: "\n")
    }

    /// Mermaid flowchart of jobs and the paths between them.
    public func mermaid() -> String {
        var lines = ["flowchart LR"]
        for recorded in jobs {
            let job = recorded.job
            let label = "@\(job.step.map(String.init) ?? "?") \(Self.title(of: job))"
            lines.append("  j\(job.uid)[\"\(Self.mermaidEscaped(label))\"]")
        }
        for edge in edges {
            lines.append("  j\(edge.from) -->|\"\(Self.mermaidEscaped(Self.shortPath(edge.path)))\"| j\(edge.to)")
        }
        return lines.joined(separator: "\n")
    }

    /// A short human title: the function for Ray tasks, the command otherwise.
    public static func title(of job: Job) -> String {
        if let ray = job.ray {
            let attempt = ray.attempt > 0 ? " (attempt \(ray.attempt))" : ""
            return ray.function + attempt
        }
        return job.command
    }

    static func shortPath(_ path: String) -> String {
        let components = path.split(separator: "/")
        return components.count <= 2 ? path : components.suffix(2).joined(separator: "/")
    }

    static func dotQuoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    static func mermaidEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "\"", with: "#quot;")
    }
}
