"""CLI subcommands, one module per stage; each exposes ``register(app)``."""

from rollcure.commands import data, demo, features, policy, serve, train

REGISTRARS = [data.register, features.register, train.register, policy.register, serve.register, demo.register]
