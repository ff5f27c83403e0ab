"""Sample-quality metrics usable on any GAN."""

from tf_gans.metrics.classifier import (Classifier, ConvClassifier, ImageClassifier,
                                        ShapeClassifier, build_classifier, digit_shape_features,
                                        label_accuracy, load_or_train_classifier,
                                        train_classifier)
from tf_gans.metrics.conditional import conditional_report, unconditional_report
from tf_gans.metrics.frechet import InceptionFeatures, fid, frechet_distance
from tf_gans.metrics.kid import class_kid, kid, mmd2_unbiased, polynomial_kernel
from tf_gans.metrics.mode_coverage import mode_coverage
from tf_gans.metrics.steganography import hidden_signal
from tf_gans.metrics.style import PixelPCA
from tf_gans.metrics.precision_recall import (improved_precision_recall, knn_radii,
                                              per_class_precision_recall)

__all__ = ["mode_coverage", "Classifier", "ConvClassifier", "ImageClassifier", "ShapeClassifier",
           "digit_shape_features", "build_classifier", "label_accuracy",
           "load_or_train_classifier", "train_classifier", "conditional_report", "unconditional_report", "kid",
           "fid", "frechet_distance", "InceptionFeatures",
           "mmd2_unbiased", "polynomial_kernel", "improved_precision_recall", "knn_radii",
           "per_class_precision_recall", "hidden_signal", "class_kid", "PixelPCA"]
