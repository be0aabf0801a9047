"""`lorairo annotate run` with vision LLMs: usage summary, skipped refusals, 401 in one line."""

from __future__ import annotations

import pytest

from tests.providers.app_setup import project_with_images, set_keys, write_config
from tests.providers.fake_llm_server import FakeRequest, running
from tests.providers.helpers import TEST_KEYS, colour
from tests.providers.test_batch import run_cli

RED = colour(5)


def test_run_reports_usage_then_skips_refusals(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def script(request: FakeRequest) -> str:
        return "refusal" if request.colour == RED else ("429" if request.index == 2 else "ok")

    with running(script) as server:  # type: ignore[arg-type]
        set_keys(monkeypatch)
        config = write_config(server)
        project_with_images(config, 7)[0].close()
        code, first, _ = run_cli(capsys, "annotate", "run", "-m", "google/gemini-test", "-p", "llm")
        assert code == 0, first
        assert first["images_annotated"] == 6 and first["policy_violations"] == 1
        assert first["requests"] == 8 and first["retries"] == 1 and first["output_tokens"] > 0
        code, second, _ = run_cli(capsys, "annotate", "run", "-m", "google/gemini-test", "-p", "llm")
        assert code == 0 and second["violations_skipped"] == 1 and second["requests"] == 0
        code, third, _ = run_cli(
            capsys, "annotate", "run", "-m", "google/gemini-test", "-p", "llm", "--retry-violations"
        )
        assert code == 0 and third["violations_skipped"] == 0 and third["requests"] == 1


def test_401_is_one_line_without_the_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with running(required_key="the-real-key") as server:
        set_keys(monkeypatch)
        config = write_config(server)
        project_with_images(config, 3)[0].close()
        code, error, err = run_cli(capsys, "annotate", "run", "-m", "anthropic/claude-test", "-p", "llm")
    assert code == 1 and error["error"]["type"] == "AuthenticationError"
    assert len(err.strip().splitlines()) == 1 and "authentication failed" in err
    assert TEST_KEYS["anthropic"] not in err


def test_models_list_hides_providers_without_keys(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with running() as server:
        write_config(server)
        monkeypatch.setenv("ANTHROPIC_API_KEY", TEST_KEYS["anthropic"])
        code, listed, _ = run_cli(capsys, "annotate", "models")
    names = {model["name"] for model in listed["models"]}
    assert code == 0 and "anthropic/claude-test" in names
    assert not names & {"openai/gpt-test", "google/gemini-test", "local/qwen-test"}
