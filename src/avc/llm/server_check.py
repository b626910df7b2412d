"""The server check of a live run: two cheap requests before the first paid one.

:func:`check_server` asks ``/models`` for the model list and sends one one-token completion, and
turns whatever goes wrong into one line naming the cause, the URL and the fix: an unreachable
server, a wrong path (404), a refused key (401/403), an unknown model, a server that still answers
429 or 5xx after the client's retries, or one whose replies are not chat completions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from avc.llm.client import ClientConfig

__all__ = ["ServerCheckError", "ServerInfo", "check_server"]


class ServerCheckError(RuntimeError):
    """The server cannot serve this run (unreachable, wrong path, key refused, model unknown)."""


@dataclass(frozen=True)
class ServerInfo:
    """What the server said about itself in the check."""

    url: str
    models: tuple[str, ...] | None
    """The ids ``/models`` lists (None where the server has no such list)."""
    model_reported: str | None
    system_fingerprint: str | None
    seed_accepted: bool | None


def _fail(cause: str, url: str, fix: str) -> ServerCheckError:
    return ServerCheckError(f"{cause} at {url}: {fix} Nothing was scored.")


def check_server(config: ClientConfig, timeout: float = 10.0) -> tuple[ServerInfo, ClientConfig]:
    """Ask the server for its models and for one one-token reply, and turn what goes wrong into
    one line naming the cause, the URL and the fix. Returns what the server reported and the
    config to use (without ``seed`` if the server refuses that parameter)."""
    import openai

    url = config.url
    client = openai.OpenAI(base_url=config.base_url, api_key=config.api_key(), timeout=timeout, max_retries=2)
    unreachable_fix = (
        "is the server running, and are host and port right? (base_url of an OpenAI-compatible "
        "server usually ends in /v1)"
    )
    models = None
    try:
        models = tuple(sorted(m.id for m in client.models.list()))
    except openai.APIConnectionError as err:  # includes timeouts
        raise _fail(
            f"cannot connect to the server ({type(err).__name__}: {err.__cause__ or err})",
            url,
            unreachable_fix,
        ) from None
    except openai.AuthenticationError as err:
        raise _fail(
            f"the API key was refused (401: {err.message})", url, f"check the key in ${config.api_key_env}."
        ) from None
    except (openai.APIStatusError, json.JSONDecodeError, openai.APIResponseValidationError):
        models = None  # no model list here (404, a fault or other): the completion below decides

    if models is not None and config.model not in models:
        shown = ", ".join(models[:10]) + (" ..." if len(models) > 10 else "")
        raise _fail(
            f"the server does not know the model {config.model!r}",
            url,
            f"pass one it serves (-p model NAME): {shown or 'it lists none'}.",
        )

    def probe(with_seed: bool):
        kwargs = dict(
            model=config.model,
            max_tokens=1,
            temperature=0.0,
            messages=[{"role": "user", "content": "Reply with the number 1."}],
        )
        if with_seed and config.seed is not None:
            kwargs["seed"] = config.seed
        return client.chat.completions.create(**kwargs)

    seed_accepted = None
    try:
        try:
            reply = probe(with_seed=True)
            seed_accepted = True if config.seed is not None else None
        except openai.BadRequestError as err:
            if config.seed is None or "seed" not in str(err).lower():
                raise
            reply, seed_accepted = probe(with_seed=False), False
    except openai.APIConnectionError as err:
        raise _fail(f"cannot connect to the server ({type(err).__name__})", url, unreachable_fix) from None
    except openai.AuthenticationError as err:
        raise _fail(
            f"the API key was refused (401: {err.message})", url, f"check the key in ${config.api_key_env}."
        ) from None
    except openai.PermissionDeniedError as err:
        raise _fail(
            f"the API key may not use {config.model!r} (403: {err.message})",
            url,
            "use a key with access to this model, or another model.",
        ) from None
    except openai.NotFoundError as err:
        if models is None:
            raise _fail(
                f"{url}/chat/completions was not found (404)",
                url,
                "the path is wrong: base_url should be the server's OpenAI-compatible root, which usually "
                "ends in /v1.",
            ) from None
        raise _fail(
            f"the model {config.model!r} was not found (404: {err.message})",
            url,
            "pass a model the server serves (-p model NAME).",
        ) from None
    except openai.BadRequestError as err:
        raise _fail(
            f"the server refused a minimal request (400: {err.message})",
            url,
            "check the model name and the server's OpenAI compatibility.",
        ) from None
    except openai.RateLimitError:
        raise _fail(
            "the server still answered 429 (rate limited) after the client's retries",
            url,
            "wait and rerun, or lower the request rate your key is allowed.",
        ) from None
    except openai.APIStatusError as err:
        raise _fail(
            f"the server answered HTTP {err.status_code} ({type(err).__name__}) after the client's retries",
            url,
            "the server is failing: check its logs or status page, then rerun.",
        ) from None
    except (json.JSONDecodeError, openai.APIResponseValidationError) as err:
        raise _fail(
            f"the server's reply is not the JSON of a chat completion ({type(err).__name__})",
            url,
            "is base_url an OpenAI-compatible server? (it usually ends in /v1)",
        ) from None
    if not getattr(reply, "choices", None) or not isinstance(
        getattr(getattr(reply.choices[0], "message", None), "content", None), str
    ):
        raise _fail(
            "the server's reply to a one-token request has no choices or no message content",
            url,
            "is base_url an OpenAI-compatible chat server? (it usually ends in /v1)",
        )
    info = ServerInfo(
        url=url,
        models=models,
        model_reported=getattr(reply, "model", None),
        system_fingerprint=getattr(reply, "system_fingerprint", None),
        seed_accepted=seed_accepted,
    )
    return info, (replace(config, seed=None) if seed_accepted is False else config)
