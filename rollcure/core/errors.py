"""The one exception type that means "the caller gave us bad input"."""


class InputError(ValueError):
    """Bad input from a user or a client: the CLI exits 2 with the message, HTTP answers 4xx.

    The message must name the field (option, column, table) and the problem, in one line.
    """
