"""SavedModels of trained generators for TF Serving.

TF Serving is a C++ server: it loads a SavedModel's signatures and nothing of this
package. So the export *is* the serving contract, and it is written to be exact:

* every signature has explicit names, dtypes and a free batch dimension; inputs are
  float32, int32/int64 or string whatever precision the model was trained in (a
  ``mixed_bfloat16`` model is cast at the signature's edge, not exported as bfloat16),
  and outputs are float32 (plus uint8 images and PNG bytes where they help a client);
* a ``metadata`` signature and ``assets.extra/tf_gans_config.json`` say what the model
  is: the resolved training configuration, the step, the signatures;
* TF Serving's layout: ``EXPORT_BASE/<model_name>/<version>/saved_model.pb``, integer
  versions that increase, each written into a dot-named temporary folder (TF Serving
  only loads folders whose name is a number) and renamed into place, so a server that
  polls the folder never loads a half-written version;
* optional warm-up requests (``assets.extra/tf_serving_warmup_requests``) so the first
  real request does not pay for TensorFlow's lazy initialisation.

Which signatures a GAN gets depends on its kind, looked up by the ``model`` name of its
config in a small registry (:func:`register_exporter`). An exporter receives the GAN and
its config and returns a :class:`ServingModule` with the networks and the serving
functions. The exporters here follow the models' public attributes only:

======================  =============================================================
model                   what the exporter uses
======================  =============================================================
wgan                    ``gan.generator(z, training=False)``, ``gan.latent_dim``;
                        images [N, H, W, C] in [-1, 1] or 2-D points [N, D]
cgan                    ``gan.generator(z, labels, training=False)`` with int32 labels,
                        ``gan.latent_dim``, ``gan.num_classes``
cyclegan, discogan,     ``gan.direction_networks()`` (direction -> generator attribute:
pix2pix, cut            ``generator_ab`` and ``generator_ba``; pix2pix's and CUT's
                        ``generator``),
                        ``gan.image_shape`` = (H, W, C); images in [-1, 1]
======================  =============================================================
"""

from tf_gans.export.layout import (ASSETS_EXTRA, CONFIG_ASSET, EXPORT_FORMAT_VERSION,
                                   ExportResult, check_model_name, export_gan,
                                   export_keras_generators, export_model_dir, list_versions,
                                   next_version, remove_stale_staging, save_servable)
from tf_gans.export.models_config import (ServedModel, models_config_text, served_models,
                                          write_models_config)
from tf_gans.export.module import (DEFAULT_SIGNATURE, METADATA_SIGNATURE, ServingModule,
                                   serving_noise, to_uint8)
from tf_gans.export.requests import RequestLimits
from tf_gans.export.registry import (build_serving_module, config_dict, exporter_names,
                                     get_exporter, register_exporter)
from tf_gans.export.warmup import WARMUP_ASSET, warmup_records, write_warmup_requests
# The model families' signatures (each registers its exporter).
from tf_gans.export.conditional import export_conditional
from tf_gans.export.translation import export_translation
from tf_gans.export.unconditional import export_unconditional

__all__ = [
    "ASSETS_EXTRA", "CONFIG_ASSET", "DEFAULT_SIGNATURE", "EXPORT_FORMAT_VERSION",
    "RequestLimits", "METADATA_SIGNATURE", "WARMUP_ASSET", "ExportResult",
    "ServedModel", "ServingModule", "build_serving_module", "check_model_name", "config_dict",
    "export_conditional", "export_gan", "export_keras_generators", "export_model_dir",
    "export_translation", "export_unconditional", "exporter_names", "get_exporter",
    "list_versions", "models_config_text", "next_version", "register_exporter",
    "remove_stale_staging", "save_servable", "served_models", "serving_noise", "to_uint8",
    "warmup_records", "write_models_config", "write_warmup_requests"]
