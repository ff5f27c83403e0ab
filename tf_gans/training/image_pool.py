"""A history of generated images shown to the discriminator (CycleGAN's image pool).

Shrivastava et al. 2017, "Learning from Simulated and Unsupervised Images through
Adversarial Training" (CVPR), section 2.3; used by Zhu et al. 2017 (CycleGAN),
section 4: the discriminator is updated with a history of generated images rather than
only the latest ones, which damps oscillation between generator and discriminator.
The reference code (``util/image_pool.py``) keeps 50 images; each new image is stored
and returned while the pool fills up; once it is full, with probability ½ a random
stored image is returned in its place and the new one takes its slot, otherwise the new
image is returned and the pool is unchanged.

Design for ``tf.function`` and ``tf.distribute``:

* The state (the stored images and how many there are) lives in non-trainable
  variables, so it is checkpointed with the model and a resumed run continues with the
  same pool.
* **One pool for the global batch**, not one per replica. Each replica gathers the whole
  global batch of generated images (``all_gather``; a batch of 1 per replica at 256 px
  is 0.8 MB) and runs the same sequential update on it, with random draws made for the
  global batch from one stateless seed. Every replica therefore computes the identical
  new pool and keeps its own slice of the output. Per-replica pools would be cheaper
  but make the run depend on the number of replicas (each pool would see a different
  part of the history) and cannot be checkpointed exactly (a checkpoint stores one
  copy of a variable). The variables use ``ONLY_FIRST_REPLICA`` aggregation: all
  replicas write the same value, and the first one's is kept.
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import tensorflow as tf


def _replica_context() -> tuple[Any, int]:
  ctx = tf.distribute.get_replica_context()
  if ctx is None:
    return None, 1
  return ctx, ctx.num_replicas_in_sync


def _gather(ctx: Any, num_replicas: int, x: tf.Tensor) -> tf.Tensor:
  return x if num_replicas == 1 else ctx.all_gather(x, axis=0)


@keras.saving.register_keras_serializable(package="tf_gans")
class ImagePool(keras.layers.Layer):
  """The last `size` generated images, queried once per discriminator update.

  Args:
    image_shape: (H, W, C) of the stored images.
    size: Images kept (50 in CycleGAN); 0 disables the pool (queries return their input).
  """

  def __init__(self, image_shape: Sequence[int], size: int = 50, **kwargs: Any):
    kwargs.setdefault("dtype", "float32")
    super().__init__(trainable=False, **kwargs)
    if size < 0:
      raise ValueError(f"image pool size must be >= 0, got {size}")
    self.image_shape = tuple(int(s) for s in image_shape)
    self.size = int(size)
    if self.size:
      self.images = self.add_weight(
          shape=(self.size, *self.image_shape), initializer="zeros", dtype="float32",
          trainable=False, autocast=False, aggregation="only_first_replica", name="images")
      self.count = self.add_weight(
          shape=(), initializer="zeros", dtype="int32", trainable=False, autocast=False,
          aggregation="only_first_replica", name="count")
    self.built = True

  def get_config(self) -> dict[str, Any]:
    return {**super().get_config(), "image_shape": self.image_shape, "size": self.size}

  def call(self, images: tf.Tensor, swap_draws: tf.Tensor | None = None,
           slot_draws: tf.Tensor | None = None) -> tf.Tensor:
    return self.query(images, swap_draws, slot_draws)

  def query(self, images: tf.Tensor, swap_draws: tf.Tensor, slot_draws: tf.Tensor
            ) -> tf.Tensor:
    """Returns the images to show the discriminator and updates the pool.

    Args:
      images: This replica's generated images [n, H, W, C] (no gradient flows back).
      swap_draws: U[0, 1) draws [n], one per image: swap when > 0.5 (pool full).
      slot_draws: U[0, 1) draws [n]: which stored image is swapped out.
        Both come from the model's stateless ``replica_random``, drawn for the global
        batch and sliced per replica; they are gathered back here.

    Returns:
      [n, H, W, C] float32: for each input image, itself or a stored older image.
    """
    images = tf.stop_gradient(tf.cast(images, tf.float32))
    if not self.size:
      return images
    ctx, num_replicas = _replica_context()
    local = tf.shape(images)[0]
    everything = _gather(ctx, num_replicas, images)
    swap = _gather(ctx, num_replicas, tf.reshape(tf.cast(swap_draws, tf.float32), [-1]))
    slot = _gather(ctx, num_replicas, tf.reshape(tf.cast(slot_draws, tf.float32), [-1]))
    slot = tf.minimum(tf.cast(slot * self.size, tf.int32), self.size - 1)
    total = tf.shape(everything)[0]

    def body(i, pool, count, out):
      image = everything[i]
      filling = count < self.size
      swapping = tf.logical_and(tf.logical_not(filling), swap[i] > 0.5)
      # Filling: store in the next free slot, return the image. Swapping: return the
      # stored image of a random slot, store the new one there. Otherwise: return it.
      target = tf.where(filling, count, slot[i])
      returned = tf.where(swapping, pool[target], image)
      store = tf.logical_or(filling, swapping)
      pool = tf.cond(store,
                     lambda: tf.tensor_scatter_nd_update(pool, [[target]], image[None]),
                     lambda: pool)
      out = out.write(i, returned)
      return i + 1, pool, count + tf.cast(filling, tf.int32), out

    out = tf.TensorArray(tf.float32, size=total, element_shape=self.image_shape)
    _, pool, count, out = tf.while_loop(
        lambda i, *_: i < total, body,
        (tf.constant(0), tf.convert_to_tensor(self.images), tf.convert_to_tensor(self.count),
         out))
    self.images.assign(pool)
    self.count.assign(count)
    returned = out.stack()
    replica = 0 if ctx is None else ctx.replica_id_in_sync_group
    return returned[replica * local:(replica + 1) * local]
