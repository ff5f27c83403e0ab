"""Independent classifiers of the real data, and what they measure on generated data.

One abstraction, :class:`ImageClassifier` (labels, accuracy, feature vectors), two kinds,
both trained on the real training split only (never on generated images) and cached by
:func:`load_or_train_classifier`:

* ``"conv"`` (:class:`ConvClassifier`): a small convolutional classifier. Its accuracy on
  samples generated for label y says whether they look like class y, and its
  penultimate layer gives the feature vectors precision/recall and kernel distances
  compare -- the role Inception-v3 (FID, KID) and VGG-16 (Kynkäänniemi et al. 2019) play
  on natural images, which would not fit 8×8 digits. The conditional GAN's measure.
* ``"shape"`` (:class:`ShapeClassifier`): an RBF support-vector machine on a digit's
  shape, whatever its colours (:func:`digit_shape_features`), so one classifier reads a
  digit in either domain of a translation task. The translation models' measure.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from typing import Iterator

import keras
import numpy as np

from tf_gans.networks.dcgan import upsampling_plan

FEATURE_LAYER = "features"


@contextlib.contextmanager
def _float32_policy() -> Iterator[None]:
  """Builds the classifier in float32 whatever the training run's precision was."""
  previous = keras.mixed_precision.dtype_policy()
  keras.mixed_precision.set_dtype_policy("float32")
  try:
    yield
  finally:
    keras.mixed_precision.set_dtype_policy(previous)


def build_classifier(image_shape: tuple[int, int, int], num_classes: int, width: int = 32,
                     feature_units: int = 128, dropout: float = 0.3) -> keras.Model:
  """A small convnet: conv 3×3, then stride-2 convs down to 4-7 px, dense features, logits.

  Args:
    image_shape: (H, W, C) of the images, in [-1, 1].
    num_classes: Number of classes.
    width: Channels of the first convolution, doubled at each downsampling.
    feature_units: Size of the feature layer (named "features").
    dropout: Dropout before the logits.

  Returns:
    An uncompiled functional Keras model from images to logits.
  """
  _, steps = upsampling_plan(int(image_shape[0]))
  inputs = keras.Input(tuple(int(s) for s in image_shape), name="images")
  h = keras.layers.Conv2D(width, 3, padding="same", activation="relu")(inputs)
  for i in range(max(steps, 1)):
    h = keras.layers.Conv2D(width * 2 ** (i + 1), 3, strides=2, padding="same",
                            activation="relu")(h)
  h = keras.layers.Flatten()(h)
  h = keras.layers.Dense(feature_units, activation="relu", name=FEATURE_LAYER)(h)
  h = keras.layers.Dropout(dropout)(h)
  logits = keras.layers.Dense(num_classes, name="logits")(h)
  return keras.Model(inputs, logits, name="eval_classifier")


class ImageClassifier:
  """A trained classifier of images in [-1, 1]: labels, accuracy, feature vectors."""

  num_classes: int = 0

  def predict(self, images: np.ndarray) -> np.ndarray:
    """Predicted labels [N] (int)."""
    raise NotImplementedError

  def features(self, images: np.ndarray) -> np.ndarray:
    """Feature vectors [N, D] (float32) of the space the classifier reads images in."""
    raise NotImplementedError

  def accuracy(self, images: np.ndarray, labels: np.ndarray) -> float:
    """Share of images assigned to their label."""
    labels = np.asarray(labels)
    if len(labels) != len(images):
      raise ValueError(f"{len(images)} images but {len(labels)} labels")
    return float(np.mean(self.predict(images) == labels))


class ConvClassifier(ImageClassifier):
  """A trained convolutional classifier: predictions and penultimate-layer features.

  Args:
    model: Functional model from images to logits with a layer named "features".
  """

  def __init__(self, model: keras.Model):
    self.model = model
    # model.input (one tensor, not the list model.inputs) so calls take a plain array.
    self._both = keras.Model(model.input, [model.get_layer(FEATURE_LAYER).output,
                                           model.outputs[0]])
    self.num_classes = int(model.outputs[0].shape[-1])

  def _run(self, images: np.ndarray, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    images = np.asarray(images, np.float32)
    feats, logits = [], []
    for start in range(0, len(images), batch_size):
      f, l = self._both(images[start:start + batch_size], training=False)
      feats.append(np.asarray(f))
      logits.append(np.asarray(l))
    return np.concatenate(feats), np.concatenate(logits)

  def features(self, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Penultimate-layer feature vectors [N, feature_units] (float32)."""
    return self._run(images, batch_size)[0]

  def predict(self, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Predicted labels [N] (int)."""
    return self._run(images, batch_size)[1].argmax(axis=1)

  def features_and_predictions(self, images: np.ndarray, batch_size: int = 500
                               ) -> tuple[np.ndarray, np.ndarray]:
    feats, logits = self._run(images, batch_size)
    return feats, logits.argmax(axis=1)


# The convolutional classifier's earlier name.
Classifier = ConvClassifier


def label_accuracy(classifier: ImageClassifier, images: np.ndarray, labels: np.ndarray) -> float:
  """Share of images the classifier assigns to the label they were generated for."""
  return classifier.accuracy(images, labels)


def digit_shape_features(images: np.ndarray, cells: int = 8) -> np.ndarray:
  """Features of digit images that keep their shape and drop their colours.

  Grey level (channel mean), turned so the background (the 2-pixel frame) is dark,
  stretched to [0, 1] per image and averaged over a cells × cells grid (8×8: the
  embedded digits' own resolution). A translation with the right digit in slightly wrong
  colours still reads as that digit; colour accuracy is what the error to the true
  translation measures.

  Raises:
    ValueError: for images whose size does not divide into cells × cells.
  """
  grey = np.asarray(images, np.float32).mean(axis=-1)
  n, h, w = grey.shape
  flat = grey.reshape(n, -1)
  frame = np.concatenate([grey[:, :2].reshape(n, -1), grey[:, -2:].reshape(n, -1),
                          grey[:, :, :2].reshape(n, -1), grey[:, :, -2:].reshape(n, -1)], 1)
  grey = np.where((frame.mean(1) > flat.mean(1))[:, None, None], -grey, grey)
  low = grey.reshape(n, -1).min(1)[:, None, None]
  high = grey.reshape(n, -1).max(1)[:, None, None]
  grey = (grey - low) / np.maximum(high - low, 1e-3)
  if h % cells or w % cells:
    raise ValueError(f"digit images of {h}x{w} px do not divide into {cells}x{cells} cells")
  return grey.reshape(n, cells, h // cells, cells, w // cells).mean(axis=(2, 4)).reshape(n, -1)


class ShapeClassifier(ImageClassifier):
  """Reads digits in any colours: an RBF support-vector machine on
  :func:`digit_shape_features`.

  Trained on the real training images of both domains of digits_recolour it reads
  98.9 % of the held-out real digits of each domain at 32 px. Small, trained in a
  second, with no dependence on the TensorFlow precision policy.
  """

  def __init__(self, images: np.ndarray, labels: np.ndarray):
    from sklearn.svm import SVC
    self.svm = SVC(C=10.0, gamma="scale").fit(digit_shape_features(images), labels)
    self.num_classes = int(len(np.unique(labels)))

  def predict(self, images: np.ndarray) -> np.ndarray:
    return self.svm.predict(digit_shape_features(images))

  def features(self, images: np.ndarray) -> np.ndarray:
    return digit_shape_features(images)


def default_epochs(num_examples: int) -> int:
  """About 40,000 examples seen, at least 2 and at most 30 epochs."""
  return int(np.clip(round(40_000 / max(num_examples, 1)), 2, 30))


def train_classifier(images: np.ndarray, labels: np.ndarray, num_classes: int, *,
                     epochs: int | None = None, batch_size: int = 64, seed: int = 0,
                     verbose: int = 0) -> ConvClassifier:
  """Trains :func:`build_classifier` on real labelled images (Adam 1e-3, cross-entropy).

  Args:
    images: [N, H, W, C] in [-1, 1].
    labels: [N] ints in [0, num_classes).
    num_classes: Number of classes.
    epochs: Passes over the data; default :func:`default_epochs`.
    batch_size: Examples per update.
    seed: Seed of the weights and the data order.
    verbose: Keras fit verbosity.

  Returns:
    The trained :class:`ConvClassifier`.

  Raises:
    ValueError: if the labels do not match the images or lie outside [0, num_classes).
  """
  images, labels = np.asarray(images, np.float32), np.asarray(labels, np.int64)
  if len(images) != len(labels):
    raise ValueError(f"{len(images)} images but {len(labels)} labels")
  if labels.min() < 0 or labels.max() >= num_classes:
    raise ValueError(f"labels span [{labels.min()}, {labels.max()}], expected [0, {num_classes})")
  keras.utils.set_random_seed(seed)
  with _float32_policy():
    model = build_classifier(images.shape[1:], num_classes)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(images, labels, batch_size=batch_size, epochs=epochs or default_epochs(len(images)),
              shuffle=True, verbose=verbose)
  return ConvClassifier(model)


def _fingerprint(images: np.ndarray, labels: np.ndarray, num_classes: int) -> str:
  """Identifies the training data, so a cache trained on other data is not reused."""
  digest = hashlib.sha256()
  digest.update(json.dumps([list(images.shape), int(num_classes)]).encode())
  step = max(1, len(images) // 256)
  digest.update(np.ascontiguousarray(images[::step], np.float32).tobytes())
  digest.update(np.ascontiguousarray(labels, np.int64).tobytes())
  return digest.hexdigest()


def load_or_train_classifier(images: np.ndarray, labels: np.ndarray, num_classes: int,
                             cache_dir: str | None = None, kind: str = "conv",
                             **train_kwargs) -> ImageClassifier:
  """The classifier of this training data from `cache_dir`, trained and saved if absent.

  Args:
    images, labels, num_classes: The real training split.
    cache_dir: Folder for the classifier and the fingerprint of its training data (a
      cache of other data is not used); None: no cache.
    kind: "conv" (:class:`ConvClassifier`) or "shape" (:class:`ShapeClassifier`).
    **train_kwargs: Passed to :func:`train_classifier` ("conv").

  Returns:
    The :class:`ImageClassifier`.
  """
  if kind not in ("conv", "shape"):
    raise ValueError(f"classifier kind {kind!r} is not one of: conv, shape")
  images, labels = np.asarray(images, np.float32), np.asarray(labels, np.int64)
  fingerprint = _fingerprint(images, labels, num_classes)
  if kind == "shape":
    return _load_or_train_shape(images, labels, fingerprint, cache_dir)
  if cache_dir:
    path = os.path.join(cache_dir, "classifier.keras")
    meta_path = os.path.join(cache_dir, "classifier.json")
    if os.path.exists(path) and os.path.exists(meta_path):
      with open(meta_path, encoding="utf-8") as f:
        if json.load(f).get("fingerprint") == fingerprint:
          with _float32_policy():
            return ConvClassifier(keras.models.load_model(path, compile=False))
  classifier = train_classifier(images, labels, num_classes, **train_kwargs)
  if cache_dir:
    os.makedirs(cache_dir, exist_ok=True)
    classifier.model.save(path)
    with open(meta_path, "w", encoding="utf-8") as f:
      json.dump({"fingerprint": fingerprint, "num_classes": int(num_classes),
                 "num_examples": int(len(images))}, f)
  return classifier


def _load_or_train_shape(images: np.ndarray, labels: np.ndarray, fingerprint: str,
                         cache_dir: str | None) -> ShapeClassifier:
  import pickle
  path = os.path.join(cache_dir, "shape_classifier.pkl") if cache_dir else None
  meta_path = os.path.join(cache_dir, "shape_classifier.json") if cache_dir else None
  if path and os.path.exists(path) and os.path.exists(meta_path):
    with open(meta_path, encoding="utf-8") as f:
      if json.load(f).get("fingerprint") == fingerprint:
        with open(path, "rb") as f:
          return pickle.load(f)
  classifier = ShapeClassifier(images, labels)
  if path:
    os.makedirs(cache_dir, exist_ok=True)
    with open(path + ".tmp", "wb") as f:
      pickle.dump(classifier, f)
    os.replace(path + ".tmp", path)
    with open(meta_path, "w", encoding="utf-8") as f:
      json.dump({"fingerprint": fingerprint, "num_examples": int(len(images))}, f)
  return classifier
