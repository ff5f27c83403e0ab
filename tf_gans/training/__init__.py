"""Drivers of GANModel.train_step: the custom tf.function loop and Model.fit."""

from tf_gans.training.checkpoints import make_checkpoint
from tf_gans.training.loop import NonFiniteLossError, train_fit, train_loop
from tf_gans.training.preemption import PEER_LOST_EXIT_CODE, PREEMPTED_EXIT_CODE
from tf_gans.training.run import build, load, restore_latest, train
from tf_gans.training.strategy import has_gpu, make_strategy, set_precision, split_cpu

__all__ = ["NonFiniteLossError", "make_checkpoint", "restore_latest", "train_fit", "train_loop",
           "build", "load", "train", "has_gpu", "make_strategy", "set_precision", "split_cpu",
           "PREEMPTED_EXIT_CODE", "PEER_LOST_EXIT_CODE"]
