"""One scrape of a pod's Prometheus endpoint (GET /metrics, text format), as Prometheus itself would
do it: the operator reads rank 0's training progress this way, so training pods need no API
credentials. Every outcome is a value: the text, or an Error saying why there is none."""

from __future__ import annotations

import aiohttp

from lepton.policies.metric_result import Error

DEFAULT_TIMEOUT_SECONDS = 2.0
# A progress endpoint serves a few dozen lines; anything far bigger is not one worth parsing.
MAX_BYTES = 1 << 20


async def scrape(url: str, *, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> str | Error:
    """The exposition text at ``url``, or an Error (refused, timed out, HTTP status, too big)."""
    timeout = aiohttp.ClientTimeout(total=timeout_seconds)
    try:
        # One short-lived session per scrape: one request every pollSeconds per running job, to a
        # different pod each time, gains nothing from a pool.
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, headers={"Accept": "text/plain"}) as response,
        ):
            body = await response.content.read(MAX_BYTES + 1)
            status = response.status
    except TimeoutError:
        return Error(f"timed out after {timeout_seconds:g}s scraping {url}")
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        return Error(f"cannot scrape {url}: {type(exc).__name__}: {exc}")
    if status != 200:
        return Error(f"HTTP {status} from {url}")
    if len(body) > MAX_BYTES:
        return Error(f"{url} answered more than {MAX_BYTES} bytes")
    return body.decode("utf-8", errors="replace")
