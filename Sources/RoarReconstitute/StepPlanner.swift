public import RoarCore

/// Orders the jobs of one run into steps: the command roar ran is step 0 of the run; each task
/// comes one step after the latest task whose output it read (or that submitted it), so tasks
/// that could run in parallel share a step.
public enum StepPlanner {
    /// Returns the root job (step 0) followed by the tasks sorted by step, then start time.
    /// Steps are relative to the run; the store adds the project's next free step.
    public static func assignSteps(root: RecordedJob, tasks: [RecordedJob]) -> [RecordedJob] {
        var producerOfVersion: [String: Int] = [:]
        for (index, task) in tasks.enumerated() {
            for output in task.outputs {
                producerOfVersion[versionKey(output)] = index
            }
        }
        var indexOfUID: [String: Int] = [:]
        for (index, task) in tasks.enumerated() { indexOfUID[task.job.uid] = index }

        var level = [Int?](repeating: nil, count: tasks.count)
        var visiting = Set<Int>()
        func levelOf(_ index: Int) -> Int {
            if let known = level[index] { return known }
            // A cycle (two tasks each reading what the other wrote) cannot be ordered by data:
            // fall back to the tasks' start times for the edge that closes it.
            guard visiting.insert(index).inserted else { return 0 }
            var result = 1
            let task = tasks[index]
            for input in task.inputs {
                if let producer = producerOfVersion[versionKey(input)], producer != index,
                    tasks[producer].job.startedAt <= task.job.startedAt || !visiting.contains(producer)
                {
                    result = max(result, levelOf(producer) + 1)
                }
            }
            if let parent = task.job.parentUID, let parentIndex = indexOfUID[parent], parentIndex != index {
                result = max(result, levelOf(parentIndex) + 1)
            }
            visiting.remove(index)
            level[index] = result
            return result
        }
        var ordered = tasks
        for index in tasks.indices { ordered[index].job.step = levelOf(index) }
        ordered.sort { ($0.job.step ?? 0, $0.job.startedAt) < ($1.job.step ?? 0, $1.job.startedAt) }
        var first = root
        first.job.step = 0
        return [first] + ordered
    }

    static func versionKey(_ ref: Ref) -> String {
        guard let version = ref.version else { return ref.path + "\u{0}" + (ref.primaryHash?.digest ?? "") }
        return "\(ref.path)\u{0}\(version.device):\(version.inode):\(version.size):\(version.modifiedNanoseconds)"
    }
}
