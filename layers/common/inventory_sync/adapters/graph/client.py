"""Graph requests with the retry rules of docs/architecture.md §7.

* 429/503/504: wait as ``Retry-After`` says (seconds or an HTTP date);
* other 5xx and connection errors: exponential backoff with full jitter;
* attempts and the total wait are bounded, and no wait may overrun the run's deadline;
* a 429 anywhere slows every worker of the tenant (a shared ``ThrottleGate``);
* a run paces itself below Intune's limit (a ``RequestPacer``: at most ``GRAPH_REQUESTS_PER_20S`` requests
  in any 20 s, each ``$batch`` sub-request counted, as Microsoft counts them), retries included;
* ``$batch`` chunks of one call are sent several at a time (``max_batches_in_flight`` per run, shared by all
  its workers), and the call's total wait for sub-responses' ``Retry-After`` is bounded like a plain request's;
* the bearer token goes to the configured Graph origin (scheme, host, port) only: an
  ``@odata.nextLink`` elsewhere, a link seen before in the same listing (a cycle) or a listing past
  ``max_pages`` ends that listing with ``graph_invalid_response``.
"""

from __future__ import annotations

import email.utils
import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import urllib3

from inventory_sync.adapters.graph import http
from inventory_sync.adapters.graph.errors import DeadlineReached, GraphError, Stopped, classify
from inventory_sync.domain.error_codes import ErrorCode

RETRY_AFTER_STATUSES = frozenset({429, 503, 504})
BATCH_LIMIT = 20
DEFAULT_MAX_PAGES = 10_000  # per listing: 1,000,000 objects at Graph's usual page size of 100
DEFAULT_BATCHES_IN_FLIGHT = 8
PACING_WINDOW_SECONDS = 20.0


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in, for comparing where URLs point."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"https": 443, "http": 80}.get(scheme)
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port


def without_query(url: str) -> str:
    """A URL fit for an error message: no query string (skip tokens and filters stay out of logs)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"[:300]


@dataclass
class RetryPolicy:
    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_total_wait: float = 120.0
    default_retry_after: float = 5.0


class ThrottleGate:
    """Tenant-wide: after a 429, nobody sends before `not_before`."""

    def __init__(self) -> None:
        self._not_before = 0.0
        self._lock = threading.Lock()

    def push(self, seconds: float) -> None:
        with self._lock:
            self._not_before = max(self._not_before, time.monotonic() + seconds)

    def delay(self) -> float:
        with self._lock:
            return max(0.0, self._not_before - time.monotonic())


class RequestPacer:
    """One per run: at most `limit` requests in any sliding `window` seconds. A request of `cost` (a $batch
    costs its sub-requests) takes its slots when they fit; otherwise it learns how long until they do."""

    def __init__(self, limit: int, window: float = PACING_WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = max(1, limit)
        self.window = window
        self._clock = clock
        self._sent: deque[tuple[float, int]] = deque()  # (when, cost), oldest first
        self._in_window = 0
        self._lock = threading.Lock()

    def reserve(self, cost: int) -> float:
        """0 when `cost` slots were taken now; else the seconds until they may be (nothing taken)."""
        cost = min(max(cost, 1), self.limit)
        with self._lock:
            now = self._clock()
            while self._sent and self._sent[0][0] <= now - self.window:
                self._in_window -= self._sent.popleft()[1]
            if self._in_window + cost <= self.limit:
                self._sent.append((now, cost))
                self._in_window += cost
                return 0.0
            freed, wait = self._in_window, 0.0
            for when, n in self._sent:  # the oldest leave the window first
                freed -= n
                wait = when + self.window - now
                if freed + cost <= self.limit:
                    break
            return max(wait, 0.001)


@dataclass
class GraphStats:
    requests: int = 0  # sub-requests of a $batch counted, as Graph counts them
    round_trips: int = 0
    throttled: int = 0
    retries: int = 0
    waited_seconds: float = 0.0
    paced: int = 0  # requests that waited for room in the run's window
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **deltas: float) -> None:
        with self._lock:
            for name, value in deltas.items():
                setattr(self, name, getattr(self, name) + value)


def parse_retry_after(value: str | None, default: float) -> float:
    """Seconds to wait: Retry-After as delta-seconds or as an HTTP date; `default` when absent or unreadable."""
    if not value:
        return default
    if value.strip().replace(".", "", 1).isdigit():
        return max(0.0, float(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, when.timestamp() - time.time())


@dataclass
class RunPacing:
    """What all the requests of one run share: its window (`pacer`; None: unpaced), its Retry-After gate, and
    how many $batch requests it keeps in flight."""

    pacer: RequestPacer | None = None
    gate: ThrottleGate = field(default_factory=ThrottleGate)
    batches_in_flight: int = DEFAULT_BATCHES_IN_FLIGHT


class GraphClient:
    """Requests for one tenant during one run (the HTTP pool itself is shared by the process)."""

    api_version = "beta"

    def __init__(self, base_url: str, get_token: Callable[[bool], str], *, policy: RetryPolicy | None = None,
                 pacing: RunPacing | None = None, deadline: Callable[[], float] | None = None,
                 stop: threading.Event | None = None, max_pages: int = DEFAULT_MAX_PAGES) -> None:
        self.base_url = base_url.rstrip("/")
        self._origin = origin(self.base_url)
        self.max_pages = max_pages
        self._get_token = get_token
        self.policy = policy or RetryPolicy()
        pacing = pacing or RunPacing()
        self.gate = pacing.gate
        self.pacer = pacing.pacer
        self.max_batches_in_flight = max(1, pacing.batches_in_flight)
        self._in_flight = threading.BoundedSemaphore(self.max_batches_in_flight)  # $batch requests, whole run
        self._deadline = deadline or (lambda: float("inf"))
        self._stop = stop or threading.Event()
        self.stats = GraphStats()

    def url(self, path: str) -> str:
        return f"{self.base_url}/{self.api_version}{path}"

    def _wait(self, seconds: float, paced: bool = False) -> None:
        if seconds <= 0:
            return
        if seconds >= self._deadline():
            raise DeadlineReached()
        if not paced:
            self.stats.add(waited_seconds=seconds)
        if self._stop.wait(seconds):
            raise Stopped()

    def _pace(self, cost: int) -> None:
        """Wait until the run's window has room for `cost` requests, and take it."""
        if self.pacer is None:
            return
        delay = self.pacer.reserve(cost)
        if delay > 0:
            self.stats.add(paced=1)
        while delay > 0:
            if self._stop.is_set():
                raise Stopped()
            self._wait(delay, paced=True)
            delay = self.pacer.reserve(cost)

    def request(self, method: str, url: str, body: Any = None, cost: int = 1) -> tuple[Any, str | None]:
        """JSON request with retries; returns (parsed body, request-id) or raises GraphError. `cost`: the
        requests Graph counts it as (a $batch: its sub-requests)."""
        if origin(url) != self._origin:  # the token is for the configured Graph only, whatever asks
            raise GraphError(ErrorCode.GRAPH_INVALID_RESPONSE,
                             f"refusing to send the tenant's token outside the configured Graph: {without_query(url)}")
        waited = 0.0
        refreshed = False
        last_error: GraphError | None = None
        for attempt in range(1, self.policy.max_attempts + 1):
            if self._stop.is_set():
                raise Stopped()
            self._wait(self.gate.delay())
            self._pace(cost)
            headers = {"Authorization": f"Bearer {self._get_token(False)}", "Accept": "application/json"}
            payload = None
            if body is not None:
                headers["Content-Type"] = "application/json"
                payload = json.dumps(body).encode()
            self.stats.add(requests=cost, round_trips=1)
            try:
                response = http.request(method, url, headers=headers, body=payload)
            except urllib3.exceptions.HTTPError as exc:
                last_error = GraphError(ErrorCode.GRAPH_UNAVAILABLE, f"network error: {type(exc).__name__}")
                delay = self._backoff(attempt)
            else:
                request_id = response.header("request-id") or response.header("client-request-id")
                if 200 <= response.status < 300:
                    try:
                        return response.json(), request_id
                    except ValueError:
                        raise GraphError(ErrorCode.GRAPH_INVALID_RESPONSE, "response is not valid JSON",
                                         response.status, request_id) from None
                if response.status == 401 and not refreshed:
                    refreshed = True  # token expired or revoked early: one fresh token, then give up
                    self._get_token(True)
                    continue
                last_error = GraphError(classify(response.status), _graph_message(response), response.status,
                                        request_id)
                if response.status in RETRY_AFTER_STATUSES:
                    delay = parse_retry_after(response.header("retry-after"), self.policy.default_retry_after)
                    if response.status == 429:
                        self.stats.add(throttled=1)
                        self.gate.push(delay)
                elif response.status >= 500:
                    delay = self._backoff(attempt)
                else:
                    raise last_error
            if attempt == self.policy.max_attempts or waited + delay > self.policy.max_total_wait:
                break
            self.stats.add(retries=1)
            waited += delay
            self._wait(delay)
        assert last_error is not None
        raise last_error

    def _backoff(self, attempt: int) -> float:
        return random.uniform(0, min(self.policy.max_delay, self.policy.base_delay * 2 ** (attempt - 1)))

    def iter_pages(self, path: str, params: dict[str, str] | None = None) -> Iterator[list[dict[str, Any]]]:
        """Each page's items, following @odata.nextLink exactly as given."""
        url = self.url(path)
        if params:
            url = f"{url}?{urlencode(params, safe='$,', quote_via=quote)}"
        yield from self._follow(url)

    def batch_get(self, relative_urls: list[str]) -> dict[str, dict[str, Any]]:
        """GET many relative URLs through JSON $batch (20 a request, several requests in flight). Returns
        url → body; a failed sub-request raises GraphError with its status. Collections are paged to the end,
        their next pages fetched through $batch as well (in the next round, packed with the others')."""
        results: dict[str, dict[str, Any]] = {}
        pending = [(u, u) for u in dict.fromkeys(relative_urls)]  # (what was asked for, URL to get)
        attempts: dict[str, int] = {}
        seen: dict[str, set[str]] = {}  # per asked-for URL: the next pages already requested
        waited = 0.0
        while pending:
            chunks = [pending[i:i + BATCH_LIMIT] for i in range(0, len(pending), BATCH_LIMIT)]
            pending = []
            retry_after = 0.0
            retried: GraphError | None = None
            for chunk, (body, request_id) in zip(chunks, self._send_batches(chunks), strict=True):
                responses = body.get("responses") if isinstance(body, dict) else None
                if not isinstance(responses, list):
                    raise GraphError(ErrorCode.GRAPH_INVALID_RESPONSE, "$batch response has no responses", 200,
                                     request_id)
                for sub in responses:
                    try:
                        target, url = chunk[int(sub["id"])]
                        status = int(sub["status"])
                    except (KeyError, ValueError, IndexError, TypeError):
                        raise GraphError(ErrorCode.GRAPH_INVALID_RESPONSE, "malformed $batch sub-response", 200,
                                         request_id) from None
                    sub_body = sub.get("body") if isinstance(sub.get("body"), dict) else {}
                    if status in RETRY_AFTER_STATUSES and attempts.get(url, 0) < self.policy.max_attempts:
                        attempts[url] = attempts.get(url, 0) + 1
                        headers = {k.lower(): v for k, v in (sub.get("headers") or {}).items()}
                        retry_after = max(retry_after, parse_retry_after(headers.get("retry-after"),
                                                                         self.policy.default_retry_after))
                        retried = GraphError(classify(status), f"$batch {target}: HTTP {status}", status,
                                             request_id)
                        if status == 429:
                            self.stats.add(throttled=1)
                        pending.append((target, url))
                        continue
                    if not 200 <= status < 300:
                        raise GraphError(classify(status), f"$batch {target}: HTTP {status}", status, request_id)
                    self._merge(results, target, sub_body, request_id)
                    next_link = sub_body.get("@odata.nextLink")
                    if isinstance(results[target].get("value"), list) and next_link is not None:
                        pages = seen.setdefault(target, set())
                        self._check_next_link(next_link, pages, request_id)
                        pages.add(next_link)
                        pending.append((target, self._relative(next_link)))
            if retry_after:
                if waited + retry_after > self.policy.max_total_wait:
                    assert retried is not None
                    raise retried  # bounded like a plain request: the listing fails rather than waits on
                waited += retry_after
                self.stats.add(retries=1)
                self.gate.push(retry_after)
                self._wait(retry_after)
        for body in results.values():
            body.pop("@odata.nextLink", None)
        return results

    def _send_batches(self, chunks: list[list[tuple[str, str]]]) -> list[tuple[Any, str | None]]:
        """One $batch per chunk, up to the run's in-flight bound at once (the bound is shared by every worker
        of the run); answers in the chunks' order."""
        def send(chunk: list[tuple[str, str]]) -> tuple[Any, str | None]:
            with self._in_flight:
                return self.request("POST", self.url("/$batch"), {
                    "requests": [{"id": str(i), "method": "GET", "url": u} for i, (_, u) in enumerate(chunk)]},
                    cost=len(chunk))

        if len(chunks) == 1:
            return [send(chunks[0])]
        with ThreadPoolExecutor(max_workers=min(len(chunks), self.max_batches_in_flight),
                                thread_name_prefix="graph-batch") as pool:
            futures = [pool.submit(send, chunk) for chunk in chunks]
            return [f.result() for f in futures]  # the first failure (in order) is raised

    @staticmethod
    def _merge(results: dict[str, dict[str, Any]], target: str, body: dict[str, Any],
               request_id: str | None) -> None:
        if target not in results:
            results[target] = body
            return
        values = body.get("value")  # a next page of a collection: its values join the first page's
        if not isinstance(values, list):
            raise GraphError(ErrorCode.GRAPH_INVALID_RESPONSE, "page has no 'value' array", 200, request_id)
        results[target]["value"].extend(values)

    def _relative(self, link: str) -> str:
        """A nextLink (already checked to be on the configured Graph) as a $batch URL: relative to the version."""
        path = urlsplit(link)
        prefix = urlsplit(self.url("")).path
        relative = path.path[len(prefix):] if path.path.startswith(prefix) else path.path
        return relative + (f"?{path.query}" if path.query else "")

    def _follow(self, url: str) -> Iterator[list[dict[str, Any]]]:
        seen: set[str] = set()
        while url:
            seen.add(url)
            body, request_id = self.request("GET", url)
            if not isinstance(body, dict) or not isinstance(body.get("value"), list):
                raise GraphError(ErrorCode.GRAPH_INVALID_RESPONSE, "page has no 'value' array", 200, request_id)
            if not all(isinstance(item, dict) for item in body["value"]):
                raise GraphError(ErrorCode.GRAPH_INVALID_RESPONSE, "page has entries that are not objects", 200,
                                 request_id)
            next_link = body.get("@odata.nextLink")
            if next_link is not None:
                self._check_next_link(next_link, seen, request_id)
            yield body["value"]
            url = next_link or ""

    def _check_next_link(self, next_link: Any, seen: set[str], request_id: str | None) -> None:
        """Checked before the page is handed on, so a listing that cannot be completed stores nothing more."""
        if not isinstance(next_link, str) or not next_link:
            raise GraphError(ErrorCode.GRAPH_INVALID_RESPONSE, "@odata.nextLink is not a URL", 200, request_id)
        if origin(next_link) != self._origin:
            raise GraphError(ErrorCode.GRAPH_INVALID_RESPONSE,
                             f"@odata.nextLink leaves the configured Graph ({without_query(next_link)}); not followed",
                             200, request_id)
        if next_link in seen:
            raise GraphError(ErrorCode.GRAPH_INVALID_RESPONSE,
                             f"@odata.nextLink points back to a page already read ({without_query(next_link)})",
                             200, request_id)
        if len(seen) >= self.max_pages:
            raise GraphError(ErrorCode.GRAPH_INVALID_RESPONSE,
                             f"listing longer than {self.max_pages} pages (GRAPH_MAX_PAGES); stopped", 200, request_id)


def _graph_message(response: http.HttpResponse) -> str:
    try:
        error = response.json().get("error", {})
        return f"HTTP {response.status} {str(error.get('code', ''))[:80]}: {str(error.get('message', ''))[:300]}"
    except (ValueError, AttributeError):
        return f"HTTP {response.status}"
