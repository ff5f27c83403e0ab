"""Tests of tf_gans.export and tools/export.py: what TF Serving would load and answer.

The decisive checks run in a fresh Python process that never imports tf_gans (as TF
Serving never does): every exported signature must answer there what the in-memory
generator answers, for float32 and mixed_bfloat16 models. One subprocess checks all
exports at once, because each costs TensorFlow's start-up.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import pathlib
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tf_gans import export
from tf_gans.models.wgan import WGANConfig

sys.path.insert(0, os.path.dirname(__file__))
import _tiny_gans  # noqa: E402
from _tiny_gans import make_gan  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
TOOL_MODEL = "digits_wgan"
HAVE_SERVING_API = importlib.util.find_spec("tensorflow_serving") is not None
needs_serving_api = pytest.mark.skipif(
    not HAVE_SERVING_API, reason="needs tensorflow-serving-api: pip install 'tf_gans[serving]'")

# (key, model, precision, config overrides) of every in-process export.
EXPORT_CASES = [
    ("wgan-float32", "wgan", "float32", {}),
    ("wgan-mixed_bfloat16", "wgan", "mixed_bfloat16", {}),
    ("wgan_points-float32", "wgan", "float32",
     dict(dataset="8gaussians", hidden_units=16, latent_dim=2)),
    ("cgan-float32", "cgan", "float32", {}),
    ("cgan-mixed_bfloat16", "cgan", "mixed_bfloat16", {}),
    ("cyclegan-float32", "cyclegan", "float32", {}),
    # One exporter serves every translator: pix2pix's case below covers it in bfloat16;
    # tests/test_contract.py serves each translator's float32 export from a fresh process.
    ("pix2pix_b_to_a-mixed_bfloat16", "pix2pix", "mixed_bfloat16", dict(direction="BtoA")),
]


@contextlib.contextmanager
def dtype_policy(name: str):
  keras.mixed_precision.set_dtype_policy(name)
  try:
    yield
  finally:
    keras.mixed_precision.set_dtype_policy("float32")


def to_uint8(x: np.ndarray) -> np.ndarray:
  return np.clip(np.round((np.asarray(x, np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def image_bytes(array: np.ndarray, fmt: str) -> bytes:
  buffer = io.BytesIO()
  Image.fromarray(array).save(buffer, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
  return buffer.getvalue()


def smooth_image(height: int, width: int) -> np.ndarray:
  """A smooth RGB gradient: resizing blurs it little, so round trips can be compared."""
  y, x = np.mgrid[0:height, 0:width]
  return np.stack([40 + 170 * x / (width - 1), 30 + 180 * y / (height - 1),
                   np.full_like(x, 120.0, dtype=float)], -1).round().astype(np.uint8)


def generator_calls(model: str, gan, config: dict, key: str) -> list[tuple[str, dict, dict]]:
  """(signature, inputs, outputs the in-memory networks give) for every signature."""
  rng = np.random.default_rng(0)
  calls = []
  if model == "wgan":
    z = rng.normal(size=(3, gan.latent_dim)).astype(np.float32)
    expected = gan.generator(z, training=False).numpy()
    sampled = gan.generate(4, seed=7).numpy()
    if expected.ndim == 2:
      calls.append(("serving_default", {"z": z}, {"samples": expected}))
      calls.append(("sample", {"num_samples": np.int32(4), "seed": np.int64(7)},
                    {"samples": sampled}))
    else:
      calls.append(("serving_default", {"z": z},
                    {"images": expected, "images_uint8": to_uint8(expected)}))
      calls.append(("sample", {"num_samples": np.int32(4), "seed": np.int64(7)},
                    {"images": sampled, "images_uint8": to_uint8(sampled)}))
  elif model == "cgan":
    z = rng.normal(size=(3, gan.latent_dim)).astype(np.float32)
    labels = np.array([0, 2, 1], np.int32)
    expected = gan.generator(z, labels, training=False).numpy()
    calls.append(("serving_default", {"z": z, "label": labels},
                  {"images": expected, "images_uint8": to_uint8(expected)}))
    noise = tf.random.stateless_normal([3, gan.latent_dim], [5, 0])
    sampled = gan.generator(noise, labels, training=False).numpy()
    calls.append(("sample", {"label": labels, "seed": np.int64(5)},
                  {"images": sampled, "images_uint8": to_uint8(sampled)}))
  else:
    x = rng.uniform(-1, 1, size=(2, *gan.image_shape)).astype(np.float32)
    directions = gan.direction_networks()
    for direction, name in directions.items():
      y = getattr(gan, name)(x, training=False).numpy()
      calls.append((direction, {"images": x}, {"images": y, "images_uint8": to_uint8(y)}))
    calls.append(("serving_default", {"images": x}, calls[0][2]))
    module = export.build_serving_module(gan, config)
    files = np.array([image_bytes(smooth_image(16, 16), "PNG"),
                      image_bytes(smooth_image(20, 28), "JPEG")], dtype=object)
    for direction in directions:
      fn = module.signatures[f"{direction}_encoded"]
      pngs = fn(tf.constant(files)).get("images_bytes").numpy()
      calls.append((f"{direction}_encoded", {"images_bytes": files},
                    {"images_bytes": np.array(list(pngs), dtype=object)}))
  return calls


# The fresh process: only TensorFlow and numpy. It loads each export, calls each
# signature, and saves what it got; the test process compares.
FRESH_PROCESS = textwrap.dedent("""
    import json, os, sys
    import numpy as np
    import tensorflow as tf

    class NoTfGans:  # tf_gans unimportable, as on a server, even where it is installed
      def find_spec(self, name, path=None, target=None):
        if name == "tf_gans" or name.startswith("tf_gans."):
          raise ImportError("an export must load without tf_gans")
        return None

    sys.meta_path.insert(0, NoTfGans())
    manifest = json.load(open(sys.argv[1]))
    loaded, report = {}, {"signatures": {}, "metadata": {}}
    for case in manifest:
      path = case["export"]
      if path not in loaded:
        loaded[path] = tf.saved_model.load(path)
        model = loaded[path]
        report["signatures"][path] = {
            name: {"inputs": {k: [s.dtype.name, s.shape.as_list()]
                              for k, s in fn.structured_input_signature[1].items()},
                   "outputs": {k: [s.dtype.name, s.shape.as_list()]
                               for k, s in fn.structured_outputs.items()}}
            for name, fn in model.signatures.items()}
        meta = model.signatures["metadata"](unused=tf.constant(0))
        with open(os.path.join(path, "assets.extra", "tf_gans_config.json")) as f:
          asset = f.read()
        report["metadata"][path] = {"model": meta["model"].numpy().decode(),
                                    "config_json": meta["config_json"].numpy().decode(),
                                    "asset": asset}
      inputs = dict(np.load(case["inputs"], allow_pickle=True))
      fn = loaded[path].signatures[case["signature"]]
      outputs = fn(**{k: tf.constant(v) for k, v in inputs.items()})
      np.savez(case["outputs"], **{k: v.numpy() for k, v in outputs.items()})
      # TF Serving's C++ loader is session-based: load and run the export that way too.
      with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        graph = tf.compat.v1.saved_model.loader.load(sess, ["serve"], path)
        sig = graph.signature_def[case["signature"]]
        fetched = sess.run({k: v.name for k, v in sig.outputs.items()},
                           {sig.inputs[k].name: v for k, v in inputs.items()})
      np.savez(case["outputs"].replace(".npz", "-session.npz"), **fetched)
    assert "tf_gans" not in sys.modules
    report["tf_gans_modules"] = sorted(m for m in sys.modules if m.startswith("tf_gans"))
    json.dump(report, open(sys.argv[2], "w"))
""")


def run(args: list[str], cwd: str | os.PathLike | None = None, timeout: int = 600,
        clean_env: bool = False) -> subprocess.CompletedProcess:
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  if clean_env:
    env.pop("PYTHONPATH", None)
  result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
  assert result.returncode == 0, f"{args[:3]} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
  return result


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory):
  """A model_dir of a tiny WGAN on the embedded digits, trained 2 steps by the library."""
  from tf_gans import training
  model_dir = tmp_path_factory.mktemp("run") / TOOL_MODEL
  config = WGANConfig(dataset="digits", base_channels=4, latent_dim=8, batch_size=8, n_critic=1,
                      train_steps=2, steps_per_loop=2, log_every=2, checkpoint_every=2,
                      image_every=0, model_dir=str(model_dir)).resolve()
  training.train(config)
  return model_dir


@pytest.fixture(scope="module")
def tool_export(trained_dir, tmp_path_factory):
  """tools/export.py run on the trained model_dir (one subprocess)."""
  base = tmp_path_factory.mktemp("served")
  result = run([sys.executable, str(REPO / "tools" / "export.py"), f"--model_dir={trained_dir}",
                f"--export_base={base}", "--models_config"])
  return base, result.stdout


@pytest.fixture(scope="module")
def exports(tmp_path_factory, trained_dir, tool_export):
  """Every GAN kind exported, the in-memory outputs, and what a fresh process answered."""
  from tf_gans import training
  work = tmp_path_factory.mktemp("exports")
  manifest, expected, paths = [], [], {}
  for key, model, precision, overrides in EXPORT_CASES:
    with dtype_policy(precision):
      gan, config = make_gan(model, precision, model_dir=str(work / key), **overrides)
      result = export.export_gan(gan, config, str(work / "base"), model_name=key.replace("-", "_"))
      paths[key] = result.path
      for i, (signature, inputs, outputs) in enumerate(generator_calls(model, gan, config, key)):
        stem = work / f"{key}-{i}"
        np.savez(f"{stem}-in.npz", **inputs)
        manifest.append({"export": result.path, "signature": signature,
                         "inputs": f"{stem}-in.npz", "outputs": f"{stem}-out.npz"})
        expected.append((key, signature, outputs))
  # The tools/export.py export, against the checkpoint loaded here.
  gan, config, _ = training.load(str(trained_dir))
  paths["tool"] = str(tool_export[0] / TOOL_MODEL / "1")
  for i, (signature, inputs, outputs) in enumerate(generator_calls("wgan", gan, config, "tool")):
    stem = work / f"tool-{i}"
    np.savez(f"{stem}-in.npz", **inputs)
    manifest.append({"export": paths["tool"], "signature": signature,
                     "inputs": f"{stem}-in.npz", "outputs": f"{stem}-out.npz"})
    expected.append(("tool", signature, outputs))
  keras.mixed_precision.set_dtype_policy("float32")
  (work / "manifest.json").write_text(json.dumps(manifest))
  (work / "check.py").write_text(FRESH_PROCESS)
  # cwd and a clean PYTHONPATH keep the repository off sys.path in the fresh process;
  # the script also blocks imports of tf_gans.
  run([sys.executable, str(work / "check.py"), str(work / "manifest.json"),
       str(work / "report.json")], cwd=work, clean_env=True)
  report = json.loads((work / "report.json").read_text())
  got = [dict(np.load(case["outputs"], allow_pickle=True)) for case in manifest]
  session = [dict(np.load(case["outputs"].replace(".npz", "-session.npz"), allow_pickle=True))
             for case in manifest]
  return {"paths": paths, "report": report, "expected": expected, "got": got,
          "session": session, "tool_gan": gan}


# -- in a fresh process, without tf_gans ---------------------------------------------------


@pytest.mark.parametrize("key", [c[0] for c in EXPORT_CASES] + ["tool"])
def test_export_answers_like_the_generator_without_tf_gans(exports, key):
  assert exports["report"]["tf_gans_modules"] == []
  atol = 2e-2 if "bfloat16" in key else 1e-5
  checked = set()
  answers = list(zip(exports["expected"], exports["got"])) + list(
      zip(exports["expected"], exports["session"]))
  for (case_key, signature, want), got in answers:
    if case_key != key:
      continue
    checked.add(signature)
    assert set(got) == set(want), signature
    for name, value in want.items():
      if name == "images_bytes":
        for want_png, got_png in zip(value, got[name]):
          a = tf.io.decode_png(want_png).numpy().astype(int)
          b = tf.io.decode_png(got_png).numpy().astype(int)
          assert a.shape == b.shape and np.abs(a - b).max() <= 1, signature
      elif name == "images_uint8":
        assert got[name].dtype == np.uint8 and got[name].shape == value.shape
        assert np.abs(got[name].astype(int) - value.astype(int)).max() <= 1, signature
      else:
        assert got[name].dtype == np.float32, (signature, name)
        np.testing.assert_allclose(got[name], value, atol=atol, err_msg=f"{signature}/{name}")
  documented = {"wgan": {"serving_default", "sample"}, "cgan": {"serving_default", "sample"},
                "cyclegan": {"serving_default", "a_to_b", "b_to_a", "a_to_b_encoded",
                             "b_to_a_encoded"},
                # One direction: the one it was trained in.
                "pix2pix_b_to_a": {"serving_default", "b_to_a", "b_to_a_encoded"}}
  model = "wgan" if key == "tool" else key.split("-")[0].replace("_points", "")
  assert checked == documented.get(model, documented["cyclegan"])


@pytest.mark.parametrize("key", [c[0] for c in EXPORT_CASES])
def test_signatures_take_float32_int_or_string_whatever_the_precision(exports, key):
  signatures = exports["report"]["signatures"][exports["paths"][key]]
  for name, sig in signatures.items():
    for io_name, (dtype, shape) in {**sig["inputs"], **sig["outputs"]}.items():
      assert dtype in ("float32", "int32", "int64", "string", "uint8"), (name, io_name, dtype)
    for io_name, (dtype, shape) in sig["inputs"].items():
      # A free batch dimension on every batched input; the scalars are num_samples,
      # seed and the metadata's ignored input.
      assert shape == [] or shape[0] is None, (name, io_name, shape)
  model = key.split("-")[0]
  if model == "wgan":
    assert signatures["serving_default"]["inputs"] == {"z": ["float32", [None, 8]]}
    assert signatures["serving_default"]["outputs"] == {
        "images": ["float32", [None, 8, 8, 1]], "images_uint8": ["uint8", [None, 8, 8, 1]]}
    assert signatures["sample"]["inputs"] == {"num_samples": ["int32", []],
                                              "seed": ["int64", []]}
  elif model == "wgan_points":
    assert signatures["serving_default"]["outputs"] == {"samples": ["float32", [None, 2]]}
  elif model == "cgan":
    latent = _tiny_gans.TINY_CONFIGS["cgan"]["latent_dim"]
    assert signatures["serving_default"]["inputs"] == {"z": ["float32", [None, latent]],
                                                       "label": ["int32", [None]]}
    assert signatures["sample"]["inputs"] == {"label": ["int32", [None]], "seed": ["int64", []]}
  else:
    size = _tiny_gans.TINY_CONFIGS[model.split("_b_to_a")[0]]["image_size"]
    direction = "b_to_a" if model.endswith("b_to_a") else "a_to_b"
    assert signatures[direction]["inputs"] == {"images": ["float32", [None, size, size, 3]]}
    assert signatures["serving_default"] == signatures[direction]
    for name in ({"a_to_b", "b_to_a"} if model in ("cyclegan", "discogan") else {direction}):
      assert signatures[f"{name}_encoded"] == {
          "inputs": {"images_bytes": ["string", [None]]},
          "outputs": {"images_bytes": ["string", [None]]}}
  assert signatures["metadata"]["outputs"] == {"model": ["string", []],
                                               "config_json": ["string", []]}


def test_metadata_says_what_the_served_model_is(exports):
  path = exports["paths"]["wgan-mixed_bfloat16"]
  meta = exports["report"]["metadata"][path]
  assert meta["model"] == "wgan"
  assert meta["config_json"] == meta["asset"]
  data = json.loads(meta["config_json"])
  assert data["model"] == "wgan" and data["model_name"] == "wgan_mixed_bfloat16"
  assert data["precision"] == "mixed_bfloat16" and data["config"]["precision"] == "mixed_bfloat16"
  assert data["config"]["latent_dim"] == 8 and data["info"]["sample_shape"] == [8, 8, 1]
  assert data["version"] == 1 and data["format_version"] == export.EXPORT_FORMAT_VERSION
  assert set(data["signatures"]) == {"serving_default", "sample", "metadata"}
  tool = json.loads(exports["report"]["metadata"][exports["paths"]["tool"]]["asset"])
  assert tool["step"] == 2 and tool["checkpoint"].endswith("ckpt-2")


# -- tools/export.py and saved_model_cli ---------------------------------------------------


def test_export_tool_writes_tf_serving_layout(tool_export):
  base, stdout = tool_export
  version = base / TOOL_MODEL / "1"
  assert (version / "saved_model.pb").is_file() and (version / "variables").is_dir()
  assert (version / "assets.extra" / export.CONFIG_ASSET).is_file()
  # --warmup=auto: warm-up requests exactly when tensorflow-serving-api is installed.
  assert (version / "assets.extra" / export.WARMUP_ASSET).is_file() == HAVE_SERVING_API
  assert sorted(os.listdir(base / TOOL_MODEL)) == ["1"]  # no temporary folder left
  assert f"-v {base / TOOL_MODEL}:/models/{TOOL_MODEL} -e MODEL_NAME={TOOL_MODEL}" in stdout
  assert (base / "models.config").read_text() == export.models_config_text(
      [export.ServedModel(TOOL_MODEL, f"/models/{TOOL_MODEL}")])


def saved_model_cli(*args: str) -> subprocess.CompletedProcess:
  return run([sys.executable, "-m", "tensorflow.python.tools.saved_model_cli", *args])


def test_saved_model_cli_shows_the_documented_signatures(tool_export):
  base, _ = tool_export
  out = saved_model_cli("show", "--dir", str(base / TOOL_MODEL / "1"), "--all").stdout
  blocks = {b.split("']:")[0]: b for b in out.split("signature_def['")[1:]}
  assert {"serving_default", "sample", "metadata"} <= set(blocks)
  default = blocks["serving_default"]
  assert "inputs['z'] tensor_info:\n        dtype: DT_FLOAT\n        shape: (-1, 8)" in default
  assert "outputs['images'] tensor_info:\n        dtype: DT_FLOAT\n        shape: (-1, 8, 8, 1)" in default
  assert "outputs['images_uint8'] tensor_info:\n        dtype: DT_UINT8\n        shape: (-1, 8, 8, 1)" in default
  assert "tensorflow/serving/predict" in default
  sample = blocks["sample"]
  assert "inputs['num_samples'] tensor_info:\n        dtype: DT_INT32\n        shape: ()" in sample
  assert "inputs['seed'] tensor_info:\n        dtype: DT_INT64\n        shape: ()" in sample
  assert "outputs['config_json'] tensor_info:\n        dtype: DT_STRING" in blocks["metadata"]


def test_saved_model_cli_run_writes_images(tool_export, exports, tmp_path):
  base, _ = tool_export
  saved_model_cli("run", "--dir", str(base / TOOL_MODEL / "1"), "--tag_set", "serve",
                  "--signature_def", "sample", "--input_exprs", "num_samples=3;seed=5",
                  "--outdir", str(tmp_path))
  images = np.load(tmp_path / "images.npy")
  images_uint8 = np.load(tmp_path / "images_uint8.npy")
  want = exports["tool_gan"].generate(3, seed=5).numpy()
  assert images.dtype == np.float32 and images.shape == (3, 8, 8, 1)
  np.testing.assert_allclose(images, want, atol=1e-5)
  assert images_uint8.dtype == np.uint8
  assert np.abs(images_uint8.astype(int) - to_uint8(want).astype(int)).max() <= 1


# -- encoded images ------------------------------------------------------------------------


def test_encoded_signature_round_trips_png_and_jpeg_of_another_size(exports):
  loaded = tf.saved_model.load(exports["paths"]["cyclegan-float32"])
  fn = loaded.signatures["a_to_b_encoded"]
  same_size = smooth_image(16, 16)
  other_size = smooth_image(20, 28)  # 20 high, 28 wide; the model works at 16 × 16
  jpeg = image_bytes(other_size, "JPEG")
  out = fn(images_bytes=tf.constant([image_bytes(same_size, "PNG"), jpeg]))["images_bytes"]
  png_back, jpeg_back = (np.asarray(Image.open(io.BytesIO(b))) for b in out.numpy())
  assert Image.open(io.BytesIO(out.numpy()[0])).format == "PNG"
  # Same size: no resampling, so the bytes path equals the float path of the same model.
  floats = loaded.signatures["a_to_b"](
      images=tf.constant(same_size[None].astype(np.float32) / 127.5 - 1.0))["images"].numpy()
  want = to_uint8(floats[0])
  assert np.abs(png_back.astype(int) - want.astype(int)).max() <= 1
  # Another size: resized to 16 × 16 and back, so the output has the input's size.
  assert jpeg_back.shape == (20, 28, 3) and jpeg_back.dtype == np.uint8


def test_encoded_signature_rejects_bytes_that_are_no_image(exports):
  loaded = tf.saved_model.load(exports["paths"]["cyclegan-float32"])
  with pytest.raises(tf.errors.InvalidArgumentError):
    loaded.signatures["b_to_a_encoded"](images_bytes=tf.constant([b"not an image"]))


def test_sample_signature_refuses_too_many_samples_and_bad_labels(exports):
  wgan = tf.saved_model.load(exports["paths"]["wgan-float32"])
  with pytest.raises(tf.errors.InvalidArgumentError, match="num_samples: 4097 items; from 0 to 4096 per request"):
    wgan.signatures["sample"](num_samples=tf.constant(4097),
                              seed=tf.constant(0, tf.int64))
  cgan = tf.saved_model.load(exports["paths"]["cgan-float32"])
  n = 10  # the embedded digits' classes
  with pytest.raises(tf.errors.InvalidArgumentError, match=rf"label must be in \[0, {n}\)"):
    cgan.signatures["sample"](label=tf.constant([0, n]), seed=tf.constant(0, tf.int64))
  with pytest.raises(tf.errors.InvalidArgumentError, match=rf"label must be in \[0, {n}\)"):
    cgan.signatures["sample"](label=tf.constant([-1]), seed=tf.constant(0, tf.int64))


# -- versions, warm-up, models.config ------------------------------------------------------


@pytest.fixture(scope="module")
def points_gan():
  gan, config = make_gan("wgan", "float32", dataset="8gaussians", hidden_units=16, latent_dim=2)
  return gan, config


def test_interrupted_export_leaves_no_visible_version(points_gan, tmp_path, monkeypatch):
  gan, config = points_gan
  real_save = tf.saved_model.save

  def save_then_fail(*args, **kwargs):
    real_save(*args, **kwargs)  # saved_model.pb and variables/ are already written...
    raise OSError("disk full")  # ...when the export dies before its assets

  monkeypatch.setattr(tf.saved_model, "save", save_then_fail)
  with pytest.raises(OSError, match="disk full"):
    export.export_gan(gan, config, str(tmp_path), model_name="toy")
  assert os.listdir(tmp_path / "toy") == []  # no version, no temporary folder
  monkeypatch.undo()
  # A process killed mid-export leaves its hidden temporary folder behind: not a version,
  # and the next export of that model removes it. One that another export (a live
  # process) is writing now stays.
  host = export.layout._STAGING_OWNER.rsplit("-", 1)[0]
  dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                        capture_output=True, text=True).stdout.strip()
  (tmp_path / "toy" / f".1.tmp-{host}-{dead}-0a1b2c3d" / "variables").mkdir(parents=True)
  (tmp_path / "toy" / f".1.tmp-{host}-{os.getppid()}-0a1b2c3d").mkdir()
  first = export.export_gan(gan, config, str(tmp_path), model_name="toy")
  second = export.export_gan(gan, config, str(tmp_path), model_name="toy")
  assert (first.version, second.version) == (1, 2)
  assert export.list_versions(str(tmp_path / "toy")) == [1, 2]
  assert second.path == str(tmp_path / "toy" / "2")
  assert sorted(os.listdir(tmp_path / "toy")) == [f".1.tmp-{host}-{os.getppid()}-0a1b2c3d",
                                                  "1", "2"]
  with pytest.raises(ValueError, match="version 2 of 'toy' exists already"):
    export.export_gan(gan, config, str(tmp_path), model_name="toy", version=2)


def test_export_racing_for_a_version_does_not_touch_the_other(points_gan, tmp_path, monkeypatch):
  gan, config = points_gan
  real = export.layout.save_servable

  def another_export_wins(*args, **kwargs):
    metadata = real(*args, **kwargs)
    (tmp_path / "toy" / "1").mkdir()
    (tmp_path / "toy" / "1" / "saved_model.pb").write_bytes(b"the other one")
    return metadata

  monkeypatch.setattr(export.layout, "save_servable", another_export_wins)
  with pytest.raises(ValueError, match="appeared while exporting"):
    export.export_gan(gan, config, str(tmp_path), model_name="toy")
  assert sorted(os.listdir(tmp_path / "toy")) == ["1"]
  assert (tmp_path / "toy" / "1" / "saved_model.pb").read_bytes() == b"the other one"


@pytest.mark.parametrize("name", ["", "../up", ".hidden", "a b", "x/y"])
def test_bad_model_names_are_refused(points_gan, tmp_path, name):
  with pytest.raises(ValueError, match="not usable as a TF Serving model folder"):
    export.export_gan(*points_gan, str(tmp_path), model_name=name)


def test_unknown_model_and_bad_version_are_refused(points_gan, tmp_path):
  with pytest.raises(ValueError, match="no serving exporter for model 'vae'"):
    export.export_gan(points_gan[0], {"model": "vae"}, str(tmp_path))
  with pytest.raises(ValueError, match="version must be a positive integer, got 0"):
    export.export_gan(*points_gan, str(tmp_path), version=0)


@needs_serving_api
def test_warmup_records_are_prediction_logs_naming_existing_signatures(exports):
  from tensorflow_serving.apis import prediction_log_pb2
  for key in ("tool", "cgan-float32", "cyclegan-float32"):
    path = exports["paths"][key]
    loaded = tf.saved_model.load(path)
    records = list(tf.data.TFRecordDataset(
        os.path.join(path, "assets.extra", export.WARMUP_ASSET)).as_numpy_iterator())
    named = set()
    for record in records:
      log = prediction_log_pb2.PredictionLog.FromString(record)
      request = log.predict_log.request
      signature = loaded.signatures[request.model_spec.signature_name]
      specs = signature.structured_input_signature[1]
      assert set(request.inputs) == set(specs)
      inputs = {}
      for name, proto in request.inputs.items():
        assert tf.as_dtype(proto.dtype) == specs[name].dtype
        inputs[name] = tf.constant(tf.make_ndarray(proto), specs[name].dtype)
      signature(**inputs)  # the request is one the model answers
      named.add(request.model_spec.signature_name)
    # One request per signature; an alias (serving_default = a_to_b) needs none.
    aliases = {"serving_default"} if key.startswith("cyclegan") else set()
    assert named == set(loaded.signatures) - aliases


@needs_serving_api
def test_models_config_lists_several_models(tmp_path):
  from google.protobuf import text_format
  from tensorflow_serving.config import model_server_config_pb2
  for name, versions in (("wgan_toy", ["1", "3"]), ("cgan_digits", ["2"]), ("empty", [])):
    for v in versions:
      (tmp_path / name / v).mkdir(parents=True)
    (tmp_path / name).mkdir(exist_ok=True)
  models = export.served_models(str(tmp_path), "/models")
  assert [m.name for m in models] == ["cgan_digits", "wgan_toy"]  # "empty" has no version
  models.append(export.ServedModel("pinned", '/srv/with "quote"', versions=(4, 7)))
  text = export.write_models_config(str(tmp_path / "models.config"), models)
  config = text_format.Parse((tmp_path / "models.config").read_text(),
                             model_server_config_pb2.ModelServerConfig())
  entries = config.model_config_list.config
  assert [(e.name, e.base_path) for e in entries] == [
      ("cgan_digits", "/models/cgan_digits"), ("wgan_toy", "/models/wgan_toy"),
      ("pinned", '/srv/with "quote"')]
  assert list(entries[2].model_version_policy.specific.versions) == [4, 7]
  assert not entries[0].HasField("model_version_policy")
  assert text.startswith("model_config_list {")
  with pytest.raises(ValueError, match="repeat"):
    export.models_config_text([models[0], models[0]])


# -- Keras: .keras round trip and Model.export ---------------------------------------------


def test_keras_file_round_trip_continues_training_identically(tmp_path):
  from tf_gans import training
  from tf_gans.data.pipeline import make_dataset
  config = WGANConfig(dataset="8gaussians", hidden_units=16, batch_size=32,
                      model_dir=str(tmp_path)).resolve()
  gan, source = training.build(config)
  batches = iter(make_dataset(source, global_batch=32, seed=0, chunks=gan.real_batches_per_step))
  gan.train_step(next(batches))
  gan.save(str(tmp_path / "wgan.keras"))
  loaded = keras.models.load_model(str(tmp_path / "wgan.keras"))
  assert type(loaded) is type(gan) and int(loaded.train_counter.numpy()) == 1
  # The optimizer state came back with the weights (Adam moments, iteration count).
  assert int(loaded.generator_optimizer.iterations.numpy()) == 1
  assert int(loaded.discriminator_optimizer.iterations.numpy()) == 5
  assert any(np.abs(v.numpy()).max() > 0 for v in loaded.generator_optimizer.variables[2:])
  batch = next(batches)
  gan.reset_metrics()
  want = {k: float(v) for k, v in gan.train_step(batch).items()}
  got = {k: float(v) for k, v in loaded.train_step(batch).items()}
  assert got == pytest.approx(want, rel=1e-6, abs=1e-7)
  for a, b in zip(gan.weights, loaded.weights):
    np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-6, atol=1e-7, err_msg=a.path)


@pytest.mark.parametrize("model,precision", [("wgan", "mixed_bfloat16"), ("cgan", "float32"),
                                             ("cyclegan", "float32")])
def test_generators_alone_export_with_model_export_and_float32_inputs(tmp_path, model, precision):
  rng = np.random.default_rng(1)
  with dtype_policy(precision):
    gan, config = make_gan(model, precision)
    paths = export.export_keras_generators(gan, config, str(tmp_path))
    if model == "wgan":
      inputs = {"generator": [rng.normal(size=(2, gan.latent_dim)).astype(np.float32)]}
    elif model == "cgan":
      inputs = {"generator": [rng.normal(size=(2, gan.latent_dim)).astype(np.float32),
                              np.array([2, 0], np.int32)]}
    else:
      x = rng.uniform(-1, 1, size=(2, *gan.image_shape)).astype(np.float32)
      inputs = {"generator_ab": [x], "generator_ba": [x]}
    want = {name: getattr(gan, name)(*args, training=False).numpy()
            for name, args in inputs.items()}
  assert set(paths) == set(inputs)
  for name, args in inputs.items():
    loaded = tf.saved_model.load(paths[name])
    specs = loaded.signatures["serve"].structured_input_signature[1]
    # Keras names the inputs args_0, args_1, ... in call order.
    assert [specs[f"args_{i}"].dtype for i in range(len(args))] == [
        tf.as_dtype(a.dtype) for a in args]
    np.testing.assert_allclose(loaded.serve(*args).numpy(), want[name], atol=2e-2)
