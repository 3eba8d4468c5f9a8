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
            // One line per producing step (what the line shows): a dataset's many writers share one.
            var byStep: [String: [String]] = [:]
            for edge in edges where edge.to == job.uid {
                let step = self.job(uid: edge.from).map { "@\($0.job.step ?? 0)" } ?? edge.from
                byStep[step, default: []].append(edge.path)
            }
            let datasets = Set(recorded.inputs.filter { $0.kind == .composite }.map(\.path))
            for (step, paths) in byStep.sorted(by: { Self.stepOrder($0.key, $1.key) }) {
                let shown = Self.viaList(paths, datasets: datasets).map { path, parts in
                    Self.listed(path, parts: parts, projectDirectory: projectDirectory)
                }
                lines.append(indent + "    " + style.dim("← \(step) via ") + shown.joined(separator: ", "))
            }
            let writtenDatasets = Set(recorded.outputs.filter { $0.kind == .composite }.map(\.path))
            let produced = Self.viaList(recorded.outputs.map(\.path), datasets: writtenDatasets).map { path, parts in
                Self.listed(path, parts: parts, projectDirectory: projectDirectory)
            }
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

    /// `out/ds/ (3 parts)` for a dataset, the display path for anything else.
    static func listed(_ path: String, parts: Int?, projectDirectory: String) -> String {
        let name = displayPath(path, projectDirectory: projectDirectory)
        guard let parts else { return name }
        return name + "/ (\(parts) part\(parts == 1 ? "" : "s"))"
    }

    /// The paths of an edge list or of a job's outputs, sorted, with the parts of a dataset (one the
    /// reader read whole, or the writer helped write) folded into the dataset's folder, with how many
    /// of its parts are among them.
    static func viaList(_ paths: [String], datasets: Set<String>) -> [(path: String, parts: Int?)] {
        var folded: [String: Int] = [:]
        var plain: [String] = []
        for path in Set(paths) {
            if datasets.contains(path) {
                folded[path, default: 0] += 0
            } else if let folder = Composite.folder(ofPart: path), datasets.contains(folder) {
                folded[folder, default: 0] += 1
            } else {
                plain.append(path)
            }
        }
        let entries =
            plain.map { (path: $0, parts: Int?.none) } + folded.map { (path: $0.key, parts: Int?.some($0.value)) }
        return entries.sorted { $0.path < $1.path }
    }

    /// `@2` before `@10`; a producer not in the graph (shown by uid) last.
    static func stepOrder(_ first: String, _ second: String) -> Bool {
        let (a, b) = (Int(first.dropFirst()), Int(second.dropFirst()))
        switch (a, b) {
        case (let a?, let b?): return a < b
        case (nil, nil): return first < second
        default: return a != nil
        }
    }

    /// How a ref is listed: its display path; a composite as its folder with its number of parts,
    /// `out/ds/ (3 parts)`.
    public static func displayName(of ref: Ref, projectDirectory: String) -> String {
        let path = displayPath(ref.path, projectDirectory: projectDirectory)
        guard ref.kind == .composite else { return path }
        let count = ref.components?.count ?? 0
        return path + "/ (\(count) part\(count == 1 ? "" : "s"))"
    }

    /// A path inside the project relative to it; any other path as it is.
    public static func displayPath(_ path: String, projectDirectory: String) -> String {
        let prefix = projectDirectory + "/"
        return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
    }
}
