"""The bridge between LoRAIro and image-annotator-lib."""
