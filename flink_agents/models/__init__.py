"""Model providers. One module per provider; the OpenAI API covers most servers."""

from flink_agents.models._openai import ChatClient, ChatResult

__all__ = ["ChatClient", "ChatResult"]
