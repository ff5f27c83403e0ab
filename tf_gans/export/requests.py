"""What a served model accepts, checked inside every signature before the network runs.

A SavedModel behind TF Serving answers clients its operator does not control, and one
request that allocates gigabytes takes down the whole server, every model on it. So each
signature checks its inputs first, in the graph (TF Serving runs nothing else of ours):

* how many items a request holds (every batch input), within :class:`RequestLimits`;
* shapes and counts: the model's image size and channels, as many labels as noise rows;
* values: finite, and images within the documented [-1, 1];
* encoded images: the pixel count *from the file header*, before anything is decoded (a
  PNG of a few hundred kB can declare 16,000 × 16,000 pixels), per image and per
  request; and a file cut short.

Each failure is an ``InvalidArgument`` error whose message names the input, what it got
and what it expects ("assertion failed: [images_bytes[0]: 16000x16000 pixels; at most
16777216 per image]"). The checks are TensorFlow assertions computed by ops that cannot
fail themselves, and the network runs inside a ``tf.cond`` on all of them (see
:class:`Checks`): nothing depends on a device raising an error for a bad value (a GPU
gather with an index out of range returns zeros). An empty batch gets empty outputs.

TF Serving checks a request's dtypes against the signature before any of this runs; it
does not check shapes, hence the rank and size checks here. A file whose header is
sound but whose image data is damaged in the middle still fails in TensorFlow's decoder,
with the decoder's own ``InvalidArgument`` message.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import tensorflow as tf

# With no --max_batch, a request may hold as many items as make this many pixels (16
# images at 256 px, 1,024 at 32 px: about 600 MB of CycleGAN activations) ...
DEFAULT_BATCH_PIXELS = 2 ** 20
# ... and never more than this many (noise vectors, labels, 2-D points).
DEFAULT_MAX_BATCH = 4096


@dataclasses.dataclass(frozen=True)
class RequestLimits:
  """How much one request may ask of a served model; set at export, kept in its metadata.

  Attributes:
    max_batch: Items per request, for every batch input (noise rows, labels, images,
      encoded files, num_samples); 0: from the model, :data:`DEFAULT_BATCH_PIXELS` over
      the pixels of one of its images, at most :data:`DEFAULT_MAX_BATCH`.
    max_image_pixels: Pixels of one encoded input image, read from its header (and so of
      the image returned for it).
    max_request_pixels: Pixels of all encoded input images of one request together.
  """

  max_batch: int = 0
  max_image_pixels: int = 4096 * 4096
  max_request_pixels: int = 2 ** 25

  def __post_init__(self):
    for name in ("max_batch", "max_image_pixels", "max_request_pixels"):
      value = getattr(self, name)
      if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    if self.max_image_pixels < 1 or self.max_request_pixels < 1:
      raise ValueError("max_image_pixels and max_request_pixels must be at least 1")

  def for_model(self, item_pixels: int) -> "RequestLimits":
    """These limits with max_batch filled in for items of `item_pixels` pixels."""
    if self.max_batch:
      return self
    batch = DEFAULT_BATCH_PIXELS // max(1, int(item_pixels))
    return dataclasses.replace(self, max_batch=max(1, min(DEFAULT_MAX_BATCH, batch)))

  def to_json(self) -> dict[str, int]:
    return dataclasses.asdict(self)


def _fail_unless(condition: tf.Tensor, message: Any) -> tf.Operation:
  """An assertion whose error message is `message` (a string or a tf.string scalar)."""
  return tf.debugging.Assert(condition, [message], summarize=1)


def after(checks: Sequence[Any], value: Any) -> Any:
  """`value` (a tensor or a structure of them) with `checks` as control dependencies."""
  with tf.control_dependencies([c for c in checks if c is not None]):
    return tf.nest.map_structure(tf.identity, value)


def _runtime_shape(tensor: tf.Tensor) -> tf.Tensor:
  """The shape a request's tensor really has (int64 vector).

  ``tf.shape`` and ``tf.rank`` are folded into constants where the signature fixes a
  rank or a dimension, and a client may send another rank (TF Serving does not check
  shapes). A shape passed through a serialisation has no static shape to fold; a
  scalar input, whose whole shape is fixed, is passed through one itself (a few bytes).
  """
  if tensor.shape.is_fully_defined():
    tensor = tf.io.parse_tensor(tf.io.serialize_tensor(tensor), tensor.dtype)
  shape = tf.shape(tensor, out_type=tf.int64)
  return tf.io.parse_tensor(tf.io.serialize_tensor(shape), tf.int64)


def _as_sent(tensor: tf.Tensor) -> tf.Tensor:
  """The same tensor with no static shape (a reshape to its runtime shape, no copy).

  Graph optimisations that trust the signature's shape (dropping a "redundant" reshape
  to [-1], reducing over the traced axes) cannot touch the checks computed from it.
  """
  return tf.reshape(tensor, _runtime_shape(tensor))


def _shape(shape: tf.Tensor, rank: int) -> tf.Tensor:
  """The first `rank` entries of a runtime shape, -1 for those it lacks (never fails)."""
  return tf.concat([shape, tf.fill([rank], tf.constant(-1, tf.int64))], 0)[:rank]


class Checks:
  """The checks of one request, and the one way to run the network after them.

  Every condition is computed with ops that cannot fail, and the work is gated by
  ``tf.cond`` on all of them: on a bad request the network never runs, and the failed
  check's assertion is the error the client gets. (A control dependency alone is not
  enough: TensorFlow's graph optimiser may move shape reads ahead of an assertion.)
  """

  def __init__(self):
    self.conditions: list[tf.Tensor] = []
    self.assertions: list[tf.Operation] = []

  def require(self, condition: tf.Tensor, message: Any) -> None:
    self.conditions.append(tf.reshape(tf.cast(condition, tf.bool), []))
    self.assertions.append(_fail_unless(condition, message))

  def count(self, name: str, count: tf.Tensor, limit: int) -> None:
    """Items in a request: from 0 to `limit` (num_samples may be negative)."""
    count = tf.cast(count, tf.int64)
    self.require(tf.logical_and(count >= 0, count <= limit), tf.strings.format(
        f"{name}: {{}} items; from 0 to {limit} per request", count))

  def scalar(self, name: str, tensor: tf.Tensor) -> tf.Tensor:
    """A scalar input; returns its value (0 when it is not a scalar)."""
    tensor = tf.io.parse_tensor(tf.io.serialize_tensor(tensor), tensor.dtype)  # as sent
    actual = _runtime_shape(tensor)
    is_scalar = tf.equal(tf.size(actual), 0)
    got = tf.strings.reduce_join(tf.strings.as_string(actual), separator="x")
    self.require(is_scalar, tf.strings.join([f"{name}: got shape [", got,
                                             "], expected a scalar"]))
    first = tf.concat([tf.reshape(tensor, [-1]), tf.zeros([1], tensor.dtype)], 0)[0]
    return tf.where(is_scalar, first, tf.zeros([], tensor.dtype))

  def input(self, name: str, tensor: tf.Tensor, shape: Sequence[int | None], what: str, *,
            max_batch: int, finite: bool = False,
            value_range: tuple[float, float] | None = None) -> tf.Tensor:
    """Rank, fixed dimensions (None: any), count, finiteness and range of a batch input.

    Returns:
      Its number of rows (0 if it has not the rank it should).
    """
    text = "x".join("N" if d is None else str(d) for d in shape)
    tensor = _as_sent(tensor)
    actual = _runtime_shape(tensor)
    dims = _shape(actual, len(shape))
    rank_ok = tf.equal(tf.size(actual), len(shape))
    fixed = [tf.equal(dims[i], d) for i, d in enumerate(shape) if d is not None]
    got = tf.strings.reduce_join(tf.strings.as_string(actual), separator="x")
    self.require(tf.reduce_all([rank_ok, *fixed]), tf.strings.join(
        [f"{name}: got shape [", got, f"], expected {text} ({what})"]))
    rows = tf.where(rank_ok, dims[0], tf.constant(0, tf.int64))
    self.count(name, rows, max_batch)
    if finite:
      # Flattened first: a reduction over all axes uses the traced rank's axes.
      self.require(tf.reduce_all(tf.math.is_finite(tf.reshape(tensor, [-1]))),
                   f"{name}: holds NaN or infinite values")
    if value_range is not None:
      low, high = value_range
      flat = tf.reshape(tensor, [-1])
      # An empty batch has min +inf and max -inf: it passes, and nothing is copied.
      low_seen, high_seen = tf.reduce_min(flat), tf.reduce_max(flat)
      # NaN compares false: a non-finite value fails here too.
      self.require(tf.logical_and(low_seen >= low - 1e-4, high_seen <= high + 1e-4),
                   tf.strings.format(f"{name}: values from {{}} to {{}}, expected "
                                     f"[{low:g}, {high:g}]", (low_seen, high_seen)))
    return rows

  def labels(self, name: str, labels: tf.Tensor, num_classes: int) -> None:
    """Class labels within [0, num_classes): a label outside would silently give a
    one-hot of zeros, or an embedding row of zeros on a GPU."""
    flat = tf.reshape(_as_sent(labels), [-1])
    # No labels: the minimum is the largest integer and the maximum the smallest.
    low, high = tf.reduce_min(flat), tf.reduce_max(flat)
    self.require(tf.logical_or(tf.equal(tf.size(flat), 0),
                               tf.logical_and(low >= 0, high < num_classes)),
                 tf.strings.format(f"{name} must be in [0, {num_classes}); got values from "
                                   "{} to {}", (low, high)))

  def same_rows(self, name_a: str, rows_a: tf.Tensor, name_b: str, rows_b: tf.Tensor) -> None:
    self.require(tf.equal(rows_a, rows_b), tf.strings.format(
        f"{name_a} has {{}} rows and {name_b} {{}}; give one {name_b} per {name_a} row",
        (rows_a, rows_b)))

  def run(self, rows: tf.Tensor, fn: Callable[[], Any], empty: Callable[[], Any]) -> Any:
    """fn() when every check passed and there are rows, else empty() (0-row outputs);
    the failed check's assertion raises either way."""
    go = tf.logical_and(tf.reduce_all(self.conditions), rows > 0)
    return after(self.assertions, tf.cond(go, fn, empty))


# -- encoded images: sizes from the header, before decoding ----------------------------------

_PAD = 32  # bytes appended so fixed-offset reads never run past the end


def _bytes(data: tf.Tensor, offset: Any, count: int) -> tf.Tensor:
  """`count` bytes of (padded) data from `offset` as int32."""
  raw = tf.io.decode_raw(tf.strings.substr(data, offset, count), tf.uint8)
  return tf.cast(tf.reshape(raw, [count]), tf.int32)


def _big_endian(values: tf.Tensor) -> tf.Tensor:
  out = tf.constant(0, tf.int64)
  for i in range(values.shape[0]):
    out = out * 256 + tf.cast(values[i], tf.int64)
  return out


def _little_endian(values: tf.Tensor) -> tf.Tensor:
  return _big_endian(tf.reverse(values, [0]))


def _jpeg_size(data: tf.Tensor, length: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
  """(height, width) from a JPEG's start-of-frame segment; (-1, -1) if there is none.

  Walks the marker segments (each FFxx with a 2-byte length) from the start; at most
  1,000 segments are read, so a hostile file cannot keep the loop busy.
  """
  start_of_frame = tf.constant([0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB,
                                0xCD, 0xCE, 0xCF])
  standalone = tf.constant([0x01, 0xD0, 0xD1, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8])

  def body(position, height, width, steps):
    head = _bytes(data, position, 9)
    marker = head[1]
    is_frame = tf.reduce_any(tf.equal(marker, start_of_frame))
    segment = tf.cast(head[2] * 256 + head[3], tf.int64)
    jump = tf.where(tf.equal(marker, 0xFF), tf.constant(1, tf.int64),
                    tf.where(tf.reduce_any(tf.equal(marker, standalone)),
                             tf.constant(2, tf.int64), 2 + segment))
    found_height = tf.where(is_frame, tf.cast(head[5] * 256 + head[6], tf.int64), height)
    found_width = tf.where(is_frame, tf.cast(head[7] * 256 + head[8], tf.int64), width)
    # A byte other than FF where a marker belongs: not a JPEG we can read.
    broken = tf.not_equal(head[0], 0xFF)
    next_position = tf.where(broken, length, position + jump)
    return next_position, found_height, found_width, steps + 1

  def searching(position, height, width, steps):
    return tf.logical_and(tf.logical_and(position + 9 <= length, height < 0), steps < 1000)

  _, height, width, _ = tf.while_loop(
      searching, body, (tf.constant(2, tf.int64), tf.constant(-1, tf.int64),
                        tf.constant(-1, tf.int64), tf.constant(0)))
  return height, width


def encoded_image_size(data: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
  """(height, width, complete) of one encoded image, read from its header.

  JPEG, PNG, GIF, BMP and WebP (the formats ``tf.io.decode_image`` reads). Height and
  width are -1 for anything else or a header cut short. `complete` is False when the
  file ends before its format says it does (no PNG IEND chunk, no JPEG end-of-image
  marker, no GIF trailer, a BMP or WebP shorter than its declared size).
  """
  length = tf.cast(tf.strings.length(data), tf.int64)
  padded = tf.strings.join([data, tf.constant(b"\0" * _PAD)])
  head = _bytes(padded, 0, 30)
  tail = _bytes(tf.strings.join([tf.constant(b"\0" * _PAD), data]),
                length + _PAD - 16, 16)  # the file's last 16 bytes
  minus_one = tf.constant(-1, tf.int64)

  def starts_with(signature: bytes, offset: int = 0) -> tf.Tensor:
    return tf.reduce_all(tf.equal(head[offset:offset + len(signature)],
                                  tf.constant(list(signature), tf.int32)))

  is_png = starts_with(b"\x89PNG\r\n\x1a\n")
  is_jpeg = starts_with(b"\xff\xd8\xff")
  is_gif = tf.logical_or(starts_with(b"GIF87a"), starts_with(b"GIF89a"))
  is_bmp = starts_with(b"BM")
  is_webp = tf.logical_and(starts_with(b"RIFF"), starts_with(b"WEBP", 8))

  png = (_big_endian(head[20:24]), _big_endian(head[16:20]),
         tf.reduce_all(tf.equal(tail[-8:-4], tf.constant(list(b"IEND"), tf.int32))))
  gif = (_little_endian(head[8:10]), _little_endian(head[6:8]), tf.equal(tail[-1], 0x3B))
  bmp_header = _little_endian(head[14:18])
  bmp_declared = _little_endian(head[2:6])
  # BITMAPCOREHEADER (12 bytes) has 16-bit sizes; the others 32-bit, height negative
  # for top-down rows.
  bmp_height = tf.where(tf.equal(bmp_header, 12), _little_endian(head[20:22]),
                        _little_endian(head[22:26]))
  bmp_height = tf.where(bmp_height >= 2 ** 31, 2 ** 32 - bmp_height, bmp_height)
  bmp = (bmp_height, tf.where(tf.equal(bmp_header, 12), _little_endian(head[18:20]),
                              _little_endian(head[18:22])), bmp_declared <= length)
  chunk = head[12:16]
  vp8 = tf.reduce_all(tf.equal(chunk, tf.constant(list(b"VP8 "), tf.int32)))
  vp8l = tf.reduce_all(tf.equal(chunk, tf.constant(list(b"VP8L"), tf.int32)))
  vp8x = tf.reduce_all(tf.equal(chunk, tf.constant(list(b"VP8X"), tf.int32)))
  b = tf.cast(head, tf.int64)
  webp_width = tf.where(vp8, _little_endian(head[26:28]) % 16384,
                        tf.where(vp8l, 1 + (b[21] + (b[22] % 64) * 256),
                                 tf.where(vp8x, 1 + _little_endian(head[24:27]), minus_one)))
  webp_height = tf.where(vp8, _little_endian(head[28:30]) % 16384,
                         tf.where(vp8l, 1 + (b[22] // 64 + b[23] * 4 + (b[24] % 16) * 1024),
                                  tf.where(vp8x, 1 + _little_endian(head[27:30]), minus_one)))
  webp = (webp_height, webp_width, _little_endian(head[4:8]) + 8 <= length)
  jpeg_height, jpeg_width = tf.cond(is_jpeg, lambda: _jpeg_size(padded, length),
                                    lambda: (minus_one, minus_one))
  # Some encoders pad after the end-of-image marker: look for it near the end.
  jpeg_end = tf.reduce_any(tf.logical_and(tf.equal(tail[:-1], 0xFF), tf.equal(tail[1:], 0xD9)))
  jpeg = (jpeg_height, jpeg_width, jpeg_end)

  height, width, complete = minus_one, minus_one, tf.constant(False)
  for is_format, (h, w, c) in ((is_png, png), (is_gif, gif), (is_bmp, bmp), (is_webp, webp),
                               (is_jpeg, jpeg)):
    height = tf.where(is_format, h, height)
    width = tf.where(is_format, w, width)
    complete = tf.where(is_format, c, complete)
  # A header that is itself cut short reads zeros from the padding.
  header_ok = tf.logical_and(length >= 24, tf.logical_and(height > 0, width > 0))
  return tf.where(header_ok, height, minus_one), tf.where(header_ok, width, minus_one), complete


def check_encoded_images(checks: Checks, name: str, images_bytes: tf.Tensor,
                         limits: RequestLimits) -> None:
  """Checks a batch of encoded image files from their headers, before any decoding:
  each is an image of a format TensorFlow decodes, not cut short, within
  ``limits.max_image_pixels``, and all together within ``limits.max_request_pixels``."""
  def header(data):
    height, width, complete = encoded_image_size(data)
    return tf.stack([height, width, tf.cast(complete, tf.int64)])

  flat = tf.reshape(_as_sent(images_bytes), [-1])  # whatever the rank: the checks never fail
  # More than max_batch items is refused by the count check: read no more headers than
  # that needs, so a request of a million tiny strings costs no million header reads.
  flat = flat[:limits.max_batch + 1]
  found = tf.map_fn(header, flat, fn_output_signature=tf.TensorSpec([3], tf.int64))
  found = tf.reshape(found, [-1, 3])
  # Sides as PNG and WebP headers declare them can reach 2^32 - 1: cap them before
  # multiplying (no int64 overflow to a negative count), and each image's share of the
  # request's total at one more than an image may have (no overflow of the sum).
  sizes = tf.minimum(found[:, :2], 2 ** 31)
  pixels = sizes[:, 0] * sizes[:, 1]
  summed = tf.reduce_sum(tf.minimum(pixels, limits.max_image_pixels + 1))
  index = tf.range(tf.size(flat, out_type=tf.int64))

  def first(mask, values, default):
    """The first of `values` where `mask` holds (default when it holds nowhere)."""
    return tf.concat([tf.boolean_mask(values, mask), [default]], 0)[0]

  unreadable = tf.reduce_any(sizes <= 0, axis=1)
  too_big = pixels > limits.max_image_pixels
  cut = tf.equal(found[:, 2], 0)
  big_size = first(too_big, sizes, tf.constant([0, 0], tf.int64))
  checks.require(~tf.reduce_any(unreadable), tf.strings.format(
      f"{name}[{{}}]: not a JPEG, PNG, GIF, BMP or WebP image, or its header is cut short",
      first(unreadable, index, tf.constant(-1, tf.int64))))
  checks.require(~tf.reduce_any(too_big), tf.strings.format(
      f"{name}[{{}}]: {{}}x{{}} pixels; at most {limits.max_image_pixels} per image",
      (first(too_big, index, tf.constant(-1, tf.int64)), big_size[1], big_size[0])))
  checks.require(summed <= limits.max_request_pixels, tf.strings.format(
      f"{name}: {{}} pixels in all; at most {limits.max_request_pixels} per request",
      summed))
  checks.require(~tf.reduce_any(cut), tf.strings.format(
      f"{name}[{{}}]: the file is cut short (it ends before its image data does)",
      first(cut, index, tf.constant(-1, tf.int64))))
