"""The SVA controller: claims SVA users whose desired state moved, calls the platform
and records what it confirmed. See docs/decisions/0002-convergence.md."""
