"""Security headers Django 5.2 does not set by itself.

The Content-Security-Policy allows only this origin: no CDN, no third-party script,
no inline script, no eval (page behaviours are in web/static/web/pages.js, htmx runs
with ``allowEval`` off), no framing, forms post only here. Inline *styles* are still
allowed: the templates' ``style`` attributes and htmx's indicator styles use them."""

CSP = ("default-src 'self'; script-src 'self'; "
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
