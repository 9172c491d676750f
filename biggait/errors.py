"""User-facing errors: one clear line, a non-zero exit code from the CLI."""


class BigGaitError(Exception):
    """Base class of every error the CLI reports as ``error: <message>`` with exit code 2."""


class ConfigError(BigGaitError):
    """An experiment or workflow configuration is invalid (names the key and the file)."""


class DataError(BigGaitError):
    """A dataset file, folder or partition is missing or malformed (names the path)."""


class CheckpointError(BigGaitError):
    """A checkpoint is missing, unsafe or does not fit the configured model."""


class EvaluationError(BigGaitError):
    """Features, metadata or a protocol name are inconsistent."""
