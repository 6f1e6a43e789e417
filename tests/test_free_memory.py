"""The memory available to a new allocation is the least of the machine's MemAvailable and the room left under
every limit of the process's memory cgroup (v1 and v2, in a container or not); a limit the process has no room
under refuses the work with one line instead of letting the out-of-memory killer end it."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from fsm_lstm.cli import main
from fsm_lstm.free_memory import available_memory, cgroup_room

GiB, MiB = 2**30, 2**20


def machine(tmp_path: Path, cgroup_lines: str, files: dict[str, str], free: int = 20 * GiB) -> tuple[str, str]:
    """A fake /proc (meminfo, self/cgroup) and cgroup mount holding ``files``; their two roots."""
    proc, mount = tmp_path / "proc", tmp_path / "cgroup"
    (proc / "self").mkdir(parents=True, exist_ok=True)
    (proc / "meminfo").write_text(f"MemTotal: 25000000 kB\nMemAvailable: {free // 1024} kB\n")
    (proc / "self" / "cgroup").write_text(cgroup_lines)
    for name, text in files.items():
        (mount / name).parent.mkdir(parents=True, exist_ok=True)
        (mount / name).write_text(text)
    return str(proc), str(mount)


def test_a_containers_v2_limit_leaves_less_than_the_machine(tmp_path):
    roots = machine(tmp_path, "0::/\n", {"memory.max": f"{GiB}\n", "memory.current": f"{256 * MiB}\n"})
    assert available_memory(*roots) == 768 * MiB


def test_no_limit_leaves_the_machines_memory(tmp_path):
    roots = machine(tmp_path, "0::/\n", {"memory.max": "max\n", "memory.current": "5\n"}, free=3 * GiB)
    assert cgroup_room(*roots) is None and available_memory(*roots) == 3 * GiB
    v1 = machine(tmp_path / "v1", "4:memory:/job\n1:cpu:/\n", {
        "memory/job/memory.limit_in_bytes": "9223372036854771712\n", "memory/job/memory.usage_in_bytes": "7\n"})
    assert available_memory(*v1) == 20 * GiB


def test_a_v1_job_limit_and_an_ancestors_count(tmp_path):
    roots = machine(tmp_path, "4:memory:/batch/job7\n0::/\n", {
        "memory/batch/memory.limit_in_bytes": f"{4 * GiB}", "memory/batch/memory.usage_in_bytes": f"{3 * GiB}",
        "memory/batch/job7/memory.limit_in_bytes": f"{2 * GiB}",
        "memory/batch/job7/memory.usage_in_bytes": f"{512 * MiB}"})
    assert available_memory(*roots) == GiB  # the batch's room, less than the job's own


def test_usage_over_the_limit_leaves_nothing_and_missing_files_leave_the_machine(tmp_path):
    roots = machine(tmp_path, "0::/\n", {"memory.max": "100", "memory.current": "150"})
    assert available_memory(*roots) == 0
    assert available_memory(str(tmp_path / "no-proc"), str(tmp_path / "no-cgroup")) is not None  # sysconf


limits = st.one_of(st.just(None), st.tuples(st.integers(0, 8 * GiB), st.integers(0, 8 * GiB)))


@settings(max_examples=60, deadline=None)
@given(levels=st.lists(limits, min_size=1, max_size=4), free=st.integers(0, 16 * GiB))
def test_the_least_room_of_any_limited_level_on_the_path(tmp_path_factory, levels, free):
    """A v2 cgroup at depth len(levels) - 1 below the mount: each level either unlimited or (limit, usage)."""
    tmp = tmp_path_factory.mktemp("cg")
    names = [f"l{k}" for k in range(1, len(levels))]
    files = {}
    for depth, level in enumerate(levels):
        folder = "/".join(names[:depth])
        prefix = f"{folder}/" if folder else ""
        files[prefix + "memory.max"] = "max" if level is None else str(level[0])
        files[prefix + "memory.current"] = "0" if level is None else str(level[1])
    roots = machine(tmp, f"0::/{'/'.join(names)}\n", files, free=free)
    rooms = [max(0, limit - usage) for limit, usage in filter(None, levels)]
    assert available_memory(*roots) == min([free // 1024 * 1024, *rooms])


def test_the_cli_refuses_a_workbook_the_cgroup_has_no_room_for(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("fsm_lstm.free_memory.cgroup_room", lambda *roots: MiB)
    assert main(["sheet", "reber", "-o", str(tmp_path / "b.xlsx")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "more than the 1.0 MiB available" in err, err
    assert list(tmp_path.iterdir()) == []


def test_an_address_space_limit_leaves_its_room_and_verify_refuses_a_budget_over_it(tmp_path):
    """Under `ulimit -v` (RLIMIT_AS) runs failed late with "out of memory": the room under it now counts, and
    verify refuses a --memory above what is available, in one line, before any work (in a child process, so
    that the limit stays there)."""
    import subprocess
    import sys

    script = (
        "import resource\n"
        "resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, resource.RLIM_INFINITY))\n"
        "from fsm_lstm.free_memory import address_space_room, available_memory\n"
        "room = address_space_room()\n"
        "assert 0 < room < 3 * 2**30 and available_memory() <= room, room\n"
        "from fsm_lstm.cli import main\n"
        "raise SystemExit(main(['verify', 'examples/leaky.npz', '--memory', '3500', '--max-len', '2']))\n")
    import os

    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}  # OpenBLAS maps per thread
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "--memory 3,500 MB is more than the" in done.stderr
    assert "MB available now; give at most that" in done.stderr and not done.stdout


def test_a_budget_over_the_machines_memory_is_refused_and_running_out_names_the_commands_knobs(
        capsys, monkeypatch):
    """--memory 100000000 (100 TB) grew to 7 GB before it failed; and the out-of-memory line told verify and
    certify to lower --steps, which they do not have."""
    import importlib

    assert main(["verify", "examples/leaky.npz", "--memory", "100000000"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--memory 100,000,000 MB is more than the" in err

    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(importlib.import_module("fsm_lstm.verify"), "verify", exhausted)
    assert main(["verify", "examples/leaky.npz", "--max-len", "2"]) == 2
    assert capsys.readouterr().err.strip().endswith("out of memory; lower --memory (the enumeration's budget), "
                                                    "--max-len or --time-limit")


def test_the_default_budget_is_cut_to_the_memory_available_and_only_a_given_one_refused(capsys, monkeypatch):
    """With less than 1 GiB available, verify refused its own default --memory 1024 (a review)."""
    import importlib

    monkeypatch.setattr(importlib.import_module("fsm_lstm.free_memory"), "available_memory", lambda: 500 * 2**20)
    seen: list[int] = []
    verify_module = importlib.import_module("fsm_lstm.verify")
    original = verify_module.verify
    monkeypatch.setattr(verify_module, "verify", lambda *a, memory, **k: seen.append(memory) or original(
        *a, memory=memory, **k))
    assert main(["verify", "examples/leaky.npz", "--max-len", "2", "--examples", "0"]) == 0
    assert seen == [500 * 2**20]
    assert main(["verify", "examples/leaky.npz", "--max-len", "2", "--memory", "600"]) == 2
    assert "--memory 600 MB is more than the 500 MB available now" in capsys.readouterr().err
