"""The application layer: the `rollcure` command line and its subcommands, on top of every package."""
