"""What the benchmarks record about the machine they ran on."""

from __future__ import annotations

import platform


def cpu_name() -> str:
  """The CPU's model name (results are compared on one machine kind only)."""
  try:
    with open("/proc/cpuinfo", encoding="utf-8") as f:
      for line in f:
        if line.startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or "unknown"
