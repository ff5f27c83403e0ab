"""Deterministic, resumable input pipelines.

A :class:`Source` describes data as indexable groups (or as a generator of samples).
The pipeline never keeps a shuffle buffer: example number ``g`` of the run (counting
every example the run has consumed) is mapped to an index with a stateless permutation
per epoch, ``index_shuffle(g mod N, seed=(seed, epoch))``. Hence

* resuming at step ``s`` is ``Dataset.range`` starting at ``s`` — no skipping, no
  iterator state in the checkpoint — and continues the very same run;
* the global batch of a step holds the same examples whatever the number of replicas
  or input pipelines, so two replicas train exactly what one replica trains;
* each group (a CycleGAN domain, say) has its own permutation, so two domains are
  drawn independently: unpaired.

Layout of a step's examples: a step consumes ``chunks = real_batches_per_step`` global
chunks of ``global_batch`` examples; replica ``r`` gets, for each chunk ``c``, the
``local_batch`` examples ``step*GB*chunks + c*GB + r*LB + [0, LB)``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np
import tensorflow as tf


@dataclasses.dataclass
class Group:
  """Examples that are shuffled together (e.g. images and their labels).

  Exactly one of `arrays` (in memory, gathered in batches) and `load` (one example at a
  time, e.g. decoding a file) is set.

  Attributes:
    size: Number of examples.
    arrays: Feature name -> array with `size` rows.
    load: ``load(index, example_number) -> dict`` of tensors for one example;
      `example_number` (int64) seeds per-example augmentation statelessly.
    spec: Feature name -> per-example ``tf.TensorSpec`` (required with `load`).
  """

  size: int
  arrays: dict[str, np.ndarray] | None = None
  load: Callable[[tf.Tensor, tf.Tensor], dict[str, tf.Tensor]] | None = None
  spec: dict[str, tf.TensorSpec] | None = None

  def __post_init__(self):
    if (self.arrays is None) == (self.load is None):
      raise ValueError("a data group needs exactly one of arrays and load")
    if self.size <= 0:
      raise ValueError("a data group must hold at least one example")


@dataclasses.dataclass
class Source:
  """A named training dataset.

  Attributes:
    name: The --dataset value it came from.
    kind: "points" (2-D toy data), "images", "image_pairs" (two unpaired domains) or
      "aligned_pairs" (paired images: one group with "a" and "b").
    groups: Independently shuffled groups of examples; features of all groups are merged
      into one dict per example.
    generate: For data made on demand instead: ``generate(seed[2], n) -> dict`` of n
      examples, a pure function of the seed.
    spec: Per-example feature specs (filled in for array groups).
    info: Anything models and tools need: "image_shape", "num_classes", "modes",
      "mode_std", "class_names", ...
  """

  name: str
  kind: str
  groups: dict[str, Group] = dataclasses.field(default_factory=dict)
  generate: Callable[[tf.Tensor, int], dict[str, tf.Tensor]] | None = None
  spec: dict[str, tf.TensorSpec] = dataclasses.field(default_factory=dict)
  info: dict[str, Any] = dataclasses.field(default_factory=dict)

  def __post_init__(self):
    if not self.groups and self.generate is None:
      raise ValueError(f"data source {self.name!r} has neither groups nor a generator")
    for group in self.groups.values():
      if group.arrays is not None:
        for key, arr in group.arrays.items():
          if len(arr) != group.size:
            raise ValueError(f"{self.name}: feature {key!r} has {len(arr)} rows, expected {group.size}")
          self.spec.setdefault(key, tf.TensorSpec(arr.shape[1:], tf.as_dtype(arr.dtype)))
      else:
        self.spec.update(group.spec or {})

  @property
  def size(self) -> int | None:
    """Examples in one epoch (of the largest group); None for generated data."""
    return max((g.size for g in self.groups.values()), default=None)

  def take(self, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """n examples as numpy arrays (for plots and evaluation), deterministic in seed."""
    ds = make_dataset(self, global_batch=n, seed=seed, num_replicas=1)
    return {k: v.numpy() for k, v in next(iter(ds)).items()}


def _shuffled_positions(numbers: tf.Tensor, size: int, seed: int, salt: int) -> tf.Tensor:
  """Position of each run-wide example number inside a group of `size` examples."""
  epoch = numbers // size
  n = tf.shape(numbers)[0]
  seeds = tf.stack([tf.fill([n], tf.constant(seed, tf.int64)), epoch,
                    tf.fill([n], tf.constant(salt, tf.int64))], axis=1)
  # tf.random.experimental.index_shuffle mis-pads per-element seeds of shape [n, 2] in
  # TF 2.21; the raw op takes the [n, 3] seed directly.
  return tf.raw_ops.RandomIndexShuffle(
      index=numbers % size, seed=seeds,
      max_index=tf.fill([n], tf.constant(size - 1, tf.int64)))


def _segment_numbers(u: tf.Tensor, *, first_replica: int, replicas_here: int, chunks: int,
                     global_batch: int, local_batch: int) -> tf.Tensor:
  """Example numbers of segment `u` of an input pipeline (see the module docstring)."""
  per_step = replicas_here * chunks
  step = u // per_step
  replica = first_replica + (u // chunks) % replicas_here
  chunk = u % chunks
  start = step * global_batch * chunks + chunk * global_batch + replica * local_batch
  return start + tf.range(local_batch, dtype=tf.int64)


def make_dataset(source: Source, *, global_batch: int, seed: int, num_replicas: int = 1,
                 chunks: int = 1, start_step: int = 0,
                 input_context: tf.distribute.InputContext | None = None,
                 for_fit: bool = False) -> tf.data.Dataset:
  """The endless, deterministic dataset of a run.

  Args:
    source: What to read.
    global_batch: Examples per chunk across all replicas.
    seed: Run seed (data order, augmentation, generated samples).
    num_replicas: Replicas in sync.
    chunks: Chunks of real data per step (``GANModel.real_batches_per_step``).
    start_step: First step to produce (resume).
    input_context: From ``distribute_datasets_from_function``: this pipeline then yields
      per-replica batches for its own replicas, one after the other.
    for_fit: Yield whole global batches (``chunks * global_batch`` examples, replica
      after replica) for ``Model.fit``, which splits them across replicas itself.

  Returns:
    A ``tf.data.Dataset`` of feature dicts.

  Raises:
    ValueError: if the global batch is not divisible by the replica count.
  """
  if global_batch % num_replicas:
    raise ValueError(f"batch size {global_batch} is not divisible by the {num_replicas} "
                     "replicas; use a multiple of the replica count")
  local_batch = global_batch // num_replicas
  if input_context is not None and not for_fit:
    replicas_here = num_replicas // input_context.num_input_pipelines
    first_replica = input_context.input_pipeline_id * replicas_here
  else:
    replicas_here, first_replica = num_replicas, 0
  per_step = replicas_here * chunks
  segment = dict(first_replica=first_replica, replicas_here=replicas_here, chunks=chunks,
                 global_batch=global_batch, local_batch=local_batch)

  ds = tf.data.Dataset.range(start_step * per_step, np.iinfo(np.int64).max)
  if source.generate is not None:
    def generated(u):
      numbers = _segment_numbers(u, **segment)
      # All examples of a segment lie in one global chunk: draw the chunk from its own
      # seed and keep this segment's slice, so replicas do not change the samples.
      block = numbers[0] // global_batch
      values = source.generate(tf.stack([tf.constant(seed, tf.int64), block]), global_batch)
      offset = numbers[0] % global_batch
      return {k: v[offset:offset + local_batch] for k, v in values.items()}
    ds = ds.map(generated, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  elif all(g.arrays is not None for g in source.groups.values()):
    tensors = {name: {k: tf.constant(v) for k, v in g.arrays.items()}
               for name, g in source.groups.items()}
    def gathered(u):
      numbers = _segment_numbers(u, **segment)
      out = {}
      for salt, (name, group) in enumerate(source.groups.items()):
        idx = _shuffled_positions(numbers, group.size, seed, salt)
        out.update({k: tf.gather(v, idx) for k, v in tensors[name].items()})
      return out
    ds = ds.map(gathered, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  else:
    def numbers_of(u):
      return _segment_numbers(u, **segment)
    def loaded(number):
      out = {}
      for salt, (name, group) in enumerate(source.groups.items()):
        idx = _shuffled_positions(number[None], group.size, seed, salt)[0]
        if group.arrays is not None:
          out.update({k: tf.gather(tf.constant(v), idx) for k, v in group.arrays.items()})
        else:
          out.update(group.load(idx, number))
      return out
    ds = (ds.map(numbers_of).unbatch()
          .map(loaded, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
          .batch(local_batch, drop_remainder=True))
  # Put the chunks of one replica's step together: [chunks * local_batch, ...].
  group_size = per_step if for_fit else chunks
  if group_size > 1:
    ds = ds.batch(group_size, drop_remainder=True).map(
        lambda d: {k: tf.reshape(v, [-1, *v.shape[2:]]) for k, v in d.items()})
  return ds.prefetch(tf.data.AUTOTUNE)
