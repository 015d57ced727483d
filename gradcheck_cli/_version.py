"""The version, in one place: pyproject.toml reads it at build time, and
the command line shows it without importlib.metadata (~50 ms of start-up)."""

__version__ = "0.1.0"
