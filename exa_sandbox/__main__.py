"""``python -m exa_sandbox``: run the EXA sandbox HTTP server."""

import sys

from .server import main

sys.exit(main())
