"""What the activator passes on: end-to-end headers unchanged, hop-by-hop ones dropped."""

from __future__ import annotations

from lepton.activator.headers import end_to_end, forwarded_for


def test_end_to_end_headers_pass_and_hop_by_hop_ones_do_not() -> None:
    headers = [
        ("Authorization", "Bearer t"),
        ("Inference-Header-Content-Length", "123"),
        ("Content-Type", "application/octet-stream"),
        ("Connection", "keep-alive, X-Hop"),
        ("Keep-Alive", "timeout=5"),
        ("Transfer-Encoding", "chunked"),
        ("X-Hop", "named by Connection"),
        ("Host", "activator:8080"),
        ("Content-Length", "999"),
        ("Proxy-Authorization", "Basic x"),
        ("Upgrade", "h2c"),
        ("TE", "trailers"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
    ]
    assert end_to_end(headers) == [
        ("Authorization", "Bearer t"),
        ("Inference-Header-Content-Length", "123"),
        ("Content-Type", "application/octet-stream"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
    ]


def test_header_names_are_case_insensitive() -> None:
    assert end_to_end([("connection", "close"), ("TRANSFER-ENCODING", "chunked"), ("x-a", "1")]) == [
        ("x-a", "1")
    ]


def test_forwarded_for_appends_the_client() -> None:
    assert forwarded_for(None, "10.0.0.1") == "10.0.0.1"
    assert forwarded_for("1.2.3.4", "10.0.0.1") == "1.2.3.4, 10.0.0.1"
    assert forwarded_for("1.2.3.4", None) == "1.2.3.4"
    assert forwarded_for(None, None) is None
