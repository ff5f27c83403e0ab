"""The input pipeline: deterministic under a seed, resumable, replica-independent, unpaired."""

from __future__ import annotations

import numpy as np
import pytest

from tf_gans import data


def _take(ds, n):
  return [{k: v.numpy() for k, v in b.items()} for b in ds.take(n)]


def _digits():
  return data.make_source("digits")


def test_same_seed_same_batches_other_seed_other_batches():
  source = _digits()
  a = _take(data.make_dataset(source, global_batch=32, seed=7), 3)
  b = _take(data.make_dataset(source, global_batch=32, seed=7), 3)
  c = _take(data.make_dataset(source, global_batch=32, seed=8), 3)
  for x, y in zip(a, b):
    np.testing.assert_array_equal(x["x"], y["x"])
    np.testing.assert_array_equal(x["label"], y["label"])
  assert not np.array_equal(a[0]["label"], c[0]["label"])


def test_resuming_at_a_step_continues_the_same_sequence():
  source = _digits()
  straight = _take(data.make_dataset(source, global_batch=16, seed=1, chunks=2), 5)
  resumed = _take(data.make_dataset(source, global_batch=16, seed=1, chunks=2, start_step=3), 2)
  for x, y in zip(straight[3:], resumed):
    np.testing.assert_array_equal(x["x"], y["x"])


def test_each_epoch_is_a_permutation_of_the_data():
  source = _digits()
  n = source.size
  # A batch of one epoch's size covers every example exactly once.
  labels = _take(data.make_dataset(source, global_batch=n, seed=3), 1)[0]["label"]
  _, all_labels = data.images.digits_arrays("train")
  np.testing.assert_array_equal(np.bincount(labels, minlength=10),
                                np.bincount(all_labels, minlength=10))


def test_global_batch_is_the_same_for_one_or_two_replicas_and_for_fit():
  source = data.toy_source("ring")
  one = _take(data.make_dataset(source, global_batch=8, seed=2, chunks=3), 2)
  fit2 = _take(data.make_dataset(source, global_batch=8, seed=2, chunks=3, num_replicas=2,
                                 for_fit=True), 2)

  class Context:  # what distribute_datasets_from_function passes to one of 2 pipelines
    num_input_pipelines, input_pipeline_id = 1, 0

  per_replica = _take(data.make_dataset(source, global_batch=8, seed=2, chunks=3,
                                        num_replicas=2, input_context=Context()), 4)
  for step in range(2):
    # fit's global batch is replica 0's chunks then replica 1's chunks.
    r0, r1 = per_replica[2 * step]["x"], per_replica[2 * step + 1]["x"]
    np.testing.assert_array_equal(fit2[step]["x"], np.concatenate([r0, r1]))
    # Chunk c of the step holds the same examples whatever the replica count.
    for c in range(3):
      merged = np.concatenate([r0[4 * c:4 * c + 4], r1[4 * c:4 * c + 4]])
      np.testing.assert_array_equal(one[step]["x"][8 * c:8 * c + 8], merged)


def test_two_groups_are_shuffled_independently():
  values = np.arange(20, dtype=np.int32)
  source = data.Source(name="pairs", kind="image_pairs", groups={
      "a": data.Group(size=20, arrays={"a": values}),
      "b": data.Group(size=20, arrays={"b": values})})
  batch = _take(data.make_dataset(source, global_batch=20, seed=0), 1)[0]
  assert sorted(batch["a"]) == sorted(batch["b"]) == list(range(20))
  assert not np.array_equal(batch["a"], batch["b"])  # no pairs are shown


def test_bad_groups_are_refused():
  with pytest.raises(ValueError, match="exactly one of arrays and load"):
    data.Group(size=3)
  with pytest.raises(ValueError, match="has 2 rows, expected 3"):
    data.Source(name="s", kind="images",
                groups={"x": data.Group(size=3, arrays={"x": np.zeros((2, 1))})})


def test_tfds_image_dataset_with_mock_data():
  import tensorflow_datasets as tfds
  with tfds.testing.mock_data(num_examples=12, policy=tfds.testing.MockPolicy.USE_CODE):
    source = data.make_source("mnist")
  assert source.kind == "images" and source.groups["x"].size == 12
  assert tuple(source.info["image_shape"]) == (28, 28, 1) and source.info["num_classes"] == 10
  batch = _take(data.make_dataset(source, global_batch=4, seed=0), 1)[0]
  assert batch["x"].shape == (4, 28, 28, 1) and batch["label"].dtype == np.int32
  assert -1 <= batch["x"].min() and batch["x"].max() <= 1 and batch["x"].std() > 0.05
  assert np.all((0 <= batch["label"]) & (batch["label"] < 10))


def test_tfds_dataset_not_prepared_says_what_to_do():
  with pytest.raises(ValueError, match=r"TFDS dataset 'cifar10' is not prepared in /nonexistent.*"
                     r"tfds build cifar10.*--dataset=digits"):
    data.make_source("cifar10", "/nonexistent/tfds")
