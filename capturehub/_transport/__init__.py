"""The SDK's HTTP layer: one place that knows httpx, authentication, retries and timeouts.

The datamanager talks to the server only through :class:`Connection`; swapping or mocking the
transport means touching this package alone.
"""

from capturehub._transport.auth import Credentials, TokenListener, Tokens
from capturehub._transport.connection import (
    DEFAULT_TIMEOUT,
    Connection,
    RetryPolicy,
    TransferProgress,
    Upload,
    normalize_base_url,
)
from capturehub._transport.download import download
from capturehub._transport.errors import json_body

__all__ = [
    "DEFAULT_TIMEOUT",
    "Connection",
    "Credentials",
    "RetryPolicy",
    "TokenListener",
    "Tokens",
    "TransferProgress",
    "Upload",
    "download",
    "json_body",
    "normalize_base_url",
]
