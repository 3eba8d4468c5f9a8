public import Foundation
public import RoarCore

extension LineageGraph {
    /// The `roar.dag/1` document of `docs/dag-json.md`. Fields may be added; none renamed.
    public func jsonDocument() -> [String: Any] {
        [
            "schema": "roar.dag/1",
            "jobs": jobs.map(Self.jsonObject(for:)),
            "edges": edges.map { ["from": $0.from, "to": $0.to, "path": $0.path] },
        ]
    }

    public func jsonData() throws -> Data {
        try JSONSerialization.data(
            withJSONObject: jsonDocument(), options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }

    /// One job of the document, as `roar register` sends it too.
    public static func jsonObject(for recorded: RecordedJob) -> [String: Any] {
        let job = recorded.job
        var object: [String: Any] = [
            "uid": job.uid,
            "step": job.step.map { $0 as Any } ?? NSNull(),
            "role": job.role.rawValue,
            "command": job.command,
            "status": job.status.rawValue,
            "exit_code": job.exitCode.map { $0 as Any } ?? NSNull(),
            "parent_uid": job.parentUID.map { $0 as Any } ?? NSNull(),
            "started_at": job.startedAt,
            "duration_s": job.durationSeconds.map { $0 as Any } ?? NSNull(),
            "error": job.error.map { $0 as Any } ?? NSNull(),
            "cwd": job.cwd.map { $0 as Any } ?? NSNull(),
            "coverage": job.coverage,
            "inputs": recorded.inputs.map(jsonObject(for:)),
            "outputs": recorded.outputs.map(jsonObject(for:)),
            "deletes": recorded.deletes,
        ]
        if let ray = job.ray {
            object["ray"] =
                [
                    "task_id": ray.taskID,
                    "attempt": ray.attempt,
                    "actor_id": ray.actorID.map { $0 as Any } ?? NSNull(),
                    "node_id": ray.nodeID.map { $0 as Any } ?? NSNull(),
                    "worker_id": ray.workerID.map { $0 as Any } ?? NSNull(),
                    "job_id": ray.jobID.map { $0 as Any } ?? NSNull(),
                    "function": ray.function,
                ] as [String: Any]
        } else {
            object["ray"] = NSNull()
        }
        if let git = job.git {
            object["git"] = [
                "commit": git.commit, "branch": git.branch.map { $0 as Any } ?? NSNull(), "dirty": git.isDirty,
            ]
        }
        return object
    }

    static func jsonObject(for ref: Ref) -> [String: Any] {
        var object: [String: Any] = [
            "path": ref.path,
            "kind": ref.kind.rawValue,
            "hashes": ref.hashes,
            "size": ref.size.map { $0 as Any } ?? NSNull(),
        ]
        if let capture = ref.capture { object["capture"] = capture }
        if ref.isClusterOnly { object["cluster_only"] = true }
        if let ranges = ref.byteRanges { object["byte_ranges"] = ranges }
        if let components = ref.components {
            object["components"] = components.map { component -> [String: Any] in
                [
                    "name": component.name, "hashes": [component.algorithm: component.digest],
                    "size": component.size.map { $0 as Any } ?? NSNull(),
                ]
            }
        }
        return object
    }
}
