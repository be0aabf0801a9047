"""`annotate run --dry-run`: how many images and requests a run would make, and the estimated
input tokens, computed from the database alone: nothing is sent and nothing is written."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from image_annotator_lib.providers.base import VisionProvider
from image_annotator_lib.providers.estimate import request_tokens
from image_annotator_lib.providers.prompt import build_prompt
from image_annotator_lib.providers.styles import CaptionStyle
from lorairo.annotations.ai_annotator import load_annotator
from lorairo.annotations.caption_styles import with_style
from lorairo.annotations.provider_settings import resolve_provider_model
from lorairo.database.run_repository import RunRepository
from lorairo.errors import ValidationError
from lorairo.services.annotation_service import AnnotationService, Selection, _describe

NO_MODEL_ROW = -1  # a model that never ran has no row: every image is "missing" for it


@dataclass
class ModelPlan:
    name: str
    api: bool
    images: int = 0
    requests: int = 0
    estimated_input_tokens: int = 0


@dataclass
class AnnotationPlan:
    project: str
    selection: str
    style: str | None = None
    models: list[ModelPlan] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(model.requests for model in self.models)

    @property
    def estimated_input_tokens(self) -> int:
        return sum(model.estimated_input_tokens for model in self.models)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {
            "dry_run": True,
            "requests": self.requests,
            "estimated_input_tokens": self.estimated_input_tokens,
        }


def plan_run(
    service: AnnotationService,
    model_names: Sequence[str],
    selection: Selection = "missing",
    *,
    style: CaptionStyle | None = None,
    trigger: str = "",
    retry_violations: bool = False,
) -> AnnotationPlan:
    """One request per image for an API model (retries not counted: they depend on the server)."""
    names = list(dict.fromkeys(model_names))
    if not names:
        raise ValidationError("name at least one model (-m); `lorairo annotate models` lists them")
    mode, ids = _describe(selection)
    plan = AnnotationPlan(service.project.name, mode, f"{style.name}@{style.hash}" if style else None)
    runs = RunRepository()
    for name in names:
        if (
            name not in service.registry.names()
            and resolve_provider_model(service.registry, service.config, name) is None
        ):
            raise ValidationError(f"unknown model {name!r}; `lorairo annotate models` lists them")
        is_api = service.registry.spec(name).provider is not None
        annotator = load_annotator(service.registry, name) if is_api else None  # local: nothing to load
        if annotator is not None and style is not None:
            annotator = with_style(annotator, style)
        model = ModelPlan(name, is_api)
        plan.models.append(model)
        model_id = service.repository.model_id(name) or NO_MODEL_ROW
        for page in service.repository.iter_selection(model_id, mode, ids, page_size=500):
            page_ids = [ref.id for ref in page]
            if is_api and not retry_violations and model_id != NO_MODEL_ROW:
                refused = service.repository.check_policy_violations(page_ids, name)
                page_ids = [i for i in page_ids if i not in refused]
            model.images += len(page_ids)
            if not isinstance(annotator, VisionProvider):
                continue
            model.requests += len(page_ids)
            with service.project.database.read_session() as session:
                sizes = runs.image_sizes(session, page_ids)
                wanted = style is not None and "existing_tags" in style.placeholders
                tags = runs.accepted_tags(session, page_ids) if wanted else {}
            for image_id in page_ids:
                values = {"trigger": trigger, "existing_tags": ", ".join(tags.get(image_id, []))}
                prompt = build_prompt(annotator.prompt_options, values)
                width, height = sizes[image_id]
                model.estimated_input_tokens += request_tokens(annotator.settings.kind, prompt, width, height)
    return plan
