import GRDB
import RoarCore

/// The schema of `.roar/roar.db`, as named migrations in one place.
///
/// Rules for changing it:
/// - Never edit or rename a migration that has shipped; add a new one after it ("v2", …).
/// - A database that lists a migration this build does not know was written by a newer roar:
///   ``RoarStore`` refuses to open it rather than guess (see `StoreError.Code.newerSchema`).
/// - `docs/store.md` describes the schema as built and why; keep it in step.
///
/// GRDB records the applied migrations in its `grdb_migrations` table, which is the schema
/// version: <https://github.com/groue/GRDB.swift/blob/master/Documentation/Migrations.md>.
enum Schema {
    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1", migrate: createVersion1)
        migrator.registerMigration("v2") { db in
            // `JobFingerprint` of the last merge of each job, so that merging an unchanged job
            // writes nothing. NULL (rows merged before v2) never matches: such a job is
            // rewritten once, the next time it is merged.
            try db.execute(sql: "ALTER TABLE jobs ADD COLUMN fingerprint INTEGER")
        }
        migrator.registerMigration("v3") { db in
            // S3 reads: which byte ranges of the object were read (JSON `[[start, end], …]`; `[]` when only the
            // metadata was read; NULL for a whole read and for files).
            for table in ["job_inputs", "job_outputs"] {
                try db.execute(sql: "ALTER TABLE \(table) ADD COLUMN byte_ranges TEXT")
            }
        }
        migrator.registerMigration("v4") { db in
            // The parts of each composite artifact (a dataset folder or S3 prefix; docs/composites.md). The
            // composite's digest is a Merkle hash over them, so they belong to the artifact, not to a job.
            try db.execute(
                sql: """
                    CREATE TABLE composite_components (
                        artifact_id INTEGER NOT NULL REFERENCES artifacts(id) ON DELETE CASCADE,
                        name TEXT NOT NULL,
                        algorithm TEXT NOT NULL,
                        digest TEXT NOT NULL,
                        size INTEGER,
                        PRIMARY KEY (artifact_id, name)
                    ) WITHOUT ROWID
                    """)
        }
        return migrator
    }()

    /// Algorithms whose digest identifies content, so that two refs sharing one of them are the
    /// same artifact. Others (`s3_version_id`, which S3 reports as `null` for every object of an
    /// unversioned bucket; 32-bit checksums, which collide) are kept on the ref only.
    static let identifyingAlgorithms: [String] = VersionMatch.identifyingAlgorithms

    private static func createVersion1(_ db: Database) throws {
        // https://www.sqlite.org/lang_createtable.html#rowid: `INTEGER PRIMARY KEY` is the rowid.
        try db.execute(
            sql: """
                CREATE TABLE sessions (
                    id INTEGER PRIMARY KEY,
                    uid TEXT NOT NULL UNIQUE,
                    created_at REAL NOT NULL
                );

                CREATE TABLE jobs (
                    id INTEGER PRIMARY KEY,
                    uid TEXT NOT NULL UNIQUE,
                    session_id INTEGER NOT NULL REFERENCES sessions(id),
                    step INTEGER,
                    role TEXT NOT NULL,
                    command TEXT NOT NULL,
                    cwd TEXT,
                    git_commit TEXT,
                    git_branch TEXT,
                    git_dirty INTEGER,
                    started_at REAL NOT NULL,
                    duration_s REAL,
                    exit_code INTEGER,
                    status TEXT NOT NULL,
                    parent_uid TEXT,
                    error TEXT,
                    hostname TEXT,
                    coverage TEXT NOT NULL DEFAULT '{}',
                    ray_task_id TEXT,
                    ray_attempt INTEGER,
                    ray_actor_id TEXT,
                    ray_node_id TEXT,
                    ray_worker_id TEXT,
                    ray_job_id TEXT,
                    ray_function TEXT
                );
                CREATE INDEX jobs_step ON jobs(step);
                CREATE INDEX jobs_parent_uid ON jobs(parent_uid);
                CREATE INDEX jobs_ray_task_id ON jobs(ray_task_id);

                CREATE TABLE artifacts (
                    id INTEGER PRIMARY KEY,
                    kind TEXT NOT NULL,
                    size INTEGER
                );

                CREATE TABLE artifact_hashes (
                    artifact_id INTEGER NOT NULL REFERENCES artifacts(id) ON DELETE CASCADE,
                    algorithm TEXT NOT NULL,
                    digest TEXT NOT NULL,
                    UNIQUE (algorithm, digest),
                    UNIQUE (artifact_id, algorithm)
                );
                CREATE INDEX artifact_hashes_digest ON artifact_hashes(digest);
                """)

        // Reads and writes have the same shape. `hashes` is what the job observed (JSON object,
        // sorted keys); `artifact_id` is the identity those hashes resolved to, NULL when the
        // content could not be hashed. `version_*`, `dev`, `ino` are all NULL or all set.
        for table in ["job_inputs", "job_outputs"] {
            try db.execute(
                sql: """
                    CREATE TABLE \(table) (
                        id INTEGER PRIMARY KEY,
                        job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
                        artifact_id INTEGER REFERENCES artifacts(id),
                        path TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        hashes TEXT NOT NULL DEFAULT '{}',
                        size INTEGER,
                        capture TEXT,
                        dev INTEGER,
                        ino INTEGER,
                        version_size INTEGER,
                        mtime_ns INTEGER,
                        cluster_only INTEGER NOT NULL DEFAULT 0
                    );
                    CREATE UNIQUE INDEX \(table)_identity ON \(table)(job_id, path, ifnull(artifact_id, 0));
                    CREATE INDEX \(table)_path ON \(table)(path);
                    CREATE INDEX \(table)_artifact ON \(table)(artifact_id);
                    """)
        }

        try db.execute(
            sql: """
                CREATE TABLE job_deletes (
                    id INTEGER PRIMARY KEY,
                    job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
                    path TEXT NOT NULL,
                    UNIQUE (job_id, path)
                );
                CREATE INDEX job_deletes_path ON job_deletes(path);

                CREATE TABLE hash_cache (
                    dev INTEGER NOT NULL,
                    ino INTEGER NOT NULL,
                    size INTEGER NOT NULL,
                    mtime_ns INTEGER NOT NULL,
                    algorithm TEXT NOT NULL,
                    digest TEXT NOT NULL,
                    PRIMARY KEY (dev, ino, size, mtime_ns, algorithm)
                ) WITHOUT ROWID;
                """)
    }
}
