#!/usr/bin/env python3
"""Paired, interleaved whole-process timing of two commands: A B A B ...

usage: python3 benches/pairs.py --msgs N [--pairs 5] [--warmup 1]
           --a LABEL CWD CMD  --b LABEL CWD CMD  [--a-outdir DIR] [--b-outdir DIR]

CMD is one string, split with shlex (no shell).  Each run is started as
`/usr/bin/time -f %M -o FILE CMD` from CWD, stdout/stderr discarded:

* wall: monotonic clock around the whole run (start-up included), as the peers' bench.py;
* cpu:  user+sys of the run, from os.wait4 on /usr/bin/time (its rusage includes the reaped
        command; time(1) itself costs about a millisecond);
* peak RSS: time(1)'s %M, the command's own ru_maxrss.  bench.py reads ru_maxrss of a child
        forked from Python, which cannot go below the Python parent's ~12 MiB; the child of
        time(1) starts from time(1)'s ~2 MiB instead.

The first WARMUP pairs are not counted.  Ratios are A/B: the median of the per-pair ratios,
so that slow phases of a noisy machine hit both sides of a pair.  Exit status 1 if any run
exited non-zero.
"""
import argparse
import glob
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time


def run_once(cwd, argv):
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        cmd = ["/usr/bin/time", "-f", "%M", "-o", tf.name] + argv
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.monotonic() - t0
        rc = os.waitstatus_to_exitcode(status)
        lines = [l for l in open(tf.name).read().splitlines() if l.strip()]
        # With a non-zero exit, time(1) writes "Command exited with non-zero status N" first.
        try:
            rss_mib = int(lines[-1]) / 1024.0
        except (IndexError, ValueError):
            rss_mib = float("nan")
    return dict(wall=wall, cpu=ru.ru_utime + ru.ru_stime, user=ru.ru_utime, rss=rss_mib, rc=rc)


def bytes_per_msg(outdir):
    if not outdir:
        return None
    files = glob.glob(os.path.join(outdir, "*.eml"))
    if not files:
        return None
    return sum(os.path.getsize(f) for f in files) / len(files)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--msgs", type=int, required=True)
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--a", nargs=3, metavar=("LABEL", "CWD", "CMD"), required=True)
    ap.add_argument("--b", nargs=3, metavar=("LABEL", "CWD", "CMD"), required=True)
    ap.add_argument("--a-outdir")
    ap.add_argument("--b-outdir")
    a = ap.parse_args()
    sides = [(a.a[0], a.a[1], shlex.split(a.a[2])), (a.b[0], a.b[1], shlex.split(a.b[2]))]
    runs = ([], [])
    for i in range(a.warmup + a.pairs):
        pair = [run_once(cwd, argv) for _, cwd, argv in sides]
        tag = "warm-up" if i < a.warmup else f"pair {i - a.warmup + 1}"
        print(f"  {tag}: {sides[0][0]} {pair[0]['wall']:.3f} s (rss {pair[0]['rss']:.1f} MiB, rc {pair[0]['rc']}),"
              f" {sides[1][0]} {pair[1]['wall']:.3f} s (rss {pair[1]['rss']:.1f} MiB, rc {pair[1]['rc']})",
              flush=True)
        if i >= a.warmup:
            runs[0].append(pair[0])
            runs[1].append(pair[1])
    n = a.msgs
    med = lambda rs, k: statistics.median(r[k] for r in rs)  # noqa: E731
    ratio_wall = statistics.median(x["wall"] / y["wall"] for x, y in zip(*runs))
    ratio_cpu = statistics.median(x["cpu"] / y["cpu"] for x, y in zip(*runs))
    bad = []
    for (label, _, _), rs, outdir in zip(sides, runs, (a.a_outdir, a.b_outdir)):
        walls = [r["wall"] for r in rs]
        bpm = bytes_per_msg(outdir)
        rcs = [r["rc"] for r in rs if r["rc"] != 0]
        if rcs:
            bad.append(label)
        print(f"{label} | N {n} | wall s {min(walls):.3f}/{med(rs, 'wall'):.3f}/{max(walls):.3f}"
              f" | cpu s {med(rs, 'cpu'):.3f} (user {med(rs, 'user'):.3f})"
              f" | msgs/s {n / med(rs, 'wall'):.0f} | peak RSS MiB {med(rs, 'rss'):.1f}"
              + (f" | bytes/msg {bpm:.0f}" if bpm else "")
              + (f" | NONZERO EXIT {rcs}" if rcs else ""))
    faster = f"{1 / ratio_wall:.1f}x faster" if ratio_wall < 1 else f"{ratio_wall:.2f}x slower"
    print(f"RATIO {sides[0][0]} / {sides[1][0]} | N {n} | pairs {a.pairs} | wall {ratio_wall:.3f} ({faster})"
          f" | cpu {ratio_cpu:.3f}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
