import Foundation
public import RoarCore

/// The graph a person looks at: jobs as nodes, except that a fan-out (many tasks of one function
/// started by one parent in one step) is one group node; the edges between nodes carry the paths
/// they stand for, the parts of a dataset folded into its folder. This, not the full graph, is what
/// Graphviz lays out, so a run of 1000 tasks is a handful of nodes.
public struct DagView: Codable, Hashable, Sendable {
    public struct Node: Codable, Hashable, Sendable {
        public enum Kind: String, Codable, Hashable, Sendable {
            case job, group
        }

        /// `j<uid>` for a job, `g<n>` for a group.
        public var id: String
        public var kind: Kind
        /// The function of a Ray task, the command of a run.
        public var title: String
        /// The line under it: `@2 · ok · 412 ms` for a job, `998 ok · 2 failed` for a group.
        public var subtitle: String
        public var role: String
        public var step: Int?
        /// The jobs it stands for, in the graph's order: one for a job node.
        public var jobs: [String]
        /// How many of `jobs` ended with each status.
        public var statusCounts: [String: Int]
        /// The parent of every job of the node, when they share one.
        public var parentUID: String?
        /// The box's size in points (Graphviz lays it out at this size; the page draws it so).
        public var width: Double
        public var height: Double
    }

    public struct Edge: Codable, Hashable, Sendable {
        public enum Kind: String, Codable, Hashable, Sendable {
            /// `to` read what `from` wrote.
            case data
            /// `to` was started by `from` and read nothing it wrote: drawn dashed, no lineage.
            case parent
        }

        public var id: String
        public var from: String
        public var to: String
        public var kind: Kind
        /// What the edge carries: paths, a dataset's parts folded into its folder (`parts` counts them).
        public var files: [File]
        /// How many job-to-job edges of the full graph it stands for.
        public var jobEdges: Int
        /// The short text drawn on the edge.
        public var label: String
    }

    public struct File: Codable, Hashable, Sendable {
        public var path: String
        /// For a dataset folder: how many of its parts the edge carries.
        public var parts: Int?
    }

    public var nodes: [Node]
    public var edges: [Edge]

    /// Tasks of one function, one parent and one step become a group at this many.
    public static let defaultGroupingThreshold = 5

    /// Characters of a title or status line drawn in a box; longer ones are cut with `…`.
    static let maximumLabelCharacters = 40
    /// The page draws labels in a 12 px monospace font: about this wide a character.
    static let characterWidth = 7.4

    public init(graph: LineageGraph, projectDirectory: String, groupingThreshold: Int = defaultGroupingThreshold) {
        var members: [String: [RecordedJob]] = [:]
        var order: [String] = []
        for recorded in graph.jobs {
            let key = Self.groupKey(of: recorded.job)
            if members[key] == nil { order.append(key) }
            members[key, default: []].append(recorded)
        }
        var nodes: [Node] = []
        var nodeOfJob: [String: String] = [:]
        for key in order {
            let group = members[key] ?? []
            guard let first = group.first?.job else { continue }
            if group.count >= groupingThreshold && first.parentUID != nil {
                let node = Self.groupNode(id: "g\(nodes.count)", of: group.map(\.job))
                for recorded in group { nodeOfJob[recorded.job.uid] = node.id }
                nodes.append(node)
            } else {
                for recorded in group {
                    let node = Self.jobNode(recorded.job)
                    nodeOfJob[recorded.job.uid] = node.id
                    nodes.append(node)
                }
            }
        }
        self.nodes = nodes
        self.edges = Self.edges(
            of: graph, nodes: nodes, nodeOfJob: nodeOfJob, projectDirectory: projectDirectory)
    }

    /// Jobs that may share a group: tasks (or actor calls) of one function, one parent and one step.
    /// A run, or a job without a parent, is alone in its key.
    static func groupKey(of job: Job) -> String {
        guard job.role != .run, let parent = job.parentUID else { return "job\u{0}" + job.uid }
        let function = job.ray?.function ?? job.command
        return [parent, job.role.rawValue, function, job.step.map(String.init) ?? "-"].joined(separator: "\u{0}")
    }

    static func jobNode(_ job: Job) -> Node {
        let title = job.role == .run ? shortCommand(job.command) : LineageGraph.title(of: job)
        var meta = "@\(job.step.map(String.init) ?? "?") · \(job.status.rawValue)"
        if let duration = job.durationSeconds { meta += " · " + Self.duration(duration) }
        return Node(
            id: "j" + job.uid, kind: .job, title: title, subtitle: meta, role: job.role.rawValue, step: job.step,
            jobs: [job.uid],
            statusCounts: [job.status.rawValue: 1], parentUID: job.parentUID,
            width: boxWidth(lines: [title, meta]), height: 46)
    }

    static func groupNode(id: String, of jobs: [Job]) -> Node {
        let first = jobs[0]
        let title = (first.ray?.function ?? first.command) + " ×\(jobs.count)"
        var counts: [String: Int] = [:]
        for job in jobs { counts[job.status.rawValue, default: 0] += 1 }
        let parents = Set(jobs.compactMap(\.parentUID))
        return Node(
            id: id, kind: .group, title: title, subtitle: statusLine(counts), role: first.role.rawValue,
            step: first.step, jobs: jobs.map(\.uid),
            statusCounts: counts, parentUID: parents.count == 1 ? parents.first : nil,
            width: boxWidth(lines: [title, statusLine(counts)]) + 8, height: 54)
    }

    /// A run's command with the folder of its program left out: `python train.py`, not
    /// `/home/me/.venv/bin/python train.py` (the panel shows it whole).
    static func shortCommand(_ command: String) -> String {
        guard command.hasPrefix("/"), let space = command.firstIndex(of: " ") ?? Optional(command.endIndex),
            let slash = command[..<space].lastIndex(of: "/")
        else { return command }
        return String(command[command.index(after: slash)...])
    }

    /// `998 ok · 2 failed`: the statuses in the order of `Job.Status`, those with no job left out.
    public static func statusLine(_ counts: [String: Int]) -> String {
        Job.Status.allCases.compactMap { status in
            counts[status.rawValue].map { "\($0) \(status.rawValue)" }
        }.joined(separator: " · ")
    }

    static func boxWidth(lines: [String]) -> Double {
        let characters = min(lines.map(\.count).max() ?? 0, maximumLabelCharacters)
        return max(120, (Double(characters) * characterWidth + 28).rounded(.up))
    }

    static func duration(_ seconds: Double) -> String {
        if seconds < 0.01 { return String(format: "%.2f ms", seconds * 1000) }
        if seconds < 1 { return "\(Int((seconds * 1000).rounded())) ms" }
        if seconds < 120 { return "\((seconds * 10).rounded() / 10) s" }
        return "\(Int(seconds / 60)) min"
    }

    static func edges(
        of graph: LineageGraph, nodes: [Node], nodeOfJob: [String: String], projectDirectory: String
    ) -> [Edge] {
        let datasets = Set(graph.jobs.flatMap { $0.inputs + $0.outputs }.filter { $0.kind == .composite }.map(\.path))
        var paths: [String: Set<String>] = [:]
        var counts: [String: Int] = [:]
        var pairs: [(from: String, to: String)] = []
        var seenJobPairs: Set<String> = []
        for edge in graph.edges {
            guard let from = nodeOfJob[edge.from], let to = nodeOfJob[edge.to], from != to else { continue }
            let key = from + "\u{0}" + to
            if paths[key] == nil { pairs.append((from, to)) }
            paths[key, default: []].insert(edge.path)
            if seenJobPairs.insert(edge.from + "\u{0}" + edge.to).inserted { counts[key, default: 0] += 1 }
        }
        var edges: [Edge] = pairs.enumerated().map { index, pair in
            let key = pair.from + "\u{0}" + pair.to
            let files = LineageGraph.viaList(Array(paths[key] ?? []), datasets: datasets).map {
                File(path: $0.path, parts: $0.parts)
            }
            return Edge(
                id: "e\(index)", from: pair.from, to: pair.to, kind: .data, files: files,
                jobEdges: counts[key] ?? 0, label: label(of: files, projectDirectory: projectDirectory))
        }
        // A node nothing flows into hangs from its parent, so that every task sits next to its run.
        let fed = Set(edges.map(\.to))
        for node in nodes where !fed.contains(node.id) {
            guard let parent = node.parentUID, let from = nodeOfJob[parent], from != node.id else { continue }
            edges.append(
                Edge(id: "e\(edges.count)", from: from, to: node.id, kind: .parent, files: [], jobEdges: 0, label: ""))
        }
        return edges
    }

    /// `work/clean.csv`, `data/in/ (1000 parts)`, `998 files in work/clean/`, `a.csv +2 more`: what
    /// fits on an edge.
    static func label(of files: [File], projectDirectory: String) -> String {
        guard let first = files.first else { return "" }
        func short(_ text: String) -> String { text.count > 32 ? "…" + text.suffix(31) : text }
        if files.count == 1 {
            let path = LineageGraph.displayPath(first.path, projectDirectory: projectDirectory)
            guard let parts = first.parts else { return short(path) }
            return short(path + "/") + (parts > 0 ? " (\(parts) part\(parts == 1 ? "" : "s"))" : "")
        }
        let folders = Set(files.map { ($0.path as NSString).deletingLastPathComponent })
        if folders.count == 1, let folder = folders.first {
            return "\(files.count) files in "
                + short(LineageGraph.displayPath(folder, projectDirectory: projectDirectory) + "/")
        }
        return short(LineageGraph.displayPath(first.path, projectDirectory: projectDirectory))
            + " +\(files.count - 1) more"
    }
}
