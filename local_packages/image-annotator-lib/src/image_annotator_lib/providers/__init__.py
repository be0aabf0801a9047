"""Vision-LLM providers (OpenAI, Anthropic, Google, OpenAI-compatible) behind the `Annotator` contract."""
