"""Fetch model templates from the SGP API (GET /v4/model-templates) with the official SDK.

We page ourselves instead of using the SDK's auto-pager: it asks for page + 1 until
a page comes back empty, so a server that keeps answering full pages would loop
forever. We stop at total_item_count, on a short or empty page, and fail loudly on
a repeated page or after MAX_PAGES.

The API key is a secret: it is never printed, logged or written, and is scrubbed
from every error message (SDK and httpx exceptions may echo request details).
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from capplan.errors import CapplanError
from capplan.io import write_atomic
from capplan.template_files import templates_from_page_dicts, warn_scale_from_zero

API_KEY_ENV = "SGP_API_KEY"
MAX_PAGE_SIZE = 10_000  # the SDK documents limit <= 10k
MAX_PAGES = 1_000  # safety cap against a pager that never ends
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_MAX_RETRIES = 1  # the SDK retries 5xx/429 with backoff; one retry keeps failures quick
_PATH = "/v4/model-templates"


def fetch_templates(
    *,
    base_url: str | None,
    account_id: str | None,
    page_size: int,
    api_key: str | None,
    max_pages: int | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    max_retries: int = DEFAULT_MAX_RETRIES,
) -> list[dict[str, Any]]:
    """Every model template visible to the key, as raw dicts in API order, each validated.

    `api_key` None means the SGP_API_KEY environment variable; `base_url` None means
    the SDK's default (SGP_CLIENT_BASE_URL or production); `max_pages` None means
    MAX_PAGES, read at call time so tests can lower it.
    """
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise CapplanError(f"page size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}")
    raw = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
    if not raw:
        raise CapplanError(f"{API_KEY_ENV} is not set")
    key = checked_key(raw)
    cap = MAX_PAGES if max_pages is None else max_pages
    # Whatever fails below (the SDK, httpx, a server echoing the key into an error body or
    # a template field), the message and any warning are scrubbed of the key first.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            items = _fetch(key, base_url, timeout, max_retries, account_id, page_size, cap)
        except CapplanError as exc:
            raise CapplanError(scrub(str(exc), raw, key)) from None
    for w in caught:
        warnings.warn(scrub(str(w.message), raw, key), w.category, stacklevel=2)
    return items


def _fetch(
    key: str,
    base_url: str | None,
    timeout: float,
    max_retries: int,
    account_id: str | None,
    page_size: int,
    max_pages: int,
) -> list[dict[str, Any]]:
    client = _client(key, base_url, timeout, max_retries)
    where = str(client.base_url).rstrip("/")
    try:
        items = _all_pages(client, where, account_id, page_size, max_pages, key)
    finally:
        client.close()
    _validate(items, where)
    return items


def checked_key(raw: str) -> str:
    """The key without surrounding whitespace; one that still holds a space or a control
    character is refused (an HTTP header cannot carry it, and httpx would echo it)."""
    key = raw.strip()
    if not key:
        raise CapplanError(f"{API_KEY_ENV} is blank")
    if any(not 0x21 <= ord(c) <= 0x7E for c in key):
        raise CapplanError(
            f"{API_KEY_ENV}: the key has a space, a control or a non-ASCII character inside "
            "it (not shown); an API key is printable ASCII"
        )
    return key


def scrub(text: str, *keys: str) -> str:
    """`text` with each key replaced by ***, in every form a message may show it:
    as is, as repr or JSON escapes it, and URL-encoded."""
    forms: set[str] = set()
    for key in keys:
        if not key:
            continue
        forms |= {
            key,
            repr(key)[1:-1],
            json.dumps(key)[1:-1],
            json.dumps(key, ensure_ascii=False)[1:-1],
            quote(key, safe=""),
            quote(key),
            quote_plus(key),
        }
    for form in sorted((f for f in forms if f), key=len, reverse=True):
        text = text.replace(form, "***")
    return text


def _client(key: str, base_url: str | None, timeout: float, max_retries: int) -> Any:
    try:
        import httpx
        import scale_gp
    except ImportError:
        raise CapplanError(
            "templates fetch needs the SGP SDK: pip install 'capplan[sgp]'"
        ) from None
    if base_url is not None and not base_url.startswith(("http://", "https://")):
        raise CapplanError(f"base URL must start with http:// or https://, got {base_url!r}")
    try:
        return scale_gp.SGPClient(
            api_key=key, base_url=base_url, timeout=timeout, max_retries=max_retries
        )
    except (ValueError, httpx.InvalidURL, scale_gp.SGPClientError) as exc:
        raise CapplanError(_scrub(f"bad SGP base URL {base_url!r}: {exc}", key)) from None


def _all_pages(
    client: Any, where: str, account_id: str | None, page_size: int, max_pages: int, key: str
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    seen_pages: dict[frozenset[str], int] = {}
    for page in range(1, max_pages + 1):
        body = _get_page(client, where, account_id, page_size, page, key)
        page_items = _page_items(body, where, page)
        ids = frozenset(str(item.get("id")) for item in page_items)
        if page_items and ids in seen_pages:
            raise CapplanError(
                f"SGP API at {where} returned the same templates for page {page} as for "
                f"page {seen_pages[ids]}: its pagination is broken, stopping"
            )
        seen_pages[ids] = page
        items.extend(page_items)
        if _is_last_page(body, page_items, len(items), page_size):
            return items
    raise CapplanError(
        f"SGP API at {where} still had more templates after {max_pages} pages "
        f"of {page_size}: stopping (is its pagination broken?)"
    )


def _is_last_page(body: dict[str, Any], page_items: list[Any], fetched: int, size: int) -> bool:
    total = body.get("total_item_count")
    if isinstance(total, int) and not isinstance(total, bool) and fetched >= total:
        return True
    return len(page_items) < size  # a short or empty page is the last one


def _get_page(
    client: Any, where: str, account_id: str | None, page_size: int, page: int, key: str
) -> object:
    import scale_gp

    params: dict[str, Any] = {"limit": page_size, "page": page}
    if account_id:
        params["account_id"] = account_id
    try:
        response = client.model_templates.with_raw_response.list(**params)
        return response.json()
    except scale_gp.APIStatusError as exc:
        raise CapplanError(_scrub(_status_message(exc, where, page), key)) from None
    except scale_gp.APITimeoutError:
        raise CapplanError(f"SGP API at {where} timed out (page {page})") from None
    except scale_gp.APIConnectionError as exc:
        reason = exc.__cause__ or exc
        raise CapplanError(_scrub(f"cannot reach the SGP API at {where}: {reason}", key)) from None
    except ValueError:  # json.JSONDecodeError, UnicodeDecodeError
        raise CapplanError(f"SGP API at {where} answered page {page} with non-JSON") from None


def _status_message(exc: Any, where: str, page: int) -> str:
    code = exc.status_code
    if code in (401, 403):
        return f"SGP API at {where} rejected the API key (HTTP {code})"
    detail = _one_line(exc.body if exc.body is not None else exc.message)
    return f"SGP API at {where} failed on GET {_PATH} page {page} (HTTP {code}): {detail}"


def _page_items(body: object, where: str, page: int) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise CapplanError(
            f"SGP API at {where} answered page {page} without an 'items' list: not a "
            "model templates page"
        )
    items = body["items"]
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise CapplanError(
                f"SGP API at {where}: page {page} items[{index}] is {type(item).__name__}, "
                "not a template object"
            )
    return items


def _validate(items: list[dict[str, Any]], where: str) -> None:
    """A bad API answer must fail here, not later when the file is loaded."""
    templates = templates_from_page_dicts(items, f"SGP API at {where}: templates")
    ids = [t.id for t in templates]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise CapplanError(f"SGP API at {where} listed template id {duplicates[0]!r} twice")
    warn_scale_from_zero(templates, f"SGP API at {where}")


def _one_line(value: object, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _scrub(text: str, key: str) -> str:
    return scrub(text, key)


def write_page(path: str | Path, items: list[dict[str, Any]]) -> None:
    """Write `items` as one list-response page, atomically: readers see the old file or
    the whole new one, never a partial write (temp file in the same dir + os.replace)."""
    target = Path(path)
    page = {
        "items": items,
        "total_item_count": len(items),
        "current_page": 1,
        "items_per_page": len(items),
    }
    directory = target.parent
    if not directory.is_dir():
        raise CapplanError(f"{target}: directory {directory} does not exist")

    def write(tmp: Path) -> None:
        with tmp.open("w", encoding="utf-8") as out:
            json.dump(page, out, indent=2)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())

    try:
        write_atomic(target, write)  # also removes its temp file on SIGTERM
    except OSError as exc:
        raise CapplanError(f"{target}: cannot write: {exc.strerror}") from None


def fetch_to_file(
    out: str | Path,
    *,
    base_url: str | None,
    account_id: str | None,
    page_size: int,
    api_key: str | None = None,
) -> int:
    """Fetch every template and write them to `out`; the number written."""
    items = fetch_templates(
        base_url=base_url, account_id=account_id, page_size=page_size, api_key=api_key
    )
    write_page(out, items)
    return len(items)
