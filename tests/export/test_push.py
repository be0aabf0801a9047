"""`export push` through the real huggingface_hub client against a fake Hub on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import huggingface_hub.constants
import pytest

from lorairo.cli.main import main
from lorairo.export.options import ExportOptions
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.export_service import ExportService
from tests.export.builders import Demo

TOKEN = "hf_abcdefghijklmnopqrstuvwxyz123456"


def git_blob_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


@dataclass
class FakeHub:
    """Just enough of the Hub's repo-create, preupload and commit API for upload_folder."""

    url: str = ""
    repos: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, dict[str, bytes]] = field(default_factory=dict)
    commits: list[list[str]] = field(default_factory=list)
    authorizations: set[str] = field(default_factory=set)


def make_handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            """Keep the test output quiet."""

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _repo(self) -> str:
            parts = self.path.split("?")[0].strip("/").split("/")
            return f"{parts[2]}/{parts[3]}"

        def do_GET(self) -> None:
            repo = self._repo()
            self._send(200, {"id": repo, "sha": "0" * 40, "private": hub.repos[repo]["private"]})

        def do_POST(self) -> None:
            hub.authorizations.add(self.headers.get("Authorization", ""))
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            path = self.path.split("?")[0]
            if path == "/api/repos/create":
                payload = json.loads(body)
                repo = f"{payload['organization']}/{payload['name']}"
                hub.repos[repo] = {
                    "type": payload.get("type"),
                    "private": payload.get("visibility") == "private",
                }
                hub.files.setdefault(repo, {})
                self._send(200, {"url": f"{hub.url}/datasets/{repo}"})
            elif "/preupload/" in path:
                stored = hub.files[self._repo()]
                answers = [
                    {
                        "path": entry["path"],
                        "uploadMode": "regular",
                        "shouldIgnore": False,
                        "oid": git_blob_oid(stored[entry["path"]]) if entry["path"] in stored else None,
                    }
                    for entry in json.loads(body)["files"]
                ]
                self._send(200, {"files": answers})
            elif "/commit/" in path:
                repo = self._repo()
                committed = []
                for line in body.splitlines():
                    item = json.loads(line)
                    if item["key"] == "file":
                        hub.files[repo][item["value"]["path"]] = base64.b64decode(item["value"]["content"])
                        committed.append(item["value"]["path"])
                hub.commits.append(committed)
                oid = hashlib.sha1(body, usedforsecurity=False).hexdigest()
                self._send(200, {"commitUrl": f"{hub.url}/datasets/{repo}/commit/{oid}", "commitOid": oid})
            else:
                self._send(404, {"error": "not found"})

    return Handler


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    hub = FakeHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(hub))
    hub.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    code = 0
    try:
        main(["--json", *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def test_push_uploads_the_hf_export(
    demo: Demo,
    config: ConfigurationService,
    tmp_path: Path,
    fake_hub: FakeHub,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config.update_setting("huggingface", "token", TOKEN)
    target = tmp_path / "hf"
    ExportService(demo.builder.project, config).export(ExportOptions(target=target, formats=("hf",)))

    code, data, err = cli(capsys, "export", "push", str(target), "--repo", "me/my-lora", "--private")
    assert code == 0, err
    assert data["repo_id"] == "me/my-lora" and data["images"] == 2 and data["private"] is True
    assert fake_hub.repos["me/my-lora"] == {"type": "dataset", "private": True}
    uploaded = fake_hub.files["me/my-lora"]
    local = {str(path.relative_to(target)): path.read_bytes() for path in target.rglob("*") if path.is_file()}
    assert uploaded == local
    assert f"Bearer {TOKEN}" in fake_hub.authorizations
    assert TOKEN not in err

    code, _, err = cli(capsys, "export", "push", str(target), "--repo", "me/my-lora")
    assert code == 0, err
    assert len(fake_hub.commits) == 1  # a re-run finds every file already there and commits nothing


def test_push_refuses_a_folder_that_is_not_an_hf_export(
    demo: Demo,
    config: ConfigurationService,
    tmp_path: Path,
    fake_hub: FakeHub,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = tmp_path / "kohya"
    ExportService(demo.builder.project, config).export(ExportOptions(target=target))
    code, data, _ = cli(capsys, "export", "push", str(target), "--repo", "me/my-lora")
    assert code == 2 and "not an hf export" in data["error"]["message"]
    code, data, _ = cli(capsys, "export", "push", str(target), "--repo", "not a repo")
    assert code == 2 and "USER/NAME" in data["error"]["message"]
    assert fake_hub.repos == {}
