"""Configs from tools/train.py flagfiles, for the benchmark scripts."""

from __future__ import annotations

import dataclasses
import os
import typing

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_flagfile(path: str) -> dict[str, str]:
  """--name=value lines of a flagfile (comments and blank lines skipped)."""
  values = {}
  with open(path, encoding="utf-8") as f:
    for line in f:
      line = line.strip()
      if not line.startswith("--"):
        continue
      name, _, value = line[2:].partition("=")
      if not _:  # a bare boolean flag: --flip / --noflip
        name, value = (name[2:], "false") if name.startswith("no") else (name, "true")
      values[name] = value
  return values


def make_config(config_cls: type, flagfile: str, raw: dict[str, str] | None = None,
                **overrides: typing.Any):
  """The resolved config a flagfile describes (as tools/train.py would build it).

  Args:
    config_cls: The model's config dataclass.
    flagfile: Path of the flagfile, relative to the repository or absolute.
    raw: More settings as text (name -> value), converted like the flagfile's.
    **overrides: Settings given as values; they win over both.
  """
  fields = {f.name for f in dataclasses.fields(config_cls)}
  hints = typing.get_type_hints(config_cls)
  texts = {**read_flagfile(os.path.join(ROOT, flagfile)), **(raw or {})}
  values: dict[str, typing.Any] = {}
  for name, text in texts.items():
    if name not in fields:
      if raw and name in raw:
        raise ValueError(f"{config_cls.__name__} has no setting {name!r}")
      continue  # flags of the tool itself (e.g. --flagfile)
    kinds = [t for t in typing.get_args(hints[name]) if t is not type(None)] or [hints[name]]
    values[name] = text.lower() in ("1", "true") if kinds[0] is bool else kinds[0](text)
  values.update(overrides)
  return config_cls(**values).resolve()
