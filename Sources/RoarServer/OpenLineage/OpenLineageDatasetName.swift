/// Where an OpenLineage dataset lands among roar's paths (docs/openlineage.md, "Ingesting"): the reverse of
/// the export's naming, so that roar's own events and `roar register` name a dataset alike, and a foreign
/// producer's file or S3 object meets roar's record of the same one.
///
/// - `file://<any host>` (and Spark's bare `file`) + an absolute path: the path. The host is dropped as
///   `roar register` drops it (roar keys files by path); the namespace stays in the job's document.
/// - `s3://<bucket>` (and Hadoop's `s3a://`, `s3n://`) + key: `s3://<bucket>/<key>`, as roar records objects.
/// - anything else (`hdfs://nn:8020`, `postgres://db:5432`, `bigquery`…): `<namespace>/<name>` (no second
///   `/` when the name starts with one), which is the URI the naming spec describes.
///
/// Names are kept byte for byte: `/`, `+`, `:`, spaces, and roar's `\xNN` spelling of non-UTF-8 bytes.
enum OpenLineageDatasetName {
    /// roar's path and ref kind (`file`, `s3` or `dataset`) of a dataset.
    static func path(namespace: String, name: String) -> (path: String, kind: String) {
        if namespace == "file" || namespace.hasPrefix("file://") {
            if name.hasPrefix("/") { return (name, "file") }
            return (namespace == "file" ? "/" + name : joined(namespace, name), "file")
        }
        for scheme in ["s3://", "s3a://", "s3n://"] where namespace.hasPrefix(scheme) {
            let bucket = String(namespace.dropFirst(scheme.count)).trimmingSlashes()
            let key = name.hasPrefix("/") ? String(name.dropFirst()) : name
            return ("s3://" + bucket + (key.isEmpty ? "" : "/" + key), "s3")
        }
        return (joined(namespace, name), "dataset")
    }

    static func joined(_ namespace: String, _ name: String) -> String {
        if name.isEmpty { return namespace }
        return namespace.hasSuffix("/") || name.hasPrefix("/") ? namespace + name : namespace + "/" + name
    }
}

extension String {
    fileprivate func trimmingSlashes() -> String {
        var text = Substring(self)
        while text.hasSuffix("/") { text = text.dropLast() }
        return String(text)
    }
}
