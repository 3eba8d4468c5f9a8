public import RoarCore

/// How the text layout paints its words: plain by default; the CLI colours on a terminal.
public struct TextStyle: Sendable {
    public var bold: @Sendable (String) -> String
    public var dim: @Sendable (String) -> String
    public var cyan: @Sendable (String) -> String
    /// A job status word (`ok`, `failed`, …).
    public var status: @Sendable (String) -> String

    public init(
        bold: @escaping @Sendable (String) -> String, dim: @escaping @Sendable (String) -> String,
        cyan: @escaping @Sendable (String) -> String, status: @escaping @Sendable (String) -> String
    ) {
        self.bold = bold
        self.dim = dim
        self.cyan = cyan
        self.status = status
    }

    public static let plain = TextStyle(bold: { $0 }, dim: { $0 }, cyan: { $0 }, status: { $0 })
}

extension LineageGraph {
    /// The `roar dag` text layout: each job under its parent, with what it read from whom and
    /// what it wrote; paths inside `projectDirectory` shown relative to it.
    public func textLines(projectDirectory: String, style: TextStyle = .plain) -> [String] {
        var lines: [String] = []
        var depth: [String: Int] = [:]
        for recorded in jobs {
            let job = recorded.job
            let level = job.parentUID.flatMap { depth[$0] }.map { $0 + 1 } ?? 0
            depth[job.uid] = level
            let indent = String(repeating: "  ", count: level)
            var line = indent + Self.heading(of: job, style: style)
            if let node = job.ray?.nodeID { line += style.dim("  ray node \(node.prefix(8))") }
            lines.append(line)
            var byProducer: [String: [String]] = [:]
            for edge in edges where edge.to == job.uid {
                byProducer[edge.from, default: []].append(
                    Self.displayPath(edge.path, projectDirectory: projectDirectory))
            }
            for (producer, paths) in byProducer.sorted(by: { $0.key < $1.key }) {
                let step = self.job(uid: producer).map { "@\($0.job.step ?? 0)" } ?? producer
                lines.append(indent + "    " + style.dim("← \(step) via ") + paths.sorted().joined(separator: ", "))
            }
            let produced = recorded.outputs.map { Self.displayPath($0.path, projectDirectory: projectDirectory) }
            if !produced.isEmpty {
                let shown =
                    produced.prefix(4).joined(separator: ", ") + (produced.count > 4 ? ", … (\(produced.count))" : "")
                lines.append(indent + "    " + style.dim("→ ") + shown)
            }
        }
        return lines
    }

    /// One line naming a job: `@2 pipeline.clean  ok  job 80b5fad3072c302e (ray task)`. The uid is
    /// roar's job id (what `roar show` takes), labelled so that it does not read as a Ray id.
    public static func heading(of job: Job, style: TextStyle = .plain) -> String {
        style.cyan("@\(job.step ?? 0)") + " " + style.bold(title(of: job)) + "  " + style.status(job.status.rawValue)
            + style.dim("  job \(job.uid) (\(kind(of: job)))")
    }

    /// What a job is, in words: `run`, `ray task`, `ray actor`.
    public static func kind(of job: Job) -> String {
        switch job.role {
        case .run: "run"
        case .task: "ray task"
        case .actor: "ray actor"
        }
    }

    /// A path inside the project relative to it; any other path as it is.
    public static func displayPath(_ path: String, projectDirectory: String) -> String {
        let prefix = projectDirectory + "/"
        return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
    }
}
