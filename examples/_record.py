"""Run a long example and keep its output, dated, for the documentation's gallery.

The gallery executes only the cheap examples at every build; the long ones (paper scale, tuned-lens fits,
several models) show the output of their last recorded run, which this script writes to
``examples/recorded/<example>[_<tag>].txt`` with what a reader needs to judge it: the date, the package
version and commit, the machine, the exact command and its wall time.

Usage (from the repository root, on an otherwise idle machine so the wall time means something)::

    python examples/_record.py task_identification
    python examples/_record.py --tag gemma3-270m guess_then_refine -- gemma3-270m
"""

import argparse
import datetime
import os
import pathlib
import platform
import resource
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
RECORDED = HERE / "recorded"


def _git(*args):
    try:
        return subprocess.run(["git", *args], cwd=HERE, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _machine():
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} CPU cores ({cpu}), {platform.system()}, Python {platform.python_version()}, "
            f"torch {torch.__version__}")


def _commit():
    changed = _git("status", "--porcelain", "--", ":/sklearn_entropylens", ":/examples/*.py")
    return _git("rev-parse", "--short", "HEAD") + (" with uncommitted changes" if changed else "")


def header(command, commit, started, wall_s, cpu_s, load_before):
    import sklearn_entropylens

    minutes, seconds = divmod(round(wall_s), 60)
    return "\n".join([
        f"Recorded output of: {command}",
        f"Date: {started:%Y-%m-%d %H:%M} UTC; wall time {minutes} min {seconds:02d} s",
        f"sklearn_entropylens {sklearn_entropylens.__version__}, commit {commit}",
        f"Machine: {_machine()}",
        f"CPU time of the run: {cpu_s:.0f} s in {wall_s:.0f} s of wall time ({cpu_s / wall_s:.2f} cores busy on "
        f"average); 1-minute load average just before it: {load_before:.1f}",
        "",
    ])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("example", help="the example's file name without .py, e.g. task_identification")
    parser.add_argument("--tag", help="suffix of the recorded file, for a run with arguments")
    parser.add_argument("arguments", nargs=argparse.REMAINDER, help="arguments passed to the example (after --)")
    args = parser.parse_args()
    if args.arguments[:1] == ["--"]:
        args.arguments = args.arguments[1:]
    script = HERE / f"{args.example}.py"
    if not script.is_file():
        parser.error(f"no example {script.name} in {HERE}")
    command = " ".join(["python", f"examples/{script.name}", *args.arguments])
    started = datetime.datetime.now(datetime.timezone.utc)
    commit = _commit()  # the code the run imports, before anything is committed while it runs
    load_before = os.getloadavg()[0]
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    clock = time.perf_counter()
    run = subprocess.run([sys.executable, str(script), *args.arguments], capture_output=True, text=True)
    wall_s = time.perf_counter() - clock
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    if run.returncode != 0:
        sys.stderr.write(run.stdout + run.stderr)
        sys.exit(f"{command} failed with exit status {run.returncode}; nothing recorded")
    RECORDED.mkdir(exist_ok=True)
    name = args.example + (f"_{args.tag}" if args.tag else "")
    path = RECORDED / f"{name}.txt"
    path.write_text(header(command, commit, started, wall_s, cpu_s, load_before) + "\n" + run.stdout)
    print(f"wrote {path} ({wall_s:.0f} s)")


if __name__ == "__main__":
    main()
