"""The one training step every GAN here shares.

A GAN is a ``keras.Model`` that owns its networks and optimizers and says, through
:meth:`GANModel.update_groups`, which updates one training step makes: for a WGAN,
the critic five times, then the generator once; for CycleGAN, both generators, then
both discriminators. :meth:`GANModel.train_step` runs those groups with gradient tapes,
scales each loss for the replicas (gradients are summed across replicas), scales it
again for float16, and keeps the metric trackers. The same ``train_step`` is driven by
``Model.fit`` and by :func:`tf_gans.training.loop.train`; no model writes a loop.

Randomness inside a step (latent noise, interpolation weights, image-pool swaps) is
*stateless*: a function of the run seed, the step counter and the example's position in
the global batch. That makes a run on two replicas draw exactly the noise a run on one
replica draws for the same global batch, and makes a resumed run continue the same run.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import keras
import tensorflow as tf

# Salts keep the random streams of different uses within one step apart.
_SALT_STRIDE = 1 << 16


@dataclasses.dataclass(frozen=True)
class UpdateGroup:
  """One optimizer update, possibly repeated, within a training step.

  Attributes:
    name: Optimizer key: "discriminator" or "generator" (the critic is a discriminator).
    loss_fn: ``loss_fn(batch, repeat) -> (loss, metrics)``: the per-replica mean loss on
      the local batch chunk and a dict of extra scalar metrics to track.
    variables: Returns the trainable variables this group updates.
    repeats: How many times the update runs per step (n_critic for a WGAN critic). Each
      repeat gets its own chunk of real data when the model asks for several.
    metric_names: Names of the extra metrics ``loss_fn`` returns.
    parts: Optional split of ``loss_fn`` into terms with the same signature whose losses
      sum to ``loss_fn``'s and whose metrics, summed by name, are ``loss_fn``'s. The
      step then differentiates them one after another and adds the gradients: the same
      update, computed in sequence rather than as one graph of independent branches,
      which holds fewer activations at once (benchmarks/update_order.py).
  """

  name: str
  loss_fn: Callable[[Any, int], tuple[tf.Tensor, dict[str, tf.Tensor]]]
  variables: Callable[[], Sequence[tf.Variable]]
  repeats: int = 1
  metric_names: tuple[str, ...] = ()
  parts: tuple[Callable[[Any, int], tuple[tf.Tensor, dict[str, tf.Tensor]]], ...] = ()


def sum_metrics(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
  """Metrics of two loss terms, summed by name (a name in one only keeps its value)."""
  return {**a, **b, **{name: a[name] + b[name] for name in a.keys() & b.keys()}}


def is_multi_worker(strategy: tf.distribute.Strategy) -> bool:
  """Whether `strategy` spans several workers (processes or machines)."""
  if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
    return False
  resolver = strategy.cluster_resolver
  return bool(resolver is not None and resolver.cluster_spec().jobs)


def _replica_position() -> tuple[int | tf.Tensor, int]:
  ctx = tf.distribute.get_replica_context()
  if ctx is None:  # cross-replica context: acts as one replica
    return 0, 1
  return ctx.replica_id_in_sync_group, ctx.num_replicas_in_sync


class GANModel(keras.Model):
  """Base class of every GAN: networks + optimizers + one ``train_step``.

  Subclasses build their networks in ``__init__`` and implement :meth:`update_groups`;
  generative models also implement :meth:`generate`.

  Args:
    seed: Seed of every random draw inside the training step.
    real_batches_per_step: How many chunks of real data one step consumes (a WGAN
      critic takes a fresh real batch for each of its n_critic updates). The input
      pipeline delivers ``batch_size * real_batches_per_step`` examples per step.
  """

  # The one or two metrics the progress line shows, as (label, metric name); every
  # metric goes to TensorBoard (and the log at --verbosity=1).
  progress_metrics: tuple[tuple[str, str], ...] = (("d_loss", "discriminator_loss"),
                                                   ("g_loss", "generator_loss"))

  def __init__(self, *, seed: int = 0, real_batches_per_step: int = 1, **kwargs: Any):
    super().__init__(**kwargs)
    self.seed = int(seed)
    self.real_batches_per_step = int(real_batches_per_step)
    # Generator updates done so far; the checkpoint step and the clock of all
    # stateless randomness. Only the first replica's increment counts.
    self.train_counter = self.add_weight(
        shape=(), dtype="int64", initializer="zeros", trainable=False,
        aggregation="only_first_replica", name="train_counter")
    self._trackers: dict[str, keras.metrics.Mean] = {}
    self.group_optimizers: dict[str, keras.optimizers.Optimizer] = {}

  # -- what subclasses provide -------------------------------------------------------

  def update_groups(self) -> list[UpdateGroup]:
    """The updates of one step, in order."""
    raise NotImplementedError

  def generate(self, num_samples: int, seed: int = 0, **kwargs: Any) -> tf.Tensor:
    """Draws samples from the generator (inference mode)."""
    raise NotImplementedError

  # The attributes that hold the GAN's networks: get_config serialises them, from_config
  # rebuilds them, so a subclass's config methods add only its own settings.
  network_attributes: tuple[str, ...] = ()

  def get_config(self) -> dict[str, Any]:
    config = {"seed": self.seed, "real_batches_per_step": self.real_batches_per_step}
    for name in self.network_attributes:
      config[name] = keras.saving.serialize_keras_object(getattr(self, name))
    return config

  @classmethod
  def from_config(cls, config: dict[str, Any]) -> "GANModel":
    config = dict(config)
    # Every subclass derives it from its own settings (a WGAN's n_critic).
    config.pop("real_batches_per_step", None)
    for name in cls.network_attributes:
      config[name] = keras.saving.deserialize_keras_object(config[name])
    return cls(**config)

  # -- compile: optimizers and trackers ----------------------------------------------

  def compile(self, generator_optimizer: keras.optimizers.Optimizer | None = None,
              discriminator_optimizer: keras.optimizers.Optimizer | None = None,
              **kwargs: Any) -> None:
    """Sets the optimizers and builds them and the metric trackers eagerly.

    Call it inside ``strategy.scope()`` when training distributed. Building the
    optimizers here, not lazily in the first traced step, avoids Keras 3's
    "You must feed a value for placeholder tensor ... cond/Placeholder" failure under
    MirroredStrategy.

    Args:
      generator_optimizer: Optimizer of the "generator" group.
      discriminator_optimizer: Optimizer of the "discriminator" group.
      **kwargs: Passed to ``keras.Model.compile`` (e.g. ``steps_per_execution``,
        ``jit_compile``).
    """
    super().compile(**kwargs)
    given = {"generator": generator_optimizer, "discriminator": discriminator_optimizer}
    policy = keras.mixed_precision.dtype_policy()
    for group in self.update_groups():
      optimizer = given.get(group.name)
      if optimizer is None:
        raise ValueError(f"compile() needs a {group.name}_optimizer for {type(self).__name__}")
      if policy.name == "mixed_float16" and not isinstance(
          optimizer, keras.optimizers.LossScaleOptimizer):
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
      optimizer.build(list(group.variables()))
      self.group_optimizers[group.name] = optimizer
      for metric in (f"{group.name}_loss", *group.metric_names):
        if metric not in self._trackers:
          self._trackers[metric] = keras.metrics.Mean(name=metric)
    # Attribute assignment makes Keras and tf.train.Checkpoint track them.
    self.generator_optimizer = self.group_optimizers.get("generator")
    self.discriminator_optimizer = self.group_optimizers.get("discriminator")
    self.trackers = list(self._trackers.values())

  # Keras keeps these two compile() arguments in its own compile config; the rest of it
  # (the unused default optimizer, losses, metrics) does not apply to a GAN.
  _KERAS_COMPILE_KEYS = ("steps_per_execution", "jit_compile", "run_eagerly")

  def get_compile_config(self) -> dict[str, Any] | None:
    """What ``compile_from_config`` needs to compile a loaded model again.

    ``Model.save("x.keras")`` stores this next to the weights. The optimizers' slot
    variables are saved with the weights (the optimizers are attributes of the model);
    recompiling with optimizers of the same configuration before Keras loads the
    weights lets ``keras.models.load_model`` restore them too, so a loaded GAN
    continues training exactly where the saved one stood.
    """
    if not self.group_optimizers:
      return None
    keras_config = super().get_compile_config() or {}
    config = {k: keras_config[k] for k in self._KERAS_COMPILE_KEYS if k in keras_config}
    for name, optimizer in self.group_optimizers.items():
      config[f"{name}_optimizer"] = keras.saving.serialize_keras_object(optimizer)
    return config

  def compile_from_config(self, config: dict[str, Any]) -> None:
    """Compiles a model loaded from a ``.keras`` file with its saved optimizers."""
    config = dict(config)
    for key in list(config):
      if key.endswith("_optimizer"):
        config[key] = keras.saving.deserialize_keras_object(config[key])
    self.compile(**config)

  @property
  def metrics(self) -> list[keras.metrics.Metric]:
    # Model.fit resets these at each epoch; the custom loop resets them per log line.
    return list(self._trackers.values())

  def metric_values(self) -> dict[str, float]:
    return {name: float(t.result()) for name, t in self._trackers.items()}

  def reset_metrics(self) -> None:
    for tracker in self._trackers.values():
      tracker.reset_state()

  # -- stateless randomness ----------------------------------------------------------

  def _seed_for(self, salt: int) -> tf.Tensor:
    step = tf.cast(self.train_counter, tf.int64)
    return tf.stack([tf.constant(self.seed, tf.int64), step * _SALT_STRIDE + salt])

  def replica_random(self, local_batch: int | tf.Tensor, shape: Sequence[int], salt: int,
                     distribution: str = "normal") -> tf.Tensor:
    """Random numbers for this replica's share of the global batch.

    The whole global batch is drawn from one stateless seed and each replica keeps its
    slice, so the draw does not depend on how many replicas share the batch.

    Args:
      local_batch: Examples on this replica.
      shape: Per-example shape.
      salt: Distinguishes the uses within one step (< 65536).
      distribution: "normal" or "uniform" ([0, 1)).

    Returns:
      A float32 tensor [local_batch, *shape].
    """
    replica_id, num_replicas = _replica_position()
    full_shape = [local_batch * num_replicas, *shape]
    seed = self._seed_for(salt)
    if distribution == "normal":
      values = tf.random.stateless_normal(full_shape, seed)
    elif distribution == "uniform":
      values = tf.random.stateless_uniform(full_shape, seed)
    else:
      raise ValueError(f"distribution {distribution!r} is not one of: normal, uniform")
    start = replica_id * local_batch
    return values[start:start + local_batch]

  # -- the step ----------------------------------------------------------------------

  def split_batch(self, batch: Any) -> list[Any]:
    """Splits the local batch into the ``real_batches_per_step`` chunks."""
    k = self.real_batches_per_step
    if k == 1:
      return [batch]
    def chunk(t: tf.Tensor, i: int) -> tf.Tensor:
      size = tf.shape(t)[0] // k
      return t[i * size:(i + 1) * size]
    return [tf.nest.map_structure(lambda t, i=i: chunk(t, i), batch) for i in range(k)]

  def train_step(self, data: Any) -> dict[str, tf.Tensor]:
    """One training step: every update group in order, each repeated as it asks.

    Works both under ``Model.fit`` and under ``strategy.run`` in the custom loop. Loops
    over repeats are unrolled in Python on purpose: an optimizer update inside a
    ``tf.while_loop`` cannot synchronise replicas ("merge_call ... control flow").
    """
    chunks = self.split_batch(data)
    _, num_replicas = _replica_position()
    for group in self.update_groups():
      optimizer = self.group_optimizers[group.name]
      variables = list(group.variables())
      for repeat in range(group.repeats):
        chunk = chunks[repeat % len(chunks)]
        loss, extra, grads = None, {}, None
        for part in group.parts or (group.loss_fn,):
          if grads is not None:
            # The next part starts once the previous part's gradients exist.
            with tf.control_dependencies([g for g in grads if g is not None]):
              chunk = tf.nest.map_structure(tf.identity, chunk)
          part_loss, part_extra, part_grads = self._loss_gradients(
              part, chunk, repeat, variables, optimizer, num_replicas)
          if grads is None:
            loss, extra, grads = part_loss, part_extra, part_grads
          else:
            loss += part_loss
            extra = sum_metrics(extra, part_extra)
            grads = [b if a is None else a if b is None else a + b
                     for a, b in zip(grads, part_grads)]
        optimizer.apply(grads, variables)
        self._trackers[f"{group.name}_loss"].update_state(loss)
        for name, value in extra.items():
          self._trackers[name].update_state(value)
    self.train_counter.assign_add(1)
    results = {name: t.result() for name, t in self._trackers.items()}
    if is_multi_worker(tf.distribute.get_strategy()):
      # Keras's fit() reduces the returned logs with strategy.reduce(..., axis=0) under a
      # multi-worker strategy, which fails on scalars (tensorflow/tensorflow#72388):
      # one-element vectors reduce to the scalar mean over the workers.
      results = {name: tf.reshape(value, [1]) for name, value in results.items()}
    return results

  @staticmethod
  def _loss_gradients(loss_fn, chunk, repeat, variables, optimizer, num_replicas):
    """(float32 loss, float32 metrics, gradients) of one loss function on one chunk."""
    with tf.GradientTape() as tape:
      loss, extra = loss_fn(chunk, repeat)
      loss = tf.cast(loss, tf.float32)
      # Gradients are summed over replicas: scale each replica's mean loss so the sum
      # is the global mean.
      scaled = loss / num_replicas
      if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        scaled = optimizer.scale_loss(scaled)
    grads = tape.gradient(scaled, variables)
    return loss, {name: tf.cast(value, tf.float32) for name, value in extra.items()}, grads

  def build_for_training(self) -> None:
    """Marks the model built: its networks build themselves in ``__init__``."""
    self.built = True

  def _maybe_symbolic_build(self, iterator=None, data_batch=None):
    """Nothing to build: networks are built in ``__init__``, optimizers in ``compile``.

    Keras's TensorFlow trainer calls this at the start of ``fit()`` under a
    distribution strategy: it reduces the first batch across replicas to trace the
    model symbolically. Under MultiWorkerMirroredStrategy that reduce fails on a dict
    batch (Keras 3.15: "Attempt to convert a value ({'x': PerReplica...})"), which would
    keep ``fit()`` from training on several machines.
    """
    del iterator, data_batch
