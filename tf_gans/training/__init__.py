"""Drivers of GANModel.train_step: the custom tf.function loop and Model.fit."""

from tf_gans.training.loop import (NonFiniteLossError, make_checkpoint, restore_latest,
                                   train_fit, train_loop)
from tf_gans.training.run import build, load, train
from tf_gans.training.strategy import make_strategy, set_precision, split_cpu

__all__ = ["NonFiniteLossError", "make_checkpoint", "restore_latest", "train_fit", "train_loop",
           "build", "load", "train", "make_strategy", "set_precision", "split_cpu"]
