import Foundation
import RoarCore
import Testing

@testable import RoarStore

@Suite("Performance")
struct PerformanceTests {
    /// A chain of `count` tasks: each reads the previous one's output and writes its own.
    static func chain(count: Int) -> [RecordedJob] {
        (0..<count).map { index in
            let uid = String(format: "%016x", 0x7000_0000_0000_0000 + index)
            var job = fullJob(uid: uid, step: 1 + index / 100)
            job.startedAt += Double(index)
            let previous = fileRef(
                "/project/data/part-\(index - 1).parquet", blake3: digest("part-\(index - 1)"), inode: UInt64(index),
                mtime: Int64(index))
            let output = fileRef(
                "/project/data/part-\(index).parquet", blake3: digest("part-\(index)"), inode: UInt64(index + 1),
                mtime: Int64(index + 1))
            return RecordedJob(job: job, inputs: [previous], outputs: [output])
        }
    }

    @Test("merging 10,000 jobs with 2 refs each in one transaction takes well under a few seconds")
    func mergeTenThousandJobs() throws {
        try withStore { store, _ in
            let jobs = Self.chain(count: 10_000)
            let clock = ContinuousClock()

            var result = MergeResult()
            let cpuBefore = Self.processCPUSeconds()
            let merge = try clock.measure { result = try store.merge(jobs) }
            let mergeCPU = Self.processCPUSeconds() - cpuBefore
            #expect(result == MergeResult(insertedJobs: 10_000))
            let remerge = try clock.measure { result = try store.merge(jobs) }
            #expect(result == MergeResult(unchangedJobs: 10_000))
            var loaded: [RecordedJob] = []
            let load = try clock.measure { loaded = try store.allJobs() }
            var edges: [LineageEdge] = []
            let lineage = try clock.measure { edges = try store.edges() }

            print(
                "RoarStore performance: merge 10000 jobs/20000 refs \(merge) (CPU \(mergeCPU) s), "
                    + "merge the same again \(remerge), "
                    + "allJobs \(load), edges \(lineage)")
            #expect(loaded == jobs)
            #expect(edges.count == 9_999)
            // A guard against accidental quadratic work, not a benchmark: debug builds of GRDB are
            // ~5x slower than release, and other suites run alongside this one.
            #if DEBUG
                let limit = Duration.seconds(30)
            #else
                let limit = Duration.seconds(3)
            #endif
            #expect(merge < limit)
            #expect(remerge < limit)
        }
    }

    /// CPU time used by this process so far: unlike wall time, not inflated by other processes
    /// competing for the machine (other suites of this run add to it, though).
    static func processCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
