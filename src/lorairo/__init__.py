"""LoRAIro: folders of images to clean, annotated training sets."""

__version__ = "0.1.0"
