"""Every format on a two-concept export (one regularisation), checked against each trainer's
documented structure: the exact file tree, every config key and value, captions byte for byte.
The documents cited are in each writer module's docstring."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from datasets import load_dataset
from PIL import Image as PILImage

from lorairo.errors import ValidationError
from lorairo.export.options import ExportOptions
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.export_service import ExportReport, ExportService
from tests.export.builders import Builder
from tests.export.trainer_data import CONCEPTS, TrainerData, make_trainer_data

MANIFEST = "lorairo_export.json"
TEXT = {
    "m_rot": b"ohwx, 1girl, hatsune miku, smile\n",
    "m_deep": b"ohwx, 1girl, hatsune miku, solo\n",
    "m_rgba": b"ohwx, 1girl, hatsune miku\n",
    "w_gif": b"woman, outdoors\n",
    "w_odd": b"woman, indoors\n",
    "w_webp": b"woman\n",
}
# Converted: the rotated JPEG (re-encoded upright), 16-bit and RGBA PNGs and the GIF (to PNG).
MIKU_IMAGES = {"m_rot": "m_rot.jpg", "m_deep": "m_deep.png", "m_rgba": "m_rgba.png"}
WOMEN_IMAGES = {"w_gif": "w_gif.png", "w_odd": "w_odd.jpg", "w_webp": "w_webp.webp"}


@pytest.fixture
def data(builder: Builder) -> TrainerData:
    return make_trainer_data(builder)


def export(data: TrainerData, config: ConfigurationService, target: Path, **options: Any) -> ExportReport:
    options.setdefault("concepts", CONCEPTS)
    return ExportService(data.builder.project, config).export(ExportOptions(target=target, **options))


def tree(folder: Path) -> set[str]:
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}


def folder_files(folder: str, images: dict[str, str], *, sidecars: bool = True) -> set[str]:
    files = {f"{folder}/{name}" for name in images.values()}
    if sidecars:
        files |= {f"{folder}/{stem}.txt" for stem in images}
    return files


def assert_sidecars(target: Path, folders: dict[str, str]) -> None:
    for stem, folder in folders.items():
        assert (target / folder / f"{stem}.txt").read_bytes() == TEXT[stem]


def by_folder(miku: str, women: str) -> dict[str, str]:
    return {**dict.fromkeys(MIKU_IMAGES, miku), **dict.fromkeys(WOMEN_IMAGES, women)}


def test_kohya(data: TrainerData, config: ConfigurationService, tmp_path: Path) -> None:
    target = tmp_path / "out"
    report = export(data, config, target, formats=("kohya",), dataset_toml=True)
    assert report.concepts == {"miku": 3, "women": 3} and report.converted == 4
    assert tree(target) == (
        folder_files("10_ohwx girl", MIKU_IMAGES)
        | folder_files("reg/1_woman", WOMEN_IMAGES)
        | {"10_ohwx girl/m_rot.caption", "dataset_config.toml", MANIFEST}
    )
    assert_sidecars(target, by_folder("10_ohwx girl", "reg/1_woman"))
    assert (target / "10_ohwx girl/m_rot.caption").read_bytes() == b"miku waving\n"
    assert tomllib.loads((target / "dataset_config.toml").read_text()) == {
        "general": {"shuffle_caption": True, "caption_extension": ".txt", "keep_tokens": 0},
        "datasets": [
            {
                "resolution": 1024,
                "batch_size": 1,
                "enable_bucket": True,
                "min_bucket_reso": 256,
                "max_bucket_reso": 2048,
                "bucket_reso_steps": 64,
                "bucket_no_upscale": True,
                "subsets": [
                    {
                        "image_dir": "10_ohwx girl",
                        "num_repeats": 10,
                        "is_reg": False,
                        "keep_tokens": 1,
                        "caption_extension": ".txt",
                        "class_tokens": "ohwx girl",
                    },
                    {
                        "image_dir": "reg/1_woman",
                        "num_repeats": 1,
                        "is_reg": True,
                        "keep_tokens": 0,
                        "caption_extension": ".txt",
                        "class_tokens": "woman",
                    },
                ],
            }
        ],
    }


def _ft_toml(target: Path, name: str, metadata: str) -> None:
    config_toml = tomllib.loads((target / name).read_text())
    assert config_toml["datasets"][0]["subsets"] == [
        {"image_dir": "miku", "metadata_file": metadata, "num_repeats": 10, "keep_tokens": 1}
    ]


def test_kohya_json(data: TrainerData, config: ConfigurationService, tmp_path: Path) -> None:
    target = tmp_path / "out"
    export(data, config, target, formats=("kohya-json",), dataset_toml=True)
    assert tree(target) == (
        folder_files("miku", MIKU_IMAGES, sidecars=False)
        | folder_files("reg/women", WOMEN_IMAGES, sidecars=False)
        | {"kohya_metadata_miku.json", "kohya_metadata_women.json", "dataset_config_json.toml", MANIFEST}
    )
    assert json.loads((target / "kohya_metadata_miku.json").read_text()) == {
        "m_rot.jpg": {"caption": "ohwx, miku waving", "tags": "1girl, hatsune miku, smile"},
        "m_deep.png": {"tags": "ohwx, 1girl, hatsune miku, solo"},
        "m_rgba.png": {"tags": "ohwx, 1girl, hatsune miku"},
    }
    assert json.loads((target / "kohya_metadata_women.json").read_text()) == {
        "w_gif.png": {"tags": "woman, outdoors"},
        "w_odd.jpg": {"tags": "woman, indoors"},
        "w_webp.webp": {"tags": "woman"},
    }
    # sd-scripts' fine-tuning schema has no regularisation: the reg concept is not a subset
    _ft_toml(target, "dataset_config_json.toml", "kohya_metadata_miku.json")


def test_jsonl(data: TrainerData, config: ConfigurationService, tmp_path: Path) -> None:
    target = tmp_path / "out"
    export(data, config, target, formats=("jsonl",), dataset_toml=True)
    assert tree(target) == (
        folder_files("miku", MIKU_IMAGES, sidecars=False)
        | folder_files("reg/women", WOMEN_IMAGES, sidecars=False)
        | {"kohya_metadata_miku.jsonl", "kohya_metadata_women.jsonl", "dataset_config_jsonl.toml", MANIFEST}
    )
    lines = [json.loads(line) for line in (target / "kohya_metadata_miku.jsonl").read_text().splitlines()]
    assert lines == [
        {
            "image_path": "m_rot.jpg",
            "caption": "ohwx, miku waving",
            "tags": "1girl, hatsune miku, smile",
            "image_size": [40, 60],
        },
        {
            "image_path": "m_deep.png",
            "caption": None,
            "tags": "ohwx, 1girl, hatsune miku, solo",
            "image_size": [37, 53],
        },
        {
            "image_path": "m_rgba.png",
            "caption": None,
            "tags": "ohwx, 1girl, hatsune miku",
            "image_size": [50, 30],
        },
    ]
    women = [
        json.loads(line)["image_path"]
        for line in (target / "kohya_metadata_women.jsonl").read_text().splitlines()
    ]
    assert women == ["w_gif.png", "w_odd.jpg", "w_webp.webp"]
    _ft_toml(target, "dataset_config_jsonl.toml", "kohya_metadata_miku.jsonl")


def test_hf(data: TrainerData, config: ConfigurationService, tmp_path: Path) -> None:
    target = tmp_path / "out"
    export(data, config, target, formats=("hf",))
    assert tree(target) == (
        folder_files("train/miku", MIKU_IMAGES, sidecars=False)
        | folder_files("train/reg/women", WOMEN_IMAGES, sidecars=False)
        | {"train/metadata.jsonl", MANIFEST}
    )
    dataset = load_dataset("imagefolder", data_dir=str(target), split="train")
    rows = sorted(dataset, key=lambda row: row["tags"])
    assert [
        (row["tags"], row["caption"], row["concept"], row["is_reg"], row["image"].size) for row in rows
    ] == [
        ("ohwx, 1girl, hatsune miku", None, "miku", False, (50, 30)),
        ("ohwx, 1girl, hatsune miku, smile", "miku waving", "miku", False, (40, 60)),
        ("ohwx, 1girl, hatsune miku, solo", None, "miku", False, (37, 53)),
        ("woman", None, "women", True, (70, 20)),
        ("woman, indoors", None, "women", True, (33, 77)),
        ("woman, outdoors", None, "women", True, (45, 45)),
    ]
    assert all(row["image"].mode == "RGB" for row in rows)


def test_onetrainer(data: TrainerData, config: ConfigurationService, tmp_path: Path) -> None:
    target = tmp_path / "out"
    export(data, config, target, formats=("onetrainer",))
    assert tree(target) == (
        folder_files("miku", MIKU_IMAGES)
        | folder_files("reg/women", WOMEN_IMAGES)
        | {"concepts.json", MANIFEST}
    )
    assert_sidecars(target, by_folder("miku", "reg/women"))
    common = {
        "__version": 2,
        "enabled": True,
        "include_subdirectories": False,
        "balancing_strategy": "REPEATS",
    }
    assert json.loads((target / "concepts.json").read_text()) == [
        {
            **common,
            "name": "miku",
            "path": "miku",
            "type": "STANDARD",
            "balancing": 10.0,
            "text": {"prompt_source": "sample"},
        },
        {
            **common,
            "name": "women",
            "path": "reg/women",
            "type": "PRIOR_PREDICTION",
            "balancing": 1.0,
            "text": {"prompt_source": "sample"},
        },
    ]


def test_ai_toolkit(data: TrainerData, config: ConfigurationService, tmp_path: Path) -> None:
    target = tmp_path / "out"
    export(data, config, target, formats=("ai-toolkit",), resolution=None)
    women = {**WOMEN_IMAGES, "w_webp": "w_webp.jpg"}  # ai-toolkit: PNG or JPEG only
    assert tree(target) == (
        folder_files("miku", MIKU_IMAGES)
        | folder_files("reg/women", women)
        | {"ai_toolkit_datasets.yaml", MANIFEST}
    )
    assert_sidecars(target, by_folder("miku", "reg/women"))
    for path in target.rglob("*.*"):
        if path.suffix in {".png", ".jpg"}:
            with PILImage.open(path) as image:
                assert image.format in {"PNG", "JPEG"} and image.mode == "RGB"
    assert yaml.safe_load((target / "ai_toolkit_datasets.yaml").read_text()) == {
        "datasets": [
            {
                "folder_path": "miku",
                "caption_ext": "txt",
                "resolution": [1024],
                "num_repeats": 10,
                "is_reg": False,
            },
            {
                "folder_path": "reg/women",
                "caption_ext": "txt",
                "resolution": [1024],
                "num_repeats": 1,
                "is_reg": True,
            },
        ]
    }


def test_ai_toolkit_trigger_placeholder(
    data: TrainerData, config: ConfigurationService, tmp_path: Path
) -> None:
    target = tmp_path / "out"
    export(data, config, target, formats=("ai-toolkit",), trigger_placeholder=True)
    assert (target / "miku/m_deep.txt").read_bytes() == b"[trigger], 1girl, hatsune miku, solo\n"
    assert (target / "reg/women/w_odd.txt").read_bytes() == TEXT["w_odd"]
    datasets = yaml.safe_load((target / "ai_toolkit_datasets.yaml").read_text())["datasets"]
    assert [entry.get("trigger_word") for entry in datasets] == ["ohwx", None]
    with pytest.raises(ValidationError, match="trigger-placeholder"):
        ExportOptions(formats=("ai-toolkit", "kohya"), trigger_placeholder=True)


def test_simpletuner(data: TrainerData, config: ConfigurationService, tmp_path: Path) -> None:
    target = tmp_path / "out"
    export(data, config, target, formats=("simpletuner",), resolution=None)
    assert tree(target) == (
        folder_files("miku", MIKU_IMAGES)
        | folder_files("reg/women", WOMEN_IMAGES)
        | {"multidatabackend.json", MANIFEST}
    )
    assert_sidecars(target, by_folder("miku", "reg/women"))
    common = {
        "type": "local",
        "dataset_type": "image",
        "caption_strategy": "textfile",
        "resolution": 1024,
        "resolution_type": "pixel_area",
    }
    assert json.loads((target / "multidatabackend.json").read_text()) == [
        {
            **common,
            "id": "miku",
            "instance_data_dir": "miku",
            "cache_dir_vae": "cache/vae/miku",
            "repeats": 9,
            "is_regularisation_data": False,
        },
        {
            **common,
            "id": "women",
            "instance_data_dir": "reg/women",
            "cache_dir_vae": "cache/vae/women",
            "repeats": 0,
            "is_regularisation_data": True,
        },
        {
            "id": "text-embeds",
            "type": "local",
            "dataset_type": "text_embeds",
            "default": True,
            "cache_dir": "cache/text",
        },
    ]


def test_diffusion_pipe(data: TrainerData, config: ConfigurationService, tmp_path: Path) -> None:
    target = tmp_path / "out"
    export(data, config, target, formats=("diffusion-pipe",))
    assert tree(target) == (
        folder_files("miku", MIKU_IMAGES)
        | folder_files("reg/women", WOMEN_IMAGES)
        | {"diffusion_pipe_dataset.toml", MANIFEST}
    )
    assert_sidecars(target, by_folder("miku", "reg/women"))
    assert tomllib.loads((target / "diffusion_pipe_dataset.toml").read_text()) == {
        "resolutions": [1024],
        "enable_ar_bucket": True,
        "min_ar": 0.5,
        "max_ar": 2.0,
        "num_ar_buckets": 7,
        "directory": [{"path": "miku", "num_repeats": 10}, {"path": "reg/women", "num_repeats": 1}],
    }


def test_full_path_writes_absolute_paths(
    data: TrainerData, config: ConfigurationService, tmp_path: Path
) -> None:
    target = tmp_path / "out"
    export(data, config, target, formats=("kohya-json", "diffusion-pipe"), full_path=True)
    keys = json.loads((target / "kohya_metadata_miku.json").read_text())
    assert sorted(keys) == sorted(str(target / "miku" / name) for name in MIKU_IMAGES.values())
    directories = tomllib.loads((target / "diffusion_pipe_dataset.toml").read_text())["directory"]
    assert [entry["path"] for entry in directories] == [str(target / "miku"), str(target / "reg/women")]


def test_keep_originals_copies_bytes(data: TrainerData, config: ConfigurationService, tmp_path: Path) -> None:
    target = tmp_path / "out"
    report = export(data, config, target, formats=("kohya",), keep_originals=True)
    assert report.converted == 0
    root = data.builder.project.root / "images"
    assert (target / "10_ohwx girl/m_rot.jpg").read_bytes() == (root / "miku/m_rot.jpg").read_bytes()
    assert (target / "reg/1_woman/w_gif.gif").read_bytes() == (root / "women/w_gif.gif").read_bytes()
    plain = tmp_path / "plain"
    export(data, config, plain, formats=("kohya",))
    # already training-safe: copied as is even without --keep-originals
    assert (plain / "reg/1_woman/w_odd.jpg").read_bytes() == (root / "women/w_odd.jpg").read_bytes()


def test_simpletuner_parquet_captions(
    data: TrainerData, config: ConfigurationService, tmp_path: Path
) -> None:
    target = tmp_path / "out"
    export(data, config, target, formats=("simpletuner",), simpletuner_captions="parquet")
    captions = {"simpletuner_captions_miku.jsonl", "simpletuner_captions_women.jsonl"}
    assert tree(target) == (
        folder_files("miku", MIKU_IMAGES, sidecars=False)
        | folder_files("reg/women", WOMEN_IMAGES, sidecars=False)
        | captions
        | {"multidatabackend.json", MANIFEST}
    )
    miku, women, _ = json.loads((target / "multidatabackend.json").read_text())
    assert miku["caption_strategy"] == "parquet" and miku["metadata_backend"] == "parquet"
    assert miku["parquet"] == {
        "path": "simpletuner_captions_miku.jsonl",
        "filename_column": "filename",
        "caption_column": "caption",
        "width_column": "width",
        "height_column": "height",
        "identifier_includes_extension": True,
    }
    assert women["parquet"]["path"] == "simpletuner_captions_women.jsonl"
    rows = [
        json.loads(line) for line in (target / "simpletuner_captions_miku.jsonl").read_text().splitlines()
    ]
    assert rows == [
        {"filename": "m_rot.jpg", "caption": "ohwx, 1girl, hatsune miku, smile", "width": 40, "height": 60},
        {"filename": "m_deep.png", "caption": "ohwx, 1girl, hatsune miku, solo", "width": 37, "height": 53},
        {"filename": "m_rgba.png", "caption": "ohwx, 1girl, hatsune miku", "width": 50, "height": 30},
    ]
    for row in rows:  # the recorded size is the exported file's, so SimpleTuner's buckets are right
        with PILImage.open(target / "miku" / row["filename"]) as image:
            assert image.size == (row["width"], row["height"])


def test_hf_parquet_shards(data: TrainerData, config: ConfigurationService, tmp_path: Path) -> None:
    target = tmp_path / "out"
    export(data, config, target, formats=("hf",), hf_parquet=True)
    assert {name for name in tree(target) if name.startswith("data/")} == {"data/train-00000.parquet"}
    dataset = load_dataset("parquet", data_dir=str(target / "data"), split="train")
    rows = list(dataset)
    assert [(row["tags"], row["concept"], row["is_reg"], row["image"].size) for row in rows] == [
        ("ohwx, 1girl, hatsune miku, smile", "miku", False, (40, 60)),
        ("ohwx, 1girl, hatsune miku, solo", "miku", False, (37, 53)),
        ("ohwx, 1girl, hatsune miku", "miku", False, (50, 30)),
        ("woman, outdoors", "women", True, (45, 45)),
        ("woman, indoors", "women", True, (33, 77)),
        ("woman", "women", True, (70, 20)),
    ]
    embedded = rows[4]["image"]
    with PILImage.open(target / "train/reg/women/w_odd.jpg") as exported:
        assert embedded.tobytes() == exported.tobytes()
    with pytest.raises(ValidationError, match="hf-parquet"):
        ExportOptions(formats=("kohya",), hf_parquet=True)
