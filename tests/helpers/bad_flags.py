"""Runs a tool with each of its flags set outside the flag's declared range.

  python tests/helpers/bad_flags.py TOOL WORK_DIR

TOOL is a file name in tools/ without .py. The tool is imported once and run in this
process through its real entry (`_common.run_main(main, argv)`) once per bad value.
The values come from the flags' own declarations: `_common.FLAG_RANGES` (bounds,
choices and checks of config and tool flags) and absl's enum flags. Prints one JSON
line: {"cases": [{flag, value, code, errors, traceback}], "undeclared": [flags that
declare no range and are not marked as paths or free text]}.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = os.path.join(ROOT, "tools")
BAD_TEXT = "!!bad value!!"

tool, work = sys.argv[1], sys.argv[2]
sys.path.insert(0, TOOLS)
spec = importlib.util.spec_from_file_location("tool_under_test", os.path.join(TOOLS, f"{tool}.py"))
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)

import _common  # noqa: E402  (the tool imported it: its flags are defined)
from absl import flags  # noqa: E402

from tf_gans.config import range_error  # noqa: E402

FLAGS = flags.FLAGS
# The tool's flags: all but absl's own (--flagfile, --verbosity, ...) and those that
# libraries define in their modules (TensorFlow's --delta_threshold).
owned = {f.name: f for m, fs in FLAGS.flags_by_module_dict().items()
         if not m.startswith(("absl.", "tensorflow.", "tensorboard")) for f in fs}


def bad_values(name: str, flag) -> list[str] | None:
  """Values outside the flag's declared range, as command-line text (None: none declared)."""
  if isinstance(flag, flags.BooleanFlag):
    return []
  if hasattr(flag.parser, "enum_values"):
    return ["not_a_choice"]
  if name in _common.FREE_FLAGS:
    return []
  metadatas = _common.FLAG_RANGES.get(name)
  if not metadatas:
    return None
  values = []
  is_float = isinstance(flag.parser, flags.FloatParser)
  bounds = [m.get("bounds", {}) for m in metadatas]
  lows = [min(b[k] for k in ("ge", "gt") if k in b) for b in bounds if "ge" in b or "gt" in b]
  highs = [max(b[k] for k in ("le", "lt") if k in b) for b in bounds if "le" in b or "lt" in b]
  if lows and len(lows) == len(bounds):
    values.append(min(lows) - 1)
  if highs and len(highs) == len(bounds):
    values.append(max(highs) + 1)
  if not bounds or not any(bounds):
    values.append(BAD_TEXT)  # choices or a check: text that no check accepts
  out = []
  for value in values:
    if value != BAD_TEXT:
      value = float(value) if is_float else int(value)
    # What the flag's validators will see: the parsed value.
    seen = flag.parser.parse(value if value == BAD_TEXT else str(value))
    assert all(range_error(seen, m) for m in metadatas), (name, value)
    out.append(repr(value) if is_float else str(value))
  return out


cases, undeclared = [], []
base = {"train": [f"--model_dir={work}/run"], "sample": [f"--model_dir={work}/run"],
        "evaluate": [f"--model_dir={work}/run"],
        "export": [f"--model_dir={work}/run", f"--export_base={work}/exports"],
        "translate": [f"--model_dir={work}/run", f"--input={work}/in.png", f"--output={work}/out"],
        "serve_client": ["--model_name=m", "--server=http://localhost:1"]}[tool]
for name, flag in sorted(owned.items()):
  values = bad_values(name, flag)
  if values is None:
    undeclared.append(name)
    continue
  for value in values:
    FLAGS.unparse_flags()
    stderr = io.StringIO()
    code, traceback = None, False
    with contextlib.redirect_stderr(stderr):
      try:
        _common.run_main(module.main, argv=[f"{tool}.py", *base, f"--{name}={value}"])
      except SystemExit as e:
        code = e.code
      except Exception:  # pylint: disable=broad-except
        traceback = True
    text = stderr.getvalue()
    cases.append({"flag": name, "value": value, "code": code,
                  "errors": [l for l in text.splitlines() if l.startswith("error:")],
                  "traceback": traceback or "Traceback" in text})
print(json.dumps({"cases": cases, "undeclared": undeclared}))
