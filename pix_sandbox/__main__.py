"""``python -m pix_sandbox``: run the PSP (API Pix) sandbox HTTP server."""

import sys

from .server import main

sys.exit(main())
