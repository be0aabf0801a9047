"""OpenAI chat completions (or the Responses API, `api = "responses"`) with a JSON schema; also any
OpenAI-compatible server via `base_url`.

The request body and the answer parser are plain functions over dicts so the Batch API writes
exactly the same request and reads its results with the same code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from image_annotator_lib.providers.base import Reply, Tokens, VisionProvider
from image_annotator_lib.providers.image_encoding import EncodedImage
from image_annotator_lib.providers.prompt import Prompt
from image_annotator_lib.providers.retry import ProviderError, classify_status, parse_retry_after
from image_annotator_lib.providers.settings import ProviderSettings

if TYPE_CHECKING:
    import openai

NO_KEY_PLACEHOLDER = "no-key"  # local servers ignore the key, but the SDK insists on one


def make_openai_client(settings: ProviderSettings) -> openai.OpenAI:
    """An SDK client with its own retries off: our loop retries and counts every attempt."""
    import openai  # the SDK takes a second to import: only when a run uses it

    return openai.OpenAI(
        api_key=settings.api_key or NO_KEY_PLACEHOLDER,
        base_url=settings.base_url or None,
        timeout=settings.timeout,
        max_retries=0,
    )


def chat_request_body(
    model: str, prompt: Prompt, image: EncodedImage, *, structured: bool = True
) -> dict[str, Any]:
    """The `/v1/chat/completions` body for one image."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [
            {"role": "system", "content": prompt.system},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": prompt.user},
                    {"type": "image_url", "image_url": {"url": image.data_url}},
                ],
            },
        ],
    }
    if structured:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "image_annotation", "schema": prompt.schema, "strict": True},
        }
    return body


def responses_request_body(
    model: str, prompt: Prompt, image: EncodedImage, *, structured: bool = True
) -> dict[str, Any]:
    """The `/v1/responses` body for one image (Responses API: instructions + typed input parts)."""
    body: dict[str, Any] = {
        "model": model,
        "instructions": prompt.system,
        "input": [
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": prompt.user},
                    {"type": "input_image", "image_url": image.data_url, "detail": "auto"},
                ],
            }
        ],
        "store": False,  # nothing kept server-side: each image is a single, final request
    }
    if structured:
        body["text"] = {
            "format": {
                "type": "json_schema",
                "name": "image_annotation",
                "schema": prompt.schema,
                "strict": True,
            }
        }
    return body


def reply_from_response(data: dict[str, Any]) -> Reply:
    """Read a Responses API result: output_text parts, a refusal part, or a content-filter stop."""
    usage = data.get("usage") or {}
    details = usage.get("output_tokens_details") or {}
    tokens: Tokens = {
        "input_tokens": int(usage.get("input_tokens") or 0),
        "output_tokens": int(usage.get("output_tokens") or 0),  # reasoning included
        "thinking_tokens": int(details.get("reasoning_tokens") or 0),
    }
    incomplete = data.get("incomplete_details") or {}
    if incomplete.get("reason") == "content_filter":
        return Reply(answer=None, refusal="incomplete: content_filter", **tokens)
    texts: list[str] = []
    for item in data.get("output") or []:
        if item.get("type") != "message":
            continue
        for part in item.get("content") or []:
            if part.get("type") == "refusal":
                return Reply(answer=None, refusal=str(part.get("refusal")), **tokens)
            if part.get("type") == "output_text" and part.get("text"):
                texts.append(str(part["text"]))
    return Reply(answer="".join(texts) or None, **tokens)


def reply_from_completion(data: dict[str, Any]) -> Reply:
    """Read a chat completion (SDK object dumped to a dict, or a Batch API result body)."""
    usage = data.get("usage") or {}
    details = usage.get("completion_tokens_details") or {}
    tokens: Tokens = {
        "input_tokens": int(usage.get("prompt_tokens") or 0),
        "output_tokens": int(usage.get("completion_tokens") or 0),  # reasoning included
        "thinking_tokens": int(details.get("reasoning_tokens") or 0),
    }
    choices = data.get("choices") or []
    if not choices:
        return Reply(answer=None, **tokens)
    choice = choices[0]
    message = choice.get("message") or {}
    if message.get("refusal"):
        return Reply(answer=None, refusal=str(message["refusal"]), **tokens)
    if choice.get("finish_reason") == "content_filter":
        return Reply(answer=None, refusal="finish_reason=content_filter", **tokens)
    return Reply(answer=message.get("content"), **tokens)


def classify_openai_error(exc: Exception) -> ProviderError | None:
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return ProviderError("timeout", "request timed out")
    if isinstance(exc, openai.APIConnectionError):
        return ProviderError("server_error", f"connection failed: {exc}")
    if isinstance(exc, openai.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        if body.get("code") == "content_policy_violation":
            return ProviderError("policy", f"HTTP {exc.status_code}: {exc.message}", exc.status_code)
        return classify_status(exc.status_code, exc.message, parse_retry_after(exc.response.headers))
    return None


class OpenAIProvider(VisionProvider):
    """`openai/<model>` and `<custom provider>/<model>` for kind `openai-compatible`."""

    def _needs_key(self) -> bool:
        return self.settings.kind == "openai"

    def _create_client(self) -> openai.OpenAI:
        return make_openai_client(self.settings)

    def _send(self, client: openai.OpenAI, image: EncodedImage, prompt: Prompt) -> Reply:
        """Posts the plain body and reads plain JSON through the SDK's documented `client.post`:
        same auth, errors and timeouts, without validating a typed request and response per image
        (tens of milliseconds each on a busy CPU, time a local server's slot would sit idle)."""
        structured = self.settings.structured_output
        if self.settings.api == "responses":
            body = responses_request_body(self.model, prompt, image, structured=structured)
            return reply_from_response(client.post("/responses", body=body, cast_to=dict))
        body = chat_request_body(self.model, prompt, image, structured=structured)
        return reply_from_completion(client.post("/chat/completions", body=body, cast_to=dict))

    def _classify_sdk_error(self, exc: Exception) -> ProviderError | None:
        return classify_openai_error(exc)
