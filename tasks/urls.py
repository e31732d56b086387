"""URL helpers shared by ingest (storage) and the stages: pure functions of a string."""

from __future__ import annotations

from urllib.parse import urlsplit


def domain_of(url: str | None, domain: str | None = None) -> str | None:
    """Publisher host without ``www.``, from the domain field or else the URL."""
    value = (domain or "").strip() or (url or "").strip()
    if not value:
        return None
    if "://" not in value:
        value = "http://" + value
    try:
        host = urlsplit(value).hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host
