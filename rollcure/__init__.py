"""rollcure: collections decisioning. Shared vocabulary, configuration and the CLI."""

from rollcure.errors import InputError

__all__ = ["InputError"]
__version__ = "0.1.0"
