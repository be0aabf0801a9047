"""The app's door to the tag database (`[tags]` settings, `ConfigurationService.tag_db_dir`).

Without a tag database every method degrades to pure cleaning, so saving tags never depends on
one being installed. With one, model and sidecar tags are stored in their preferred spelling
(`normalize_for_storage`, raw form kept beside it) while manual tags stay as typed and only get a
suggestion (`suggest_for_manual`).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from genai_tag_db_tools.cleaning import clean_tag
from genai_tag_db_tools.db.database import BASE_FILE, OVERLAY_FILE, TagDatabase, TagDatabaseError
from genai_tag_db_tools.hub import DEFAULT_FILENAME, fetch_base_file
from genai_tag_db_tools.importers import (
    FILE_FORMATS,
    FileFormat,
    ImportRefused,
    ImportReport,
    detect_format,
    import_records,
    read_file,
    read_genai_sqlite,
)
from genai_tag_db_tools.normalize import NormalizedTag, NormalizeResult
from genai_tag_db_tools.search import TagSuggestion
from lorairo.errors import LoRAIroException, ValidationError
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.progress import CancelToken, ProgressCallback, no_progress


class TagDatabaseUnavailable(LoRAIroException):
    """The tag database cannot be installed or read (e.g. offline and never downloaded)."""


@dataclass(frozen=True, slots=True)
class StoredTag:
    """What a save path writes: `tag` (normalised), `raw_tag` (as the source said it), `type`."""

    tag: str
    raw_tag: str
    type: str | None


@dataclass(frozen=True)
class InstallReport:
    repo_id: str
    filename: str
    downloaded_file: str
    skipped: bool
    imported: ImportReport | None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["imported"] = self.imported.to_dict() if self.imported else None
        return data


class TagService:
    def __init__(self, config: ConfigurationService) -> None:
        self.config = config
        self._database: TagDatabase | None = None

    @property
    def directory(self) -> Path:
        return self.config.tag_db_dir

    @property
    def format(self) -> str:
        return self.config.config.tags.format

    def available(self) -> bool:
        """True once a base was imported/installed or the user added overlay entries."""
        return (self.directory / BASE_FILE).is_file() or (self.directory / OVERLAY_FILE).is_file()

    def database(self) -> TagDatabase:
        """The tag database, created on first use (empty until something is imported)."""
        if self._database is None:
            self._database = TagDatabase(self.directory)
        return self._database

    def close(self) -> None:
        if self._database is not None:
            self._database.close()
            self._database = None

    # -- normalisation ---------------------------------------------------------------------

    def normalize(self, tags: Sequence[str], format: str | None = None) -> NormalizeResult:
        """Preferred tag + type per input; with no tag database every tag is reported unknown."""
        if not self.available():
            return NormalizeResult([NormalizedTag(t, clean_tag(t), None, "unknown") for t in tags])
        try:
            return self.database().normalize(tags, format=format or self.format)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc

    def resolve_aliases(self, tags: Iterable[str]) -> dict[str, str]:
        """Input tag -> preferred tag (cleaned input when unknown or without a tag database)."""
        inputs = list(dict.fromkeys(tags))
        return {n.input: n.tag for n in self.normalize(inputs).tags}

    def normalize_for_storage(self, raw_tags: Sequence[str]) -> list[StoredTag]:
        """Model/sidecar tags as rows to store: preferred spelling, raw kept, empties and repeats dropped."""
        stored: list[StoredTag] = []
        seen: set[str] = set()
        for item in self.normalize(raw_tags).tags:
            folded = item.tag.casefold()
            if item.tag and folded not in seen:
                seen.add(folded)
                stored.append(StoredTag(item.tag, item.input, item.type))
        return stored

    def suggest_for_manual(self, tag: str) -> NormalizedTag | None:
        """For a manually typed tag that is an alias or deprecated: the preferred form to offer."""
        if not self.available() or not clean_tag(tag):
            return None
        result = self.normalize([tag]).tags[0]
        return result if result.changed and result.tag != clean_tag(tag) else None

    def tag_types(self, tags: Sequence[str]) -> dict[str, str | None]:
        """Tag -> type (None when unknown), e.g. for dropping meta tags at export."""
        return {n.input: n.type for n in self.normalize(list(dict.fromkeys(tags))).tags}

    def autocomplete(self, prefix: str, limit: int = 10) -> list[TagSuggestion]:
        """Per-keystroke suggestions: prefix and word-start matches, ranked by usage count."""
        if not self.available():
            return []
        return self.database().search(prefix, format=self.format, limit=limit)

    def lookup(self, text: str, limit: int = 20) -> list[TagSuggestion]:
        """Like `autocomplete`, then mid-word substring matches: slower, for explicit searches."""
        if not self.available():
            return []
        return self.database().search(text, format=self.format, limit=limit, substring=True)

    # -- maintenance -----------------------------------------------------------------------

    def add_alias(self, alias: str, preferred: str) -> dict[str, str]:
        try:
            row = self.database().add_alias(alias, preferred)
        except TagDatabaseError as exc:
            raise ValidationError(str(exc)) from exc
        return {"alias": row.alias, "preferred": row.preferred}

    def remove_alias(self, alias: str) -> bool:
        return self.database().remove_alias(alias)

    def list_aliases(self) -> list[dict[str, str]]:
        return [{"alias": a.alias, "preferred": a.preferred} for a in self.database().list_aliases()]

    def import_file(
        self,
        path: Path,
        file_format: FileFormat | None = None,
        *,
        tag_format: str | None = None,
        append: bool = False,
        force: bool = False,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> ImportReport:
        """Replace (or with `append`, extend) the base from a file; the previous base is kept.

        A file that builds an empty, mostly malformed or much smaller base is refused
        (`ValidationError`) and changes nothing; `force` accepts the last two."""
        if not path.is_file():
            raise ValidationError(f"no such file: {path}")
        chosen = file_format or detect_format(path)
        if chosen not in FILE_FORMATS:
            raise ValidationError(f"unknown format {chosen!r}; use one of {', '.join(FILE_FORMATS)}")
        first = not self.directory.exists()
        try:
            return import_records(
                self.database(),
                read_file(path, chosen, tag_format=tag_format or self.format),
                source=str(path),
                replace=not append,
                force=force,
                on_progress=_progress_adapter(progress, cancel),
            )
        except TagDatabaseError as exc:
            if first:  # a refused first import leaves no empty tag database behind
                self.close()
                shutil.rmtree(self.directory, ignore_errors=True)
            raise ValidationError(str(exc)) from exc

    def install(
        self,
        repo_id: str | None = None,
        filename: str = DEFAULT_FILENAME,
        *,
        force: bool = False,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> InstallReport:
        """Download (or reuse) the published tag DB and make it the base; offline works once cached."""
        repo = repo_id or self.config.config.tags.db_repo_id
        try:
            path = fetch_base_file(
                repo,
                filename,
                cache_dir=self.directory / "downloads",
                token=self.config.config.huggingface.token or None,
            )
        except TagDatabaseError as exc:
            raise TagDatabaseUnavailable(str(exc)) from exc
        source = f"hf:{repo}/{filename}@{path.parent.name}"
        database = self.database()
        if not force and database.metadata().get("source") == source:
            return InstallReport(repo, filename, str(path), skipped=True, imported=None)
        try:
            report = import_records(
                database,
                read_genai_sqlite(path),
                source=source,
                force=force,
                on_progress=_progress_adapter(progress, cancel),
            )
        except ImportRefused as exc:
            raise ValidationError(str(exc)) from exc
        return InstallReport(repo, filename, str(path), skipped=False, imported=report)

    def alias_conflicts(self) -> list[dict[str, Any]]:
        """Aliases the base lists under several tags, in the configured format (see `tags db info`)."""
        if not self.available():
            return []
        return self.database().alias_conflicts(self.format)

    def restore_previous(self) -> dict[str, str]:
        try:
            self.database().restore_previous_base()
        except TagDatabaseError as exc:
            raise ValidationError(str(exc)) from exc
        return self.database().metadata()


def _progress_adapter(progress: ProgressCallback, cancel: CancelToken | None) -> Callable[[int], None]:
    """Importers report rows read; the service adds cancellation between batches."""

    def on_rows(rows: int) -> None:
        if cancel is not None:
            cancel.raise_if_cancelled()
        progress(rows, None, "rows read")

    return on_rows
