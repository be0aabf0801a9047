"""`lorairo providers add|list|models`, discovered models in `annotate models`, local concurrency."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from lorairo.services.configuration_service import ConfigurationService
from tests.providers.app_setup import set_keys, write_config
from tests.providers.fake_llm_server import running
from tests.providers.helpers import TEST_KEYS, flat_image, make_provider
from tests.providers.test_batch import run_cli

OLLAMA_MODELS = [
    {"id": "qwen2.5vl:7b", "capabilities": ["completion", "vision"]},
    {"id": "llama3.2:3b", "capabilities": ["completion", "tools"]},
    {"id": "llava:7b", "families": ["llama", "clip"]},
    {"id": "old:1b", "families": ["llama"]},
]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_add_writes_the_table_keeps_comments_and_contacts_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    config_path = Path(os.environ["LORAIRO_CONFIG_PATH"])
    ConfigurationService()  # the commented default file
    config_path.write_text("# my own note\n" + config_path.read_text(encoding="utf-8"), encoding="utf-8")
    with running() as server:
        code, added, _ = run_cli(
            capsys, "providers", "add", "lab", "--url", server.url, "--key-env", "LAB_KEY"
        )
        assert code == 0 and added["base_url"] == server.openai_base_url  # /v1 added to a bare root
        code, ollama, _ = run_cli(capsys, "providers", "add", "olla", "--url", "ollama")
        assert code == 0 and ollama["base_url"] == "http://127.0.0.1:11434/v1"
        assert server.raw == []  # adding never contacts the server
    text = config_path.read_text(encoding="utf-8")
    assert "# my own note" in text and "# Any OpenAI-compatible server" in text
    assert stat.S_IMODE(config_path.stat().st_mode) == 0o600
    section = ConfigurationService().config.ai_providers["lab"]
    assert (section.kind, section.base_url, section.api_key_env) == (
        "openai-compatible",
        server.openai_base_url,
        "LAB_KEY",
    )
    before = config_path.read_bytes()
    for args in (
        ("lab", "--url", "http://127.0.0.1:1/v1"),  # exists
        ("openai", "--url", "http://127.0.0.1:1/v1"),  # built-in
        ("bad name", "--url", "http://127.0.0.1:1/v1"),
        ("x", "--url", "ftp://example.org"),
        ("x", "--url", "127.0.0.1:8080"),
        ("x", "--url", "http://127.0.0.1:8080/v1", "--key-env", "sk-not-a-var-name"),
    ):
        code, error, _ = run_cli(capsys, "providers", "add", *args)
        assert code == 2 and "error" in error, args
    assert config_path.read_bytes() == before  # refused input changes nothing


def test_models_from_v1_models_mark_vision_where_the_server_says(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with running(slots=3) as server:
        set_keys(monkeypatch)
        write_config(server)
        code, listed, _ = run_cli(capsys, "providers", "models", "local")
    assert code == 0 and listed["source"] == "/v1/models" and listed["parallel_slots"] == 3
    vision = {m["name"]: m["vision"] for m in listed["models"]}
    assert vision == {"local/qwen-test": True, "local/text-only": False, "local/unsaid": None}
    sent = [r for r in server.raw if r.path.endswith("/models")]
    assert sent and sent[0].headers["authorization"] == f"Bearer {TEST_KEYS['openai-compatible']}"


def test_ollama_models_come_from_api_tags_and_show(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with running(ollama=True, served_models=OLLAMA_MODELS) as server:
        set_keys(monkeypatch)
        write_config(server)
        code, listed, _ = run_cli(capsys, "providers", "models", "local")
    assert code == 0 and listed["source"] == "/api/tags"
    vision = {m["id"]: m["vision"] for m in listed["models"]}
    assert vision == {"qwen2.5vl:7b": True, "llama3.2:3b": False, "llava:7b": True, "old:1b": False}


@pytest.mark.parametrize("provider", ["openai", "anthropic", "google"])
def test_cloud_models_through_the_sdks_models_list(
    provider: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    served = [
        {"id": "vision-a", "architecture": {"input_modalities": ["text", "image"]}},
        {"id": "embed-b", "actions": ["embedContent"]},
    ]
    with running(served_models=served) as server:
        set_keys(monkeypatch)
        write_config(server)
        code, listed, _ = run_cli(capsys, "providers", "models", provider)
    assert code == 0 and listed["source"] == "models.list"
    names = {m["id"]: m["vision"] for m in listed["models"]}
    if provider == "google":  # an embedding-only model cannot annotate: left out
        assert names == {"vision-a": None}
    elif provider == "anthropic":  # Anthropic's capabilities say whether images are accepted
        assert names == {"vision-a": True, "embed-b": None}
    else:
        assert set(names) == {"vision-a", "embed-b"}


def test_models_with_a_wrong_key_is_an_authentication_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with running(required_key="other") as server:
        set_keys(monkeypatch)
        write_config(server)
        for provider in ("openai", "anthropic", "local"):
            code, error, err = run_cli(capsys, "providers", "models", provider)
            assert code == 1 and error["error"]["type"] == "AuthenticationError", provider
            assert all(key not in err for key in TEST_KEYS.values())


def test_list_shows_reachability_and_contacts_no_keyless_provider(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = _closed_port()
    with running() as server:
        write_config(
            server,
            extra=f'[ai_providers.gone]\nkind = "openai-compatible"\nbase_url = "http://127.0.0.1:{port}/v1"\n',
        )
        monkeypatch.setenv("LOCAL_LLM_KEY", TEST_KEYS["openai-compatible"])
        code, listed, _ = run_cli(capsys, "providers", "list")
        contacted = {r.path for r in server.raw}
    by_name = {p["name"]: p for p in listed["providers"]}
    assert code == 0
    assert by_name["local"]["reachable"] is True and "qwen-test" in {
        m["id"] for m in by_name["local"]["models"]
    }
    assert by_name["gone"]["reachable"] is False and "not reachable" in by_name["gone"]["error"]
    for cloud in ("openai", "anthropic", "google"):
        assert by_name[cloud]["key"] == "missing" and by_name[cloud]["reachable"] is None
    assert contacted <= {"/api/tags", "/v1/models", "/api/v0/models", "/props"}


def test_annotate_models_lists_discovered_vision_models_of_unpinned_servers(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with running() as server:
        set_keys(monkeypatch)
        write_config(
            server,
            extra=f'[ai_providers.srv]\nkind = "openai-compatible"\nbase_url = "{server.openai_base_url}"\n',
        )
        code, listed, _ = run_cli(capsys, "annotate", "models")
    names = {m["name"] for m in listed["models"]}
    assert code == 0
    assert {"srv/qwen-test", "srv/unsaid"} <= names and "srv/text-only" not in names
    assert "local/qwen-test" in names and "local/unsaid" not in names  # pinned: no discovery


@pytest.mark.parametrize(("slots", "expected"), [(3, 3), (None, 2)])
def test_local_concurrency_defaults_to_the_servers_slots_else_2(slots: int | None, expected: int) -> None:
    with running(slots=slots or 16, latency=0.05) as server:
        if slots is None:
            server.slots = None  # /props not answered; the semaphore still counts
        provider = make_provider("openai-compatible", server, max_concurrency=None)
        results = provider.annotate_batch([flat_image(i) for i in range(12)])
        provider.unload()
    assert all(r.ok for r in results)
    assert server.max_in_flight == expected
