"""Hostile inputs, measured: how fast and how lean the refusals are, how `check` scales, and a long fuzzing run.

    python bench/hostile.py [--runs 3] [--examples 2000] [--skip-fuzz]

Every command runs in a fresh process (so start-up time is included, as a user sees it); the figure is the
median of ``--runs`` runs, with the peak resident memory (VmHWM) of that process. Targets: a refusal in under
2 s and 300 MB; `check` on a 50,000-state grammar in under 10 s. The fuzzing feeds ``--examples`` random and
structured-but-wrong inputs per format (TOML, DOT, .npz) to check/run/compile/certify/verify in-process and
counts exit codes; any other outcome (a traceback, exit 3) is reported and makes the script exit 1.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.hostile.make import huge_header, overflowing_model, random_dfa, zip_bomb  # noqa: E402

WRAPPER = """
import sys
from fsm_lstm.cli import main
code = main(sys.argv[1:])
print(open("/proc/self/status").read().split("VmHWM:")[1].split()[0])
sys.exit(code)
"""


def measure(argv: list, runs: int) -> tuple[float, float, int, str]:
    """Median seconds, median peak RSS (MB), exit code and first stderr line of the command in fresh processes."""
    times, peaks, code, line = [], [], 0, ""
    for _ in range(runs):
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", WRAPPER, *map(str, argv)], capture_output=True, text=True,
                              timeout=1800)
        times.append(time.perf_counter() - t0)
        peaks.append(int(done.stdout.strip().splitlines()[-1]) / 1024 if done.stdout.strip() else float("nan"))
        code, line = done.returncode, (done.stderr.strip().splitlines() or [""])[0]
    return statistics.median(times), statistics.median(peaks), code, line


def fuzz(examples: int) -> list[tuple[str, int, dict[int, int], float, list[str]]]:
    """The fuzzing cases of tests/test_hostile.py with ``examples`` examples each: (name, commands run, exit code
    counts, seconds, failures)."""
    from hypothesis import HealthCheck, given, settings

    import tests.test_hostile as t

    rows = []
    for name, (strategy, suffix, commands) in t.FUZZ_CASES.items():
        codes: dict[int, int] = {}
        failures: list[str] = []

        def counter(suffix, commands, codes):
            def body(data: bytes) -> None:
                for code in t.fuzz_cli(suffix, data, commands):
                    codes[code] = codes.get(code, 0) + 1
            return body

        test = settings(max_examples=examples, deadline=None, database=None,
                        suppress_health_check=list(HealthCheck))(given(strategy)(counter(suffix, commands, codes)))
        t0 = time.perf_counter()
        try:
            test()
        except Exception as exc:  # a falsifying example: report it
            failures.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
        rows.append((name, sum(codes.values()), codes, time.perf_counter() - t0, failures))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--examples", type=int, default=2000)
    parser.add_argument("--skip-fuzz", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fsm-lstm-hostile-") as folder:
        folder = Path(folder)
        bomb = zip_bomb(folder / "bomb.npz", gib=4)
        header = huge_header(folder / "header.npz")
        cases = [
            ("zip bomb, 4 GiB of zeros (%.1f MB on disk): run" % (bomb.stat().st_size / 2**20), ["run", bomb, ""],
             2.0, 300),
            ("zip bomb: verify", ["verify", bomb], 2.0, 300),
            (".npy header declaring 4 TiB (%d bytes): certify" % header.stat().st_size, ["certify", header], 2.0, 300),
            ("sheet reber --steps 300000", ["sheet", "reber", "-o", folder / "b.xlsx", "--steps", "300000"], 2.0, 300),
            ("verify reber --memory 100000000 (100 TB)", ["verify", "reber", "--memory", "100000000"], 2.0, 300),
            ("head weights of +-3e38 (sums past the float range): run",
             ["run", overflowing_model(folder / "over.npz"), "01"], 2.0, 300),
            ("check, random DFA, 5,000 states", ["check", random_dfa(folder / "r5k.toml", 5_000)], 10.0, None),
            ("check, random DFA, 50,000 states", ["check", random_dfa(folder / "r50k.toml", 50_000)], 10.0, None),
            ("compile, random DFA, 10,000 states (written sparse: 4H x H dense would be 6e9)",
             ["compile", random_dfa(folder / "r10k.toml", 10_000), "-o", folder / "big.npz"], 10.0, 700),
        ]
        print(f"{'case':<62} {'exit':>4} {'seconds':>8} {'peak MB':>8}  target   message")
        ok = True
        for label, argv, max_s, max_mb in cases:
            seconds, peak, code, line = measure(argv, args.runs)
            met = seconds < max_s and (max_mb is None or peak < max_mb)
            ok &= met
            target = f"<{max_s:g}s" + (f",<{max_mb}MB" if max_mb else "")
            print(f"{label:<62} {code:>4} {seconds:>8.2f} {peak:>8.0f}  {target:<8} {'ok ' if met else 'MISS'} "
                  f"{line[:90]}")
    if not args.skip_fuzz:
        print(f"\nfuzzing, {args.examples} examples per format (commands: check/run/compile or run/certify/verify)")
        print(f"{'format':<24} {'runs':>6} {'seconds':>8}  exit codes")
        for name, runs, codes, seconds, failures in fuzz(args.examples):
            ok &= not failures and set(codes) <= {0, 1, 2}
            print(f"{name:<24} {runs:>6} {seconds:>8.1f}  "
                  f"{', '.join(f'{k}: {v}' for k, v in sorted(codes.items()))}  "
                  f"{'; '.join(failures) or 'no traceback'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
