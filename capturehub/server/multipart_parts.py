"""What both streaming multipart readers share: the boundary of a request's body and each
part's headers, gathered from python-multipart's callbacks.

The readers themselves (``captures/multipart.py`` for the SensiML-style upload,
``edge_impulse/multipart.py`` for the ingestion service) decide where each part's bytes go.
"""

from __future__ import annotations

from collections.abc import Callable

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from capturehub.server.errors import BadRequest


def multipart_parser(request: Request, collector: PartCollector, refusal: str) -> MultipartParser:
    """A parser feeding ``collector``; a body that is not multipart/form-data is refused with
    ``refusal`` (a 400 telling the client how to send it)."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise BadRequest(refusal)
    return MultipartParser(boundary, callbacks=collector.callbacks())  # type: ignore[arg-type]


class PartCollector:
    """Gathers each part's headers; subclasses route the part's bytes.

    Subclasses extend :meth:`on_part_begin` (calling it) and implement
    :meth:`on_headers_finished`, :meth:`on_part_data` and :meth:`on_part_end`.
    """

    def __init__(self) -> None:
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}

    def on_part_begin(self) -> None:
        self._headers = {}

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field = b""
        self._header_value = b""

    def disposition(self) -> tuple[str, bytes | None]:
        """The part's field name and, for a file part, its raw file name."""
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        return options.get(b"name", b"").decode("utf-8", "replace"), options.get(b"filename")

    def on_headers_finished(self) -> None:
        raise NotImplementedError

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        raise NotImplementedError

    def on_part_end(self) -> None:
        raise NotImplementedError

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
        }
