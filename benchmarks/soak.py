"""Soak test of a two-worker run: interrupted again and again, it must end where an
uninterrupted run ends.

  python benchmarks/soak.py --sigterms=10 --kills=5 --output=benchmarks/results/soak.json

Two `tools/train.py` workers train a small WGAN-GP under MultiWorkerMirroredStrategy on
localhost (TF_CONFIG). The run is interrupted at random moments while it trains, in a
random order: `--sigterms` times by SIGTERM to a random worker (as a cluster preempts
one machine), `--kills` times by `kill -9` of a random worker (a machine lost without
notice). After each interruption the benchmark waits until both workers have exited,
then starts both again with the same command, as a cluster manager restarts a job; a
worker that has not exited `--exit_timeout` seconds after the interruption is killed
and reported as hung. A last start runs to the end. The final weights are compared with
those of an uninterrupted two-worker run of the same command.

Reported per interruption: the worker hit, both exit statuses (42: checkpointed by
SIGTERM; 75: a peer was lost), seconds from the signal until each worker exited, the
step reached, the step the next start resumed from, and the steps lost in between.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import cpu_name  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_STEP = re.compile(r"step (\d+)/(\d+)")
_RESUMED = re.compile(r"resumed from \S+ at step (\d+)")



class Launch:
  """Both workers of one start of the run, logging to files."""

  def __init__(self, model_dir: str, log_dir: str, number: int, flags: list[str]):
    from tf_gans.training.strategy import free_localhost_ports
    ports = free_localhost_ports(2)
    self.logs = [os.path.join(log_dir, f"start{number:02d}_worker{i}.log") for i in range(2)]
    self.procs = []
    self.exit_times: list[float | None] = [None, None]
    for i in range(2):
      env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ROOT, "TF_CONFIG": json.dumps({
          "cluster": {"worker": [f"localhost:{p}" for p in ports]},
          "task": {"type": "worker", "index": i}})}
      with open(self.logs[i], "w") as log:
        self.procs.append(subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "tools", "train.py"), f"--model_dir={model_dir}",
             "--strategy=multi_worker", *flags], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
            env=env))

  def text(self, i: int) -> str:
    with open(self.logs[i], errors="replace") as f:
      return f.read()

  def last_step(self) -> int:
    steps = [int(m.group(1)) for i in range(2) for m in _STEP.finditer(self.text(i))]
    stopped = [int(m) for i in range(2) for m in re.findall(r"step (\d+): stopped", self.text(i))]
    return max(steps + stopped, default=-1)

  def resumed_step(self) -> int:
    found = [int(m.group(1)) for i in range(2) for m in _RESUMED.finditer(self.text(i))]
    return found[0] if found else 0

  def poll(self) -> list[int | None]:
    codes = [p.poll() for p in self.procs]
    for i, code in enumerate(codes):
      if code is not None and self.exit_times[i] is None:
        self.exit_times[i] = time.monotonic()
    return codes

  def wait_training(self, beyond: int, timeout: float) -> bool:
    """Waits until both workers logged a step after `beyond` (False if one exited)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
      if any(c is not None for c in self.poll()):
        return False
      texts = [self.text(i) for i in range(2)]
      if all(any(int(m.group(1)) > beyond for m in _STEP.finditer(t)) for t in texts):
        return True
      time.sleep(0.1)
    raise TimeoutError(f"the workers did not train within {timeout} s: see {self.logs}")

  def wait_exit(self, timeout: float) -> bool:
    """Waits for both workers to exit; kills them after `timeout` s (returns False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
      if all(c is not None for c in self.poll()):
        return True
      time.sleep(0.05)
    for p in self.procs:
      if p.poll() is None:
        p.kill()
    for p in self.procs:
      p.wait()
    self.poll()
    return False


def _final_weights(model_dir: str) -> dict[str, np.ndarray]:
  import tensorflow as tf
  path = tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints"))
  reader = tf.train.load_checkpoint(path)
  return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
          if "OBJECT_GRAPH" not in k and not k.startswith(("save_counter", "checkpointed_runs"))}



def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--sigterms", type=int, default=10)
  parser.add_argument("--kills", type=int, default=5)
  parser.add_argument("--train_steps", type=int, default=3000)
  parser.add_argument("--window", type=float, default=8.0,
                      help="Interrupt uniformly within this many seconds after training "
                      "is under way.")
  parser.add_argument("--exit_timeout", type=float, default=120.0)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--work_dir", default="")
  parser.add_argument("--output", default="")
  args = parser.parse_args()

  flags = [f"--flagfile={os.path.join(ROOT, 'configs', 'wgan_toy.flags')}", "--nojit_compile",
           f"--train_steps={args.train_steps}", "--hidden_units=32", "--hidden_layers=2",
           "--batch_size=32", "--steps_per_loop=5", "--log_every=5", "--checkpoint_every=100",
           "--image_every=0", "--keep_checkpoints=3"]
  work = args.work_dir or tempfile.mkdtemp(prefix="tf_gans_soak_")
  os.makedirs(work, exist_ok=True)
  rng = random.Random(args.seed)
  events = ["sigterm"] * args.sigterms + ["kill"] * args.kills
  rng.shuffle(events)
  started = time.monotonic()

  # The uninterrupted reference run.
  reference_dir = os.path.join(work, "reference")
  shutil.rmtree(reference_dir, ignore_errors=True)
  reference = Launch(reference_dir, work, 0, flags)
  reference.wait_exit(timeout=3600)
  if reference.poll() != [0, 0]:
    raise SystemExit(f"the reference run failed: {reference.poll()}; see {reference.logs}")

  run_dir = os.path.join(work, "soak")
  shutil.rmtree(run_dir, ignore_errors=True)
  records = []
  previous_step = 0
  for number, kind in enumerate(events, start=1):
    launch = Launch(run_dir, work, number, flags)
    if not launch.wait_training(beyond=previous_step, timeout=600):
      raise SystemExit(f"start {number} ended before it trained: {launch.poll()}; see "
                       f"{launch.logs}")
    resumed = launch.resumed_step()
    if records:
      records[-1]["next_start_resumed_from"] = resumed
      records[-1]["steps_lost"] = records[-1]["step_reached"] - resumed
    time.sleep(rng.uniform(0.0, args.window))
    target = rng.randrange(2)
    sent = time.monotonic()
    os.kill(launch.procs[target].pid, signal.SIGTERM if kind == "sigterm" else signal.SIGKILL)
    exited = launch.wait_exit(args.exit_timeout)
    codes = launch.poll()
    reached = launch.last_step()
    record = {
        "start": number, "interruption": kind, "worker": target, "resumed_from": resumed,
        "exit_codes": codes, "hung": not exited,
        "seconds_to_exit": [None if t is None else round(t - sent, 2)
                            for t in launch.exit_times],
        "step_reached": reached,
    }
    records.append(record)
    previous_step = reached
    print(json.dumps(record), flush=True)

  final = Launch(run_dir, work, len(events) + 1, flags)
  final.wait_exit(timeout=3600)
  if records:
    records[-1]["next_start_resumed_from"] = final.resumed_step()
    records[-1]["steps_lost"] = records[-1]["step_reached"] - final.resumed_step()
  final_codes = final.poll()
  a, b = _final_weights(reference_dir), _final_weights(run_dir)
  same_keys = a.keys() == b.keys()
  gap = max((float(np.max(np.abs(a[k] - b[k]))) for k in a if k in b), default=float("nan"))
  equal = same_keys and all(np.array_equal(a[k], b[k]) for k in a)

  def summary(kind):
    rows = [r for r in records if r["interruption"] == kind]
    if not rows:
      return {}
    survived = [r for r in rows if not r["hung"] and "steps_lost" in r]
    lost = [r["steps_lost"] for r in survived]
    exits = [max(t for t in r["seconds_to_exit"] if t is not None) for r in rows
             if not r["hung"]]
    return {"count": len(rows), "survived": len(survived), "hung": sum(r["hung"] for r in rows),
            "exit_codes": sorted({tuple(r["exit_codes"]) for r in rows}),
            "steps_lost_mean": float(np.mean(lost)) if lost else None,
            "steps_lost_max": max(lost) if lost else None,
            "seconds_to_exit_mean": round(float(np.mean(exits)), 2) if exits else None,
            "seconds_to_exit_max": max(exits) if exits else None}

  result = {
      "command": "python benchmarks/soak.py " + " ".join(sys.argv[1:]),
      "cpu": cpu_name(), "train_flags": flags, "events": records,
      "final_exit_codes": final_codes, "final_step": final.last_step(),
      "sigterm": summary("sigterm"), "kill": summary("kill"),
      "final_weights_equal_uninterrupted": bool(equal), "max_weight_gap": gap,
      "weights_compared": len(a), "wall_seconds": round(time.monotonic() - started, 1),
  }
  print(json.dumps({k: v for k, v in result.items() if k != "events"}, indent=2))
  print(markdown(result))
  if args.output:
    with open(args.output, "w") as f:
      json.dump(result, f, indent=2)


def markdown(result: dict) -> str:
  """The result as benchmarks/README.md shows it: one row per interruption, then totals."""
  lines = ["| # | interruption | worker | exit statuses | seconds to exit | steps lost |",
           "|---|---|---|---|---|---|"]
  for r in result["events"]:
    seconds = "–" if r["hung"] else " / ".join(
        f"{t:.1f}" for t in r["seconds_to_exit"] if t is not None)
    kind = "SIGTERM" if r["interruption"] == "sigterm" else "kill -9"
    lines.append(f"| {r['start']} | {kind} | {r['worker']} | "
                 f"{' / '.join(str(c) for c in r['exit_codes'])} | {seconds} | "
                 f"{r.get('steps_lost', '–')} |")
  lines.append("")
  for kind, name in (("sigterm", "SIGTERM"), ("kill", "kill -9")):
    s = result[kind]
    if s:
      lines.append(f"- {name}: {s['survived']} of {s['count']} survived, {s['hung']} hung; "
                   f"exit within {s['seconds_to_exit_mean']} s on average, "
                   f"{s['seconds_to_exit_max']} s at most; steps lost {s['steps_lost_mean']:.1f} "
                   f"on average, {s['steps_lost_max']} at most.")
  lines.append(f"- Final step {result['final_step']}, exit statuses "
               f"{result['final_exit_codes']}; final weights "
               f"{'bit-equal to' if result['final_weights_equal_uninterrupted'] else 'NOT equal to'}"
               f" the uninterrupted run's ({result['weights_compared']} variables, largest "
               f"difference {result['max_weight_gap']}). Wall time {result['wall_seconds']:.0f} s.")
  return "\n".join(lines)


if __name__ == "__main__":
  main()
