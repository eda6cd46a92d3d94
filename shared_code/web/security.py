"""Headers on every response: a Content-Security-Policy that lets no inline or foreign script
run (mail content included), no MIME sniffing, no framing by other sites, no referrer leaks.

Mail HTML is shown in a sandboxed `<iframe srcdoc>` (see templates/ticket.html): it inherits
this policy, cannot run script (no `allow-scripts`), and cannot restyle or cover the page
around it. `style-src 'unsafe-inline'` is for the inline styles mail HTML carries; styles
cannot run code. `img-src` has no remote hosts: remote images in mail (trackers) stay off.
"""
from __future__ import annotations

def content_security_policy(authority_host: str) -> str:
    """The policy; `authority_host` (Microsoft Entra ID) is where the Authorize form may go."""
    return "; ".join([
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "frame-src 'self'",
        f"form-action 'self' {authority_host}",
        "base-uri 'none'",
        "frame-ancestors 'self'",
        "object-src 'none'",
    ])


HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeaders:
    """Pure ASGI middleware: adds the policy and HEADERS to every HTTP response that does not set them."""

    def __init__(self, app, authority_host: str) -> None:
        self.app = app
        self.headers = [(b"content-security-policy", content_security_policy(authority_host).encode()),
                        *HEADERS]

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (name, value) for name, value in self.headers if name not in present]
            await send(message)

        await self.app(scope, receive, with_headers)
