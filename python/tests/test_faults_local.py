"""Faults on one machine, through the real ``roar run`` (issue 12, docs/reliability.md): the spool's or the
store's file system full, a spool line cut mid-write, ``roar`` itself killed, eight runs at once. Each case
says what roar keeps and what it counts as lost; the user's command always runs as without roar.

The full-disk cases mount a small tmpfs (root only, as CI runs here; skipped elsewhere)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from roar_cli import Project, b3sum, last_run, paths, start_and_kill_roar

MANY_FILES = 3000
MANY = textwrap.dedent(f"""
    import os
    os.makedirs("out", exist_ok=True)
    for i in range({MANY_FILES}):
        with open(f"out/f{{i}}.txt", "w") as f:
            f.write(str(i))
""")


@contextmanager
def small_file_system(mount_point: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` at `mount_point`, holding its files (and giving them back when it is unmounted)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    saved = mount_point.with_name(mount_point.name + ".saved")
    mount_point.rename(saved)
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        mount_point.rmdir()
        saved.rename(mount_point)
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        subprocess.run(["cp", "-a", f"{saved}/.", str(mount_point)], check=True)
        yield mount_point
    finally:
        (mount_point / "filler").unlink(missing_ok=True)
        subprocess.run(["cp", "-a", f"{mount_point}/.", str(saved)], check=True)
        subprocess.run(["umount", str(mount_point)], check=True)
        mount_point.rmdir()
        saved.rename(mount_point)


def fill(folder: Path) -> Path:
    """Takes every free byte of `folder`'s file system."""
    filler = folder / "filler"
    with open(filler, "wb") as out:
        try:
            while True:
                out.write(b"\0" * (1 << 20))
                out.flush()
        except OSError:
            pass
    return filler


def test_spool_file_system_full_counts_every_record_it_refused(project: Project) -> None:
    (project.root / "many.py").write_text(MANY)
    spool = project.root / ".roar" / "spool"
    spool.mkdir(exist_ok=True)
    with small_file_system(spool, "128k"):
        result = project.run(sys.executable, "many.py", check=False)
    # The program is unaffected: every file written.
    assert result.returncode == 0, result.stderr
    assert len(list((project.root / "out").iterdir())) == MANY_FILES
    job = last_run(project.dag())
    written = [r for r in job["outputs"] if r["path"].startswith(str(project.root / "out") + "/")]
    assert 0 < len(written) < MANY_FILES
    for ref in written[:50]:
        assert ref["hashes"]["blake3"] == b3sum(Path(ref["path"]))
    # Each file missing from the run is at least one record the spool had no room for, and it is counted.
    lost = job["coverage"].get("spool_full", 0)
    assert lost >= MANY_FILES - len(written), job["coverage"]
    assert f"{lost} record(s) not written: the file system of .roar/spool was full" in result.stderr
    assert "spool_full" in project.cli("status").stdout


def test_store_file_system_full_runs_the_command_untraced_then_records_again(project: Project) -> None:
    state = project.root / ".roar"
    with small_file_system(state, "8m"):
        filler = fill(state)
        result = project.run("sh", "-c", "echo ran > ran.txt; exit 3", check=False)
        assert result.returncode == 3, result.stderr  # the command's own status
        assert (project.root / "ran.txt").read_text() == "ran\n"
        assert "cannot record this run" in result.stderr and "nothing of this run is recorded" in result.stderr
        filler.unlink()
        project.run("sh", "-c", "cat ran.txt > copy.txt")
        job = last_run(project.dag())
        assert paths(job["outputs"]) == {str(project.root / "copy.txt")}


def test_store_filled_during_the_run_keeps_the_trace_for_recover(project: Project) -> None:
    """The command fills the disk of .roar/ before it ends: the merge fails, the trace stays, and `roar recover`
    records the run once there is room again."""
    state = project.root / ".roar"
    with small_file_system(state, "8m"):
        (project.root / "job.py").write_text(MANY + textwrap.dedent(f"""
            filler = open({str(state / "filler")!r}, "wb")
            try:
                while True:
                    filler.write(b"\\0" * (1 << 20))
                    filler.flush()
            except OSError:
                pass
        """))
        result = project.run(sys.executable, "job.py", check=False)
        assert result.returncode == 0, result.stderr
        assert "could not record this run" in result.stderr and "roar recover" in result.stderr
        (state / "filler").unlink()
        recovered = project.cli("recover")
        assert "Recorded run" in recovered.stdout, recovered.stdout + recovered.stderr
    job = last_run(project.dag())
    written = [r for r in job["outputs"] if r["path"].startswith(str(project.root / "out") + "/")]
    assert len(written) == MANY_FILES
    assert {r["hashes"]["blake3"] for r in written[:20]} == {b3sum(Path(r["path"])) for r in written[:20]}


def test_a_spool_line_cut_mid_write_loses_that_record_only(project: Project) -> None:
    start_and_kill_roar(project, "for i in 1 2 3 4 5; do echo $i > kept-$i.txt; done")
    spools = sorted((project.root / ".roar" / "spool").glob("*/*.spool"))
    assert spools
    # The shell's spool: cut its last line in half, as a writer killed mid-write would leave it.
    target = max(spools, key=lambda path: path.read_bytes().count(b"kept-"))
    data = target.read_bytes()
    last = data.rstrip(b"\n").rfind(b"\n") + 1
    target.write_bytes(data[: last + (len(data) - last) // 2])
    recovered = project.cli("recover")
    assert "Recorded run" in recovered.stdout
    assert "truncated spool record skipped" in recovered.stderr, recovered.stderr
    job = last_run(project.dag())
    kept = {p for p in paths(job["outputs"]) if "kept-" in p}
    assert kept == {str(project.root / f"kept-{i}.txt") for i in range(1, 6)}
    assert job["coverage"].get("spool_records_skipped") == 1


def test_eight_concurrent_runs_all_land(project: Project) -> None:
    processes = [
        subprocess.Popen([str(project.roar), "run", "sh", "-c", f"echo {i} > c{i}.txt; cat c{i}.txt > d{i}.txt"],
                         cwd=project.root, env=project.env(), stderr=subprocess.PIPE, text=True)
        for i in range(8)
    ]
    for process in processes:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
    dag = project.dag()
    runs = [job for job in dag["jobs"] if job["role"] == "run"]
    assert len(runs) == 8
    assert sorted(job["step"] for job in runs) == list(range(1, 9))
    for i in range(8):
        (job,) = [j for j in runs if str(project.root / f"c{i}.txt") in paths(j["outputs"])]
        assert paths(job["outputs"]) == {str(project.root / f"c{i}.txt"), str(project.root / f"d{i}.txt")}
        for ref in job["outputs"]:
            assert ref["hashes"]["blake3"] == b3sum(Path(ref["path"]))
