"""Anthropic messages API; structured output through a forced tool call."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from image_annotator_lib.providers.base import Reply, Tokens, VisionProvider
from image_annotator_lib.providers.image_encoding import EncodedImage
from image_annotator_lib.providers.prompt import TOOL_NAME, Prompt
from image_annotator_lib.providers.retry import ProviderError, classify_status, parse_retry_after

if TYPE_CHECKING:
    import anthropic

MAX_OUTPUT_TOKENS = 1024


def messages_request(
    model: str, prompt: Prompt, image: EncodedImage, *, structured: bool = True
) -> dict[str, Any]:
    """The `/v1/messages` body for one image (also a Message Batches request's `params`)."""
    request: dict[str, Any] = {
        "model": model,
        "max_tokens": MAX_OUTPUT_TOKENS,
        "system": prompt.system,
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": image.media_type, "data": image.data},
                    },
                    {"type": "text", "text": prompt.user},
                ],
            }
        ],
    }
    if structured:
        request["tools"] = [
            {
                "name": TOOL_NAME,
                "description": "Record the annotation of the image.",
                "input_schema": prompt.schema,
            }
        ]
        request["tool_choice"] = {"type": "tool", "name": TOOL_NAME}
    return request


def reply_from_message(message: dict[str, Any]) -> Reply:
    """Read a message (SDK object dumped to a dict, or a batch result's message)."""
    usage = message.get("usage") or {}
    tokens: Tokens = {
        "input_tokens": int(usage.get("input_tokens") or 0),
        "output_tokens": int(usage.get("output_tokens") or 0),
        "thinking_tokens": 0,  # extended thinking is not requested; none is reported apart
    }
    if message.get("stop_reason") == "refusal":
        return Reply(answer=None, refusal="stop_reason=refusal", **tokens)
    texts: list[str] = []
    for block in message.get("content") or []:
        if (
            block.get("type") == "tool_use"
            and block.get("name") == TOOL_NAME
            and isinstance(block.get("input"), dict)
        ):
            return Reply(answer=dict(block["input"]), **tokens)
        if block.get("type") == "text":
            texts.append(str(block.get("text") or ""))
    return Reply(answer="\n".join(texts) or None, **tokens)


def classify_anthropic_error(exc: Exception) -> ProviderError | None:
    import anthropic

    if isinstance(exc, anthropic.APITimeoutError):
        return ProviderError("timeout", "request timed out")
    if isinstance(exc, anthropic.APIConnectionError):
        return ProviderError("server_error", f"connection failed: {exc}")
    if isinstance(exc, anthropic.APIStatusError):
        return classify_status(exc.status_code, exc.message, parse_retry_after(exc.response.headers))
    return None


class AnthropicProvider(VisionProvider):
    """`anthropic/<model>`: a refusal arrives as `stop_reason == "refusal"`."""

    def _create_client(self) -> anthropic.Anthropic:
        import anthropic  # the SDK takes seconds to import: only when a run uses it

        return anthropic.Anthropic(
            api_key=self.settings.api_key,
            base_url=self.settings.base_url or None,
            timeout=self.settings.timeout,
            max_retries=0,
        )

    def _send(self, client: anthropic.Anthropic, image: EncodedImage, prompt: Prompt) -> Reply:
        request = messages_request(self.model, prompt, image, structured=self.settings.structured_output)
        return reply_from_message(client.messages.create(**request).model_dump())

    def _classify_sdk_error(self, exc: Exception) -> ProviderError | None:
        return classify_anthropic_error(exc)
