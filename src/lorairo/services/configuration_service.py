"""Edits to `lorairo.toml`: the settings service the CLI and GUI hold.

Reading lives in `lorairo.config` so lower layers can use settings; this service adds the
comment-preserving, validated writes.
"""

from __future__ import annotations

from typing import Any

import tomlkit

from lorairo.config import Settings, write_private


class ConfigurationService(Settings):
    """The loaded settings plus validated, comment-preserving saves (mode 0600)."""

    # -- writing -------------------------------------------------------------------------------

    def update_setting(self, section: str, key: str, value: Any) -> None:
        """Validate, apply and save one setting immediately, keeping the file's comments.

        `section` may be dotted for nested tables, e.g. `ai_providers.local`.
        """
        parts = section.split(".")
        data = self._document.unwrap()
        node = data
        for part in parts:
            node = node.setdefault(part, {})
        node[key] = value
        validated = self._validate(data)
        previous, self.config = self.config, validated.model_copy(deep=True)
        try:
            self._apply_environment()
            self._check_directories()
        finally:
            self.config = previous
        normalised: Any = validated.model_dump()
        for part in parts:
            normalised = normalised[part]
        value = normalised[key]  # save what was validated, e.g. "debug" as "DEBUG"
        table: Any = self._document
        for part in parts:
            if part not in table:
                table[part] = tomlkit.table(is_super_table=part == "ai_providers")
            table = table[part]
        table[key] = value
        write_private(self.path, tomlkit.dumps(self._document))
        self.config = validated
        self._apply_environment()
        self._register_secrets()
