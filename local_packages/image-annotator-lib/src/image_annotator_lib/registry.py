"""Which models exist and how to build them: built-in WD taggers plus `annotator_config.toml`.

Entries are `ModelSpec`s naming an annotator class by name, so the config file (and provider
modules, through `register_class`) can add models without this module knowing them. A config table
named like a built-in overrides only the keys it sets, e.g. just `general_threshold`.
"""

from __future__ import annotations

import threading
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from image_annotator_lib.core.base import Annotator, ModelSpec
from image_annotator_lib.exceptions import AnnotatorLibError, ModelNotFoundError
from image_annotator_lib.local.aesthetic_scorer import AestheticScorer
from image_annotator_lib.local.base import LocalOnnxAnnotator
from image_annotator_lib.local.image_embedder import ImageEmbedder
from image_annotator_lib.local.session_cache import SessionCache
from image_annotator_lib.local.wd_tagger import WDTagger
from image_annotator_lib.model_files import FileProgress, size_on_disk

# SmilingWolf's taggers (https://huggingface.co/SmilingWolf): `model.onnx` + `selected_tags.csv`,
# NHWC 448 BGR 0..255 on white, sigmoid inside the graph. The v1/v2 exports fix the batch at 1
# (kohya-ss/sd-scripts PR #864); the signature reader turns that into the chunk size.
WD_TAGGERS = (
    "wd-vit-tagger-v3",
    "wd-swinv2-tagger-v3",
    "wd-convnext-tagger-v3",
    "wd-vit-large-tagger-v3",
    "wd-eva02-large-tagger-v3",
    "wd-v1-4-moat-tagger-v2",
    "wd-v1-4-swinv2-tagger-v2",
    "wd-v1-4-convnext-tagger-v2",
    "wd-v1-4-convnextv2-tagger-v2",
    "wd-v1-4-vit-tagger-v2",
    "wd-v1-4-convnext-tagger",
    "wd-v1-4-vit-tagger",
)
# Built-in names carry no dots: `[pixai-tagger-v0.9]` in TOML would be a nested table.
_RGB_MINUS1 = {"channel_order": "RGB", "value_range": "-1..1"}
_CLIP_L14 = {"encoder_path": "Xenova/clip-vit-large-patch14", "encoder_file": "onnx/vision_model.onnx"}
_CLIP_B32 = {"encoder_path": "Xenova/clip-vit-base-patch32", "encoder_file": "onnx/vision_model.onnx"}
BUILTIN_SPECS: tuple[ModelSpec, ...] = (
    *(ModelSpec(name=name, class_name="WDTagger", model_path=f"SmilingWolf/{name}") for name in WD_TAGGERS),
    # deepghs' idolsankaku taggers: WD's training recipe on idol.sankakucomplex, WD's file layout
    # (https://huggingface.co/deepghs/idolsankaku-swinv2-tagger-v1, ...-eva02-large-tagger-v1).
    ModelSpec("idolsankaku-swinv2-tagger-v1", "WDTagger", "deepghs/idolsankaku-swinv2-tagger-v1"),
    ModelSpec("idolsankaku-eva02-large-tagger-v1", "WDTagger", "deepghs/idolsankaku-eva02-large-tagger-v1"),
    # toynya/Z3D-E621-Convnext: WD-style input (white pad, BGR 0..255, 448), output
    # `predictions_sigmoid`, labels in `tags-selected.csv` (a `name` column) with e621 codes.
    ModelSpec(
        "z3d-e621-convnext",
        "WDTagger",
        "toynya/Z3D-E621-Convnext",
        options={"labels_file": "tags-selected.csv", "category_codes": "e621"},
    ),
    # Camais03/camie-tagger-v2: `camie-tagger-v2.onnx` + `camie-tagger-v2-metadata.json`
    # (dataset_info.tag_mapping), RGB 0..1 NCHW 512 on black, logits -> sigmoid; the refined head
    # is `refined_predictions` (the initial one has the same width).
    ModelSpec(
        "camie-tagger-v2",
        "WDTagger",
        "Camais03/camie-tagger-v2",
        options={
            "model_file": "camie-tagger-v2.onnx",
            "labels_file": "camie-tagger-v2-metadata.json",
            "labels_format": "json",
            "channel_order": "RGB",
            "value_range": "0..1",
            "pad_color": "black",
            "input_size": 512,
            "apply_sigmoid": True,
            "output_name": "refined_predictions",
        },
    ),
    # deepghs/pixai-tagger-v0.9-onnx (ONNX export of pixai-labs/pixai-tagger-v0.9): `model.onnx` +
    # `selected_tags.csv`, RGB normalised with mean = std = 0.5 (-1..1), 448, probabilities in
    # output `prediction` (beside `logits` and `embedding`).
    ModelSpec(
        "pixai-tagger",
        "WDTagger",
        "deepghs/pixai-tagger-v0.9-onnx",
        options={**_RGB_MINUS1, "output_name": "prediction"},
    ),
    # cella110n/cl_tagger, version 1.02: files under `cl_tagger_1_02/`, `tag_mapping.json` of
    # {"idx": {"tag", "category"}}, white pad, BGR -1..1, 448, logits -> sigmoid. Releases that
    # keep weights in ONNX external data list `<dir>/model.onnx.data` under `extra_files`.
    ModelSpec(
        "cl-tagger",
        "WDTagger",
        "cella110n/cl_tagger",
        options={
            "model_file": "cl_tagger_1_02/model.onnx",
            "labels_file": "cl_tagger_1_02/tag_mapping.json",
            "value_range": "-1..1",
            "apply_sigmoid": True,
        },
    ),
    # DeepDanbooru v3 through skytnt/deepdanbooru_onnx (no TensorFlow): `deepdanbooru.onnx` +
    # `tags.txt` (ratings as `rating:*`), RGB 0..1, 512, NHWC, aspect kept and padded.
    ModelSpec(
        "deepdanbooru-v3",
        "WDTagger",
        "skytnt/deepdanbooru_onnx",
        options={
            "model_file": "deepdanbooru.onnx",
            "labels_file": "tags.txt",
            "channel_order": "RGB",
            "value_range": "0..1",
            "pad_color": "black",
            "input_size": 512,
        },
    ),
    # LAION improved-aesthetic-predictor (christophschuhmann/improved-aesthetic-predictor, Apache-2.0;
    # HF mirror camenduru/improved-aesthetic-predictor) on CLIP ViT-L/14 (Xenova's optimum export),
    # L2-normalised embeddings, linear MLP 768->1024->128->64->16->1, about 1-10.
    ModelSpec(
        "improved-aesthetic",
        "AestheticScorer",
        "camenduru/improved-aesthetic-predictor",
        options={**_CLIP_L14, "head_file": "sac+logos+ava1-l14-linearMSE.pth"},
    ),
    # waifu-diffusion's aesthetic classifier (github.com/waifu-diffusion/aesthetic; weights at
    # hakurei/waifu-diffusion-v1-4 models/aes-B32-v0.pth): fc1..fc3 with ReLU and a final sigmoid on
    # L2-normalised CLIP ViT-B/32 embeddings; 0-1.
    ModelSpec(
        "waifu-aesthetic",
        "AestheticScorer",
        "hakurei/waifu-diffusion-v1-4",
        options={
            **_CLIP_B32,
            "head_file": "models/aes-B32-v0.pth",
            "head_relu": True,
            "head_sigmoid": True,
            "score_scale_max": 1.0,
        },
    ),
    # skytnt/anime-aesthetic: one `model.onnx` (input `img`, NCHW 768, RGB 0..1, aspect kept on
    # black), output 0-1.
    ModelSpec(
        "anime-aesthetic",
        "AestheticScorer",
        "skytnt/anime-aesthetic",
        options={
            "encoder_file": "model.onnx",
            "head_file": "",
            "mean": None,
            "std": None,
            "resize": "pad-to-square",
            "pad_color": "black",
            "input_size": 768,
            "score_scale_max": 1.0,
        },
    ),
    # OpenAI CLIP ViT-B/32 through Xenova's optimum export (https://huggingface.co/Xenova/clip-vit-base-patch32):
    # `onnx/vision_model.onnx` (`pixel_values` -> `image_embeds` [batch, 512]) for image vectors,
    # `onnx/text_model.onnx` (`input_ids` -> `text_embeds`) + `tokenizer.json` for text search. The
    # vision file is waifu-aesthetic's encoder, so that scorer reuses these stored vectors.
    ModelSpec(
        "clip-vit-b32-embed",
        "ImageEmbedder",
        _CLIP_B32["encoder_path"],
        options={
            "model_file": _CLIP_B32["encoder_file"],
            "text_encoder_file": "onnx/text_model.onnx",
            "tokenizer_file": "tokenizer.json",
        },
    ),
)
_RESERVED_KEYS = {"class", "model_path", "provider"}

_classes: dict[str, type[Annotator]] = {
    "WDTagger": WDTagger,
    "AestheticScorer": AestheticScorer,
    "ImageEmbedder": ImageEmbedder,
}


class AnnotatorConfigError(AnnotatorLibError):
    """`annotator_config.toml` cannot be read, or an entry names an unknown class."""


def register_class(name: str, cls: type[Annotator]) -> None:
    """Make `class = "<name>"` usable in specs (provider modules call this on import)."""
    _classes[name] = cls


def annotator_class(class_name: str) -> type[Annotator]:
    try:
        return _classes[class_name]
    except KeyError:
        known = ", ".join(sorted(_classes))
        raise AnnotatorConfigError(f"unknown annotator class {class_name!r} (known: {known})") from None


def specs_from_config(data: Mapping[str, Any], base: Mapping[str, ModelSpec]) -> list[ModelSpec]:
    """One spec per table; a table named like an existing spec inherits what it does not set."""
    specs = []
    for name, table in data.items():
        if not isinstance(table, Mapping):
            raise AnnotatorConfigError(f"[{name}] must be a table of settings")
        inherited = base.get(name)
        class_name = table.get("class", inherited.class_name if inherited else None)
        if not class_name:
            raise AnnotatorConfigError(f'[{name}] needs class = (e.g. "WDTagger")')
        options = dict(inherited.options) if inherited else {}
        options.update({k: v for k, v in table.items() if k not in _RESERVED_KEYS})
        specs.append(
            ModelSpec(
                name=name,
                class_name=str(class_name),
                model_path=str(table.get("model_path", inherited.model_path if inherited else "")),
                provider=table.get("provider", inherited.provider if inherited else None),
                options=options,
            )
        )
    return specs


def load_annotator_config(path: Path, base: Mapping[str, ModelSpec]) -> list[ModelSpec]:
    if not path.is_file():
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise AnnotatorConfigError(f"cannot read {path}: {exc}") from exc
    try:
        return specs_from_config(data, base)
    except AnnotatorConfigError as exc:
        raise AnnotatorConfigError(f"{path}: {exc}") from exc


@dataclass(frozen=True)
class ModelInfo:
    """What `annotate models` shows. `installed`/`size_bytes` are None for API models."""

    name: str
    class_name: str
    kind: str
    is_api: bool
    provider: str | None
    model_path: str
    installed: bool | None
    size_bytes: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ModelRegistry:
    """Specs by name and one reusable `Annotator` per model. `default_options` (thresholds,
    storage floor, device from the app's settings) sit under each local model's own options."""

    def __init__(
        self,
        specs: Iterable[ModelSpec] = BUILTIN_SPECS,
        *,
        config_path: Path | None = None,
        default_options: Mapping[str, Any] | None = None,
        session_cache: SessionCache | None = None,
    ) -> None:
        self._specs: dict[str, ModelSpec] = {spec.name: spec for spec in specs}
        self.default_options = dict(default_options or {})
        self.session_cache = session_cache
        self._annotators: dict[str, Annotator] = {}
        self._lock = threading.Lock()
        if config_path is not None:
            for spec in load_annotator_config(config_path, self._specs):
                self.add_spec(spec)

    register_class = staticmethod(register_class)

    def add_spec(self, spec: ModelSpec) -> None:
        """Add or replace an entry; a cached annotator of that name is dropped."""
        with self._lock:
            self._specs[spec.name] = spec
            self._annotators.pop(spec.name, None)

    def names(self) -> list[str]:
        return list(self._specs)

    def spec(self, name: str) -> ModelSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise ModelNotFoundError(
                f"no model named {name!r}; `lorairo annotate models` lists them"
            ) from None

    def create(self, name: str) -> Annotator:
        """A new, unloaded annotator for `name`, with the default options filled in."""
        spec = self.spec(name)
        cls = annotator_class(spec.class_name)
        if issubclass(cls, LocalOnnxAnnotator):
            spec = replace(spec, options={**self.default_options, **spec.options})
            return cls(spec, self.session_cache)
        return cls(spec)

    def get(self, name: str) -> Annotator:
        """The shared annotator for `name` (created on first use; `load` is left to the caller)."""
        with self._lock:
            annotator = self._annotators.get(name)
        if annotator is None:
            annotator = self.create(name)
            with self._lock:
                annotator = self._annotators.setdefault(name, annotator)
        return annotator

    def info(self, name: str) -> ModelInfo:
        spec = self.spec(name)
        cls = annotator_class(spec.class_name)
        installed: bool | None = None
        size: int | None = None
        annotator = self.get(name)
        if isinstance(annotator, LocalOnnxAnnotator):
            files = annotator.installed_files()
            installed = files is not None
            size = size_on_disk(files) if files else None
        return ModelInfo(
            name=spec.name,
            class_name=spec.class_name,
            kind=getattr(cls, "kind", "unknown"),
            is_api=cls.is_api,
            provider=spec.provider,
            model_path=spec.model_path,
            installed=installed,
            size_bytes=size,
        )

    def list_models(self) -> list[ModelInfo]:
        return [self.info(name) for name in self._specs]

    def install(self, name: str, progress: FileProgress | None = None) -> ModelInfo:
        """Download a local model's files now, so later runs (and offline ones) need no network."""
        annotator = self.get(name)
        if isinstance(annotator, LocalOnnxAnnotator):
            annotator.install(progress)
        return self.info(name)
