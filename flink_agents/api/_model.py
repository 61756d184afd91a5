"""Which model an agent talks to: any OpenAI-compatible chat-completions endpoint."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from flink_agents._redact import url_without_credentials
from flink_agents.api._duration import Duration
from flink_agents.errors import ConfigError

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class OpenAIModel(BaseModel):
    """A chat model behind the OpenAI API: OpenAI itself, vLLM, Ollama, llama.cpp, and others.

    The API key is read from the environment variable ``api_key_env`` where the call is made
    (on the Flink workers), never stored in the spec, events or logs.

    >>> m = OpenAIModel(model="gpt-4o-mini")
    >>> m.base_url is None, m.api_key_env, m.structured_output
    (True, 'OPENAI_API_KEY', 'json_schema')
    >>> OpenAIModel(model="llama3", base_url="http://127.0.0.1:11434/v1").label
    'llama3@http://127.0.0.1:11434/v1'
    >>> OpenAIModel(model="m", base_url="https://me:pw@llm.example/v1?key=sk-1").label
    'm@https://llm.example/v1'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, gt=0)
    #: Time for one request to the model; the shorter of this and ``Limits.call_timeout``
    #: bounds each attempt of a model call.
    timeout: Duration = timedelta(seconds=30)
    #: How the output schema reaches the model: ``json_schema`` (response_format with the
    #: schema; OpenAI, vLLM, llama.cpp, Ollama), ``json_object`` (JSON mode only) or
    #: ``prompt`` (the schema in the system prompt only, for servers with neither).
    structured_output: Literal["json_schema", "json_object", "prompt"] = "json_schema"
    extra_body: dict[str, Any] = Field(default_factory=dict)

    @property
    def label(self) -> str:
        """How logs and events name the model (never with credentials)."""
        return f"{self.model}@{url_without_credentials(self.base_url or DEFAULT_BASE_URL)}"

    def api_key(self) -> str:
        """The key from the environment; endpoints of your own may need none."""
        key = os.environ.get(self.api_key_env)
        if key:
            return key
        if self.base_url is None:
            raise ConfigError(
                f"model {self.model}: the environment variable {self.api_key_env} is not set "
                "where the job runs. Set it for the Flink TaskManagers (for the local stack: "
                "export it before `flink-agents local up`), or give base_url for a local server."
            )
        return "unused"
