"""Local ONNX Runtime models: WD taggers and CLIP + MLP aesthetic scorers."""
