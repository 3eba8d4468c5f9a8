public import RoarCore

/// Orders the jobs of one run into steps: the command roar ran is step 0 of the run; each task
/// comes one step after the latest task whose output it read (`VersionMatch`: every writer of the
/// version it saw, as the stored lineage links them), that submitted it, or (for actor calls) the
/// previous call on the same actor; so tasks that could run in parallel share a step.
public enum StepPlanner {
    /// Returns the root job (step 0) followed by the tasks sorted by step, then start time.
    /// Steps are relative to the run; the store adds the project's next free step.
    public static func assignSteps(root: RecordedJob, tasks: [RecordedJob]) -> [RecordedJob] {
        // Writers by path; which of them a read saw is `VersionMatch`'s rule (the stored edges' too).
        var writesByPath: [String: [(task: Int, ref: Ref)]] = [:]
        for (index, task) in tasks.enumerated() {
            for output in task.outputs {
                writesByPath[output.path, default: []].append((index, output))
            }
        }
        var indexOfUID: [String: Int] = [:]
        for (index, task) in tasks.enumerated() { indexOfUID[task.job.uid] = index }

        // Calls on one actor share its state: each comes after the last call that ended before it began.
        var previousCallOnActor: [Int: Int] = [:]
        let actorCalls = Dictionary(grouping: tasks.indices.filter { tasks[$0].job.ray?.actorID != nil }) {
            tasks[$0].job.ray!.actorID!
        }
        for calls in actorCalls.values {
            for index in calls {
                let start = tasks[index].job.startedAt
                let earlier = calls.filter {
                    $0 != index && tasks[$0].job.startedAt + (tasks[$0].job.durationSeconds ?? 0) <= start
                }
                if let latest = earlier.max(by: { tasks[$0].job.startedAt < tasks[$1].job.startedAt }) {
                    previousCallOnActor[index] = latest
                }
            }
        }

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
                for write in writesByPath[input.path] ?? []
                where write.task != index && VersionMatch.isRead(input, ofVersionWrittenBy: write.ref) {
                    let producer = write.task
                    if tasks[producer].job.startedAt <= task.job.startedAt || !visiting.contains(producer) {
                        result = max(result, levelOf(producer) + 1)
                    }
                }
            }
            if let previous = previousCallOnActor[index] {
                result = max(result, levelOf(previous) + 1)
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
}
