"""How each model family is measured: what tools/evaluate.py reports.

One module per family, each on the shared metric code of :mod:`tf_gans.metrics`; a
model's registry entry names its family's function (``ModelSpec.evaluate``). Every
function takes ``(gan, config, source, *, num_samples, seed, model_dir)`` and returns a
flat dict; a metric measured on real data too has its value under ``<name>_real_vs_real``.

* :func:`evaluate_unconditional`: generators of 2-D points (mode coverage, earth-mover
  distance, :func:`evaluate_points`) or of images (precision/recall and KID in a
  classifier's feature space, :func:`evaluate_images`);
* :func:`evaluate_conditional`: class-conditional generators (label accuracy,
  precision/recall, KID, with ceilings);
* :func:`evaluate_translation`: unpaired translators (cycle error; error to the truth and
  label preservation where the task knows its true map).
"""

from tf_gans.evaluation.conditional import evaluate_conditional, evaluation_splits, labelled_arrays
from tf_gans.evaluation.points import evaluate_images, evaluate_points, evaluate_unconditional
from tf_gans.evaluation.translation import evaluate_translation, shape_classifier

__all__ = ["evaluate_conditional", "evaluate_images", "evaluate_points", "evaluate_translation",
           "evaluate_unconditional",
           "evaluation_splits", "labelled_arrays", "shape_classifier"]
