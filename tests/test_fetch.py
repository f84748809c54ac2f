"""capplan.sgp / `capplan templates fetch` against a real HTTP server on 127.0.0.1.

The server speaks the SGP list endpoint (GET /v4/model-templates?page=&limit=) and
checks the `x-api-key` header, which is what scale_gp.SGPClient.auth_headers sends.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capplan import sgp
from capplan.cli import main
from capplan.errors import CapplanError
from capplan.template_files import load_templates

KEY = "sk-test-7f3a9c2e1b5d4f60aa81"  # must never show up in output or files
Make = Callable[..., dict[str, Any]]


@dataclass
class FakeSGP:
    """What the fake server answers; the tests flip `mode` and read `requests`."""

    templates: list[dict[str, Any]]
    mode: str = "normal"  # normal | no_total | repeat | endless | status | not_json | delay
    status: int = 500
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def page(self, number: int, limit: int) -> dict[str, Any]:
        if self.mode == "repeat":  # always the same full first page
            number = 1
        if self.mode == "endless":  # distinct full pages forever, no total
            items = [dict(self.templates[0], id=f"mt_{number}_{i}") for i in range(limit)]
            return {"items": items, "current_page": number, "items_per_page": limit}
        items = self.templates[(number - 1) * limit : number * limit]
        body = {"items": items, "current_page": number, "items_per_page": limit}
        if self.mode not in ("no_total",):
            body["total_item_count"] = len(self.templates) if self.mode != "repeat" else 10**6
        return body


def _handler(fake: FakeSGP) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            key = self.headers.get("x-api-key")
            fake.requests.append({"path": url.path, "query": query, "key": key})
            if url.path != "/v4/model-templates":
                return self._send(404, {"detail": "not found"})
            if key != KEY:
                return self._send(401, {"detail": "Invalid API key"})
            if fake.mode == "status":
                # Echo the key back, as a careless server might: capplan must scrub it.
                return self._send(fake.status, {"detail": f"boom for key {key}"})
            if fake.mode == "not_json":
                return self._send(200, "<html>gateway</html>", raw=True)
            if fake.mode == "delay":
                time.sleep(1.5)
            page = int(query.get("page", "1"))
            self._send(200, fake.page(page, int(query.get("limit", "100"))))

        def _send(self, code: int, body: object, raw: bool = False) -> None:
            data = (body if raw else json.dumps(body)).encode()  # type: ignore[union-attr]
            self.send_response(code)
            self.send_header("content-type", "text/html" if raw else "application/json")
            self.send_header("content-length", str(len(data)))
            self.send_header("retry-after-ms", "1")  # keep the SDK's one 5xx retry instant
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # keep test output clean

    return Handler


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is expected, not worth a traceback


@pytest.fixture
def fake_sgp(make_template: Make, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSGP]:
    templates = [
        make_template(id=f"mt_{n:03d}", name=f"template-{n}", endpoint_type="ASYNC")
        for n in range(7)
    ]
    fake = FakeSGP(templates)
    server = QuietServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    # A short poll interval: shutdown() waits up to one interval.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    monkeypatch.setenv("SGP_API_KEY", KEY)
    monkeypatch.delenv("SGP_CLIENT_BASE_URL", raising=False)
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def run(fake: FakeSGP, out: Path, *extra: str) -> int:
    argv = ["templates", "fetch", "--out", str(out), "--base-url", fake.url, *extra]
    return main(argv)


def assert_no_key(capsys: pytest.CaptureFixture[str], *files: Path) -> tuple[str, str]:
    captured = capsys.readouterr()
    assert KEY not in captured.out and KEY not in captured.err
    for path in files:
        if path.exists():
            assert KEY not in path.read_text()
    assert "Traceback" not in captured.err
    return captured.out, captured.err


def test_fetches_every_page(
    fake_sgp: FakeSGP, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "templates.json"
    assert run(fake_sgp, out, "--page-size", "3", "--account-id", "acct_9") == 0
    assert [r["query"] for r in fake_sgp.requests] == [
        {"limit": "3", "page": str(n), "account_id": "acct_9"} for n in (1, 2, 3)
    ]
    assert all(r["key"] == KEY for r in fake_sgp.requests)
    stdout, stderr = assert_no_key(capsys, out)
    assert f"fetched 7 templates to {out}" in stdout + stderr
    page = json.loads(out.read_text())
    assert page["total_item_count"] == 7 and page["current_page"] == 1
    assert page["items"] == fake_sgp.templates  # raw dicts, exactly as served
    assert [t.name for t in load_templates(out)] == [f"template-{n}" for n in range(7)]
    assert [p.name for p in tmp_path.iterdir()] == ["templates.json"]  # no temp file left


@pytest.mark.parametrize(("count", "requests"), [(7, 3), (6, 3), (0, 1), (2, 1)])
def test_without_total_stops_on_short_page(
    fake_sgp: FakeSGP, tmp_path: Path, count: int, requests: int
) -> None:
    fake_sgp.mode = "no_total"
    fake_sgp.templates = fake_sgp.templates[:count]
    items = sgp.fetch_templates(base_url=fake_sgp.url, account_id=None, page_size=3, api_key=None)
    # Without a total, an exact multiple (6) needs a last, empty page to know the list ended.
    assert len(items) == count and len(fake_sgp.requests) == requests


def test_default_page_size_is_100(fake_sgp: FakeSGP, tmp_path: Path) -> None:
    assert run(fake_sgp, tmp_path / "t.json") == 0
    assert [r["query"] for r in fake_sgp.requests] == [{"limit": "100", "page": "1"}]


@pytest.mark.parametrize("status", [401, 403])
def test_wrong_key(
    fake_sgp: FakeSGP,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    status: int,
) -> None:
    out = tmp_path / "t.json"
    if status == 401:
        monkeypatch.setenv("SGP_API_KEY", "sk-wrong-key")
    else:
        fake_sgp.mode, fake_sgp.status = "status", 403
    assert run(fake_sgp, out) == 2
    _, stderr = assert_no_key(capsys, out)
    assert stderr.strip() == (
        f"capplan: error: SGP API at {fake_sgp.url} rejected the API key (HTTP {status})"
    )
    assert "sk-wrong-key" not in stderr
    assert not out.exists()


def test_server_error_is_one_line_and_scrubbed(
    fake_sgp: FakeSGP, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_sgp.mode = "status"
    out = tmp_path / "t.json"
    assert run(fake_sgp, out) == 2
    _, stderr = assert_no_key(capsys, out)
    assert stderr.startswith(f"capplan: error: SGP API at {fake_sgp.url} failed on GET ")
    assert "(HTTP 500)" in stderr and "boom for key ***" in stderr
    assert stderr.count("\n") == 1
    assert len(fake_sgp.requests) == 2  # one SDK retry, then give up
    assert not out.exists()


def test_repeating_pager_is_stopped(
    fake_sgp: FakeSGP, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_sgp.mode = "repeat"
    out = tmp_path / "t.json"
    assert run(fake_sgp, out, "--page-size", "3") == 2
    _, stderr = assert_no_key(capsys, out)
    assert "returned the same templates for page 2 as for page 1" in stderr
    assert len(fake_sgp.requests) == 2 and not out.exists()


def test_endless_pager_hits_the_cap(
    fake_sgp: FakeSGP,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_sgp.mode = "endless"
    monkeypatch.setattr(sgp, "MAX_PAGES", 6)
    out = tmp_path / "t.json"
    assert run(fake_sgp, out, "--page-size", "2") == 2
    _, stderr = assert_no_key(capsys, out)
    assert "still had more templates after 6 pages of 2" in stderr
    assert len(fake_sgp.requests) == 6 and not out.exists()


def test_failure_keeps_the_old_file(
    fake_sgp: FakeSGP, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "t.json"
    out.write_text("old contents")
    fake_sgp.mode = "status"
    assert run(fake_sgp, out) == 2
    assert out.read_text() == "old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["t.json"]


def test_not_json_body(
    fake_sgp: FakeSGP, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_sgp.mode = "not_json"
    assert run(fake_sgp, tmp_path / "t.json") == 2
    _, stderr = assert_no_key(capsys)
    assert "answered page 1 with non-JSON" in stderr


def test_invalid_template_from_api(
    fake_sgp: FakeSGP, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_sgp.templates[4]["vendor_configuration"]["endpoint_config"]["min_workers"] = 99
    out = tmp_path / "t.json"
    assert run(fake_sgp, out, "--page-size", "3") == 2
    _, stderr = assert_no_key(capsys, out)
    assert "[4] (name 'template-4').vendor_configuration.endpoint_config.min_workers" in stderr
    assert not out.exists()


@pytest.mark.parametrize(
    "body",
    [[1, 2], {"data": []}, {"items": "x"}, {"items": [3]}],
    ids=["list", "no-items", "items-not-list", "item-not-object"],
)
def test_wrong_page_shape(fake_sgp: FakeSGP, monkeypatch: pytest.MonkeyPatch, body: object) -> None:
    monkeypatch.setattr(FakeSGP, "page", lambda self, number, limit: body)
    with pytest.raises(CapplanError, match=f"SGP API at {fake_sgp.url}"):
        sgp.fetch_templates(base_url=fake_sgp.url, account_id=None, page_size=3, api_key=None)


def test_duplicate_ids_across_pages(fake_sgp: FakeSGP) -> None:
    fake_sgp.templates[5]["id"] = fake_sgp.templates[1]["id"]
    with pytest.raises(CapplanError, match="listed template id 'mt_001' twice"):
        sgp.fetch_templates(base_url=fake_sgp.url, account_id=None, page_size=3, api_key=None)


def test_timeout(fake_sgp: FakeSGP) -> None:
    fake_sgp.mode = "delay"
    with pytest.raises(CapplanError, match="timed out"):
        sgp.fetch_templates(
            base_url=fake_sgp.url,
            account_id=None,
            page_size=3,
            api_key=None,
            timeout=0.2,
            max_retries=0,
        )


def test_connection_refused(
    fake_sgp: FakeSGP, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    argv = ["templates", "fetch", "--out", str(tmp_path / "t.json"), "--base-url", closed]
    assert main(argv) == 2
    _, stderr = assert_no_key(capsys)
    assert f"cannot reach the SGP API at {closed}" in stderr and stderr.count("\n") == 1


def test_missing_key(
    fake_sgp: FakeSGP,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SGP_API_KEY")
    assert run(fake_sgp, tmp_path / "t.json") == 2
    assert capsys.readouterr().err.strip() == "capplan: error: SGP_API_KEY is not set"
    assert fake_sgp.requests == []


@pytest.mark.parametrize("size", ["0", "10001", "-3"])
def test_page_size_range(
    fake_sgp: FakeSGP, tmp_path: Path, capsys: pytest.CaptureFixture[str], size: str
) -> None:
    assert run(fake_sgp, tmp_path / "t.json", "--page-size", size) == 2
    assert "page size must be between 1 and 10000" in capsys.readouterr().err
    assert fake_sgp.requests == []


def test_missing_output_directory(
    fake_sgp: FakeSGP, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "no" / "t.json"
    assert run(fake_sgp, out) == 2
    assert "does not exist" in capsys.readouterr().err


def test_sdk_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "scale_gp", None)  # makes `import scale_gp` fail
    with pytest.raises(CapplanError, match=r"pip install 'capplan\[sgp\]'"):
        sgp.fetch_templates(base_url=None, account_id=None, page_size=10, api_key="k")


def test_scale_from_zero_warning_is_one_line(
    fake_sgp: FakeSGP, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_sgp.templates[0]["endpoint_type"] = "SYNC"
    fake_sgp.templates[0]["vendor_configuration"]["endpoint_config"]["min_workers"] = 0
    assert run(fake_sgp, tmp_path / "t.json") == 0
    _, stderr = assert_no_key(capsys)
    assert stderr.count("capplan: warn") == 1 and "Warning:" not in stderr
    warning_lines = [line for line in stderr.splitlines() if line.startswith("capplan: warn")]
    assert len(warning_lines) == 1
    assert warning_lines[0].startswith("capplan: warning: SGP API at ")
    assert "'template-0'" in warning_lines[0] and "scale-from-zero" in warning_lines[0]


@pytest.mark.parametrize(
    ("url", "says"),
    [("127.0.0.1:9", "must start with http:// or https://"), ("http://[::1", "bad SGP base URL")],
)
def test_bad_base_url(
    fake_sgp: FakeSGP, tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str, says: str
) -> None:
    argv = ["templates", "fetch", "--out", str(tmp_path / "t.json"), "--base-url", url]
    assert main(argv) == 2
    _, stderr = assert_no_key(capsys)
    assert says in stderr and stderr.count("\n") == 1


# ---------------------------------------------------------------- the key in every form
@pytest.mark.parametrize("suffix", ["\r", "\t", "\n", " \r\n"], ids=["cr", "tab", "lf", "crlf"])
def test_key_with_trailing_whitespace_is_stripped_and_never_shown(
    fake_sgp: FakeSGP,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    suffix: str,
) -> None:
    """A key pasted with a trailing CR/tab/newline works, and never shows up anywhere."""
    monkeypatch.setenv("SGP_API_KEY", KEY + suffix)
    out = tmp_path / "t.json"
    assert run(fake_sgp, out) == 0
    assert_no_key(capsys, out)
    assert {r["key"] for r in fake_sgp.requests} == {KEY}  # the server saw the stripped key


@pytest.mark.parametrize("inside", ["\r", "\t", "\n", " ", "\x1b", "é"])
def test_key_with_a_bad_character_inside_is_refused_without_showing_it(
    fake_sgp: FakeSGP,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    inside: str,
) -> None:
    key = KEY[:10] + inside + KEY[10:]
    monkeypatch.setenv("SGP_API_KEY", key)
    out = tmp_path / "t.json"
    assert run(fake_sgp, out) == 2
    _, err = assert_no_key(capsys, out)
    assert err.startswith("capplan: error: SGP_API_KEY: ") and err.count("\n") == 1
    assert KEY[:10] not in err and KEY[10:] not in err and repr(key)[1:-1] not in err
    assert fake_sgp.requests == []  # refused before anything was sent


def test_key_echoed_in_a_template_field_is_scrubbed(
    fake_sgp: FakeSGP, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A server that fills a field with the key: the validation error must not echo it."""
    fake_sgp.templates[0]["vendor_configuration"]["endpoint_config"]["gpu_type"] = KEY
    out = tmp_path / "t.json"
    assert run(fake_sgp, out) == 2
    _, err = assert_no_key(capsys, out)
    assert "gpu_type" in err and "***" in err


@settings(max_examples=200, deadline=None)
@given(
    key=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=6, max_size=40),
    junk=st.sampled_from(["", "\r", "\t", "\n", " \r\n"]),
)
def test_scrub_removes_every_escaped_form(key: str, junk: str) -> None:
    from urllib.parse import quote, quote_plus

    raw = key + junk
    forms = [raw, key, repr(raw), json.dumps(raw), quote(raw, safe=""), quote_plus(raw), repr(key)]
    message = " | ".join(f"value {f} here" for f in forms)
    scrubbed = sgp.scrub(message, raw, key)
    assert key not in scrubbed
    for form in forms:
        assert form.strip("'\"") not in scrubbed
