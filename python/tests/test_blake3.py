"""Oracle tests for roar's C BLAKE3 (Sources/CBLAKE3): every kernel the CPU offers, forced one at a time, against
PyPI ``blake3`` and ``b3sum`` on random data at and around block and chunk boundaries, one-shot, streamed with
random split points, through ``roar_blake3_hash_fd`` with 1 and N threads (read and mmap modes), and batched
(``roar_blake3_hash_fds``: small files sharing SIMD lanes).

The C code is driven through ``bench/hash/b3tool.c``, compiled here with ``cc``, so these tests need no Swift
build. The 1 GiB check runs with ROAR_SLOW_TESTS=1 (and in ``bench/hash/run``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

blake3 = pytest.importorskip("blake3")

REPO = Path(__file__).resolve().parents[2]
SOURCES = REPO / "Sources" / "CBLAKE3"

SIZES = [
    0, 1, 2, 63, 64, 65, 127, 128, 129, 1023, 1024, 1025, 2047, 2048, 2049, 3072, 3073, 4095, 4096, 4097,
    5 * 1024, 8191, 8192, 8193, 15 * 1024, 16383, 16384, 16385, 17 * 1024 + 1, 31 * 1024, 32 * 1024 + 1,
    64 * 1024 - 1, 128 * 1024 + 5, 256 * 1024, 256 * 1024 + 1, 512 * 1024 + 64, (1 << 20) + 1, 3 * (1 << 20) - 1,
    5 * (1 << 20) + 12345,
]


@pytest.fixture(scope="session")
def b3tool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The C harness, built from the same sources the package and the preload library use."""
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        pytest.skip("no C compiler")
    out = tmp_path_factory.mktemp("b3tool") / "b3tool"
    sources = sorted(str(p) for p in SOURCES.glob("*.c"))
    subprocess.run(
        [compiler, "-O2", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror", "-pthread", "-I", str(SOURCES / "include"),
         *sources, str(REPO / "bench" / "hash" / "b3tool.c"), "-o", str(out)],
        check=True,
    )
    return out


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, str]:
    """Random files of every boundary size, with their digests from PyPI blake3."""
    root = tmp_path_factory.mktemp("corpus")
    files = {}
    for size in SIZES:
        path = root / f"random-{size}"
        data = os.urandom(size)
        path.write_bytes(data)
        files[path] = blake3.blake3(data).hexdigest()
    return files


def kernels(tool: Path) -> list[str]:
    return subprocess.run([str(tool), "--list-kernels"], capture_output=True, text=True, check=True).stdout.split()


def run_tool(tool: Path, args: list[str], paths: list[Path]) -> dict[str, str]:
    result = subprocess.run([str(tool), *args, *map(str, paths)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    digests = {}
    for line in result.stdout.splitlines():
        digest, path = line.split("  ", 1)
        digests[path] = digest
    return digests


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def test_kernels_offered_match_the_cpu(b3tool: Path) -> None:
    offered = kernels(b3tool)
    assert offered[0] == "portable"
    flags = cpu_flags()
    if "sse4_1" in flags:
        assert "sse41" in offered
    if "avx2" in flags:
        assert "avx2" in offered
    if {"avx512f", "avx512vl"} <= flags:
        assert "avx512" in offered


MODES = [
    ["--mode", "oneshot"],
    ["--mode", "stream", "--seed", "1"],
    ["--mode", "stream", "--seed", "2"],
    ["--mode", "stream", "--seed", "3"],
    ["--threads", "1"],
    ["--threads", "2"],
    ["--threads", "4"],
    ["--threads", "0"],
    ["--threads", "1", "--mmap"],
    ["--threads", "3", "--mmap"],
    ["--batch"],
    ["--batch", "--jobs", "2", "--mmap"],
]


@pytest.mark.parametrize("mode", MODES, ids=lambda m: "-".join(a.strip("-") for a in m))
def test_every_kernel_matches_pypi_blake3(b3tool: Path, corpus: dict[Path, str], mode: list[str]) -> None:
    paths = list(corpus)
    for kernel in kernels(b3tool):
        got = run_tool(b3tool, ["--kernel", kernel, *mode], paths)
        wrong = [p.name for p in paths if got.get(str(p)) != corpus[p]]
        assert not wrong, f"kernel {kernel}, mode {mode}: wrong digests for {wrong}"


def test_matches_b3sum(b3tool: Path, corpus: dict[Path, str]) -> None:
    b3sum = shutil.which("b3sum")
    if b3sum is None:
        pytest.skip("b3sum is not installed (apt-get install b3sum)")
    paths = list(corpus)
    ours = subprocess.run([str(b3tool), *map(str, paths)], capture_output=True, text=True, check=True).stdout
    theirs = subprocess.run([b3sum, *map(str, paths)], capture_output=True, text=True, check=True).stdout
    assert ours == theirs


def test_pipe_input_streams(b3tool: Path) -> None:
    data = os.urandom(200_000)
    for kernel in kernels(b3tool):
        result = subprocess.run([str(b3tool), "--kernel", kernel, "-"], input=data, capture_output=True, check=True)
        assert result.stdout.decode().split()[0] == blake3.blake3(data).hexdigest(), kernel


def test_many_random_sizes_streamed(b3tool: Path, tmp_path: Path) -> None:
    """Sizes drawn at random up to 40 KiB, each streamed with a different seed, on the default kernel."""
    rng = __import__("random").Random(1234)
    paths, expected = [], {}
    for i in range(60):
        data = os.urandom(rng.randrange(0, 40 * 1024))
        path = tmp_path / f"r{i}"
        path.write_bytes(data)
        paths.append(path)
        expected[str(path)] = blake3.blake3(data).hexdigest()
    for seed in range(1, 6):
        assert run_tool(b3tool, ["--mode", "stream", "--seed", str(seed)], paths) == expected


@pytest.mark.skipif(os.environ.get("ROAR_SLOW_TESTS") != "1", reason="1 GiB check: set ROAR_SLOW_TESTS=1")
def test_one_gibibyte(b3tool: Path, tmp_path: Path) -> None:
    path = tmp_path / "big"
    with path.open("wb") as f:
        for _ in range(1024):
            f.write(os.urandom(1 << 20))
    expected = blake3.blake3(path.read_bytes(), max_threads=blake3.blake3.AUTO).hexdigest()
    for args in (["--threads", "1"], ["--threads", "0"], ["--threads", "2", "--mmap"]):
        assert run_tool(b3tool, args, [path])[str(path)] == expected, args


@pytest.mark.parametrize("args", [["--threads", "1"], ["--threads", "2"], ["--threads", "1", "--mmap"],
                                  ["--threads", "2", "--mmap"]], ids=["read-1", "read-2", "mmap-1", "mmap-2"])
def test_file_truncated_while_hashed_is_reread(b3tool: Path, tmp_path: Path, args: list[str]) -> None:
    """The harness truncates the file after the first piece; mapped pages past the new end raise SIGBUS, which
    the guard turns into a re-read: the digest is that of what the file holds afterwards, and nothing crashes."""
    path = tmp_path / "shrinking"
    data = os.urandom(48 << 20)
    path.write_bytes(data)
    result = subprocess.run([str(b3tool), *args, "--truncate-during", "1000003", str(path)], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == blake3.blake3(data[:1000003]).hexdigest()
