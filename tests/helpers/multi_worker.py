"""One worker of a two-worker MultiWorkerMirroredStrategy run on localhost.

  python tests/helpers/multi_worker.py INDEX PORT0,PORT1 MODEL_DIR OUT.npz

Trains a tiny WGAN-GP for a few steps through tf_gans.training.train and saves the
worker's final weights, so a test can check that both workers agree.
"""

import json
import os
import sys

index, ports, model_dir, out = int(sys.argv[1]), sys.argv[2].split(","), sys.argv[3], sys.argv[4]
os.environ["TF_CONFIG"] = json.dumps({
    "cluster": {"worker": [f"localhost:{p}" for p in ports]},
    "task": {"type": "worker", "index": index}})

import numpy as np  # noqa: E402

from tf_gans import training  # noqa: E402
from tf_gans.models.wgan import WGANConfig  # noqa: E402

config = WGANConfig(dataset="8gaussians", hidden_units=16, hidden_layers=2, batch_size=8,
                    train_steps=4, log_every=2, checkpoint_every=2, image_every=0,
                    steps_per_loop=2, strategy="multi_worker", model_dir=model_dir).resolve()
result = training.train(config)
np.savez(out, *[v.numpy() for v in result["gan"].weights])
print(json.dumps({"worker": index, "step": result["step"]}))
