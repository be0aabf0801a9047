"""Image embedders on tiny models with real exports' signatures: the vector is a known function of
the pixels (CLIP preprocessing, then channel means times a projection), the text vector a known
function of the token ids, so "similar" and "matches the words" have right answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from real_signatures import (
    build_clip_encoder,
    build_clip_text_encoder,
    build_linear_tagger,
    write_state_dict,
    write_word_tokenizer,
)

from image_annotator_lib.core.base import ModelSpec
from image_annotator_lib.exceptions import ModelLoadError
from image_annotator_lib.local.aesthetic_scorer import AestheticScorer
from image_annotator_lib.local.image_embedder import ImageEmbedder
from image_annotator_lib.registry import BUILTIN_SPECS, ModelRegistry

CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073])
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711])
RNG = np.random.default_rng(5)
WIDTH = 6
WORDS = ("red", "green", "blue", "dress", "beach")
COLOURS = {"red": (230, 20, 20), "green": (20, 230, 20), "blue": (20, 20, 230)}


def clip_vector(colour: tuple[int, int, int], projection: np.ndarray) -> np.ndarray:
    vector = ((np.array(colour) / 255 - CLIP_MEAN) / CLIP_STD) @ projection.astype(np.float64)
    return vector / np.linalg.norm(vector)


def clip_folder(tmp_path: Path, projection: np.ndarray) -> Path:
    """Xenova's layout: `onnx/vision_model.onnx`, `onnx/text_model.onnx`, `tokenizer.json`; the
    text table maps each colour word to its colour's image vector, other words to nothing."""
    folder = tmp_path / "clip"
    build_clip_encoder(folder / "onnx" / "vision_model.onnx", projection)
    table = np.zeros((len(WORDS) + 1, projection.shape[1]), np.float32)
    for index, word in enumerate(WORDS, start=1):
        if word in COLOURS:
            table[index] = clip_vector(COLOURS[word], projection)
    build_clip_text_encoder(folder / "onnx" / "text_model.onnx", table, attention_mask=True)
    write_word_tokenizer(folder / "tokenizer.json", WORDS)
    return folder


def embedder_from_config(tmp_path: Path, folder: Path, extra: str = "") -> ImageEmbedder:
    config = tmp_path / "annotator_config.toml"
    config.write_text(
        f'[my-clip]\nclass = "ImageEmbedder"\nmodel_path = "{folder.as_posix()}"\ninput_size = 32\n'
        'text_encoder_file = "onnx/text_model.onnx"\ntokenizer_file = "tokenizer.json"\n' + extra,
        encoding="utf-8",
    )
    embedder = ModelRegistry(config_path=config).get("my-clip")
    assert isinstance(embedder, ImageEmbedder)
    return embedder


def test_vectors_are_the_unit_image_embeds_of_the_pixels(tmp_path: Path) -> None:
    projection = RNG.normal(0, 1, (3, WIDTH)).astype(np.float32)
    embedder = embedder_from_config(tmp_path, clip_folder(tmp_path, projection))
    sizes = [(48, 32), (20, 90), (64, 64)]  # aspect ratios differ; solid colours survive the crop
    images = [Image.new("RGB", size, colour) for size, colour in zip(sizes, COLOURS.values(), strict=True)]
    results = embedder.annotate_batch([*images, Image.new("L", (40, 30), 128)])
    for colour, result in zip(COLOURS.values(), results[:3], strict=True):
        assert result.embedding is not None
        assert result.embedding.dtype == np.float32
        assert np.linalg.norm(result.embedding) == pytest.approx(1.0, abs=1e-5)
        assert np.allclose(result.embedding, clip_vector(colour, projection), atol=1e-4)
    assert np.allclose(results[3].embedding, clip_vector((128, 128, 128), projection), atol=1e-4)
    assert embedder.dimensions == WIDTH
    assert embedder.kind == "embedder"


def test_the_nearest_image_by_cosine_is_the_one_of_the_same_colour(tmp_path: Path) -> None:
    projection = RNG.normal(0, 1, (3, WIDTH)).astype(np.float32)
    embedder = embedder_from_config(tmp_path, clip_folder(tmp_path, projection))
    shades = [(230, 20, 20), (20, 20, 230), (225, 30, 25), (25, 25, 220)]
    vectors = np.stack(
        [r.embedding for r in embedder.annotate_batch([Image.new("RGB", (32, 32), c) for c in shades])]
    )
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -2)
    assert list(similarity.argmax(axis=1)) == [2, 3, 0, 1]


def test_text_ranks_the_images_of_its_words(tmp_path: Path) -> None:
    projection = RNG.normal(0, 1, (3, WIDTH)).astype(np.float32)
    embedder = embedder_from_config(tmp_path, clip_folder(tmp_path, projection))
    images = {name: clip_vector(colour, projection) for name, colour in COLOURS.items()}
    texts = embedder.embed_text(["red dress on a beach", "blue", "green dress"])
    assert texts.shape == (3, WIDTH)
    for text, expected in zip(texts, ("red", "blue", "green"), strict=True):
        assert np.allclose(text, images[expected], atol=1e-5)
        assert max(images, key=lambda name: float(images[name] @ text)) == expected


def test_an_export_with_one_unnamed_2d_output_is_read(tmp_path: Path) -> None:
    """A SigLIP-style export whose only 2-D output is not called image_embeds (here NHWC, fixed batch 1)."""
    weights = RNG.normal(0, 1, (3, WIDTH)).astype(np.float32)
    build_linear_tagger(
        tmp_path / "siglip" / "model.onnx", weights, np.zeros(WIDTH), batch=1, outputs=("logits",)
    )
    embedder = ImageEmbedder(
        ModelSpec(
            "siglip",
            "ImageEmbedder",
            str(tmp_path / "siglip"),
            options={"model_file": "model.onnx", "mean": None, "std": None, "value_range": "0..1"},
        )
    )
    colours = [(200, 10, 10), (10, 10, 200)]
    results = embedder.annotate_batch([Image.new("RGB", (16, 16), c) for c in colours])
    for colour, result in zip(colours, results, strict=True):
        expected = (np.array(colour) / 255) @ weights
        assert np.allclose(result.embedding, expected / np.linalg.norm(expected), atol=1e-4)


def test_several_unnamed_2d_outputs_need_output_name(tmp_path: Path) -> None:
    weights = RNG.normal(0, 1, (3, WIDTH)).astype(np.float32)
    build_linear_tagger(
        tmp_path / "m" / "model.onnx",
        weights,
        np.zeros(WIDTH),
        outputs=("logits",),
        extra_outputs=[("pooled", 4)],
    )
    spec = ModelSpec("m", "ImageEmbedder", str(tmp_path / "m"), options={"model_file": "model.onnx"})
    with pytest.raises(ModelLoadError, match="set output_name"):
        ImageEmbedder(spec).load()
    named = ImageEmbedder(
        ModelSpec("m", "ImageEmbedder", spec.model_path, options={**spec.options, "output_name": "pooled"})
    )
    [result] = named.annotate_batch([Image.new("RGB", (16, 16), (9, 9, 9))])
    assert result.embedding is not None and result.embedding.shape == (4,)


def test_text_search_without_a_text_encoder_is_a_clear_error(tmp_path: Path) -> None:
    projection = RNG.normal(0, 1, (3, WIDTH)).astype(np.float32)
    build_clip_encoder(tmp_path / "c" / "onnx" / "vision_model.onnx", projection)
    embedder = ImageEmbedder(ModelSpec("c", "ImageEmbedder", str(tmp_path / "c")))
    with pytest.raises(ModelLoadError, match="has no text encoder"):
        embedder.embed_text(["red"])


def test_a_broken_image_fails_alone(tmp_path: Path) -> None:
    projection = RNG.normal(0, 1, (3, WIDTH)).astype(np.float32)
    embedder = embedder_from_config(tmp_path, clip_folder(tmp_path, projection))
    whole = tmp_path / "whole.png"
    Image.new("RGB", (64, 64), (5, 6, 7)).save(whole)
    (tmp_path / "cut.png").write_bytes(whole.read_bytes()[:60])
    broken = Image.open(tmp_path / "cut.png")  # opened lazily, as the app does: decoding fails in prepare
    results = embedder.annotate_batch([Image.new("RGB", (32, 32), (1, 2, 3)), broken])
    assert results[0].ok and results[0].embedding is not None
    assert not results[1].ok and results[1].embedding is None


def test_a_scorer_on_the_same_encoder_scores_stored_vectors_as_it_scores_pixels(tmp_path: Path) -> None:
    projection = RNG.normal(0, 1, (3, WIDTH)).astype(np.float32)
    folder = clip_folder(tmp_path, projection)
    head = {
        "fc.weight": RNG.normal(0, 1, (1, WIDTH)).astype(np.float32),
        "fc.bias": np.array([0.3], np.float32),
    }
    write_state_dict(tmp_path / "head" / "head.pth", head)
    shared = {"input_size": 32}
    embedder = ImageEmbedder(ModelSpec("e", "ImageEmbedder", str(folder), options=shared))
    scorer_spec = ModelSpec(
        "s",
        "AestheticScorer",
        str(folder),
        options={
            **shared,
            "encoder_file": "onnx/vision_model.onnx",
            "head_path": str(tmp_path / "head"),
            "head_file": "head.pth",
        },
    )
    assert AestheticScorer.reuse_key(scorer_spec) == ImageEmbedder.reuse_key(embedder.spec)
    scorer = AestheticScorer(scorer_spec)
    images = [Image.new("RGB", (40, 30), c) for c in COLOURS.values()]
    vectors = np.stack([r.embedding for r in embedder.annotate_batch(images)]).astype(np.float16)
    from_pixels = [r.score for r in scorer.annotate_batch(images)]
    from_vectors = [r.score for r in scorer.score_embeddings(vectors)]
    assert from_vectors == pytest.approx(from_pixels, abs=2e-3)  # float16 storage
    other = ModelSpec(
        "s2", "AestheticScorer", str(folder), options={**scorer_spec.options, "resize": "stretch"}
    )
    assert AestheticScorer.reuse_key(other) != ImageEmbedder.reuse_key(embedder.spec)


def test_builtin_clip_b32_embedder_shares_waifu_aesthetic_encoder() -> None:
    specs = {spec.name: spec for spec in BUILTIN_SPECS}
    embed = specs["clip-vit-b32-embed"]
    assert embed.class_name == "ImageEmbedder"
    assert ImageEmbedder.reuse_key(embed) == AestheticScorer.reuse_key(specs["waifu-aesthetic"])
    assert AestheticScorer.reuse_key(specs["anime-aesthetic"]) is None  # one file, no separate head
