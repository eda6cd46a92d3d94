"""Mail HTML as the thread page shows it: inside a sandboxed `<iframe srcdoc>`.

The stored HTML was sanitized at ingestion; it is sanitized again here (defence in depth,
and for tickets stored by older code) after its attachment references became URLs. The
frame has no `allow-scripts`, so nothing in it runs even if the sanitizer missed something;
`<base target="_blank">` opens its links outside the page, and the small reset keeps wide
mail inside the frame. The page's CSP applies to the srcdoc document too (img-src 'self').
"""
from __future__ import annotations

from ..domain.content import format_size, sanitize_html

SANDBOX = "allow-same-origin allow-popups allow-popups-to-escape-sandbox"
_RESET = ("html,body{margin:0;padding:0}body{display:flow-root;font:15px/1.45 system-ui,-apple-system,'Segoe UI',"
          "Roboto,sans-serif;color:#1d2330;overflow-wrap:anywhere}img{max-width:100%;height:auto}"
          "table{max-width:100%}blockquote{margin:0 0 0 .8em;padding-left:.8em;border-left:2px solid #d9dee7}")


def srcdoc(display_html: str) -> str:
    """The document of one entry's frame, from HTML whose img sources are display URLs."""
    return (f'<!doctype html><html><head><meta charset="utf-8"><base target="_blank">'
            f"<style>{_RESET}</style></head><body>{sanitize_html(display_html)}</body></html>")


def size(value: int) -> str:
    return format_size(value)
