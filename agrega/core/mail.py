"""An e-mail whose HTML part shows images carried in the message itself (``cid:``),
for what a customer must see without loading anything from outside — the PIX QR code
of a notice. Django 5.2 has no inline images of its own; this builds the standard shape:

    multipart/alternative
      text/plain
      multipart/related
        text/html          (<img src="cid:…">)
        image/png          (Content-ID: <…>, inline)

Mail clients show the HTML with its image in place; the ones that read only text get
the plain part (which must say everything the image says)."""

from __future__ import annotations

from email.mime.image import MIMEImage

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import SafeMIMEMultipart


class InlineImagesEmail(EmailMultiAlternatives):
    """``EmailMultiAlternatives`` plus ``inline_images``: (content id, PNG bytes, file
    name) shown by the HTML alternative as ``<img src="cid:{content id}">``."""

    def __init__(self, *args, inline_images=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.inline_images = list(inline_images)

    def _create_alternatives(self, msg):
        msg = super()._create_alternatives(msg)
        if not self.inline_images or not msg.is_multipart():
            return msg
        encoding = self.encoding or settings.DEFAULT_CHARSET
        parts = msg.get_payload()
        for index, part in enumerate(parts):
            if part.get_content_type() == "text/html":
                related = SafeMIMEMultipart(_subtype="related", encoding=encoding)
                related.attach(part)
                for content_id, png, filename in self.inline_images:
                    image = MIMEImage(png, "png")
                    image["Content-ID"] = f"<{content_id}>"
                    image.add_header("Content-Disposition", "inline", filename=filename)
                    related.attach(image)
                parts[index] = related
                break
        return msg
