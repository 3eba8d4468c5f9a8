"""libroar_preload.so and roar-worker, exercised with real programs under the real library.

The library is built once per session with native/build.sh into a temp folder. Each test runs real processes
with LD_PRELOAD and ROAR_SPOOL set, in a temp folder, and checks the exact records (parsed by spool.py). Every
digest a write record carries is checked against `b3sum` and the PyPI `blake3` package.

Not testable here, documented instead: a record line cut by SIGKILL in the middle of the library's single
write(2) — the window is a few microseconds and cannot be forced from outside. The parser side of it (a line
without its newline is skipped with a warning, the rest of the file is read) is tested on a hand-made file.
"""

from __future__ import annotations

import ctypes.util
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from spool import Spool, parse_file

try:
    import blake3 as pyblake3
except ImportError:  # pragma: no cover - the venv has it (python/requirements.txt)
    pyblake3 = None

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
EXPORTS = {
    "roar_set_tag", "roar_get_tag", "roar_emit", "roar_flush", "roar_stop_recording",
    "roar_hasher_size", "roar_hasher_init", "roar_hasher_update", "roar_hasher_hex",
}


# ---------------------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="session")
def native_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """native/build.sh into a session temp folder: libroar_preload.so and roar-worker."""
    out = tmp_path_factory.mktemp("native")
    proc = subprocess.run([str(REPO / "native" / "build.sh"), str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (out / "libroar_preload.so").is_file()
    assert (out / "roar-worker").is_file()
    return out


@pytest.fixture(scope="session")
def preload_lib(native_build: Path) -> Path:
    return native_build / "libroar_preload.so"


class Traced:
    """Runs commands under the library in `cwd`, spooling into `spool_dir`."""

    def __init__(self, lib: Path, cwd: Path, spool_dir: Path):
        self.lib = lib
        self.cwd = cwd
        self.spool_dir = spool_dir

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROAR_") and k != "LD_PRELOAD"}
        ignore = ["/usr", "/etc", "/lib", "/lib64", "/bin", "/sbin", "/var", "/root/.pyenv", sys.prefix,
                  sys.base_prefix]
        env.update(LD_PRELOAD=str(self.lib), ROAR_SPOOL=str(self.spool_dir), ROAR_PRELOAD=str(self.lib),
                   ROAR_IGNORE=":".join(ignore))
        env.update(extra)
        return env

    def run(self, cmd, *, env: dict[str, str] | None = None, check: bool = True, input: bytes | None = None,
            **extra_env: str) -> subprocess.CompletedProcess:
        proc = subprocess.run(cmd, cwd=self.cwd, env=env if env is not None else self.env(**extra_env),
                              capture_output=True, input=input, timeout=60)
        if check:
            assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr)
        return proc

    def python(self, code: str, **extra_env: str) -> subprocess.CompletedProcess:
        return self.run([PYTHON, "-c", textwrap.dedent(code)], **extra_env)

    def spool(self) -> Spool:
        sp = Spool(self.spool_dir)
        assert sp.warnings == []
        return sp


@pytest.fixture
def traced(preload_lib: Path, tmp_path: Path) -> Traced:
    work = tmp_path / "work"
    spool_dir = tmp_path / "spool"
    work.mkdir()
    spool_dir.mkdir()
    return Traced(preload_lib, work, spool_dir)


# ---------------------------------------------------------------------------------------------------------
# helpers


def b3sum(path: Path) -> str:
    out = subprocess.run(["b3sum", "--no-names", os.fsencode(path)], capture_output=True, check=True)
    return out.stdout.decode().strip()


def assert_digest(rec, path: Path) -> None:
    """The record's hash is BLAKE3 of the file, by b3sum and by the PyPI package."""
    data = Path(path).read_bytes()
    want = b3sum(path)
    assert rec.hash == "blake3:" + want, (rec.values, want)
    if pyblake3 is not None:
        assert pyblake3.blake3(data).hexdigest() == want


def assert_stat(rec, path: Path) -> None:
    st = os.stat(path)
    assert (rec.dev, rec.ino, rec.size, rec.mtime_ns) == (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def only(items: list):
    assert len(items) == 1, items
    return items[0]


def cc(tmp: Path, name: str, source: str, *flags: str) -> Path:
    src = tmp / f"{name}.c"
    src.write_text(textwrap.dedent(source))
    exe = tmp / name
    subprocess.run(["cc", "-O1", "-D_GNU_SOURCE", "-o", str(exe), str(src), *flags], check=True,
                   capture_output=True)
    return exe


# ---------------------------------------------------------------------------------------------------------
# the shared object


def test_links_only_libc_and_exports_only_the_api(preload_lib: Path) -> None:
    dyn = subprocess.run(["readelf", "-d", str(preload_lib)], capture_output=True, text=True, check=True).stdout
    needed = {line.split("[")[1].split("]")[0] for line in dyn.splitlines() if "(NEEDED)" in line}
    assert needed and needed <= {"libc.so.6", "libdl.so.2", "libpthread.so.0"}, needed
    syms = subprocess.run(["nm", "-D", "--defined-only", str(preload_lib)], capture_output=True, text=True,
                          check=True).stdout.split("\n")
    names = {line.split()[-1].split("@")[0] for line in syms if line.strip()}
    roar = {n for n in names if n.startswith("roar_")}
    assert roar == EXPORTS
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    for name in names - roar:
        assert hasattr(libc, name), f"{name} is exported but is not a libc function"


def test_without_roar_spool_nothing_is_recorded(traced: Traced) -> None:
    (traced.cwd / "a").write_text("x")
    env = traced.env()
    del env["ROAR_SPOOL"]
    traced.run(["cp", "a", "b"], env=env)
    assert list(traced.spool_dir.iterdir()) == []


# ---------------------------------------------------------------------------------------------------------
# coreutils and shells


def test_cat_records_the_read_with_the_version_read(traced: Traced) -> None:
    a = traced.cwd / "a"
    a.write_text("hello\n")
    traced.run(["cat", "a"])
    sp = traced.spool()
    rec = only(sp.f_records(a))
    assert rec.mode == "r" and rec.bytes_read == 6 and rec.bytes_written == 0 and rec.hash == "-"
    assert_stat(rec, a)
    header = sp.files[0].header
    assert header.version == 1 and header.fsexe.endswith("/cat") and header.fscwd == str(traced.cwd)
    assert sp.files[0].records[-2].type == "Z" or any(r.type == "Z" for r in sp.files[0].records)


def test_cp_copy_file_range_is_seen_and_hashed(traced: Traced) -> None:
    a, b = traced.cwd / "a", traced.cwd / "b"
    a.write_bytes(os.urandom(200_000))
    traced.run(["cp", "a", "b"])
    sp = traced.spool()
    w = only(sp.writes(b))
    assert "w" in w.mode and "c" in w.mode and "s" in w.mode  # copied in the kernel: hashed from the file
    assert w.bytes_written == 200_000
    assert_digest(w, b)
    assert_stat(w, b)
    r = only(sp.reads(a))
    assert r.bytes_read == 200_000
    assert only(sp.of_type("O", path=b)).mode == w.mode.replace("s", "")


def test_sh_redirect_into_cat(traced: Traced) -> None:
    (traced.cwd / "a").write_text("one\ntwo\n")
    b = traced.cwd / "b"
    traced.run(["sh", "-c", "cat a > b"])
    sp = traced.spool()
    writes = sp.writes(b)
    assert writes, sp.records()
    for w in writes:
        assert_digest(w, b)
    assert any(w.bytes_written == 8 for w in writes)
    assert any("t" in o.mode and "c" in o.mode for o in sp.of_type("O", path=b))
    assert only(sp.reads(traced.cwd / "a")).bytes_read == 8


def test_bash_echo_redirect(traced: Traced) -> None:
    f = traced.cwd / "f"
    traced.run(["bash", "-c", "echo hi > f"])
    w = only(traced.spool().writes(f))
    assert w.mode.startswith("wct")
    assert_digest(w, f)
    assert w.size == 3


def test_exec_hands_an_open_file_to_the_new_image(traced: Traced) -> None:
    """`exec > f; exec cat` : the shell opens f, the program it becomes writes it."""
    (traced.cwd / "a").write_text("payload")
    f = traced.cwd / "f"
    traced.run(["sh", "-c", "exec > f; exec cat a"])
    sp = traced.spool()
    w = only(sp.writes(f))
    assert w.bytes_written == 7 and w.mode.startswith("wct")
    assert_digest(w, f)


def test_a_process_that_records_nothing_leaves_no_spool_file(traced: Traced) -> None:
    traced.run(["/bin/true"])
    assert list(traced.spool_dir.iterdir()) == []


def test_a_fork_childs_exec_is_written_by_the_new_image(traced: Traced) -> None:
    """`sh -c 'cat a; :'`: the forked child only execs cat, so the X is carried to cat's image (ROAR_EXEC) and
    written after its H; the child leaves no file of its own."""
    (traced.cwd / "a").write_text("x")
    traced.run(["sh", "-c", "cat a; :"])
    sp = traced.spool()
    cat_file = only([f for f in sp.files if any(r.type == "F" and r.path.endswith(b"/a") for r in f.records)])
    h, x = cat_file.records[0], cat_file.records[1]
    assert x.type == "X" and x.argv == ["cat", "a"], cat_file.records
    assert x.ns <= h.start_ns
    assert only(sp.records("P")).child_pid == h.pid
    assert [r.argv for r in sp.records("X")] == [["cat", "a"]]
    assert len(sp.files) == 2  # sh and cat
    assert not any("ROAR_EXEC" in r.path.decode(errors="replace") for r in sp.records("F"))


def test_a_failed_exec_in_a_fork_child_writes_its_own_x(traced: Traced, tmp_path: Path) -> None:
    """A non-ELF file with no #! is executable but not traceable: not carried; an exec that fails (ENOEXEC
    from execv) is still recorded by the child, once."""
    script = traced.cwd / "noexec"
    script.write_text("garbage\n")
    script.chmod(0o755)
    traced.python(f"""
        import os
        pid = os.fork()
        if pid == 0:
            try:
                os.execv({str(script)!r}, ["noexec"])
            except OSError:
                os._exit(3)
        os.waitpid(pid, 0)
    """)
    sp = traced.spool()
    x = only(sp.records("X"))
    assert x.argv == ["noexec"]
    assert not any("ROAR_EXEC" in k for k in os.environ)


def test_a_carried_exec_that_fails_is_written_by_the_child(traced: Traced) -> None:
    """The target is a dynamic ELF (the X would be carried) but exec fails with ETXTBSY: the child writes it."""
    exe = traced.cwd / "t"
    exe.write_bytes(Path("/bin/true").read_bytes())
    exe.chmod(0o755)
    traced.python(f"""
        import os
        busy = open({str(exe)!r}, "r+b")
        pid = os.fork()
        if pid == 0:
            try:
                os.execv({str(exe)!r}, ["t", "arg"])
            except OSError:
                os._exit(3)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 3
    """)
    sp = traced.spool()
    x = only(sp.records("X"))
    assert x.argv == ["t", "arg"]
    child = only([f for f in sp.files if f.records[1:2] and f.records[1].type == "X"])
    assert child.header.pid == only(sp.records("P")).child_pid


# ---------------------------------------------------------------------------------------------------------
# Python


def test_python_open_pathlib_shutil_replace(traced: Traced) -> None:
    traced.python("""
        import os, pathlib, shutil
        with open("p1.txt", "w") as f:
            f.write("hello\\n" * 1000)
        pathlib.Path("p2.txt").write_text("second")
        shutil.copy("p1.txt", "p3.txt")
        os.replace("p3.txt", "p4.txt")
        with open("p2.txt") as f:
            f.read()
    """)
    sp = traced.spool()
    cwd = traced.cwd
    p1 = only(sp.writes(cwd / "p1.txt"))
    assert p1.mode == "wct" and p1.bytes_written == 6000  # streamed: no recompute
    assert_digest(p1, cwd / "p1.txt")
    assert_stat(p1, cwd / "p1.txt")
    p2 = only(sp.writes(cwd / "p2.txt"))
    assert p2.mode == "wct" and p2.bytes_written == 6
    assert_digest(p2, cwd / "p2.txt")
    p3 = only(sp.writes(cwd / "p3.txt"))  # shutil.copy: sendfile, hashed from the file
    assert "s" in p3.mode and p3.bytes_written == 6000
    assert p3.hash == p1.hash
    m = only(sp.records("M"))
    assert (m.fsold_path, m.fsnew_path) == (str(cwd / "p3.txt"), str(cwd / "p4.txt"))
    assert any(r.bytes_read == 6 for r in sp.reads(cwd / "p2.txt"))
    assert len(sp.reads(cwd / "p1.txt")) == 1


def test_large_sequential_writes_are_streamed_and_survive_fork(traced: Traced) -> None:
    """Large writes are hashed by the library's background thread; fork in the middle of it."""
    traced.python("""
        import os
        chunk = bytes(range(256)) * 256  # 64 KiB
        with open("big1.bin", "wb", buffering=0) as f:
            for i in range(40):
                f.write(chunk)
                f.write(b"small%d" % i)
                if i == 20:
                    pid = os.fork()
                    if pid == 0:
                        with open("child.bin", "wb", buffering=0) as c:
                            for _ in range(20):
                                c.write(chunk)
                        os._exit(0)
                    os.waitpid(pid, 0)
        with open("big2.bin", "wb", buffering=0) as f:
            for _ in range(10):
                f.write(chunk * 3)
    """)
    sp = traced.spool()
    for name in ("big1.bin", "big2.bin", "child.bin"):
        w = only(sp.writes(traced.cwd / name))
        assert w.mode == "wct", (name, w.mode)  # streamed, not recomputed
        assert w.bytes_written == (traced.cwd / name).stat().st_size
        assert_digest(w, traced.cwd / name)


def deferred_closes(sp: Spool) -> int:
    return sum(c.get("close_deferred", 0) for c in sp.counters())


def blake3_of(data: bytes, tmp: Path) -> str:
    """b3sum of `data` (written to a scratch file outside the traced tree)."""
    scratch = tmp / "expected.bin"
    scratch.write_bytes(data)
    return "blake3:" + b3sum(scratch)


# A large file written in one call: the library's thread is still hashing it when close() returns, so the digest is
# finished after the close (deferred), under a read lease on the file.
WRITE_BIG = """
    import os
    def write_big(path, seed, size=48 << 20):
        data = (bytes([seed]) + os.urandom(4095)) * (size // 4096)
        with open(path, "wb", buffering=0) as f:
            f.write(data)
        return data
"""


def with_write_big(body: str) -> str:
    return textwrap.dedent(WRITE_BIG) + textwrap.dedent(body)


def test_a_large_files_digest_is_finished_after_close(traced: Traced, tmp_path: Path) -> None:
    """close() does not wait for the hash of a large write; the F record still has the digest of what was closed,
    the close's times and tag, even when the file is renamed away before the hash is done."""
    traced.python(with_write_big("""
        write_big("part.tmp", 1)
        os.rename("part.tmp", "model.bin")
    """), ROAR_TAG="task-7")
    sp = traced.spool()
    w = only(sp.writes(traced.cwd / "part.tmp"))
    assert w.mode == "wct"  # the stream, not a rehash
    assert w.tag == "task-7"
    assert w.hash == "blake3:" + b3sum(traced.cwd / "model.bin")
    assert w.size == (traced.cwd / "model.bin").stat().st_size == 48 << 20
    assert_stat(w, traced.cwd / "model.bin")
    rename = only(sp.of_type("M", old_path=traced.cwd / "part.tmp"))
    assert w.close_ns <= rename.ns  # written after the rename, ordered by time
    assert deferred_closes(sp) == 1


def test_reopening_a_file_whose_digest_is_pending_waits_for_it(traced: Traced, tmp_path: Path) -> None:
    """Truncating the file again (in the same process, then in a child) waits on the lease: each F record has the
    digest of the content its close left, not of what came after."""
    traced.python(with_write_big("""
        import subprocess
        first = write_big("data.bin", 1)
        second = write_big("data.bin", 2)   # O_TRUNC of a file whose digest is still being computed
        open("first.bin", "wb").write(first)
        open("second.bin", "wb").write(second)
        third = write_big("data.bin", 3)
        subprocess.run(["sh", "-c", "printf child > data.bin"], check=True)
    """))
    sp = traced.spool()
    writes = sp.writes(traced.cwd / "data.bin")
    assert len(writes) == 4, [w.values for w in writes]
    first, second, third, child = writes
    assert first.hash == "blake3:" + b3sum(traced.cwd / "first.bin")
    assert second.hash == "blake3:" + b3sum(traced.cwd / "second.bin")
    assert first.hash != second.hash
    assert third.size == 48 << 20 and third.hash not in (first.hash, second.hash)
    assert child.hash == "blake3:" + b3sum(traced.cwd / "data.bin")
    assert deferred_closes(sp) == 5  # data.bin three times, first.bin, second.bin


def test_pending_digests_are_written_before_exec_and_not_by_a_fork_child(traced: Traced) -> None:
    traced.python(with_write_big("""
        import sys
        write_big("out.bin", 5)
        if os.fork() == 0:
            os._exit(0)          # the child inherits the pending digest: not its record to write
        os.wait()
        os.execv("/bin/true", ["true"])  # the thread does not survive the exec: the record is written before
    """))
    sp = traced.spool()
    w = only(sp.writes(traced.cwd / "out.bin"))
    assert_digest(w, traced.cwd / "out.bin")
    assert deferred_closes(sp) == 1


def test_a_large_file_written_out_of_order_is_hashed_again_after_close(traced: Traced) -> None:
    """pwrite at scattered offsets (as HDF5 or SQLite write): the stream does not describe the file, so it is
    hashed again from the file; from 1 MiB that is left to the thread too, and a reopen waits for it."""
    traced.python("""
        import os
        blocks = [os.urandom(1 << 20) for _ in range(24)]
        fd = os.open("table.h5", os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o644)
        for i in reversed(range(24)):
            os.pwrite(fd, blocks[i], i << 20)
        os.close(fd)
        open("expected.bin", "wb").write(b"".join(blocks))
        fd = os.open("table.h5", os.O_RDWR)   # waits for the digest of the version just closed
        os.pwrite(fd, b"header", 0)
        os.close(fd)
        small = os.open("small.db", os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o644)
        os.pwrite(small, b"x" * 1000, 5000)
        os.close(small)                       # under 1 MiB: hashed in close() as before
    """)
    sp = traced.spool()
    first, patched = sp.writes(traced.cwd / "table.h5")
    assert first.mode == "rwcts" and patched.mode == "rws"
    assert first.hash == "blake3:" + b3sum(traced.cwd / "expected.bin")
    assert_digest(patched, traced.cwd / "table.h5")
    assert_digest(only(sp.writes(traced.cwd / "small.db")), traced.cwd / "small.db")
    assert deferred_closes(sp) == 3  # table.h5 twice, expected.bin (streamed, 24 MiB)


def test_a_fork_child_does_not_hold_the_file_after_the_digest(traced: Traced) -> None:
    """Once the digest is written, reopening for writing is immediate, even while a child forked during the
    pending digest is still alive (it must not keep the lease)."""
    traced.python(with_write_big("""
        import time
        write_big("held.bin", 6)
        child = os.fork()
        if child == 0:
            time.sleep(20)
            os._exit(0)
        time.sleep(1)                      # the digest of 48 MiB is done long before
        start = time.monotonic()
        with open("held.bin", "ab") as f:  # would wait for fs.lease-break-time (45 s) on a leaked lease
            f.write(b"more")
        waited = time.monotonic() - start
        os.kill(child, 9)
        os.waitpid(child, 0)
        assert waited < 5, waited
    """))
    sp = traced.spool()
    first, appended = sp.writes(traced.cwd / "held.bin")
    assert first.size == 48 << 20 and appended.size == (48 << 20) + 4
    assert_digest(appended, traced.cwd / "held.bin")
    assert deferred_closes(sp) == 2  # the append is hashed again, by the thread too


def test_a_second_writer_keeps_close_waiting_for_the_digest(traced: Traced) -> None:
    """No lease while another description has the file open for writing: close() finishes the hash itself."""
    traced.python(with_write_big("""
        other = os.open("shared.bin", os.O_WRONLY | os.O_CREAT)
        write_big("shared.bin", 9)
        os.close(other)
    """))
    sp = traced.spool()
    writes = sp.writes(traced.cwd / "shared.bin")
    big = only([w for w in writes if w.bytes_written > 0])
    assert big.mode == "wct"
    assert_digest(big, traced.cwd / "shared.bin")
    assert deferred_closes(sp) == 0


def test_killed_with_a_digest_pending_leaves_the_open_record(traced: Traced) -> None:
    """SIGKILL before the thread finished: no F record, but the O record tells roar to hash the file as found."""
    proc = traced.run([PYTHON, "-c", with_write_big("""
        import signal
        write_big("lost.bin", 4, size=256 << 20)
        os.kill(os.getpid(), signal.SIGKILL)
    """)], check=False, ROAR_FLUSH_MS="0")
    assert proc.returncode == -9
    sp = Spool(traced.spool_dir)
    assert sp.writes(traced.cwd / "lost.bin") == []
    only(sp.of_type("O", path=traced.cwd / "lost.bin"))


def test_append_mode_rehashes_existing_content(traced: Traced) -> None:
    log = traced.cwd / "log.txt"
    log.write_text("existing\n")
    traced.python("""
        with open("log.txt", "a") as f:
            f.write("more\\n")
    """)
    w = only(traced.spool().writes(log))
    assert w.mode == "wacs" and w.bytes_written == 5
    assert_digest(w, log)


def test_append_to_empty_file_streams(traced: Traced) -> None:
    traced.python("""
        with open("new.log", "a") as f:
            f.write("first\\n")
    """)
    w = only(traced.spool().writes(traced.cwd / "new.log"))
    assert w.mode == "wac"
    assert_digest(w, traced.cwd / "new.log")


def test_pwrite_and_seek_rehash(traced: Traced) -> None:
    traced.python("""
        import os
        fd = os.open("pw.bin", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, b"a" * 100)
        os.pwrite(fd, b"ZZ", 10)
        os.close(fd)
        fd = os.open("seek.bin", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, b"0123456789")
        os.lseek(fd, 2, os.SEEK_SET)
        os.write(fd, b"xx")
        os.close(fd)
    """)
    sp = traced.spool()
    for name, written in (("pw.bin", 102), ("seek.bin", 12)):
        w = only(sp.writes(traced.cwd / name))
        assert "s" in w.mode and w.bytes_written == written
        assert_digest(w, traced.cwd / name)


def test_rename_into_place_and_delete_and_link(traced: Traced) -> None:
    traced.python("""
        import os
        with open("out.tmp", "wb") as f:
            f.write(b"final")
        os.rename("out.tmp", "out.bin")
        os.link("out.bin", "hard.bin")
        os.unlink("hard.bin")
        os.truncate("out.bin", 3)
    """)
    sp = traced.spool()
    cwd = traced.cwd
    w = only(sp.writes(cwd / "out.tmp"))
    assert w.bytes_written == 5 and w.hash.startswith("blake3:")
    m = only(sp.records("M"))
    assert (m.fsold_path, m.fsnew_path) == (str(cwd / "out.tmp"), str(cwd / "out.bin"))
    lnk = only(sp.records("L"))
    assert (lnk.fsold_path, lnk.fsnew_path) == (str(cwd / "out.bin"), str(cwd / "hard.bin"))
    d = only(sp.records("D"))
    assert d.fspath == str(cwd / "hard.bin")
    t = only(sp.records("T"))
    assert (t.fspath, t.length) == (str(cwd / "out.bin"), 3)
    assert m.ns < lnk.ns < d.ns < t.ns


def test_mmap_write(traced: Traced) -> None:
    traced.python("""
        import mmap
        with open("m.bin", "wb") as f:
            f.write(b"\\0" * 8192)
        with open("m.bin", "r+b") as f:
            mm = mmap.mmap(f.fileno(), 0)
            mm[100:105] = b"hello"
            mm.flush()
            mm.close()
    """)
    sp = traced.spool()
    ws = sp.writes(traced.cwd / "m.bin")
    mapped = only([w for w in ws if "m" in w.mode])
    assert "s" in mapped.mode
    assert_digest(mapped, traced.cwd / "m.bin")


def test_mmap_write_after_close_is_seen_at_munmap(traced: Traced, tmp_path: Path) -> None:
    exe = cc(tmp_path, "mmapper", """
        #include <fcntl.h>
        #include <string.h>
        #include <sys/mman.h>
        #include <unistd.h>
        int main(void) {
            int fd = open("mm.bin", O_RDWR | O_CREAT | O_TRUNC, 0644);
            ftruncate(fd, 4096);
            char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            close(fd);
            memcpy(p, "written after close", 19);
            munmap(p, 4096);
            return 0;
        }
    """)
    traced.run([str(exe)])
    w = only(traced.spool().writes(traced.cwd / "mm.bin"))
    assert "m" in w.mode and "s" in w.mode
    assert_digest(w, traced.cwd / "mm.bin")


def test_path_with_newline_and_non_utf8_bytes(traced: Traced) -> None:
    name = b"we\nird %\xff\xfe.txt"
    traced.python(f"""
        import os
        with open({name!r}, "wb") as f:
            f.write(b"odd")
    """)
    path = os.fsencode(traced.cwd) + b"/" + name
    sp = traced.spool()
    w = only(sp.writes(path))
    assert w.path == path
    assert_digest(w, Path(os.fsdecode(path)))
    raw = b"".join(p.read_bytes() for p in traced.spool_dir.glob("*.spool"))
    assert b"we%0Aird %25\xff\xfe.txt" in raw  # escaped control bytes and %, other bytes as is


def test_dup_shares_one_description(traced: Traced) -> None:
    traced.python("""
        import os
        fd = os.open("d.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        fd2 = os.dup(fd)
        os.write(fd, b"abc")
        os.close(fd)
        os.write(fd2, b"def")
        os.dup2(fd2, 50)
        os.close(fd2)
        os.write(50, b"ghi")
        os.close(50)
    """)
    w = only(traced.spool().writes(traced.cwd / "d.txt"))
    assert w.mode == "wct" and w.bytes_written == 9
    assert_digest(w, traced.cwd / "d.txt")


def test_program_closing_every_fd_does_not_break_the_spool(traced: Traced) -> None:
    """Daemons close every fd; shells dup2 onto numbers they like. The spool must survive and never leak."""
    traced.python("""
        import os
        with open("before.txt", "w") as f:
            f.write("1")
        os.closerange(3, 4096)
        with open("after.txt", "w") as f:
            f.write("2")
        fd = os.open("victim.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        for n in range(3, 1024):
            if n != fd:
                os.dup2(fd, n)
        with open("last.txt", "w") as f:
            f.write("3")
    """, ROAR_FLUSH_MS="0")
    sp = traced.spool()
    for name in ("before.txt", "after.txt", "last.txt"):
        assert_digest(only(sp.writes(traced.cwd / name)), traced.cwd / name)
    assert (traced.cwd / "victim.txt").read_bytes() == b""
    python_files = [f for f in sp.files if f.header.fsexe.startswith(os.path.realpath(sys.base_prefix))]
    assert len(python_files) >= 2  # the spool was reopened after the program took its fd


def test_file_left_open_is_finalised_at_exit(traced: Traced) -> None:
    traced.python("""
        import os
        fd = os.open("open1.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, b"never closed")
        f = open("open2.txt", "w")
        f.write("buffered, flushed at exit")
        os._exit(0)
    """)
    sp = traced.spool()
    w1 = only(sp.writes(traced.cwd / "open1.txt"))
    assert w1.bytes_written == 12
    assert_digest(w1, traced.cwd / "open1.txt")
    # os._exit skips Python's flush: the file is empty, and the record says so
    w2 = only(sp.writes(traced.cwd / "open2.txt"))
    assert_digest(w2, traced.cwd / "open2.txt")


def test_stdio_program(traced: Traced, tmp_path: Path) -> None:
    exe = cc(tmp_path, "stdio", """
        #include <stdio.h>
        int main(void) {
            FILE *in = fopen("in.txt", "r");
            char buf[64];
            size_t n = fread(buf, 1, sizeof buf, in);
            fclose(in);
            FILE *out = fopen("out.txt", "w");
            fwrite(buf, 1, n, out);
            fprintf(out, "%d lines\\n", 3);
            for (int i = 0; i < 5; i++) putc('x', out);
            fclose(out);
            FILE *leak = fopen("leak.txt", "w");
            fputs("left open\\n", leak);
            printf("to stdout\\n");
            return 0;
        }
    """)
    (traced.cwd / "in.txt").write_text("input data\n")
    with open(traced.cwd / "stdout.txt", "wb") as stdout:
        proc = subprocess.run([str(exe)], cwd=traced.cwd, env=traced.env(), stdout=stdout, timeout=30)
    assert proc.returncode == 0
    sp = traced.spool()
    r = only(sp.reads(traced.cwd / "in.txt"))
    assert r.bytes_read == 11
    out = only(sp.writes(traced.cwd / "out.txt"))
    assert "s" in out.mode and out.bytes_written >= 11 + 8  # putc is a macro: not counted
    assert_digest(out, traced.cwd / "out.txt")
    leak = only(sp.writes(traced.cwd / "leak.txt"))  # flushed and finalised at exit
    assert_digest(leak, traced.cwd / "leak.txt")
    assert (traced.cwd / "leak.txt").read_text() == "left open\n"
    # stdout, opened by the parent (this test), adopted when first written
    so = only(sp.writes(traced.cwd / "stdout.txt"))
    assert_digest(so, traced.cwd / "stdout.txt")


# ---------------------------------------------------------------------------------------------------------
# make, threads, processes, tags


def test_make_with_several_rules(traced: Traced) -> None:
    (traced.cwd / "Makefile").write_text(textwrap.dedent("""\
        all: c d
        b: a
        \tcp a b
        c: b
        \tcat b b > c
        d: a
        \ttr a-z A-Z < a > d
        """))
    (traced.cwd / "a").write_text("make me\n")
    traced.run(["make", "-s", "-j2"])
    sp = traced.spool()
    for name in ("b", "c", "d"):
        ws = sp.writes(traced.cwd / name)
        assert ws, name
        for w in ws:
            assert_digest(w, traced.cwd / name)
    assert (traced.cwd / "d").read_text() == "MAKE ME\n"
    xs = [x.argv for x in sp.records("X")]
    assert ["cp", "a", "b"] in xs, xs  # make runs simple commands itself (posix_spawn)
    assert ["/bin/sh", "-c", "cat b b > c"] in xs and ["cat", "b", "b"] in xs, xs
    assert any(r for r in sp.reads(traced.cwd / "Makefile"))


def test_threads_inherit_the_creating_threads_tag(traced: Traced) -> None:
    traced.python("""
        import ctypes, threading
        lib = ctypes.CDLL(None)
        lib.roar_get_tag.restype = ctypes.c_char_p
        assert lib.roar_get_tag() == b"proc-tag"
        lib.roar_set_tag(b"task-1")
        def work(i, own):
            if own:
                lib.roar_set_tag(f"own-{i}".encode())
            with open(f"t{i}.bin", "wb") as f:
                for _ in range(50):
                    f.write(bytes([i]) * 1000)
                    f.flush()
        ts = [threading.Thread(target=work, args=(i, i == 3)) for i in range(4)]
        for t in ts: t.start()
        for t in ts: t.join()
        lib.roar_set_tag(None)
        open("untagged.txt", "w").close()
    """, ROAR_TAG="proc-tag")
    sp = traced.spool()
    for i in range(4):
        w = only(sp.writes(traced.cwd / f"t{i}.bin"))
        assert w.tag == ("own-3" if i == 3 else "task-1")
        assert w.bytes_written == 50_000 and w.mode == "wct"
        assert_digest(w, traced.cwd / f"t{i}.bin")
    assert only(sp.writes(traced.cwd / "untagged.txt")).tag == ""


def test_pool_threads_follow_the_process_s_task(traced: Traced) -> None:
    """A thread that inherited a task tag (a library's pool) writes for the task running now, while one thread at a
    time holds a task tag (or all hold the same); with two tasks at once it keeps its tag; threads made before any
    task, and threads that set their own tag, never follow."""
    traced.python("""
        import ctypes, os, queue, threading, time
        lib = ctypes.CDLL(None)

        class Pool:
            def __init__(self):
                self.jobs = queue.Queue()
                self.done = queue.Queue()
                self.thread = threading.Thread(target=self.serve)
                self.thread.start()
            def serve(self):
                while (job := self.jobs.get()) is not None:
                    job()
                    self.done.put(None)
            def run(self, job):
                self.jobs.put(job)
                self.done.get()
            def stop(self):
                self.jobs.put(None)
                self.thread.join()

        def write(name):
            return lambda: open(name, "w").write(name)

        def hold(tag, release):
            def main():
                lib.roar_set_tag(tag)
                held.set()
                release.wait()
                lib.roar_set_tag(b"ray-system")
            held = threading.Event()
            t = threading.Thread(target=main)
            t.start()
            held.wait()
            return t

        lib.roar_set_tag(b"ray-system")
        early = Pool()                       # Ray's own thread, before any task
        lib.roar_set_tag(b"ray:A:0")
        pool = Pool()                        # created by task A
        own = Pool()
        own.run(lambda: lib.roar_set_tag(b"own"))
        pool.run(write("a1"))
        lib.roar_set_tag(b"ray-system")      # A ended
        pool.run(write("after_a"))
        lib.roar_set_tag(b"ray:B:0")
        pool.run(write("b1"))
        early.run(write("early_b"))
        own.run(write("own_b"))
        release = threading.Event()
        other = hold(b"ray:C:0", release)    # two holders at once
        pool.run(write("both"))
        release.set()
        other.join()                         # C ended; B runs alone but did not start alone
        pool.run(write("after_c"))
        lib.roar_set_tag(b"ray:D:0")
        pool.run(write("d1"))
        tids = []
        ended = threading.Thread(target=lambda: (lib.roar_set_tag(b"ray:E:0"), tids.append(threading.get_native_id())))
        ended.start()
        ended.join()                         # a holder whose thread returned holds nothing
        while os.path.exists(f"/proc/self/task/{tids[0]}"):
            time.sleep(0.001)                # join returns before the thread's start function does
        lib.roar_set_tag(b"ray:F:0")
        pool.run(write("f1"))
        lib.roar_set_tag(b"ray-actor:Q")
        release = threading.Event()
        other = hold(b"ray-actor:Q", release)  # two holders, one tag (per-actor attribution)
        pool.run(write("q1"))
        release.set()
        other.join()

        release = threading.Event()
        other = hold(b"ray:G:0", release)
        pid = os.fork()                      # the child has only this thread: the only holder
        if pid == 0:
            child_pool = Pool()
            lib.roar_set_tag(b"ray:H:0")
            child_pool.run(write("child_h"))
            child_pool.stop()
            os._exit(0)
        os.waitpid(pid, 0)
        release.set()
        other.join()
        for p in (early, pool, own):
            p.stop()
    """)
    sp = traced.spool()
    want = {"a1": "ray:A:0", "after_a": "ray:A:0", "b1": "ray:B:0", "early_b": "ray-system", "own_b": "own",
            "both": "ray:B:0", "after_c": "ray:B:0", "d1": "ray:D:0", "f1": "ray:F:0", "q1": "ray-actor:Q",
            "child_h": "ray:H:0"}
    got = {name: only(sp.writes(traced.cwd / name)).tag for name in want}
    assert got == want


def test_tag_travels_through_fork_exec_env_i_and_empty_env(traced: Traced) -> None:
    traced.python("""
        import ctypes, os, subprocess
        lib = ctypes.CDLL(None)
        lib.roar_set_tag(b"ray:abc:0")
        subprocess.run(["sh", "-c", "echo child > g1; env -i sh -c 'echo grand > g2'"], check=True)
        subprocess.run(["/bin/sh", "-c", "echo empty > g3"], env={}, check=True)
        os.system("echo sys > g4")
        pid = os.fork()
        if pid == 0:
            with open("g5", "w") as f:
                f.write("forked")
            os._exit(0)
        os.waitpid(pid, 0)
        pid = os.posix_spawn("/bin/sh", ["sh", "-c", "echo spawned > g6"], {})
        os.waitpid(pid, 0)
    """, ROAR_TAG="outer")
    sp = traced.spool()
    for name in ("g1", "g2", "g3", "g4", "g5", "g6"):
        w = only(sp.writes(traced.cwd / name))
        assert w.tag == "ray:abc:0", (name, w.values)
        assert_digest(w, traced.cwd / name)
    ps = sp.records("P")
    assert len(ps) >= 5 and all(p.tag == "ray:abc:0" for p in ps)
    # the grandchild under `env -i` got the library and the spool back
    x = [x for x in sp.records("X") if x.argv[-1:] == ["echo grand > g2"]]
    assert x and x[0].tag == "ray:abc:0"
    # every process wrote its own file, each starting with H
    pids = {f.header.pid for f in sp.files}
    assert len(pids) >= 6
    for f in sp.files:
        assert f.records[0].type == "H"


def test_fork_in_a_busy_multithreaded_parent(traced: Traced) -> None:
    """Threads hold the library's locks all the time; children forked meanwhile must not deadlock."""
    traced.python("""
        import os, threading
        stop = threading.Event()
        def writer(i):
            n = 0
            while not stop.is_set():
                with open(f"w{i}-{n % 3}.txt", "wb", buffering=0) as f:
                    f.write(b"x" * (1 + n % 70000))
                n += 1
        ts = [threading.Thread(target=writer, args=(i,)) for i in range(3)]
        for t in ts: t.start()
        for k in range(30):
            pid = os.fork()
            if pid == 0:
                with open(f"child{k}.txt", "w") as f:
                    f.write(str(k))
                os._exit(0)
            os.waitpid(pid, 0)
        stop.set()
        for t in ts: t.join()
    """)
    sp = traced.spool()
    for k in range(30):
        w = only(sp.writes(traced.cwd / f"child{k}.txt"))
        assert_digest(w, traced.cwd / f"child{k}.txt")
    for i in range(3):
        last = sp.writes(traced.cwd / f"w{i}-0.txt")[-1]
        assert_digest(last, traced.cwd / f"w{i}-0.txt")


def test_static_exec_warns(traced: Traced, tmp_path: Path) -> None:
    if not Path("/usr/lib/x86_64-linux-gnu/libc.a").exists() and not Path("/usr/lib/libc.a").exists():
        pytest.skip("no libc.a: cannot build a static binary")
    exe = cc(tmp_path, "static_hello", """
        #include <stdio.h>
        int main(void) { puts("static"); return 0; }
    """, "-static")
    traced.run(["sh", "-c", f"exec {exe}"])
    sp = traced.spool()
    w = only(sp.of_type("W", kind="static-exec"))
    assert w.detail == str(exe)
    assert any(c.get("static_exec") == 1 for c in sp.counters())


def test_errno_is_preserved(traced: Traced, tmp_path: Path) -> None:
    exe = cc(tmp_path, "errno_check", """
        #include <errno.h>
        #include <fcntl.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <unistd.h>
        #define CHECK(call) do { errno = 4242; call; if (errno != 4242) { \\
            fprintf(stderr, "%s changed errno to %d\\n", #call, errno); exit(1); } } while (0)
        int main(void) {
            int fd;
            CHECK(fd = open("e.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644));
            CHECK(write(fd, "abc", 3));
            CHECK(lseek(fd, 0, SEEK_CUR));
            CHECK(fsync(fd));
            CHECK(close(fd));
            FILE *f;
            CHECK(f = fopen("e2.txt", "w"));
            CHECK(fputs("x", f));
            CHECK(fclose(f));
            CHECK(rename("e2.txt", "e3.txt"));
            CHECK(unlink("e3.txt"));
            errno = 0;
            if (open("/nonexistent/x", O_RDONLY) != -1 || errno != ENOENT) { puts("ENOENT lost"); return 1; }
            errno = 0;
            if (close(987) != -1 || errno != EBADF) { puts("EBADF lost"); return 1; }
            return 0;
        }
    """)
    traced.run([str(exe)])
    assert only(traced.spool().writes(traced.cwd / "e.txt")).bytes_written == 3


def test_a_function_missing_from_libc_fails_the_call_not_the_program(traced: Traced, tmp_path: Path) -> None:
    """roar_real fails soft. No libc on this machine lacks one of the hooked functions, so the test stands in for
    one the only way the library can see it: a dlsym that finds no `renameat2` and no `fopen64` after the library
    (a harness preloaded after it, answering NULL for those two names as an older libc would, and forwarding every
    other lookup). The library itself is the one under test, unchanged: each call fails with ENOSYS and the
    function's failure value, is counted as `unresolved`, the program goes on and its other I/O is recorded."""
    shim = cc(tmp_path, "older_libc.so", """
        #include <dlfcn.h>
        #include <string.h>
        /* dlsym as a libc without renameat2 and fopen64 answers it; everything else is the real dlsym's. */
        void *dlsym(void *handle, const char *name) {
            static void *(*real)(void *, const char *);
            if (real == NULL) {
                real = (void *(*)(void *, const char *))dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
            }
            if (real == NULL) {
                real = (void *(*)(void *, const char *))dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5");
            }
            if (strcmp(name, "renameat2") == 0 || strcmp(name, "fopen64") == 0) {
                return NULL;
            }
            return real(handle, name);
        }
    """, "-shared", "-fPIC", "-ldl")
    exe = cc(tmp_path, "calls_missing", """
        #include <errno.h>
        #include <fcntl.h>
        #include <stdio.h>
        #include <string.h>
        int main(void) {
            FILE *g = fopen("a", "w");
            fputs("kept\\n", g);
            fclose(g);
            for (int i = 0; i < 2; i++) {
                errno = 0;
                int r = renameat2(AT_FDCWD, "a", AT_FDCWD, "b", 0);
                printf("renameat2 %d %s\\n", r, strerror(errno));
            }
            errno = 0;
            FILE *f = fopen64("a", "r");
            printf("fopen64 %s %s\\n", f == NULL ? "NULL" : "stream", strerror(errno));
            return 0;
        }
    """)
    env = traced.env()
    env["LD_PRELOAD"] = f"{traced.lib}:{shim}"
    proc = traced.run([str(exe)], env=env)
    nosys = os.strerror(38)  # ENOSYS
    assert proc.stdout.decode().splitlines() == [f"renameat2 -1 {nosys}", f"renameat2 -1 {nosys}",
                                                 f"fopen64 NULL {nosys}"]
    err = proc.stderr.decode()
    assert err.count("libroar_preload: renameat2: not in libc") == 1, err
    assert err.count("libroar_preload: fopen64: not in libc") == 1, err
    assert (traced.cwd / "a").read_text() == "kept\n" and not (traced.cwd / "b").exists()
    sp = traced.spool()
    assert only(sp.counters())["unresolved"] == 3
    rec = only(sp.writes(traced.cwd / "a"))
    assert_digest(rec, traced.cwd / "a")
    assert sp.of_type("M") == []


def test_ignore_and_include_prefixes(traced: Traced) -> None:
    (traced.cwd / "skip" / "keep").mkdir(parents=True)
    traced.run(["sh", "-c", "echo a > skip/a; echo b > skip/keep/b; echo c > c"],
               ROAR_IGNORE=f"/usr:/etc:/lib:{traced.cwd}/skip", ROAR_INCLUDE=f"{traced.cwd}/skip/keep")
    sp = traced.spool()
    paths = {r.fspath for r in sp.records("F")}
    assert str(traced.cwd / "skip" / "a") not in paths
    assert str(traced.cwd / "skip" / "keep" / "b") in paths
    assert str(traced.cwd / "c") in paths
    assert not any(str(traced.spool_dir) in p for p in paths)


def test_roar_emit_and_flush(traced: Traced) -> None:
    proc = traced.run([PYTHON, "-c", textwrap.dedent("""
        import ctypes, os, signal
        lib = ctypes.CDLL(None)
        lib.roar_set_tag(b"ray:t1:0")
        lib.roar_emit(b'{"event":"task_start","x":"tab\\there"}')
        lib.roar_flush()
        lib.roar_emit(b'{"event":"lost"}')
        os.kill(os.getpid(), signal.SIGKILL)
    """)], check=False, ROAR_FLUSH_MS="60000")
    assert proc.returncode == -9
    sp = traced.spool()
    e = only(sp.records("E"))  # the second was buffered when the process was killed
    assert e.tag == "ray:t1:0" and e.json == '{"event":"task_start","x":"tab\there"}'
    assert not any(r.type == "Z" for r in sp.records())


def test_killed_by_a_catchable_signal_still_flushes(traced: Traced) -> None:
    proc = traced.run(["sh", "-c", "echo before > k.txt; kill -TERM $$"], check=False)
    assert proc.returncode == -15  # still dies of the signal
    w = only(traced.spool().writes(traced.cwd / "k.txt"))
    assert_digest(w, traced.cwd / "k.txt")
    # the program still sees the default disposition, and its own handlers still run
    out = traced.python("""
        import os, signal
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        try:
            os.kill(os.getpid(), signal.SIGINT)
        except KeyboardInterrupt:
            print("interrupted")
    """)
    assert out.stdout.strip() == b"interrupted"


def test_flush_interval_zero_writes_every_record(traced: Traced) -> None:
    proc = traced.run([PYTHON, "-c", textwrap.dedent("""
        import os, signal
        with open("k.txt", "w") as f:
            f.write("x")
        os.kill(os.getpid(), signal.SIGKILL)
    """)], check=False, ROAR_FLUSH_MS="0")
    assert proc.returncode == -9
    assert only(traced.spool().writes(traced.cwd / "k.txt")).bytes_written == 1


def test_parser_skips_truncated_and_corrupt_lines(tmp_path: Path) -> None:
    p = tmp_path / "1-2-deadbeef.spool"
    p.write_bytes(b"H\t1\t1\t0\t2\t/bin/x\t/\n"
                  b"D\t\t5\t/a\n"
                  b"Q\tnonsense\n"
                  b"D\t\t6\t/b\n"
                  b"F\t\t7\t8\tw")
    sf = parse_file(p)
    assert [r.type for r in sf.records] == ["H", "D", "D"]
    assert len(sf.warnings) == 2 and "truncated" in sf.warnings[0] + sf.warnings[1]


# ---------------------------------------------------------------------------------------------------------
# roar-worker


def test_roar_worker_execs_roar_worker_python_with_the_library(native_build: Path, traced: Traced) -> None:
    worker = native_build / "roar-worker"
    env = traced.env(ROAR_WORKER_PYTHON=PYTHON)
    del env["LD_PRELOAD"]
    del env["ROAR_PRELOAD"]  # found next to roar-worker
    code = "import os, sys; print(os.environ['LD_PRELOAD']); print(sys.executable); open('w.txt','w').write('1')"
    proc = traced.run([str(worker), "-c", code], env=env)
    preload, exe = proc.stdout.decode().split()
    assert preload.split(":")[0] == str(native_build / "libroar_preload.so")
    assert exe == PYTHON
    w = only(traced.spool().writes(traced.cwd / "w.txt"))
    assert_digest(w, traced.cwd / "w.txt")


def test_stop_recording_ends_recording_for_the_process(traced: Traced) -> None:
    """roar's own processes (host-submit node agents) opt out; what came before is kept."""
    traced.python("""
        import ctypes
        open("before.txt", "w").write("recorded")
        ctypes.CDLL(None).roar_stop_recording()
        open("after.txt", "w").write("not recorded")
        open("before.txt").read()
    """)
    sp = traced.spool()
    assert_digest(only(sp.writes(traced.cwd / "before.txt")), traced.cwd / "before.txt")
    assert sp.writes(traced.cwd / "after.txt") == [] and sp.reads(traced.cwd / "before.txt") == []


def test_roar_worker_finds_the_python_that_owns_rays_worker(native_build: Path, traced: Traced, tmp_path: Path) -> None:
    """On a cluster no ROAR_WORKER_PYTHON is set: the interpreter is the one whose site-packages
    hold the default_worker.py Ray starts; its trees join ROAR_IGNORE; ROAR_SPOOL is created."""
    prefix = tmp_path / "venv"
    script = prefix / "lib" / "python3.11" / "site-packages" / "ray" / "_private" / "workers" / "default_worker.py"
    script.parent.mkdir(parents=True)
    script.write_text("import os, sys\nprint(sys.executable)\nprint(os.environ['ROAR_IGNORE'])\n"
                      "open('w.txt', 'w').write('from the worker')\n")
    (prefix / "bin").mkdir()
    (prefix / "bin" / "python3.11").symlink_to(PYTHON)
    (prefix / "pyvenv.cfg").write_text("home = /opt/base-python/bin\nversion = 3.11.7\n")
    spool = tmp_path / "node" / "run" / "spool"
    env = traced.env(ROAR_SPOOL=str(spool), ROAR_IGNORE="/usr:/proc")
    for key in ("LD_PRELOAD", "ROAR_PRELOAD", "ROAR_WORKER_PYTHON"):
        env.pop(key, None)
    proc = traced.run([str(native_build / "roar-worker"), str(script)], env=env)
    exe, ignore = proc.stdout.decode().split()
    assert exe == str(prefix / "bin" / "python3.11")
    assert ignore.split(":") == ["/usr", "/proc", str(prefix), "/opt/base-python"]
    assert spool.is_dir() and (spool.stat().st_mode & 0o777) == 0o700
    assert [f.name for f in spool.iterdir()], "the worker's own write went to the created spool"


def test_roar_worker_without_python_fails_clearly(native_build: Path, traced: Traced) -> None:
    env = traced.env()
    proc = traced.run([str(native_build / "roar-worker"), "-c", "pass"], env=env, check=False)
    assert proc.returncode == 127
    assert b"ROAR_WORKER_PYTHON" in proc.stderr


def test_build_is_idempotent_and_quiet(native_build: Path) -> None:
    before = (native_build / "libroar_preload.so").stat().st_mtime_ns
    proc = subprocess.run([str(REPO / "native" / "build.sh"), str(native_build)], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout == "" and proc.stderr == ""
    assert (native_build / "libroar_preload.so").stat().st_mtime_ns == before
    assert shutil.which("b3sum"), "b3sum is needed (scripts/setup installs it)"


# ---------------------------------------------------------------------------------------------------------
# time-bounded loss: records reach the spool while the process stays quiet (docs/spool-format.md)


def wait_for_write_record(traced: Traced, path: Path, proc: subprocess.Popen, deadline_s: float = 10.0):
    """The F record of `path`, read from the spool while `proc` still runs (so not written by its exit)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the process ended: its exit would have flushed"
        writes = Spool(traced.spool_dir).writes(path)
        if writes:
            return only(writes)
        time.sleep(0.05)
    raise AssertionError(f"no F record of {path} within {deadline_s} s while the process stayed quiet")


@pytest.mark.parametrize("program", ["shell", "python"])
def test_a_quiet_process_s_write_reaches_the_spool_and_survives_sigkill(traced: Traced, program: str) -> None:
    """A single-threaded process writes and closes a file, then computes quietly: the F record of an output is
    written at once, and a SIGKILL then loses nothing."""
    out = traced.cwd / "quiet.txt"
    if program == "shell":
        # Builtins only: no fork or exec, which would flush on their own.
        command = ["sh", "-c", "echo result > quiet.txt; echo written; while :; do :; done"]
    else:
        command = [PYTHON, "-c", textwrap.dedent("""
            import time
            time.sleep(0.05)
            with open("quiet.txt", "w") as f:
                f.write("result\\n")
            print("written", flush=True)
            time.sleep(60)
        """)]
    proc = subprocess.Popen(command, cwd=traced.cwd, env=traced.env(ROAR_FLUSH_MS="300"), stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"written"
        record = wait_for_write_record(traced, out, proc)
        assert_digest(record, out)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -9
    assert_digest(only(Spool(traced.spool_dir).writes(out)), out)


def test_a_threaded_process_s_quiet_read_reaches_the_spool_within_the_interval(traced: Traced) -> None:
    """A program with threads of its own (as a Ray worker) gets the flusher thread: even a read — which a
    single-threaded program keeps buffered — reaches the spool while the program stays quiet."""
    source = traced.cwd / "input.txt"
    source.write_text("input\n")
    proc = subprocess.Popen([PYTHON, "-c", textwrap.dedent("""
        import threading, time
        threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
        time.sleep(0.05)
        open("input.txt").read()
        print("read", flush=True)
        time.sleep(60)
    """)], cwd=traced.cwd, env=traced.env(ROAR_FLUSH_MS="300"), stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"read"
        deadline = time.monotonic() + 10
        while not Spool(traced.spool_dir).reads(source):
            assert proc.poll() is None and time.monotonic() < deadline, "the read stayed in the buffer"
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait()
    assert_stat(only(Spool(traced.spool_dir).reads(source)), source)


def test_a_fork_child_gets_its_own_flusher(traced: Traced) -> None:
    """Threads do not survive fork: the child's quiet write still reaches the spool while it runs."""
    out = traced.cwd / "child.txt"
    proc = subprocess.Popen([PYTHON, "-c", textwrap.dedent("""
        import os, sys, time
        time.sleep(0.05)
        open("parent.txt", "w").write("p")  # the parent's flusher starts here
        if os.fork() == 0:
            time.sleep(0.05)
            with open("child.txt", "w") as f:
                f.write("child\\n")
            print("written", flush=True)
            time.sleep(60)
        os.wait()
    """)], cwd=traced.cwd, env=traced.env(ROAR_FLUSH_MS="300"), stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"written"
        assert_digest(wait_for_write_record(traced, out, proc), out)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    sp = Spool(traced.spool_dir)
    assert_digest(only(sp.writes(out)), out)
    assert_digest(only(sp.writes(traced.cwd / "parent.txt")), traced.cwd / "parent.txt")
