"""A Ray step that reads a file no roar job wrote (landing/features.csv, as a Spark job would leave it) and
writes a model from it: the reader of test_openlineage_ingest.py's foreign Spark-shaped events."""
import ray


@ray.remote
def train() -> None:
    rows = open("landing/features.csv").read().splitlines()
    with open("model.txt", "w") as f:
        f.write(f"trained on {len(rows)} rows\n")


ray.init(num_cpus=1, include_dashboard=False)
ray.get(train.remote())
ray.shutdown()
