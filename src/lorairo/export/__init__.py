"""Dataset export: kohya-ss sidecars, kohya metadata JSON and JSONL, HF imagefolder, dataset TOML."""
