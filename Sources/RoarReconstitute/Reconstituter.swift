public import RoarCore
public import RoarStore

#if canImport(Glibc)
    import Glibc
#endif

/// After a traced command ends: reads its spools, assembles the jobs and merges them into the
/// store in one transaction. Merging is idempotent (job uids are stable per run and tag).
public struct Reconstituter {
    public var store: RoarStore
    public var filter: PathFilter

    public init(store: RoarStore, filter: PathFilter) {
        self.store = store
        self.filter = filter
    }

    /// What was merged, with what went wrong along the way (nothing here is fatal).
    public struct Outcome: Sendable {
        public var jobs: [RecordedJob]
        public var problems: [SpoolProblem]
        public var warnings: [String]
    }

    /// Reads `spoolDirectory`, merges the root job and its tasks. Steps continue the project's
    /// history: the root job gets the next free step, tasks follow it.
    public func reconstitute(spoolDirectory: String, root: Job, runID: String) throws(StoreError) -> Outcome {
        let (spools, readProblems) = SpoolCollector.read(directory: spoolDirectory)
        let resolver = HashingResolver(store: store)
        let outcome = try reconstitute(
            spools: spools, problems: readProblems, root: root, runID: runID, resolver: resolver)
        try resolver.saveCache()
        return outcome
    }

    /// Merges spools already read (a cluster run's, with node paths restored), finding the
    /// digests of what was read through `resolver`.
    ///
    /// - Parameter marksClusterOnly: mark files that are not on this host (written on a node).
    public func reconstitute(
        spools: [SpoolReader.Contents], problems readProblems: [SpoolProblem], root: Job, runID: String,
        resolver: any ReadDigestResolver, marksClusterOnly: Bool = false
    ) throws(StoreError) -> Outcome {
        let assembler = JobAssembler(root: root, runID: runID, filter: filter, resolver: resolver)
        var result = assembler.assemble(spools, problems: readProblems)
        if marksClusterOnly {
            for index in result.jobs.indices {
                Self.markClusterOnly(&result.jobs[index].inputs)
                Self.markClusterOnly(&result.jobs[index].outputs)
            }
        }
        let store = self.store
        let datasets = try CompositePlanner(recorded: { paths throws(StoreError) in
            try store.writtenComposites(atPaths: paths)
        }).plan(result.jobs)
        // Steps continue the history, decided in the merge's own transaction; merging the same run again keeps
        // the steps its root already has.
        let jobs: [RecordedJob]
        if let step = root.step {
            jobs = datasets.jobs.map { recorded in
                var shifted = recorded
                shifted.job.step = step + (recorded.job.step ?? 0)
                return shifted
            }
            try store.merge(jobs)
        } else {
            jobs = try store.mergeRun(datasets.jobs, rootUID: root.uid)
        }
        return Outcome(jobs: jobs, problems: result.problems, warnings: result.warnings + datasets.warnings)
    }

    static func markClusterOnly(_ refs: inout [Ref]) {
        for index in refs.indices where refs[index].kind == .file && access(refs[index].path, F_OK) != 0 {
            refs[index].isClusterOnly = true
        }
    }
}
