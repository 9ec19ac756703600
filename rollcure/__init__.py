"""rollcure: collections decisioning. ``rollcure.core`` is the base layer, ``rollcure.config`` the typed
configuration, ``cli`` the command line on top of every package."""

__version__ = "0.1.0"
