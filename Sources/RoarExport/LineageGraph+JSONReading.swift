public import Foundation
public import RoarCore

extension LineageGraph {
    /// Reads back what ``jsonObject(for:)`` wrote: one `roar.dag/1` job object (docs/dag-json.md),
    /// as `roar serve` keeps registered jobs. Nil when a required field (uid, role, command,
    /// status, started_at) is missing or of the wrong kind; unknown fields are ignored.
    public static func recordedJob(fromJSONObject object: [String: Any]) -> RecordedJob? {
        guard let uid = object["uid"] as? String, let role = (object["role"] as? String).flatMap(Job.Role.init),
            let command = object["command"] as? String,
            let status = (object["status"] as? String).flatMap(Job.Status.init),
            let startedAt = (object["started_at"] as? NSNumber)?.doubleValue
        else { return nil }
        var ray: RayIdentity?
        if let fields = object["ray"] as? [String: Any], let taskID = fields["task_id"] as? String,
            let function = fields["function"] as? String
        {
            ray = RayIdentity(
                taskID: taskID, attempt: (fields["attempt"] as? NSNumber)?.intValue ?? 0,
                actorID: fields["actor_id"] as? String, nodeID: fields["node_id"] as? String,
                workerID: fields["worker_id"] as? String, jobID: fields["job_id"] as? String, function: function)
        }
        var git: GitState?
        if let fields = object["git"] as? [String: Any], let commit = fields["commit"] as? String {
            git = GitState(
                commit: commit, branch: fields["branch"] as? String, isDirty: (fields["dirty"] as? Bool) ?? false)
        }
        let job = Job(
            uid: uid, step: (object["step"] as? NSNumber)?.intValue, role: role, command: command,
            cwd: object["cwd"] as? String, git: git, startedAt: startedAt,
            durationSeconds: (object["duration_s"] as? NSNumber)?.doubleValue,
            exitCode: (object["exit_code"] as? NSNumber)?.intValue, status: status,
            parentUID: object["parent_uid"] as? String, ray: ray, error: object["error"] as? String,
            coverage: ((object["coverage"] as? [String: Any]) ?? [:]).compactMapValues { ($0 as? NSNumber)?.intValue })
        let references = { (key: String) in ((object[key] as? [Any]) ?? []).compactMap(reference(fromJSON:)) }
        return RecordedJob(
            job: job, inputs: references("inputs"), outputs: references("outputs"),
            deletes: (object["deletes"] as? [Any] ?? []).compactMap { $0 as? String })
    }

    static func reference(fromJSON value: Any) -> Ref? {
        guard let object = value as? [String: Any], let path = object["path"] as? String else { return nil }
        let components = (object["components"] as? [Any])?.compactMap { item -> CompositeComponent? in
            guard let part = item as? [String: Any], let name = part["name"] as? String,
                let (algorithm, digest) = (part["hashes"] as? [String: String])?.first
            else { return nil }
            return CompositeComponent(
                name: name, algorithm: algorithm, digest: digest, size: (part["size"] as? NSNumber)?.int64Value)
        }
        return Ref(
            path: path, kind: (object["kind"] as? String).flatMap(Ref.Kind.init) ?? .file,
            hashes: (object["hashes"] as? [String: String]) ?? [:], size: (object["size"] as? NSNumber)?.int64Value,
            capture: object["capture"] as? String, isClusterOnly: (object["cluster_only"] as? Bool) ?? false,
            byteRanges: (object["byte_ranges"] as? [[NSNumber]])?.map { $0.map(\.int64Value) },
            components: components)
    }
}
