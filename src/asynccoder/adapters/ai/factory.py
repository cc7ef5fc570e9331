"""Builds the SDK adapter for a model reference, on HTTP clients shared for the life of the app."""

from __future__ import annotations

from collections.abc import Mapping

import httpx2

from asynccoder.adapters.ai.resilience import CallOptions
from asynccoder.application.ai.ports import ChatModel, ChatModelFactory
from asynccoder.domain.ai import ModelRef, Provider, ProviderAuthError, ProviderUnavailable
from asynccoder.domain.errors import InvalidInput
from asynccoder.domain.model_endpoints import validate_model_base_url


class SdkChatModelFactory(ChatModelFactory):
    """``create`` returns a cheap per-call adapter; connections are pooled in one shared HTTP client.

    The base URL is the reference's own (validated as a custom endpoint: https only, no credentials, no
    private hosts in production) or else the configured URL of the provider. Redirects are not followed,
    so an endpoint cannot bounce a request (and its key) elsewhere. Call ``aclose`` on shutdown.
    """

    def __init__(
        self,
        *,
        base_urls: Mapping[Provider, str],
        options: CallOptions,
        production: bool,
        http_client: httpx2.AsyncClient | None = None,
    ) -> None:
        self._base_urls = dict(base_urls)
        self._options = options
        self._production = production
        self._owns_client = http_client is None
        self._http = http_client or httpx2.AsyncClient(
            timeout=httpx2.Timeout(options.read_timeout, connect=options.connect_timeout),
            limits=httpx2.Limits(max_connections=200, max_keepalive_connections=40),
            follow_redirects=False,
        )

    def create(self, ref: ModelRef, *, api_key: str) -> ChatModel:
        if not api_key:
            # Never let an SDK fall back to a key from the process environment.
            raise ProviderAuthError(
                f"no API key for {ref.provider.value}", provider=ref.provider.value, code="missing_api_key"
            )
        base_url = self._base_url(ref)
        # Each SDK is imported on first use: together they cost seconds of start-up that commands never need.
        if ref.provider is Provider.ANTHROPIC:
            from asynccoder.adapters.ai.anthropic_chat import AnthropicChatModel

            return AnthropicChatModel(
                api_key=api_key, base_url=base_url, options=self._options, http_client=self._http
            )
        if ref.provider is Provider.GEMINI:
            from asynccoder.adapters.ai.gemini_chat import GeminiChatModel

            return GeminiChatModel(
                api_key=api_key, base_url=base_url, options=self._options, http_client=self._http
            )
        from asynccoder.adapters.ai.openai_chat import OpenAIChatModel

        return OpenAIChatModel(
            api_key=api_key,
            base_url=base_url,
            options=self._options,
            http_client=self._http,
            provider_name=ref.provider.value,
        )

    def _base_url(self, ref: ModelRef) -> str:
        if ref.base_url:
            try:
                return validate_model_base_url(ref.base_url, production=self._production)
            except InvalidInput:
                raise ProviderUnavailable(
                    f"the {ref.provider.value} endpoint of this model is not allowed",
                    provider=ref.provider.value,
                    code="invalid_base_url",
                ) from None
        configured = self._base_urls.get(ref.provider)
        if configured is None:
            raise ProviderUnavailable(
                f"no endpoint is configured for {ref.provider.value}",
                provider=ref.provider.value,
                code="base_url_required",
            )
        return configured

    async def aclose(self) -> None:
        if self._owns_client:
            await self._http.aclose()
