"""CLI subcommands, one module per stage; each exposes ``register(app)``."""

from cli.commands import data, demo, features, monitor, policy, real_data, serve, train

REGISTRARS = [
    data.register,
    real_data.register,
    features.register,
    train.register,
    policy.register,
    serve.register,
    monitor.register,
    demo.register,
]
