"""The application layer: the `rollcure` command line and its subcommands, on top of every package.

The allocator settings of ``rollcure.core.memory_env`` are applied here, before any command imports
numpy or pyarrow (they are read when those libraries load), and glibc is told to reuse the memory
the process frees instead of mapping fresh pages for every large array."""

from rollcure.core.memory_env import apply_memory_env, reuse_freed_memory

apply_memory_env()
reuse_freed_memory()
