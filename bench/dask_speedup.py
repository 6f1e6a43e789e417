"""Does sharding on Dask pay? Serial against a LocalCluster of 1 and of 2 workers, on the same work: every Reber
string up to a length (not merged, so that the work is the full trie), and verify-many over several models.

For each run: wall-clock seconds (cluster start-up and the workers' one-time import of the package excluded, as
on a long-lived cluster; the model is sent to the workers inside the clock)
and CPU seconds, of this process plus every worker process (their getrusage before and after), so that the
overhead of sharding shows even when a shared machine's load hides the speed-up. Each measurement runs
``--repeats`` times in a fresh process; the median is reported.

Run: python bench/dask_speedup.py [--length 9] [--many-length 12] [--models 4] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's fsm_lstm


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _warm() -> None:
    import fsm_lstm.shard  # noqa: F401
    import fsm_lstm.verify  # noqa: F401


def one(task: str, length: int, workers: int, models: int) -> dict:
    from examples.make_examples import leaky_reber
    from fsm_lstm.compiler import compile_grammar
    from fsm_lstm.grammar_files import load_grammar
    from fsm_lstm.queries import Network
    from fsm_lstm.reading import Reading
    from fsm_lstm.reference import reference_for
    from fsm_lstm.threads import blas_threads
    from fsm_lstm.trie import walk_trie
    from fsm_lstm.verify_many import verify_many

    grammar = load_grammar("reber")
    if task == "walk":
        model = compile_grammar(grammar)
        ref = reference_for(model, grammar)

        def work(client):
            if client is None:
                with blas_threads(model):
                    return walk_trie(Network(model, Reading()), ref, length, 2**30, merge=False).prefixes
            from fsm_lstm.shard import sharded_walk

            return sharded_walk(client, model, Reading(), ref, length, 2**30, merge=False).prefixes
    else:
        # leaky models carry no certificate of their own language, so verify runs the exhaustive layer
        batch = [leaky_reber(r) for r in range(length, length + models)]

        def work(client):
            address = None if client is None else client.scheduler.address
            return len(verify_many(batch, grammar, max_len=length, examples=0, scheduler=address))
    if not workers:
        t0, c0 = time.perf_counter(), _cpu()
        done = work(None)
        return {"seconds": time.perf_counter() - t0, "cpu": _cpu() - c0, "done": done}
    from fsm_lstm.shard import cluster_client

    with cluster_client(workers, None) as client:
        client.run(_warm)  # each worker imports the package once, as a long-lived cluster already has
        before = client.run(_cpu)
        t0, c0 = time.perf_counter(), _cpu()
        done = work(client)
        seconds, client_cpu = time.perf_counter() - t0, _cpu() - c0
        after = client.run(_cpu)
    worker_cpu = sorted(after[w] - before[w] for w in after)
    return {"seconds": seconds, "cpu": client_cpu + sum(worker_cpu), "client_cpu": client_cpu,
            "worker_cpu": worker_cpu, "done": done}


def median_of(task: str, length: int, workers: int, models: int, repeats: int) -> dict:
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, __file__, "--one", json.dumps([task, length, workers, models])],
                             capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    mid = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
    return {**mid, "all_seconds": [round(r["seconds"], 2) for r in runs],
            "cpu_median": statistics.median(r["cpu"] for r in runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--length", type=int, default=9, help="strings up to this length (default 9)")
    parser.add_argument("--models", type=int, default=4, help="models for verify-many (default 4)")
    parser.add_argument("--many-length", type=int, default=12, help="verify-many's exhaustive length (default 12)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tasks", nargs="+", default=["walk", "many"], choices=("walk", "many"))
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(*json.loads(args.one))))
        return
    what = {"walk": f"every Reber string up to length {args.length}, not merged",
            "many": f"verify-many: {args.models} leaky Reber models, exhaustive (merged) to length {args.many_length}"}
    print(f"median of {args.repeats} fresh runs; CPU = this process + the workers (their shares in brackets)")
    for task in args.tasks:
        print(what[task])
        serial = None
        for workers in (0, 1, 2):
            length = args.length if task == "walk" else args.many_length
            r = median_of(task, length, workers, args.models, args.repeats)
            serial = serial or r["seconds"]
            label = "serial" if not workers else f"{workers} worker{'s' * (workers > 1)}"
            shares = f" [client {r['client_cpu']:.1f}, workers {', '.join(f'{c:.1f}' for c in r['worker_cpu'])}]" \
                if workers else ""
            print(f"  {label:<10} {r['seconds']:7.2f} s wall (runs {r['all_seconds']}), speed-up "
                  f"{serial / r['seconds']:.2f}x; CPU {r['cpu_median']:.1f} s{shares}")


if __name__ == "__main__":
    main()
