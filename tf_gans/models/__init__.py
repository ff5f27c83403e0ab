"""GAN classes and the registry of names tools/train.py knows."""

from tf_gans.models import registry
from tf_gans.models.base import GANModel, UpdateGroup
from tf_gans.models.cgan import CGANConfig, ConditionalGAN, build_cgan
from tf_gans.models.wgan import WassersteinGAN, WGANConfig, build_wgan
from tf_gans.models.translation import TwoDomainGAN, TranslationConfig
from tf_gans.models.cyclegan import CycleGAN, CycleGANConfig, build_cyclegan
from tf_gans.models.discogan import DiscoGAN, DiscoGANConfig, build_discogan
from tf_gans.models.pix2pix import Pix2Pix, Pix2PixConfig, build_pix2pix
from tf_gans.models.cut import CUT, CUTConfig, build_cut

__all__ = ["registry", "GANModel", "UpdateGroup", "WassersteinGAN", "WGANConfig", "build_wgan",
           "ConditionalGAN", "CGANConfig", "build_cgan",
           "TwoDomainGAN", "TranslationConfig", "CycleGAN", "CycleGANConfig", "build_cyclegan",
           "DiscoGAN", "DiscoGANConfig", "build_discogan", "Pix2Pix", "Pix2PixConfig",
           "build_pix2pix", "CUT", "CUTConfig", "build_cut"]
