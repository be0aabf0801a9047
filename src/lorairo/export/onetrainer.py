"""OneTrainer: `concepts.json`, the concept list its UI and `train.py --config` load.

Follows OneTrainer `modules/util/config/ConceptConfig.py` (`ConceptConfig.default_values`,
`config_version=2`, so `__version` 2): `name`, `path`, `enabled`, `type` (`STANDARD`, or
`PRIOR_PREDICTION` for regularisation, from `modules/util/enum/ConceptType.py`),
`include_subdirectories`, `balancing` with `balancing_strategy` "REPEATS" for the repeats, and
`text.prompt_source` "sample", which reads the `<stem>.txt` beside each image
(`modules/dataLoader/mixin/DataLoaderText2ImageMixin.py`). Keys left out take OneTrainer's defaults.
"""

from __future__ import annotations

import json
from typing import Any

from lorairo.export.item import ExportItem
from lorairo.export.options import ExportOptions
from lorairo.export.staging import Staging

ONETRAINER_NAME = "concepts.json"


def render_concepts(options: ExportOptions, staging: Staging) -> list[dict[str, Any]]:
    return [
        {
            "__version": 2,
            "name": concept.name,
            "path": options.config_path(options.folder_of(concept), staging.target),
            "enabled": True,
            "type": "PRIOR_PREDICTION" if concept.is_reg else "STANDARD",
            "include_subdirectories": False,
            "balancing": float(concept.repeats),
            "balancing_strategy": "REPEATS",
            "text": {"prompt_source": "sample"},
        }
        for concept in options.plan
    ]


class OneTrainerWriter:
    def __init__(self, staging: Staging, options: ExportOptions) -> None:
        self.staging = staging
        self.options = options

    def add(self, item: ExportItem) -> None:
        """The concept list describes folders; captions are the shared sidecars."""

    def close(self) -> None:
        text = json.dumps(render_concepts(self.options, self.staging), ensure_ascii=False, indent=2)
        self.staging.write_text(ONETRAINER_NAME, text + "\n")
