"""Old path of NoiseFilterRestorer, kept because models trained before 2026-11 name it.

New configs use `components.noise_filter.NoiseFilterRestorer`.
"""
from components.noise_filter.restorer import NoiseFilterRestorer

__all__ = ["NoiseFilterRestorer"]
