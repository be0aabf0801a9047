"""Google Gemini through google-genai; JSON schema output, safety blocks read as refusals."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from image_annotator_lib.providers.base import Reply, Tokens, VisionProvider
from image_annotator_lib.providers.image_encoding import EncodedImage
from image_annotator_lib.providers.prompt import Prompt
from image_annotator_lib.providers.retry import ProviderError, classify_status, parse_retry_after

if TYPE_CHECKING:
    from google import genai

# Finish and block reasons that mean "refused for content", as opposed to truncation or errors.
SAFETY_REASONS = frozenset(
    {
        "SAFETY",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "MODEL_ARMOR",
        "JAILBREAK",
        "OTHER",
    }
)


def gemini_tokens(usage: Any) -> Tokens:
    """Gemini counts thoughts apart from the answer; both are billed as output."""
    if usage is None:
        return {"input_tokens": 0, "output_tokens": 0, "thinking_tokens": 0}
    thinking = usage.thoughts_token_count or 0
    return {
        "input_tokens": usage.prompt_token_count or 0,
        "output_tokens": (usage.candidates_token_count or 0) + thinking,
        "thinking_tokens": thinking,
    }


def generate_request(
    prompt: Prompt, image: EncodedImage, *, structured: bool = True
) -> tuple[list[Any], Any]:
    """`contents` and `config` of one generateContent call (also a batch's inlined request)."""
    from google.genai import types

    config = types.GenerateContentConfig(system_instruction=prompt.system)
    if structured:
        config.response_mime_type = "application/json"
        config.response_json_schema = prompt.schema
    contents = [
        types.Content(
            role="user",
            parts=[
                types.Part.from_bytes(data=image.raw, mime_type=image.media_type),
                types.Part.from_text(text=prompt.user),
            ],
        )
    ]
    return contents, config


def reply_from_generate(response: Any) -> Reply:
    """Read a GenerateContentResponse (live, or one of a batch's inlined responses)."""
    tokens = gemini_tokens(response.usage_metadata)
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason is not None:
        blocked = _reason(feedback.block_reason)
        if blocked in SAFETY_REASONS:
            return Reply(answer=None, refusal=f"prompt blocked: {blocked}", **tokens)
    if not response.candidates:
        return Reply(answer=None, **tokens)
    candidate = response.candidates[0]
    finish = _reason(candidate.finish_reason)
    if finish in SAFETY_REASONS - {"OTHER"}:
        return Reply(answer=None, refusal=f"finish_reason={finish}", **tokens)
    parts = candidate.content.parts if candidate.content and candidate.content.parts else []
    text = "".join(part.text for part in parts if part.text and not part.thought)
    return Reply(answer=text or None, **tokens)


def _reason(value: Any) -> str:
    return str(getattr(value, "value", value) or "")


def classify_google_error(exc: Exception) -> ProviderError | None:
    from google.genai import errors as genai_errors

    if isinstance(exc, genai_errors.APIError):
        headers = getattr(exc.response, "headers", None)
        retry_after = parse_retry_after(dict(headers)) if headers is not None else None
        return classify_status(exc.code, exc.message or exc.status or "", retry_after)
    return None


class GoogleProvider(VisionProvider):
    """`google/<model>`; `base_url` goes through `http_options` (the client has no retries of its own
    unless `retry_options` is given, which we never do)."""

    def _create_client(self) -> genai.Client:
        from google import genai  # the SDK takes a second to import: only when a run uses it
        from google.genai import types

        options = types.HttpOptions(
            base_url=self.settings.base_url or None, timeout=int(self.settings.timeout * 1000)
        )
        return genai.Client(api_key=self.settings.api_key, http_options=options)

    def _send(self, client: genai.Client, image: EncodedImage, prompt: Prompt) -> Reply:
        contents, config = generate_request(prompt, image, structured=self.settings.structured_output)
        response = client.models.generate_content(model=self.model, contents=contents, config=config)
        return reply_from_generate(response)

    def _classify_sdk_error(self, exc: Exception) -> ProviderError | None:
        return classify_google_error(exc)
