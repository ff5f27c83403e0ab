"""Architectures only: generators, critics and discriminators. No losses, no training."""
