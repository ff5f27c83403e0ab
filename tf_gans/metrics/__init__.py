"""Sample-quality metrics usable on any GAN."""

from tf_gans.metrics.mode_coverage import mode_coverage

__all__ = ["mode_coverage"]
