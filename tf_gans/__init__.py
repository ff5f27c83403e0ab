"""tf_gans: generative adversarial networks for TensorFlow 2 / Keras 3.

Public API:
  tf_gans.losses     adversarial, gradient-penalty, cycle, identity and reconstruction losses
  tf_gans.distances  TV, KL, JS and earth-mover distances; the parallel-lines example
  tf_gans.models     GANModel (one train_step), WassersteinGAN, ... and the registry
  tf_gans.data       deterministic, resumable input pipelines and datasets
  tf_gans.training   the custom tf.function loop, Model.fit driver, strategies, precision
  tf_gans.export     SavedModels for TF Serving (import it explicitly)
  tf_gans.serving    a REST / gRPC client of TF Serving (standard library + numpy for REST)
"""

__version__ = "0.1.0"

from tf_gans import config, distances, losses  # noqa: F401  (light modules first)
from tf_gans import data, models, training  # noqa: F401
from tf_gans.models import GANModel, UpdateGroup, WassersteinGAN  # noqa: F401
