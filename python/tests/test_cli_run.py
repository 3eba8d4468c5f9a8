"""`roar run` end to end: real programs under the real preload library, recorded through the real
store, read back with `roar dag --format json`. Every digest is checked against b3sum."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from roar_cli import Project, b3sum, last_run, paths, ref, start_and_kill_roar


def write(project: Project, relative: str, content: bytes | str) -> Path:
    path = project.root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def assert_output(job: dict, path: Path) -> None:
    recorded = ref(job["outputs"], str(path))
    assert recorded["hashes"]["blake3"] == b3sum(path), f"digest of {path}"
    assert recorded["size"] == path.stat().st_size


def assert_input(job: dict, path: Path) -> None:
    recorded = ref(job["inputs"], str(path))
    assert recorded["hashes"].get("blake3") == b3sum(path), f"digest of {path}"


def test_cat_reads_its_input(project: Project) -> None:
    data = write(project, "a.txt", "alpha\n")
    project.run("cat", "a.txt")
    job = last_run(project.dag())
    assert paths(job["inputs"]) == {str(data)}
    assert job["outputs"] == []
    assert_input(job, data)
    assert job["status"] == "ok" and job["exit_code"] == 0


def test_cp_copies(project: Project) -> None:
    source = write(project, "in.bin", os.urandom(300_000))
    project.run("cp", "in.bin", "out.bin")
    job = last_run(project.dag())
    assert paths(job["inputs"]) == {str(source)}
    assert paths(job["outputs"]) == {str(project.root / "out.bin")}
    assert_output(job, project.root / "out.bin")
    assert_input(job, source)


def test_shell_redirect(project: Project) -> None:
    source = write(project, "a", "from a\n")
    project.run("sh", "-c", "cat a > b")
    job = last_run(project.dag())
    assert paths(job["inputs"]) == {str(source)}
    assert paths(job["outputs"]) == {str(project.root / "b")}
    assert_output(job, project.root / "b")


def test_bash_echo_redirect_and_append(project: Project) -> None:
    project.run("bash", "-c", "echo hi > f; echo more >> f; echo other > g")
    job = last_run(project.dag())
    assert paths(job["outputs"]) == {str(project.root / "f"), str(project.root / "g")}
    assert (project.root / "f").read_text() == "hi\nmore\n"
    assert_output(job, project.root / "f")
    assert_output(job, project.root / "g")


def test_python_open_pathlib_shutil_replace(project: Project) -> None:
    source = write(project, "src.txt", "source\n" * 1000)
    script = write(project, "step.py", textwrap.dedent("""
        import os, pathlib, shutil
        with open("src.txt") as f:
            text = f.read()
        pathlib.Path("via_pathlib.txt").write_text(text.upper())
        shutil.copy("src.txt", "copied.txt")
        with open("staging.tmp", "w") as f:
            f.write("final\\n")
        os.replace("staging.tmp", "final.txt")
    """))
    project.run(sys.executable, "step.py")
    job = last_run(project.dag())
    expected_outputs = {str(project.root / n) for n in ("via_pathlib.txt", "copied.txt", "final.txt")}
    assert paths(job["outputs"]) == expected_outputs
    for name in ("via_pathlib.txt", "copied.txt", "final.txt"):
        assert_output(job, project.root / name)
    assert paths(job["inputs"]) == {str(source), str(script)}
    assert_input(job, source)


def test_make_with_several_rules(project: Project) -> None:
    write(project, "in.txt", "x\n")
    write(project, "Makefile", textwrap.dedent("""\
        all: c.txt
        a.txt: in.txt
        \tcat in.txt in.txt > a.txt
        b.txt: a.txt
        \ttr x y < a.txt > b.txt
        c.txt: a.txt b.txt
        \tcat a.txt b.txt > c.txt
    """))
    project.run("make", "-s")
    job = last_run(project.dag())
    outputs = {str(project.root / n) for n in ("a.txt", "b.txt", "c.txt")}
    assert paths(job["outputs"]) == outputs
    for name in ("a.txt", "b.txt", "c.txt"):
        assert_output(job, project.root / name)
    # Intermediates the job wrote itself are not inputs; the sources are.
    assert paths(job["inputs"]) == {str(project.root / "in.txt"), str(project.root / "Makefile")}


def test_threads_and_fork_exec_grandchild(project: Project) -> None:
    write(project, "threads.py", textwrap.dedent("""
        import subprocess, threading
        def writer(i):
            with open(f"t{i}.txt", "w") as f:
                f.write(str(i) * 1000)
        threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
        for t in threads: t.start()
        for t in threads: t.join()
        subprocess.run(["sh", "-c", "sh -c 'cat t0.txt > grandchild.txt'"], check=True)
    """))
    project.run(sys.executable, "threads.py")
    job = last_run(project.dag())
    for name in ("t0.txt", "t1.txt", "t2.txt", "t3.txt", "grandchild.txt"):
        assert_output(job, project.root / name)


def test_pwrite_and_rename_into_place_and_delete(project: Project) -> None:
    write(project, "doomed.txt", "bye\n")
    write(project, "pw.py", textwrap.dedent("""
        import os
        fd = os.open("pw.bin", os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o644)
        os.write(fd, b"a" * 8192)
        os.pwrite(fd, b"ZZZZ", 100)
        os.close(fd)
        with open("tmp-out", "w") as f:
            f.write("renamed\\n")
        os.rename("tmp-out", "renamed.txt")
        os.unlink("doomed.txt")
    """))
    project.run(sys.executable, "pw.py")
    job = last_run(project.dag())
    assert paths(job["outputs"]) == {str(project.root / "pw.bin"), str(project.root / "renamed.txt")}
    assert_output(job, project.root / "pw.bin")
    assert_output(job, project.root / "renamed.txt")
    assert job["deletes"] == [str(project.root / "doomed.txt")]


def test_large_checkpoint_saved_by_rename_links_the_steps(project: Project) -> None:
    """A 64 MiB file written in one call, closed (its digest finished after close, in the background) and renamed
    into place: recorded under its final name with its digest, and the next step's read links to it."""
    write(project, "save.py", textwrap.dedent("""
        import os
        data = os.urandom(1 << 20) * 64
        with open("ckpt.tmp", "wb", buffering=0) as f:
            f.write(data)
        os.rename("ckpt.tmp", "ckpt.bin")
    """))
    project.run(sys.executable, "save.py")
    project.run("cp", "ckpt.bin", "copy.bin")
    dag = project.dag()
    runs = sorted((job for job in dag["jobs"] if job["role"] == "run"), key=lambda j: j["step"])
    saved, copied = runs
    assert paths(saved["outputs"]) == {str(project.root / "ckpt.bin")}
    assert_output(saved, project.root / "ckpt.bin")
    assert_input(copied, project.root / "ckpt.bin")
    assert {"from": saved["uid"], "to": copied["uid"], "path": str(project.root / "ckpt.bin")} in dag["edges"]


def test_steps_chain_through_files(project: Project) -> None:
    write(project, "raw.txt", "raw\n")
    project.run("sh", "-c", "tr a-z A-Z < raw.txt > upper.txt")
    project.run("sh", "-c", "cat upper.txt upper.txt > double.txt")
    dag = project.dag()
    runs = sorted((job for job in dag["jobs"] if job["role"] == "run"), key=lambda j: j["step"])
    assert [job["step"] for job in runs] == [1, 2]
    edge = {"from": runs[0]["uid"], "to": runs[1]["uid"], "path": str(project.root / "upper.txt")}
    assert edge in dag["edges"]
    lineage = project.cli("lineage", "double.txt").stdout
    assert "tr a-z A-Z" in lineage


def test_exit_code_and_failed_run_recorded(project: Project) -> None:
    result = project.run("sh", "-c", "echo partial > p.txt; exit 3", check=False)
    assert result.returncode == 3
    job = last_run(project.dag())
    assert job["status"] == "failed" and job["exit_code"] == 3
    assert_output(job, project.root / "p.txt")


def test_killed_by_signal_is_recorded(project: Project) -> None:
    result = project.run("sh", "-c", "echo before > k.txt; kill -TERM $$", check=False)
    assert result.returncode == 128 + signal.SIGTERM
    job = last_run(project.dag())
    assert job["status"] == "killed"
    assert_output(job, project.root / "k.txt")


def test_interrupt_is_forwarded_to_the_command(project: Project) -> None:
    write(project, "wait.py", textwrap.dedent("""
        import signal, sys, time
        def stop(*_):
            open("interrupted.txt", "w").write("yes\\n")
            sys.exit(7)
        signal.signal(signal.SIGINT, stop)
        open("ready", "w").close()
        time.sleep(60)
    """))
    process = subprocess.Popen([str(project.roar), "run", sys.executable, "wait.py"], cwd=project.root,
                               env=project.env())
    deadline = time.time() + 30
    while not (project.root / "ready").exists() and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 7
    job = last_run(project.dag())
    assert job["exit_code"] == 7
    assert_output(job, project.root / "interrupted.txt")


def test_odd_paths_newline_and_non_utf8(project: Project) -> None:
    write(project, "odd.py", textwrap.dedent("""
        import os
        with open("line\\nbreak.txt", "w") as f:
            f.write("n\\n")
        with open(b"latin\\xe9.txt", "wb") as f:
            f.write(b"e\\n")
        with open("spaced name.txt", "w") as f:
            f.write("s\\n")
    """))
    project.run(sys.executable, "odd.py")
    job = last_run(project.dag())
    outputs = paths(job["outputs"])
    assert str(project.root / "line\nbreak.txt") in outputs
    assert str(project.root / "spaced name.txt") in outputs
    assert str(project.root) + "/latin\\xe9.txt" in outputs
    assert_output(job, project.root / "line\nbreak.txt")


def test_project_under_tmp_is_recorded_but_other_tmp_is_not(project: Project, tmp_path: Path) -> None:
    assert str(project.root).startswith("/tmp/")
    outside = tmp_path / "outside.txt"
    project.run("sh", "-c", f"echo in > inside.txt; echo out > {outside}")
    job = last_run(project.dag())
    assert paths(job["outputs"]) == {str(project.root / "inside.txt")}


def test_unchanged_inputs_are_hashed_once(project: Project) -> None:
    big = write(project, "big.bin", os.urandom(1 << 20))
    project.run("sh", "-c", "cat big.bin > /dev/null")
    project.run("sh", "-c", "cat big.bin > /dev/null")
    db = sqlite3.connect(project.root / ".roar" / "roar.db")
    digests = [row[0] for row in db.execute("SELECT digest FROM hash_cache")]
    assert digests.count(b3sum(big)) == 1


def test_unwritable_state_directory_runs_the_command_untraced_and_says_so(project: Project) -> None:
    if os.geteuid() == 0:
        # root ignores permission bits: make .roar a file instead, which no one can write into.
        state = project.root / ".roar"
        (project.root / ".roar-saved").mkdir()
        os.rename(state, project.root / ".roar-saved" / "state")
        state.write_text("not a folder")
    else:
        os.chmod(project.root / ".roar", 0o500)
    result = project.run("sh", "-c", "echo ran > ran.txt; exit 3", check=False)
    assert result.returncode == 3, result.stderr  # the command's own status: recording never stops it
    assert (project.root / "ran.txt").read_text() == "ran\n"
    assert ".roar" in result.stderr and "nothing of this run is recorded" in result.stderr


def test_static_binary_is_reported(project: Project, tmp_path: Path) -> None:
    source = tmp_path / "static.c"
    source.write_text(
        '#include <stdio.h>\nint main(void){FILE*f=fopen("static.txt","w");fputs("s",f);fclose(f);return 0;}\n'
    )
    binary = tmp_path / "static-bin"
    built = subprocess.run(["cc", "-static", "-o", str(binary), str(source)], capture_output=True)
    if built.returncode != 0:
        pytest.skip("no static libc here (libc6-dev static archive missing)")
    result = project.run(str(binary))
    assert "statically linked" in result.stderr
    assert "static-exec" in project.cli("status").stdout


def test_recover_records_a_run_whose_roar_was_killed(project: Project) -> None:
    start_and_kill_roar(project, "echo saved > saved.txt", linger=2)
    assert "roar recover" in project.cli("status").stdout
    recovered = project.cli("recover").stdout
    assert "Recorded run" in recovered
    job = last_run(project.dag())
    assert job["status"] == "killed"
    assert "interrupted" in job["error"]
    assert_output(job, project.root / "saved.txt")
    assert "Nothing to recover" in project.cli("recover").stdout


def test_secrets_in_the_command_line_are_not_recorded(project: Project) -> None:
    project.run("sh", "-c", "true", "--password", "hunter2", "AWS_SECRET_ACCESS_KEY=abc123",
                "https://user:pa55@example.invalid/x")
    command = last_run(project.dag())["command"]
    for secret in ("hunter2", "abc123", "pa55"):
        assert secret not in command
    assert "***" in command


def test_a_missing_command_exits_127_and_leaves_nothing_behind(project: Project) -> None:
    result = project.run("no-such-command-anywhere", check=False)
    assert result.returncode == 127
    assert "no-such-command-anywhere" in result.stderr and "not found" in result.stderr
    assert "Nothing to recover" in project.cli("recover").stdout
    assert [job for job in project.dag()["jobs"]] == []


def test_a_write_before_a_quiet_spell_survives_sigkill(project: Project) -> None:
    """The program writes its result, computes quietly past the flush interval, and is SIGKILLed (as the OOM
    killer would): the output is recorded with its digest, and the run as killed."""
    (project.root / "job.py").write_text(textwrap.dedent("""
        import os, signal, time
        with open("result.txt", "w") as f:
            f.write("computed before the kill\\n")
        time.sleep(1.5)  # quiet: no I/O that would flush the record
        os.kill(os.getpid(), signal.SIGKILL)
    """))
    result = project.run(sys.executable, "job.py", check=False)
    assert result.returncode == 128 + signal.SIGKILL, result.stderr
    job = last_run(project.dag())
    assert job["status"] == "killed"
    out = ref(job["outputs"], project.path("result.txt"))
    assert out["hashes"]["blake3"] == b3sum(project.root / "result.txt")


def test_a_missing_ray_internal_is_one_warning_and_lost_coverage(project: Project) -> None:
    """A Ray whose private name roar needs is gone (as after an upgrade): the job goes on, `roar run` says once
    which name and what is not recorded, and `roar status` counts it as lost coverage."""
    (project.root / "drift.py").write_text(textwrap.dedent("""
        import ray._private.state as state
        from roar_runtime import ray_compat

        del state.jobs  # what a Ray that renamed it looks like to roar
        for _ in range(2):
            try:
                ray_compat.jobs()  # what the node agents call
            except ray_compat.RayPrivateUnavailable:
                print("went on without it")
    """))
    result = project.run(sys.executable, "drift.py", env={"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"})
    assert result.stdout.count("went on without it") == 2
    warnings = [line for line in result.stderr.splitlines() if "ray._private.state.jobs" in line]
    assert len(warnings) == 1, result.stderr
    assert "has the driver's job died" in warnings[0]
    assert last_run(project.dag())["coverage"].get("ray_private_unavailable") == 1
    assert "ray_private_unavailable" in project.cli("status").stdout
