"""Errors a user sees: each names the key, value or record at fault."""


class BeamConnectError(Exception):
    """Base of every error that is reported to the user as a one-paragraph reason."""


class ConfigError(BeamConnectError, ValueError):
    """A connector config or command-line value is missing, unknown or invalid."""
