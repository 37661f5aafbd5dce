"""One authenticated HTTP session with a capturehub server: timeouts, retries, errors.

Every SDK request goes through :meth:`Connection.request` (or :meth:`Connection.stream`), which

- joins the path to the server's base URL, so a server under a path prefix works;
- sends the bearer token, and on a 401 renews it once and sends the request again;
- retries with exponential backoff (and the server's ``Retry-After``) when the server could
  not be reached, or answered 502/503/504/429: always when the connection could not even be
  opened (nothing was sent), otherwise only for idempotent methods (GET, HEAD, PUT, DELETE);
- applies a timeout to every request;
- streams uploads from disk: an :class:`Upload` is reopened for every attempt and read in
  64 KiB chunks by httpx's multipart encoder, never loaded whole;
- reports how far each upload (and :func:`~capturehub._transport.download.download`) got to an
  optional :data:`TransferProgress` callback, for progress bars;
- raises the SDK's exceptions, never httpx's.
"""

from __future__ import annotations

import io
import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from capturehub._transport.auth import Credentials, TokenListener, TokenManager
from capturehub._transport.errors import (
    ErrorOverrides,
    error_for_response,
    error_for_transport,
    json_body,
)
from capturehub._version import __version__

# httpcore reads a response 64 KiB at a time, and each read costs h11 some Python work: about
# 1 CPU-second per GB received, the bound on a download or get_data() over loopback (measured
# in benchmarks/run.py, sections download and data). Larger reads cost a fraction of that, but
# not the larger the better: h11 copies every read twice more (into its receive buffer, then out
# as the body chunk), and those copies are cheaper while a read fits the CPU's cache. Measured
# in turns on a 2-CPU VM, 512 KiB reads took the SDK's download from 1.0 to 0.8 CPU-s per GB
# and 20-35% faster than 1 MiB reads (4 MiB reads were half as fast). The setting is httpcore's
# class attribute, so it applies to every httpx client of the process; a read returns what has
# arrived, up to that size, so small responses are unaffected.
READ_BYTES = 512 * 1024


def _read_larger_chunks() -> None:
    try:
        from httpcore._sync.http11 import HTTP11Connection
    except ImportError:  # another httpcore layout: keep its default
        return
    if getattr(HTTP11Connection, "READ_NUM_BYTES", READ_BYTES) < READ_BYTES:
        HTTP11Connection.READ_NUM_BYTES = READ_BYTES


_read_larger_chunks()

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({429, 502, 503, 504})
# Errors raised before any byte of the request left: safe to retry whatever the method.
_NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_MAX_RETRY_AFTER = 30.0

# Called with a local file and how many of its bytes have been sent (upload) or written
# (download) so far in the current attempt; a retry starts again from 0. Called from the thread
# doing the transfer, once per chunk (64 KiB to 1 MiB).
TransferProgress = Callable[[Path, int], None]


@dataclass(frozen=True)
class Upload:
    """A file part read from disk while the request is sent (multipart field ``field``)."""

    path: Path
    filename: str
    field: str = "file"
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry; ``retries=0`` disables retrying."""

    retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 8.0

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        if retry_after is not None:
            try:
                return min(max(float(retry_after), 0.0), _MAX_RETRY_AFTER)
            except ValueError:
                pass  # an HTTP date: fall back to our own backoff
        ceiling = min(self.max_backoff, self.backoff * 2**attempt)
        return ceiling * (0.5 + random.random() / 2)  # jitter spreads out parallel clients


def normalize_base_url(server: str) -> str:
    """``host:8000``, ``http://host/api`` and ``http://host/api/`` all become ``…/`` URLs."""
    server = server.strip()
    if "://" not in server:
        server = "http://" + server
    try:
        url = httpx.URL(server)
    except httpx.InvalidURL as exc:
        raise ValueError(f"invalid server URL {server!r}: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"invalid server URL {server!r}: expected http(s)://host[:port]/[prefix/]")
    path = url.path if url.path.endswith("/") else url.path + "/"
    return str(url.copy_with(path=path, query=None, fragment=None))


class Connection:
    """An authenticated session with one server; thread-safe, reused for every request."""

    def __init__(
        self,
        server: str,
        credentials: Credentials,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        verify: bool | str = True,
        on_tokens: TokenListener | None = None,
        progress: TransferProgress | None = None,
    ) -> None:
        self.base_url = normalize_base_url(server)
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self.retry = retry or RetryPolicy()
        self.progress = progress
        # Whether this process can read the server's files in place (Capture.get_data): None
        # until the first try, then what that try found.
        self.reads_local_files: bool | None = None
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=self.timeout,
            verify=verify,
            headers={"User-Agent": f"capturehub-python/{__version__}"},
            follow_redirects=False,
        )
        self.tokens = TokenManager(
            credentials, self._post_token, self._check_api_key, on_tokens=on_tokens
        )
        try:
            self.tokens.login()
        except BaseException:
            self._http.close()
            raise

    # -- public API used by the datamanager ---------------------------------------------------

    def url_for(self, path: str) -> str:
        """The absolute URL of a server-relative path."""
        return str(self._http.build_request("GET", path).url)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        upload: Upload | None = None,
        timeout: httpx.Timeout | None = None,
        errors: ErrorOverrides | None = None,
    ) -> httpx.Response:
        """Send an authenticated request and answer its (read) success response."""
        response = self._authenticated(
            method, path, params=params, json=json, data=data, upload=upload, timeout=timeout
        )
        if response.is_error or response.is_redirect:
            raise error_for_response(response, errors)
        return response

    def answer(
        self, method: str, path: str, *, json: Any = None, timeout: httpx.Timeout | None = None
    ) -> httpx.Response:
        """Send an authenticated request once (no retry on an error status) and answer the
        response, error or not, read: for callers with their own retry rules (a recording's
        batches, which are safe to send again)."""
        response = self._authenticated(method, path, json=json, timeout=timeout)
        response.read()
        return response

    def get_json(self, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
        return json_body(self.request("GET", path, params=params))

    @contextmanager
    def stream(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        errors: ErrorOverrides | None = None,
    ) -> Iterator[httpx.Response]:
        """An open success response whose body is read by the caller (then closed)."""
        response = self._authenticated(method, path, params=params, headers=headers, stream=True)
        try:
            if response.is_error or response.is_redirect:
                response.read()
                raise error_for_response(response, errors)
            yield response
        finally:
            response.close()

    def iter_body(self, response: httpx.Response) -> Iterator[bytes]:
        """The body of a streamed response, chunk by chunk as it arrives (not re-buffered, so
        a download that breaks off has written everything received); a failure mid-body
        becomes one of the SDK's exceptions."""
        try:
            yield from response.iter_bytes()
        except httpx.HTTPError as exc:
            raise error_for_transport(exc, response.request.method, str(response.url)) from exc

    def close(self) -> None:
        self._http.close()

    # -- internals ----------------------------------------------------------------------------

    def _authenticated(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        generation, authorization = self.tokens.authorization()
        response = self._send(
            method, path, headers={**(headers or {}), "Authorization": authorization}, **kwargs
        )
        if response.status_code != 401:
            return response
        response.close()
        self.tokens.renew(generation)  # raises AuthenticationError when renewal fails
        _, authorization = self.tokens.authorization()
        return self._send(
            method, path, headers={**(headers or {}), "Authorization": authorization}, **kwargs
        )

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        upload: Upload | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout | None = None,
        stream: bool = False,
    ) -> httpx.Response:
        """One request with retries; answers any HTTP response, raises only when none came."""
        method = method.upper()
        attempt = 0
        while True:
            try:
                with ExitStack() as files:
                    multipart = None
                    if upload is not None:
                        handle = files.enter_context(self._open_upload(upload.path))
                        multipart = {upload.field: (upload.filename, handle, upload.content_type)}
                    request = self._http.build_request(
                        method,
                        path,
                        params=params,
                        json=json,
                        data=data,
                        files=multipart,
                        headers=headers,
                        timeout=timeout or self.timeout,
                    )
                    response = self._http.send(request, stream=stream)
            except httpx.HTTPError as exc:
                if attempt < self.retry.retries and self._may_retry(method, exc):
                    time.sleep(self.retry.delay(attempt))
                    attempt += 1
                    continue
                raise error_for_transport(exc, method, self.url_for(path)) from exc
            if (
                response.status_code in RETRY_STATUSES
                and method in IDEMPOTENT_METHODS
                and attempt < self.retry.retries
            ):
                response.close()
                time.sleep(self.retry.delay(attempt, response.headers.get("Retry-After")))
                attempt += 1
                continue
            return response

    def _open_upload(self, path: Path) -> BinaryIO:
        progress = self.progress
        if progress is None:
            return open(path, "rb")
        return _ReportingFile(path, progress)

    @staticmethod
    def _may_retry(method: str, exc: httpx.HTTPError) -> bool:
        if isinstance(exc, _NOT_SENT_ERRORS):
            return True
        retryable = isinstance(exc, httpx.TransportError) and not isinstance(
            exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError
        )
        return retryable and method in IDEMPOTENT_METHODS

    def logout(self) -> None:
        """Have the server revoke this login's tokens (RFC 7009), then forget them.

        The refresh token goes first: once it is revoked, nobody can mint new access tokens
        from it, whatever happens to the second request. An API key is not revoked (that is
        an administrator's decision: ``capturehub apikey revoke``).
        """
        tokens = self.tokens.tokens
        for token, kind in (
            (tokens and tokens.refresh_token, "refresh_token"),
            (tokens and tokens.access_token, "access_token"),
        ):
            if not token:
                continue
            form = {"token": token, "token_type_hint": kind}
            response = self._send("POST", "oauth/revoke_token/", data=form)
            if response.is_error or response.is_redirect:
                raise error_for_response(response)
        self.tokens.logged_out()

    def _post_token(self, form: dict[str, str]) -> Any:
        response = self._send("POST", "oauth/token/", data=form)
        if response.is_error or response.is_redirect:
            raise error_for_response(response)
        return json_body(response)

    def _check_api_key(self, api_key: str) -> Any:
        response = self._send("GET", "team-info/", headers={"Authorization": f"Bearer {api_key}"})
        if response.is_error or response.is_redirect:
            raise error_for_response(response)
        return json_body(response)


class _ReportingFile(io.FileIO):
    """A file opened for reading that reports its position after every read."""

    def __init__(self, path: Path, progress: TransferProgress) -> None:
        super().__init__(path, "rb")
        self._path = path
        self._progress = progress

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self._progress(self._path, self.tell())
        return data
