"""A minimal, deterministic WARC/1.0 writer (ISO 28500; https://iipc.github.io/warc-specifications/).

Like Common Crawl, every record is its own gzip member, so a reader can seek to any record.
Determinism: record ids are UUIDs derived from the seed and the URL, dates come from the
caller, and gzip members carry mtime=0 and no file name, so the same input gives the same bytes.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import uuid

NAMESPACE = uuid.UUID("6d656e74-726f-4000-8000-77617263000a")  # fixed: record ids depend on inputs only


def _digest(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def record_id(*parts: str) -> str:
    return f"<urn:uuid:{uuid.uuid5(NAMESPACE, '|'.join(parts))}>"


def _record(headers: list[tuple[str, str]], block: bytes) -> bytes:
    head = "WARC/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    head += f"Content-Length: {len(block)}\r\n\r\n"
    raw = head.encode("utf-8") + block + b"\r\n\r\n"
    return gzip.compress(raw, compresslevel=6, mtime=0)


def http_response(body: bytes, content_type: str, date_http: str, server: str = "nginx") -> bytes:
    """The HTTP/1.1 response block a crawler stores: status line, headers, blank line, payload."""
    head = (f"HTTP/1.1 200 OK\r\nDate: {date_http}\r\nServer: {server}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    return head.encode("ascii") + body


class WarcWriter:
    """Append gzip WARC records to a file object; write warcinfo first."""

    def __init__(self, f, filename: str, seed: str, date: str, software: str = "dentro world"):
        self.f = f
        info = (f"software: {software}\r\nformat: WARC File Format 1.0\r\n"
                f"description: dentro's generated tiny world (seed {seed}); every page has ground truth\r\n"
                f"isPartOf: dentro-world-{seed}\r\n").encode("utf-8")
        self.f.write(_record([("WARC-Type", "warcinfo"), ("WARC-Date", date), ("WARC-Filename", filename),
                              ("WARC-Record-ID", record_id(seed, filename, "warcinfo")),
                              ("Content-Type", "application/warc-fields")], info))
        self.info_id = record_id(seed, filename, "warcinfo")
        self.seed = seed

    def response(self, url: str, date: str, date_http: str, body: bytes, content_type: str,
                 ip: str = "10.0.0.1", server: str = "nginx") -> None:
        block = http_response(body, content_type, date_http, server)
        mime = content_type.split(";")[0].strip()
        self.f.write(_record([
            ("WARC-Type", "response"), ("WARC-Date", date), ("WARC-Record-ID", record_id(self.seed, url)),
            ("WARC-Target-URI", url), ("WARC-IP-Address", ip), ("WARC-Warcinfo-ID", self.info_id),
            ("WARC-Block-Digest", _digest(block)), ("WARC-Payload-Digest", _digest(body)),
            ("WARC-Identified-Payload-Type", mime), ("Content-Type", "application/http; msgtype=response"),
        ], block))
