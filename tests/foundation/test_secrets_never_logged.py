"""A configured API key never reaches a log file or CLI output, at any log level."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from loguru import logger

from lorairo.services.configuration_service import ConfigurationService
from lorairo.utils.log import setup_logging
from lorairo.utils.masking import mask_api_key, redact, register_secret

OPENAI_KEY = "sk-proj-TESTKEY1234567890abcdefXYZ"
CUSTOM_SECRET = "my-plain-secret-value-42"


@pytest.mark.parametrize("level", ["TRACE", "DEBUG", "INFO"])
def test_log_file_masks_keys_in_messages_exceptions_and_stdlib_logging(tmp_path: Path, level: str) -> None:
    register_secret(CUSTOM_SECRET)
    log_file = tmp_path / "lorairo.log"
    setup_logging(level=level, stderr_level="CRITICAL", file_path=log_file)
    logger.info(f"calling provider with key={OPENAI_KEY}")
    logger.info("custom secret {}", CUSTOM_SECRET)
    try:
        raise RuntimeError(f"401 for Bearer {OPENAI_KEY}")
    except RuntimeError:
        logger.exception("request failed")
    logging.getLogger("httpx").warning("header Authorization: Bearer %s", CUSTOM_SECRET)
    logger.remove()
    text = log_file.read_text()
    assert "calling provider with key=***" in text
    assert "401 for Bearer ***" in text
    assert "RuntimeError" in text
    assert OPENAI_KEY not in text
    assert CUSTOM_SECRET not in text


def test_redact_catches_key_shapes_that_were_never_registered() -> None:
    text = "a sk-ant-api03-abcdefghijk b AIzaSyA1234567890abcdefghijklmno c hf_abcdefghijklmnopqrstuvwx"
    assert redact(text) == "a *** b *** c ***"


def test_cli_output_and_log_never_show_the_key(isolated_environment: Path) -> None:
    service = ConfigurationService()
    service.update_setting("api", "openai_key", OPENAI_KEY)
    service.update_setting("log", "file_path", str(isolated_environment / "cli.log"))
    env = {**os.environ, "LORAIRO_LOG_LEVEL": "TRACE"}
    outputs = []
    for args in (
        ["--debug", "config", "show"],
        ["--json", "config", "show"],
        ["--debug", "--json", "project", "create", "demo"],
        ["--json", "config", "set", "log.level", OPENAI_KEY],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "lorairo", *args], env=env, capture_output=True, text=True, check=False
        )
        outputs.append(done.stdout + done.stderr)
    combined = "\n".join(outputs) + (isolated_environment / "cli.log").read_text()
    assert mask_api_key(OPENAI_KEY) in outputs[1]
    assert OPENAI_KEY not in combined
