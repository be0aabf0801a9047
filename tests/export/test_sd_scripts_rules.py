"""Our kohya outputs, read the way kohya-ss sd-scripts reads a dataset (reproduced, not vendored).

The rules, from sd-scripts (commit 48d368f, 2026-02):
- `library/config_util.py`, `generate_dreambooth_subsets_config_by_subdirs` /
  `extract_dreambooth_params`: every sub-folder of `train_data_dir` (and of `reg_data_dir`, as
  regularisation) named `<repeats>_<class tokens>` is a subset; `int(name.split("_")[0])` is the
  repeats, the rest joined by "_" the class tokens; a folder without a number is ignored.
- `library/train_util.py`, `glob_images`: the images of a folder are the files whose extension is in
  `IMAGE_EXTENSIONS` (png, jpg, jpeg, webp, bmp, either case).
- `library/train_util.py`, `DreamBoothDataset.__init__.read_caption`: the caption is the first line
  of `splitext(image)[0] + caption_extension`, stripped; without one the class tokens are used.
- `library/train_util.py`, `FineTuningDataset.__init__`: a metadata key (JSON) or `image_path`
  (JSON Lines) is joined to the subset's `image_dir` with `os.path.join`, no extension searched.
- `library/train_util.py`, `load_image`: `Image.open(path)` then `convert("RGB")`, nothing else.
- The dataset TOML's paths are used as given, so relative ones resolve from the working directory.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageOps

from lorairo.export.options import ExportOptions
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.export_service import ExportService
from lorairo.storage.imaging import to_rgb
from tests.export.builders import Builder
from tests.export.trainer_data import CONCEPTS, TrainerData, make_trainer_data

SD_SCRIPTS_IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}


def dreambooth_subsets(base: Path, is_reg: bool) -> list[dict[str, object]]:
    subsets = []
    for folder in base.iterdir():
        if not folder.is_dir():
            continue
        tokens = folder.name.split("_")
        try:
            repeats = int(tokens[0])
        except ValueError:
            continue
        if repeats >= 1:
            subsets.append(
                {
                    "image_dir": folder,
                    "num_repeats": repeats,
                    "is_reg": is_reg,
                    "class_tokens": "_".join(tokens[1:]),
                }
            )
    return subsets


def glob_images(folder: Path) -> list[Path]:
    return sorted(path for path in folder.iterdir() if path.suffix.lower() in SD_SCRIPTS_IMAGE_EXTENSIONS)


def read_caption(image: Path, caption_extension: str) -> str | None:
    caption = Path(os.path.splitext(image)[0] + caption_extension)  # noqa: PTH122 - as sd-scripts does
    if not caption.is_file():
        return None
    return caption.read_text(encoding="utf-8").splitlines()[0].strip()


def load_image(path: Path) -> np.ndarray:
    with PILImage.open(path) as image:
        return np.asarray(image if image.mode == "RGB" else image.convert("RGB"), np.uint8)


def upright_original(data: TrainerData, name: str) -> np.ndarray:
    """What the person saw: the original, turned upright, flattened as registration does."""
    root = data.builder.project.root
    folder = "miku" if name.startswith("m_") else "women"
    [path] = (root / "images" / folder).glob(f"{name}.*")
    with PILImage.open(path) as image:
        return np.asarray(to_rgb(ImageOps.exif_transpose(image)), np.int16)


@pytest.fixture
def exported(builder: Builder, config: ConfigurationService, tmp_path: Path) -> tuple[TrainerData, Path]:
    data = make_trainer_data(builder)
    target = tmp_path / "export"
    ExportService(builder.project, config).export(
        ExportOptions(
            target=target, formats=("kohya", "kohya-json", "jsonl"), concepts=CONCEPTS, dataset_toml=True
        )
    )
    return data, target


def test_dreambooth_folders_read_as_intended(exported: tuple[TrainerData, Path]) -> None:
    data, target = exported
    train = dreambooth_subsets(target, is_reg=False)
    reg = dreambooth_subsets(target / "reg", is_reg=True)
    assert [(s["num_repeats"], s["class_tokens"]) for s in train] == [(10, "ohwx girl")]
    assert [(s["num_repeats"], s["class_tokens"]) for s in reg] == [(1, "woman")]
    seen: dict[str, str | None] = {}
    for subset in train + reg:
        folder = subset["image_dir"]
        assert isinstance(folder, Path)
        images = glob_images(folder)
        # every image file in the folder is one sd-scripts globs (a .gif would be silently dropped)
        assert {p for p in folder.iterdir() if p.suffix not in {".txt", ".caption"}} == set(images)
        for image in images:
            seen[image.stem] = read_caption(image, ".txt")
            pixels = load_image(image).astype(np.int16)
            expected = upright_original(data, image.stem)
            assert pixels.shape == expected.shape
            tolerance = 4 if image.suffix == ".jpg" else 0
            assert np.abs(pixels - expected).mean() <= tolerance, image.name
    assert seen == {
        "m_rot": "ohwx, 1girl, hatsune miku, smile",
        "m_deep": "ohwx, 1girl, hatsune miku, solo",
        "m_rgba": "ohwx, 1girl, hatsune miku",
        "w_gif": "woman, outdoors",
        "w_odd": "woman, indoors",
        "w_webp": "woman",
    }


def test_dataset_toml_and_metadata_resolve_from_the_export_folder(
    exported: tuple[TrainerData, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, target = exported
    monkeypatch.chdir(target)  # relative paths: the trainer runs from the export folder
    dreambooth = tomllib.loads(Path("dataset_config.toml").read_text())
    for subset in dreambooth["datasets"][0]["subsets"]:
        images = glob_images(Path(subset["image_dir"]))
        assert images and all(read_caption(image, subset["caption_extension"]) for image in images)
    for name, kind in (("dataset_config_json.toml", "json"), ("dataset_config_jsonl.toml", "jsonl")):
        [subset] = tomllib.loads(Path(name).read_text())["datasets"][0]["subsets"]
        metadata_file = Path(subset["metadata_file"])
        if kind == "json":
            keys = list(json.loads(metadata_file.read_text()))
            sizes = None
        else:
            lines = [json.loads(line) for line in metadata_file.read_text().splitlines()]
            keys = [line["image_path"] for line in lines]
            sizes = [line["image_size"] for line in lines]
        paths = [Path(os.path.join(subset["image_dir"], key)) for key in keys]  # noqa: PTH118 - as sd-scripts
        assert all(path.is_file() for path in paths), paths
        assert sorted(path.name for path in paths) == ["m_deep.png", "m_rgba.png", "m_rot.jpg"]
        if sizes is not None:
            for path, size in zip(paths, sizes, strict=True):
                with PILImage.open(path) as image:
                    assert list(image.size) == size
