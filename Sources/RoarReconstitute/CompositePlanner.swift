public import RoarCore
public import RoarStore

/// Finds the datasets of a run and who read them whole (`docs/composites.md`): after the jobs of a run
/// are assembled, before they are merged.
///
/// - A **dataset** is a folder (or S3 prefix) in which the run wrote two or more parts named alike
///   (``areOneKind(_:)``) and nothing else is: every regular file now in the folder (and in its `key=value`
///   partition folders) is the version a job of the run wrote; `_SUCCESS`-like bookkeeping files
///   (`_x`, `.x`) are ignored. For S3 prefixes and for files only on a cluster node, which roar
///   cannot list, the parts are the objects the run wrote there and did not delete. Each job that
///   wrote a part gets the composite as an output.
/// - A job that read every part of a dataset (the version the composite names) gets it as an input;
///   so does the run's root job when its jobs together read every part. The dataset is one written
///   by this run or recorded in the store; the newest that matches wins.
///
/// Merging is idempotent: the same spools give the same composites.
struct CompositePlanner {
    /// Composites recorded at these paths before this run.
    var recorded: (Set<String>) throws(StoreError) -> [String: [Composite]]

    struct Result {
        var jobs: [RecordedJob]
        var warnings: [String]
    }

    /// A part as one job of the run wrote or read it.
    private struct Part {
        var job: Int
        var ref: Ref
    }

    func plan(_ jobs: [RecordedJob]) throws(StoreError) -> Result {
        var jobs = jobs
        var warnings: [String] = []
        let written = writtenDatasets(jobs, warnings: &warnings)
        for (composite, writers) in written {
            for index in writers.sorted() { jobs[index].outputs.append(composite.ref) }
        }

        // Reads, by job and folder; and for the whole run.
        var readsByJob: [[String: [String: Ref]]] = Array(repeating: [:], count: jobs.count)
        var readsOfRun: [String: [String: Ref]] = [:]
        for (index, recorded) in jobs.enumerated() {
            for ref in recorded.inputs where ref.kind != .composite {
                guard let folder = Composite.folder(ofPart: ref.path),
                    let name = Composite.name(ofPart: ref.path, in: folder)
                else { continue }
                readsByJob[index][folder, default: [:]][name] = ref
                readsOfRun[folder, default: [:]][name] = ref
            }
        }
        let candidateFolders = Set(readsOfRun.filter { $0.value.count >= 2 }.keys)
        var candidates = try recorded(candidateFolders)
        for (composite, _) in written where candidateFolders.contains(composite.path) {
            candidates[composite.path, default: []].append(composite)
        }

        for (folder, choices) in candidates {
            // Newest first: a run that rewrote the dataset and a later run that read it.
            let newestFirst = Array(choices.reversed())
            for index in jobs.indices {
                guard let reads = readsByJob[index][folder], reads.count >= 2,
                    let read = newestFirst.first(where: { Self.isWhole($0, readAs: reads) }),
                    !jobs[index].inputs.contains(read.ref)
                else { continue }
                jobs[index].inputs.append(read.ref)
            }
            if let reads = readsOfRun[folder], let read = newestFirst.first(where: { Self.isWhole($0, readAs: reads) }),
                let root = jobs.indices.first(where: { jobs[$0].job.role == .run }),
                !jobs[root].inputs.contains(read.ref)
            {
                jobs[root].inputs.append(read.ref)
            }
        }
        return Result(jobs: jobs, warnings: warnings)
    }

    /// Every part of `composite` is among `reads` with its content.
    private static func isWhole(_ composite: Composite, readAs reads: [String: Ref]) -> Bool {
        composite.components.allSatisfy { part in reads[part.name].map(part.matches) ?? false }
    }

    /// The datasets the run wrote, with the indices of the jobs that wrote their parts.
    private func writtenDatasets(_ jobs: [RecordedJob], warnings: inout [String]) -> [(Composite, Set<Int>)] {
        // The last write of each path in the run, by folder and name.
        var byFolder: [String: [String: Part]] = [:]
        var deletedObjects: Set<String> = []
        for (index, recorded) in jobs.enumerated() {
            for ref in recorded.outputs where ref.kind != .composite {
                guard let folder = Composite.folder(ofPart: ref.path),
                    let name = Composite.name(ofPart: ref.path, in: folder)
                else { continue }
                byFolder[folder, default: [:]][name] = Part(job: index, ref: ref)
            }
            deletedObjects.formUnion(recorded.deletes.filter { $0.hasPrefix("s3://") })
        }
        var datasets: [(Composite, Set<Int>)] = []
        for (folder, parts) in byFolder.sorted(by: { $0.key < $1.key }) where parts.count >= 2 {
            guard let kept = Self.parts(of: folder, written: parts, deletedObjects: deletedObjects),
                Self.areOneKind(kept.keys)
            else { continue }
            var components: [CompositeComponent] = []
            var unhashed: [String] = []
            for (name, part) in kept {
                if let component = CompositeComponent(name: name, ref: part.ref) {
                    components.append(component)
                } else {
                    unhashed.append(name)
                }
            }
            guard components.count >= 2 else { continue }
            if !unhashed.isEmpty {
                warnings.append(
                    "\(folder): not recorded as a dataset: \(unhashed.count) of its parts could not be hashed "
                        + "(\(unhashed.sorted().prefix(3).joined(separator: ", ")))")
                continue
            }
            datasets.append((Composite(path: folder, components: components), Set(kept.values.map(\.job))))
        }
        return datasets
    }

    /// Parts of a dataset are named alike: one extension (`.parquet`), and one name but for its numbers
    /// (`part-0`, `part-1`; Ray Data's `<write uuid>_000001-0`) or a common stem of five characters or more
    /// (`part-00000-<uuid of the file>`). A folder of `in-0.txt`, `mid-0.txt` and `out.txt`, or of a CSV, a
    /// JSON and a parquet file, is a work folder, not a dataset.
    static func areOneKind(_ names: some Collection<String>) -> Bool {
        let files = names.map { $0.split(separator: "/").last.map(String.init) ?? $0 }
        guard Set(files.map(extensionOf)).count == 1 else { return false }
        if Set(files.map { $0.filter { !$0.isNumber } }).count == 1 { return true }
        guard let first = files.first else { return false }
        var stem = Substring(first)
        for name in files.dropFirst() {
            stem = stem.prefix(zip(stem, name).prefix { $0 == $1 }.count)
        }
        return stem.count >= 5
    }

    private static func extensionOf(_ name: String) -> Substring {
        let last = name.split(separator: "/").last ?? Substring(name)
        guard let dot = last.lastIndex(of: "."), dot != last.startIndex else { return "" }
        return last[dot...]
    }

    /// Files named `.x` or `_x` (`_SUCCESS`, `_metadata`, `.part-0.crc`) are a dataset's bookkeeping,
    /// which readers such as pyarrow skip: not parts, and no reason to refuse the folder.
    static func isBookkeeping(_ name: String) -> Bool {
        let last = name.split(separator: "/").last ?? Substring(name)
        return last.hasPrefix(".") || last.hasPrefix("_")
    }

    /// The parts of the dataset at `folder`, or nil when the folder is not wholly the run's output.
    private static func parts(of folder: String, written: [String: Part], deletedObjects: Set<String>) -> [String:
        Part]?
    {
        let written = written.filter { !isBookkeeping($0.key) }
        if folder.hasPrefix("s3://") {
            let kept = written.filter { !deletedObjects.contains($0.value.ref.path) }
            return kept.count >= 2 ? kept : nil
        }
        if written.values.allSatisfy(\.ref.isClusterOnly) { return written.count >= 2 ? written : nil }
        guard let present = datasetFiles(in: folder) else { return nil }
        // Written parts since deleted or renamed away (temporary files) are not parts.
        var kept: [String: Part] = [:]
        for name in present where !isBookkeeping(name) {
            let path = folder + "/" + name
            guard let part = written[name], let version = part.ref.version,
                FileSystem.version(ofFileAt: path) == version
            else { return nil }  // something the run did not write, or changed since
            kept[name] = part
        }
        return kept.count >= 2 ? kept : nil
    }

    /// The regular files of a dataset folder by name: those in it and in its `key=value` partition
    /// folders, recursively. nil when it cannot be listed.
    private static func datasetFiles(in folder: String) -> [String]? {
        guard let entries = try? FileSystem.entries(of: folder) else { return nil }
        var names: [String] = []
        for entry in entries {
            if entry.isFile {
                names.append(entry.name)
            } else if entry.isDirectory, Composite.isPartitionFolder(Substring(entry.name)) {
                guard let inner = datasetFiles(in: folder + "/" + entry.name) else { return nil }
                names += inner.map { entry.name + "/" + $0 }
            }
        }
        return names
    }
}
