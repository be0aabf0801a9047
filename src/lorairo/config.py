"""`lorairo.toml`: schema, loading, validation, environment overrides and path resolution.

One validated `LorairoConfig` is the only way the rest of the code reads settings. This module sits
below every feature package (it imports only `errors` and `utils`), so services and the annotation
adapter can both read settings without importing each other. Edits are the service's job
(`services/configuration_service.py`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import platformdirs
import tomlkit
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from lorairo.errors import ConfigurationError
from lorairo.utils.masking import mask_api_key, register_secret

LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")
BUILTIN_PROVIDERS = {"openai": "openai_key", "anthropic": "claude_key", "google": "google_key"}
PROVIDER_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "google": "GOOGLE_API_KEY"}


def validate_database_url(url: str) -> str:
    """A PostgreSQL URL for psycopg 3; other schemes are refused with the form that works."""
    scheme = urlsplit(url).scheme
    if scheme not in {"postgresql", "postgresql+psycopg", "postgres"} or "://" not in url:
        raise ValueError(
            f"unsupported database url {mask_url_password(url)!r}: use postgresql+psycopg://user@host/database"
        )
    return url


def mask_url_password(url: str) -> str:
    """The URL with its password (if any) replaced by ***, safe to print."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


_NAME = re.compile(r"^[\w][\w .\-]{0,99}$")


def validate_project_name(name: str) -> str:
    if not _NAME.match(name) or name.strip() != name or name in {".", ".."}:
        raise ValueError(
            f"invalid project name {name!r}: use letters, digits, spaces, '.', '-' or '_' (at most 100)"
        )
    return name


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ApiSection(_Section):
    openai_key: str = ""
    claude_key: str = ""
    google_key: str = ""


class DirectoriesSection(_Section):
    database_dir: str = ""
    database_project_name: str = "main_dataset"
    export_dir: str = ""
    batch_results_dir: str = ""

    @field_validator("database_project_name")
    @classmethod
    def _project_name(cls, value: str) -> str:
        return validate_project_name(value)


class HuggingFaceSection(_Section):
    hf_username: str = ""
    repo_name: str = ""
    token: str = ""


class LogSection(_Section):
    level: str = "INFO"
    file_path: str = ""
    rotation: str = "10 MB"
    retention: str = "1 month"

    @field_validator("level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return value.upper()


class ImageProcessingSection(_Section):
    target_resolutions: list[int] = Field(default_factory=lambda: [1024])
    upscale: bool = False
    max_file_size_mb: float = Field(default=50, gt=0)
    max_pixels: int = Field(default=100_000_000, gt=0)
    near_duplicate_threshold: int = Field(default=6, ge=0, le=64)
    thumbnail_size: int = Field(default=512, ge=32, le=1024)  # benchmarks/thumbnail_bench.py

    @field_validator("target_resolutions")
    @classmethod
    def _resolutions(cls, value: list[int]) -> list[int]:
        bad = [r for r in value if r < 64 or r % 64]
        if bad:
            raise ValueError(f"resolutions must be multiples of 64 and at least 64, got {bad}")
        return value


class AnnotationSection(_Section):
    batch_size: int = Field(default=8, ge=1, le=1024)
    device: Literal["auto", "cpu", "cuda", "directml", "coreml"] = "auto"
    threads: int = Field(default=0, ge=0, le=256)  # ONNX intra-op threads per model; 0 = all cores
    storage_floor: float = Field(default=0.1, ge=0, le=1)
    general_threshold: float = Field(default=0.35, ge=0, le=1)
    character_threshold: float = Field(default=0.85, ge=0, le=1)


class ProviderSection(_Section):
    kind: Literal["openai", "anthropic", "google", "openai-compatible"] | None = None
    api_key_env: str = ""
    base_url: str = ""
    model: str = ""
    models: list[str] = Field(default_factory=list)
    timeout: float = Field(default=60, gt=0)
    retry_attempts: int = Field(default=3, ge=0, le=20)
    rate_limit_requests_per_minute: int = Field(default=60, ge=1)
    max_concurrency: int = Field(default=4, ge=1, le=64)
    retry_base_delay: float = Field(default=1.0, gt=0, le=60)
    api: Literal["chat", "responses"] = "chat"  # OpenAI kinds: "responses" for Responses-only models


PromptField = Literal["tags", "caption", "score"]


def _all_prompt_fields() -> list[PromptField]:
    return ["tags", "caption", "score"]


class PromptsSection(_Section):
    additional: str = ""
    fields: list[PromptField] = Field(default_factory=_all_prompt_fields)


class TagsSection(_Section):
    db_repo_id: str = "NEXTAltair/genai-image-tag-db"
    db_dir: str = ""
    format: Literal["danbooru", "e621"] = "danbooru"
    clip_tokenizer: str = ""  # a CLIP tokenizer.json: exact token counts in the tag editor


class ResourcesSection(_Section):
    max_workers: int = Field(default=0, ge=0, le=256)
    batch_size: int = Field(default=100, ge=1, le=100_000)


class GuiSection(_Section):
    last_project: str = ""
    thumbnail_size: int = Field(default=160, ge=48, le=512)
    theme: Literal["system", "light", "dark"] = "system"  # system: follow the desktop's colour scheme


class DatabaseSection(_Section):
    """Where projects live when not in a SQLite file per project, and where their images are.

    `url` (or `LORAIRO_DATABASE_URL`) is a PostgreSQL URL, `postgresql+psycopg://user@host/db`;
    prefer a `~/.pgpass` file or `PGPASSWORD` to a password in the URL. `images_root` is a folder
    every machine mounts, holding what `<project>/images/` holds otherwise.
    """

    url: str = ""
    images_root: str = ""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return validate_database_url(value) if value else value


class SearchSection(_Section):
    """`score:` and the score sort/display use this kind; `score[kind]:` names another."""

    default_score_kind: str = Field(default="aesthetic", min_length=1, max_length=32)


class LorairoConfig(_Section):
    api: ApiSection = Field(default_factory=ApiSection)
    directories: DirectoriesSection = Field(default_factory=DirectoriesSection)
    huggingface: HuggingFaceSection = Field(default_factory=HuggingFaceSection)
    log: LogSection = Field(default_factory=LogSection)
    image_processing: ImageProcessingSection = Field(default_factory=ImageProcessingSection)
    annotation: AnnotationSection = Field(default_factory=AnnotationSection)
    ai_providers: dict[str, ProviderSection] = Field(default_factory=dict)
    prompts: PromptsSection = Field(default_factory=PromptsSection)
    tags: TagsSection = Field(default_factory=TagsSection)
    resources: ResourcesSection = Field(default_factory=ResourcesSection)
    gui: GuiSection = Field(default_factory=GuiSection)
    search: SearchSection = Field(default_factory=SearchSection)
    database: DatabaseSection = Field(default_factory=DatabaseSection)


DEFAULT_CONFIG_TEXT = """\
# LoRAIro configuration. Edit freely: LoRAIro keeps your comments when it saves settings.
# This file may hold API keys, so it is written readable by you only (mode 0600).

[api]
openai_key = ""          # or set OPENAI_API_KEY
claude_key = ""          # or set ANTHROPIC_API_KEY
google_key = ""          # or set GOOGLE_API_KEY

[directories]
database_dir = ""        # parent of all projects (<project>/database.db + images/); empty = user data dir
database_project_name = "main_dataset"   # project used when -p is not given
export_dir = ""          # where exports go by default; empty = <database_dir>/exports
batch_results_dir = ""   # OpenAI Batch API result files; empty = <database_dir>/batch_results

[huggingface]
hf_username = ""
repo_name = ""
token = ""

[log]
level = "INFO"           # TRACE, DEBUG, INFO, WARNING, ERROR or CRITICAL
file_path = ""           # empty = user log dir/lorairo.log
rotation = "10 MB"
retention = "1 month"

[image_processing]
target_resolutions = [1024]      # processed copies (long side); 512 and 768 also common
upscale = false                  # never enlarge small images unless asked
max_file_size_mb = 50
max_pixels = 100000000           # decompression-bomb guard
near_duplicate_threshold = 6     # pHash Hamming distance (of 64 bits)
thumbnail_size = 512                # stored thumbnails: sharp up to the grid's largest size

[annotation]
batch_size = 8
device = "auto"                  # auto, cpu, cuda, directml, coreml
threads = 0                      # inference threads per model; 0 = all cores (workers: `worker --threads`)
storage_floor = 0.1              # tags at or above this confidence are stored
general_threshold = 0.35
character_threshold = 0.85

[ai_providers.openai]
api_key_env = "OPENAI_API_KEY"
model = ""                       # empty = the library's current default (providers models lists more)
timeout = 60
retry_attempts = 3
rate_limit_requests_per_minute = 60

[ai_providers.anthropic]
api_key_env = "ANTHROPIC_API_KEY"
model = ""                       # empty = the library's current default (providers models lists more)
timeout = 60
retry_attempts = 3
rate_limit_requests_per_minute = 50

[ai_providers.google]
api_key_env = "GOOGLE_API_KEY"
model = ""                       # empty = the library's current default (providers models lists more)
timeout = 60
retry_attempts = 3
rate_limit_requests_per_minute = 60

# Any OpenAI-compatible server (Ollama, LM Studio, vLLM, OpenRouter); `lorairo providers add` writes it.
# Models are discovered from the server when none are pinned; max_concurrency defaults to the
# server's parallel slots when it reports them, else 2.
# [ai_providers.local]
# kind = "openai-compatible"
# base_url = "http://127.0.0.1:11434/v1"
# api_key_env = ""
# models = ["qwen2.5vl:7b"]

[prompts]
additional = ""                  # appended to the annotation prompt
fields = ["tags", "caption", "score"]

[tags]
db_repo_id = "NEXTAltair/genai-image-tag-db"
db_dir = ""                      # empty = user data dir/tag_db
format = "danbooru"
clip_tokenizer = ""              # a CLIP tokenizer.json for exact token counts; empty = HF cache, else estimate

[resources]
max_workers = 0                  # 0 = all cores (LORAIRO_MAX_WORKERS)
batch_size = 100                 # rows per transaction (LORAIRO_BATCH_SIZE)

[gui]
last_project = ""
thumbnail_size = 160

[search]
default_score_kind = "aesthetic"  # the kind `score:`, the score sort and the grid use

[database]
url = ""                 # empty = one SQLite file per project; or postgresql+psycopg://user@host/db (LORAIRO_DATABASE_URL)
images_root = ""         # a folder all machines mount for the project's images; empty = <project>/images (LORAIRO_IMAGES_ROOT)
"""


HOME_ENV = "LORAIRO_HOME"


def lorairo_home() -> Path | None:
    """`LORAIRO_HOME`: one folder for config, projects, tag DB, logs and caches (CI, scripts, tests)."""
    value = os.environ.get(HOME_ENV, "").strip()
    return Path(value).expanduser().absolute() if value else None


def default_config_path() -> Path:
    home = lorairo_home()
    return (home or Path(platformdirs.user_config_dir("lorairo"))) / "lorairo.toml"


def default_data_dir() -> Path:
    """Parent of the default projects and tag DB folders."""
    return lorairo_home() or Path(platformdirs.user_data_dir("lorairo"))


def default_log_dir() -> Path:
    home = lorairo_home()
    return home / "logs" if home else Path(platformdirs.user_log_dir("lorairo"))


def _use_home_caches() -> None:
    """Under `LORAIRO_HOME`, model downloads (the Hugging Face cache) go there too, unless the
    user already chose a cache with `HF_HOME` or `HF_HUB_CACHE`."""
    home = lorairo_home()
    if home is None:
        return
    if home.exists() and not home.is_dir():
        raise ConfigurationError(f"{HOME_ENV}: {home} is a file, not a directory")
    if not os.environ.get("HF_HOME") and not os.environ.get("HF_HUB_CACHE"):
        os.environ["HF_HOME"] = str(home / "cache" / "huggingface")


def _format_validation_error(error: ValidationError, source: Path) -> str:
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"])
        message = "unknown key" if item["type"] == "extra_forbidden" else item["msg"]
        problems.append(f"{where}: {message}")
    return f"invalid configuration in {source}: " + "; ".join(problems)


def write_private(path: Path, text: str) -> None:
    """Write atomically with mode 0600 so no other user can read a key, even briefly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    tmp.chmod(0o600)
    tmp.replace(path)


class Settings:
    """Loads `lorairo.toml` (creating it on first run), validates it and applies env overrides."""

    def __init__(self, path: Path | None = None) -> None:
        _use_home_caches()
        env_path = os.environ.get("LORAIRO_CONFIG_PATH")
        self.path = Path(path or env_path or default_config_path()).expanduser()
        if not self.path.exists():
            write_private(self.path, DEFAULT_CONFIG_TEXT)
        try:
            self._document = tomlkit.parse(self.path.read_text(encoding="utf-8"))
        except (OSError, tomlkit.exceptions.TOMLKitError) as exc:
            raise ConfigurationError(f"cannot read configuration {self.path}: {exc}") from exc
        self.config = self._validate(self._document.unwrap())
        self._apply_environment()
        self._check_directories()
        self._register_secrets()

    def _validate(self, data: dict[str, Any]) -> LorairoConfig:
        try:
            config = LorairoConfig.model_validate(data)
        except ValidationError as exc:
            raise ConfigurationError(_format_validation_error(exc, self.path)) from exc
        for name in ("database_dir", "export_dir", "batch_results_dir"):  # as written, before env overrides
            value = getattr(config.directories, name)
            if value and Path(value).expanduser().is_file():
                raise ConfigurationError(f"directories.{name}: {value} is a file, not a directory")
        return config

    def _check_directories(self) -> None:
        """A folder setting that names a file is refused up front, naming where it was set,
        so no command reports "no projects in /etc/passwd" or dies with NotADirectoryError."""
        settings = {
            "directories.database_dir": (self.database_dir, "LORAIRO_DATABASE_DIR"),
            "directories.export_dir": (self.export_dir, None),
            "directories.batch_results_dir": (self.batch_results_dir, None),
            "tags.db_dir": (self.tag_db_dir, None),
        }
        for key, (path, env) in settings.items():
            if path.exists() and not path.is_dir():
                where = f"{env} ({key})" if env and os.environ.get(env) else f"{key} in {self.path}"
                raise ConfigurationError(f"{where}: {path} is a file, not a directory")

    def _apply_environment(self) -> None:
        """Environment variables win over the file for this process only; they are never saved."""
        env = os.environ
        if env.get("LORAIRO_DATABASE_DIR"):
            self.config.directories.database_dir = env["LORAIRO_DATABASE_DIR"]
        if env.get("LORAIRO_LOG_LEVEL"):
            try:
                self.config.log.level = env["LORAIRO_LOG_LEVEL"]
            except ValidationError as exc:
                raise ConfigurationError(f"LORAIRO_LOG_LEVEL: {exc.errors()[0]['msg']}") from exc
        for var, key in (("LORAIRO_DATABASE_URL", "url"), ("LORAIRO_IMAGES_ROOT", "images_root")):
            if env.get(var):
                try:
                    setattr(self.config.database, key, env[var])
                except ValidationError as exc:
                    raise ConfigurationError(f"{var}: {exc.errors()[0]['msg']}") from exc
        if env.get("LORAIRO_DEBUG", "").lower() in {"1", "true", "yes"}:
            self.config.log.level = "DEBUG"
        for var, section, key in (
            ("LORAIRO_MAX_WORKERS", self.config.resources, "max_workers"),
            ("LORAIRO_BATCH_SIZE", self.config.resources, "batch_size"),
        ):
            if env.get(var):
                try:
                    setattr(section, key, int(env[var]))
                except (ValueError, ValidationError) as exc:
                    raise ConfigurationError(f"{var} must be a positive integer, got {env[var]!r}") from exc

    def _register_secrets(self) -> None:
        for value in (
            self.config.api.openai_key,
            self.config.api.claude_key,
            self.config.api.google_key,
            self.config.huggingface.token,
        ):
            register_secret(value)
        for name in self.config.ai_providers:
            register_secret(self.api_key(name))
        password = urlsplit(self.config.database.url).password
        if password:
            register_secret(password)

    # -- reading -------------------------------------------------------------------------------

    def get_setting(self, section: str, key: str, default: Any = None) -> Any:
        part = getattr(self.config, section, None)
        if part is None:
            return default
        if isinstance(part, dict):
            return part.get(key, default)
        return getattr(part, key, default)

    @property
    def database_dir(self) -> Path:
        configured = self.config.directories.database_dir
        if configured:
            return Path(configured).expanduser().resolve()
        return default_data_dir() / "projects"

    @property
    def database_url(self) -> str:
        """The PostgreSQL URL projects open by default (`LORAIRO_DATABASE_URL` wins); empty = SQLite."""
        return self.config.database.url

    @property
    def images_root(self) -> Path | None:
        configured = self.config.database.images_root
        return Path(configured).expanduser().absolute() if configured else None

    @property
    def export_dir(self) -> Path:
        configured = self.config.directories.export_dir
        return Path(configured).expanduser() if configured else self.database_dir / "exports"

    @property
    def batch_results_dir(self) -> Path:
        configured = self.config.directories.batch_results_dir
        return Path(configured).expanduser() if configured else self.database_dir / "batch_results"

    @property
    def tag_db_dir(self) -> Path:
        configured = self.config.tags.db_dir
        return Path(configured).expanduser() if configured else default_data_dir() / "tag_db"

    @property
    def log_file(self) -> Path:
        configured = self.config.log.file_path
        return Path(configured).expanduser() if configured else default_log_dir() / "lorairo.log"

    @property
    def annotator_config_path(self) -> Path:
        """`annotator_config.toml` lives beside `lorairo.toml`."""
        return self.path.with_name("annotator_config.toml")

    @property
    def max_workers(self) -> int:
        return self.config.resources.max_workers or os.cpu_count() or 1

    def share_cores(self, threads: int) -> None:
        """This process uses `threads` cores for inference and decoding (0 = all), for its own
        run only, never saved: k workers on one machine each take cores/k instead of all of them."""
        self.config.annotation.threads = threads
        self.config.resources.max_workers = threads

    def provider(self, name: str) -> ProviderSection:
        return self.config.ai_providers.get(name) or ProviderSection(kind=None)

    def provider_kind(self, name: str) -> str:
        section = self.config.ai_providers.get(name)
        if section is not None and section.kind:
            return section.kind
        if name in BUILTIN_PROVIDERS:
            return name
        raise ConfigurationError(f'ai_providers.{name}: unknown provider; set kind = "openai-compatible"')

    def api_key(self, provider: str) -> str:
        """The provider's key: `[api]` first, then the env var the provider names, then the standard one."""
        field = BUILTIN_PROVIDERS.get(provider)
        if field and getattr(self.config.api, field):
            return str(getattr(self.config.api, field))
        section = self.config.ai_providers.get(provider)
        if section is not None and section.api_key_env:
            value = os.environ.get(section.api_key_env, "")
            if value:
                return value
        return os.environ.get(PROVIDER_KEY_ENV.get(provider, ""), "") if provider in PROVIDER_KEY_ENV else ""

    def get_available_providers(self) -> list[str]:
        """Providers that can be called now: built-ins with a key, custom servers that need none."""
        names = list(dict.fromkeys([*BUILTIN_PROVIDERS, *self.config.ai_providers]))
        available = []
        for name in names:
            kind = self.provider_kind(name)
            needs_key = kind != "openai-compatible" or bool(self.provider(name).api_key_env)
            if not needs_key or self.api_key(name):
                available.append(name)
        return available

    @staticmethod
    def mask_api_key(key: str) -> str:
        return mask_api_key(key)

    def masked_dict(self) -> dict[str, Any]:
        """The effective settings with every secret masked, safe to print or show."""
        data = self.config.model_dump()
        for key in data["api"]:
            data["api"][key] = mask_api_key(data["api"][key]) if data["api"][key] else ""
        if data["database"]["url"]:
            data["database"]["url"] = mask_url_password(data["database"]["url"])
        if data["huggingface"]["token"]:
            data["huggingface"]["token"] = mask_api_key(data["huggingface"]["token"])
        return data
