"""Who is calling: the client's address, and whether its key may send these events. Pure.

The client's address is the TCP peer, unless that peer is a trusted proxy:
then ``X-Forwarded-For`` is read from the right, each trusted hop skipped, and
the first address that is not a trusted proxy is the client. Anything a client
wrote to the left of that is ignored, so a forged header gains nothing.
"""

from __future__ import annotations

import ipaddress

from producers.apikeys import ApiKey
from producers.collector.settings import Network

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_address(text: str | None) -> Address | None:
    if not text:
        return None
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _trusted(address: Address, proxies: tuple[Network, ...]) -> bool:
    return any(address in network for network in proxies)


def client_address(
    peer: str | None, forwarded_for: str | None, proxies: tuple[Network, ...]
) -> Address | None:
    """The client's address (None when unknown or unparsable)."""
    address = parse_address(peer)
    if address is None or not forwarded_for or not _trusted(address, proxies):
        return address
    for hop in reversed(forwarded_for.split(",")):
        hop_address = parse_address(hop)
        if hop_address is None:
            return address  # garbage: stop at the last address known for sure
        address = hop_address
        if not _trusted(address, proxies):
            return address
    return address


def scope_refusal(key: ApiKey, documents: list[object]) -> tuple[int, str, str] | None:
    """``(index, reason, detail)`` of the first event the key may not send, else None.

    Only string ``source`` and ``location`` values are judged here; a missing or
    malformed one is the validator's to refuse (400), not this check's.
    """
    for index, document in enumerate(documents):
        if not isinstance(document, dict):
            continue
        source, location = document.get("source"), document.get("location")
        if isinstance(source, str) and not key.allows_source(source):
            return index, "forbidden_source", f"key {key.id} may not send source {source[:64]!r}"
        if isinstance(location, str) and not key.allows_location(location):
            return (
                index,
                "forbidden_location",
                f"key {key.id} may not send location {location[:64]!r}",
            )
    return None
