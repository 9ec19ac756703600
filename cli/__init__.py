"""The application layer: the `rollcure` command line and its subcommands, on top of every package.

The allocator settings of ``rollcure.core.memory_env`` are applied here, before any command imports
numpy or pyarrow (they are read when those libraries load); `cli.main.main` also tells glibc to
reuse the memory the process frees."""

from rollcure.core.memory_env import apply_memory_env

apply_memory_env()
