"""URL helpers shared by ingest (storage) and the stages: pure functions of a string."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit


def domain_of(url: str | None, domain: str | None = None) -> str | None:
    """Publisher host without ``www.``, from the domain field or else the URL."""
    value = (domain or "").strip() or (url or "").strip()
    return _publisher_host(value) if value else None


@lru_cache(maxsize=1 << 14)
def _publisher_host(value: str) -> str | None:
    """Why cached: records name their publisher's domain again and again (ingest parses one
    per record); a URL misses, at the cost of one lookup."""
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


# --------------------------------------------------------------------------- canonical URLs


@dataclass(frozen=True)
class UrlRules:
    """The URL rules of rules/urls.toml as plain data (this module knows no rule pack): which
    rules apply (their names, in pack order) and their word lists."""

    steps: tuple[str, ...]
    host_prefixes: tuple[str, ...] = ()
    tracking_prefixes: tuple[str, ...] = ()
    tracking_names: frozenset[str] = frozenset()
    index_pages: tuple[str, ...] = ()


_DEFAULT_PORTS = {"http": 80, "https": 443}
_AMP_SEGMENT = re.compile(r"(?:^|(?<=/))amp/")
_AMP_TAIL = re.compile(r"/amp/?$")


def canonical_url(url: str | None, rules: UrlRules) -> str | None:
    """One story's URL variants as one URL (None: not an http(s) URL). Pure and cheap: one
    ``urlsplit`` and a few string operations, so a batch is decided in microseconds a row."""
    if not url or "://" not in url:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host, path = _host(parts.hostname, port, scheme, rules), parts.path or "/"
    query = _query(parts.query, rules)
    fragment = "" if "url.fragment" in rules.steps else parts.fragment
    path = _path(path, rules)
    return urlunsplit(("https" if "url.host-fold" in rules.steps else scheme, host, path,
                       query, fragment))  # fmt: skip


def _host(hostname: str, port: int | None, scheme: str, rules: UrlRules) -> str:
    host = hostname.lower().rstrip(".")
    if "url.host-fold" not in rules.steps:
        return host if port is None else f"{host}:{port}"
    for prefix in rules.host_prefixes:
        rest = host[len(prefix) :]
        if host.startswith(prefix) and "." in rest and not rest.startswith(("co.", "com.")):
            host = rest
            break
    return host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"


def _query(query: str, rules: UrlRules) -> str:
    if not query or "url.tracking-params" not in rules.steps:
        return query
    kept = []
    for pair in query.split("&"):
        name = pair.split("=", 1)[0].lower()
        if not pair or name in rules.tracking_names or name.startswith(rules.tracking_prefixes):
            continue
        kept.append(pair)
    return "&".join(sorted(kept))


def _path(path: str, rules: UrlRules) -> str:
    if "url.amp-path" in rules.steps:
        path = _AMP_SEGMENT.sub("", path, count=1) if "/amp/" in f"/{path}" else path
        path = _AMP_TAIL.sub("", path) or "/"
        if path.endswith(".amp.html"):
            path = path[: -len(".amp.html")] + ".html"
    if "url.index-page" in rules.steps:
        for page in rules.index_pages:
            if path.endswith("/" + page):
                path = path[: -len(page)]
                break
        if len(path) > 1 and path.endswith("/"):
            path = path.rstrip("/") or "/"
    return path or "/"
