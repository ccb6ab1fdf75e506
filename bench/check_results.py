#!/usr/bin/env python3
"""Checks what a benchmark wrote, so that one that cannot measure fails
instead of printing zeros (bench/tiny_check.sh runs every benchmark at a
tiny size and hands its output here).

  check_results.py micro FILE.json...   Google Benchmark JSON (--benchmark_out)
  check_results.py harness latest.json  xcap-bench's results

A tiny run's figures are rough: what is checked is that each was measured
at all. Rates, counts and times above zero (CPU times read in 10 ms ticks
not negative: a tiny run may not reach one tick), losses between 0 and
100 %, no error, every peer tool present (tcpdump and netsniff-ng for capture,
tcpreplay for replay; the disk phase with the disk's dd figure; the rotate
phase's -C runs in more than one file). A climb with no lossless step has no best rate
(null): that is a busy machine, not a broken benchmark, and its runs are
checked like every other. Prints one line per problem and exits 1 if any.
"""
import json
import sys

problems = []


def problem(text):
    problems.append(text)


def positive(where, name, value):
    if not isinstance(value, (int, float)) or value <= 0:
        problem(f"{where}: {name} is {value!r}, not above zero")


def not_negative(where, name, value):
    if not isinstance(value, (int, float)) or value < 0:
        problem(f"{where}: {name} is {value!r}, negative or missing")


def check_micro(paths):
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        runs = data.get("benchmarks", [])
        if not runs:
            problem(f"{path}: no benchmark ran")
        for b in runs:
            where = f"{path}: {b.get('name', '?')}"
            if b.get("error_occurred"):
                problem(f"{where}: {b.get('error_message', 'error')}")
                continue
            positive(where, "iterations", b.get("iterations"))
            if b.get("aggregate_name") in ("stddev", "cv"):
                # The spread of the repeats: 0 when they measured the same
                # (seen with a coarse manual time), never a broken figure.
                continue
            positive(where, "real_time", b.get("real_time"))
            for key in ("items_per_second", "bytes_per_second", "ns_per_packet"):
                if key in b:
                    positive(where, key, b[key])


def check_harness(path):
    with open(path) as f:
        data = json.load(f)
    capture_peers = {"xcap", "tcpdump", "netsniff-ng"}

    runs = data.get("runs", [])
    equal = [r for r in runs if r.get("phase") == "equal"]
    if not equal:
        problem(f"{path}: the equal phase has no runs")
    missing = capture_peers - {r.get("tool") for r in equal}
    if missing:
        problem(f"{path}: equal phase: no runs of {', '.join(sorted(missing))}")
    for r in runs:
        where = f"{path}: {r.get('phase')} {r.get('tool')} {r.get('frame')} B at {r.get('asked_mpps')} Mpps"
        if r.get("error"):
            problem(f"{where}: {r['error']}")
            continue
        positive(where, "offered", r.get("offered"))
        positive(where, "offered_mpps", r.get("offered_mpps"))
        positive(where, "written", r.get("written"))
        loss = r.get("loss_pct")
        if not isinstance(loss, (int, float)) or loss < 0 or loss > 100:
            problem(f"{where}: loss_pct is {loss!r}")
        if isinstance(r.get("written"), int) and isinstance(r.get("offered"), int) and r["written"] > r["offered"]:
            problem(f"{where}: wrote {r['written']} of {r['offered']} offered")
        not_negative(where, "tool_drops", r.get("tool_drops"))
        # From /proc/<pid>/stat's 10 ms ticks: a tiny run may not reach one.
        not_negative(where, "own_ns_per_pkt", r.get("own_ns_per_pkt"))
        not_negative(where, "machine_ns_per_pkt", r.get("machine_ns_per_pkt"))

    for section, tools, key in (("lossless", capture_peers, "best_mpps"),
                                ("tap", {"xcap-tap", "tcpdump", "netsniff-ng"}, "best_mpps"),
                                ("jumbo", capture_peers, "best_mpps")):
        rows = data.get(section)
        if not rows:
            problem(f"{path}: {section}: no results")
            continue
        missing = tools - {r.get("tool") for r in rows}
        if missing:
            problem(f"{path}: {section}: no results of {', '.join(sorted(missing))}")
        for r in rows:
            # null: no step of the climb was lossless (a quick run's few
            # steps on a busy machine); its runs were checked above.
            if r.get(key) is not None:
                positive(f"{path}: {section} {r.get('tool')} {r.get('frame', r.get('size', ''))}", key, r.get(key))

    replay = data.get("replay")
    if not replay:
        problem(f"{path}: replay: no results")
    else:
        tools = {r.get("tool") for r in replay}
        for want in ("xcap replay", "tcpreplay"):
            if want not in tools:
                problem(f"{path}: replay: no run of {want}")
        for r in replay:
            where = f"{path}: replay {r.get('tool')}"
            if r.get("error"):
                problem(f"{where}: {r['error']}")
                continue
            positive(where, "packets", r.get("packets"))
            positive(where, "delivered", r.get("delivered"))
            positive(where, "send_mpps", r.get("send_mpps"))
            positive(where, "wall_s", r.get("wall_s"))

    flt = data.get("filter")
    if not flt or not flt.get("runs"):
        problem(f"{path}: filter: no runs")
    else:
        missing = {"xcap", "tcpdump"} - {r.get("tool") for r in flt["runs"]}
        if missing:
            problem(f"{path}: filter: no runs of {', '.join(sorted(missing))}")
        for r in flt["runs"]:
            where = f"{path}: filter {r.get('tool')} round {r.get('round')}"
            if r.get("error"):
                problem(f"{where}: {r['error']}")
                continue
            positive(where, "offered", r.get("offered"))
            positive(where, "written", r.get("written"))
            positive(where, "own_ns_per_offered", r.get("own_ns_per_offered"))

    disk = data.get("disk")
    if not disk:
        problem(f"{path}: disk: no results")
    elif not disk.get("not_run"):
        positive(f"{path}: disk", "dd_direct_mb_s", disk.get("dd_direct_mb_s"))
        disk_runs = [r for r in runs if r.get("phase") == "disk"]
        missing = {"xcap", "xcap --buffer-len 0", "tcpdump", "netsniff-ng"} - {r.get("label") for r in disk_runs}
        if missing:
            problem(f"{path}: disk: no runs of {', '.join(sorted(missing))}")
        rotations = [r for r in runs if r.get("phase") == "rotate"]
        if not rotations:
            problem(f"{path}: rotate: no runs")
        for r in rotations:
            where = f"{path}: rotate {r.get('label')}"
            if r.get("error"):
                problem(f"{where}: {r['error']}")
                continue
            positive(where, "written", r.get("written"))
            if r.get("rotate_mb") and r.get("written", 0) * 1530 > r["rotate_mb"] * 1_000_000 and r.get("files", 0) < 2:
                problem(f"{where}: {r.get('written')} packets in {r.get('files')} file(s): -C {r['rotate_mb']} did not rotate")

    pacing = data.get("pacing")
    if not pacing or not pacing.get("runs"):
        problem(f"{path}: pacing: no runs")
    profile = data.get("profile")
    if not profile or not profile.get("top"):
        problem(f"{path}: profile: no samples")
    if not data.get("xdpdump"):
        problem(f"{path}: xdpdump: the probe said nothing")


def main(argv):
    if len(argv) < 3 or argv[1] not in ("micro", "harness"):
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        print("usage: check_results.py micro FILE.json... | harness latest.json", file=sys.stderr)
        return 2
    try:
        if argv[1] == "micro":
            check_micro(argv[2:])
        else:
            check_harness(argv[2])
    except (OSError, ValueError) as e:
        problem(f"cannot read the results: {e}")
    for p in problems:
        print(f"check_results: {p}", file=sys.stderr)
    if problems:
        return 1
    print(f"check_results: {argv[1]}: every figure was measured ({', '.join(argv[2:])})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
