"""Security headers Django 5.2 does not set by itself.

The Content-Security-Policy allows only this origin: no CDN, no third-party script,
no framing, forms post only here. Inline scripts and htmx's ``hx-on`` still need
'unsafe-inline'/'unsafe-eval' (docs/operations.md says what would lift that)."""

CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
       "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'")
PERMISSIONS = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS)
        if request.path_info.startswith("/api/") and not request.path_info.startswith("/api/docs"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response
