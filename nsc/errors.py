"""Exceptions raised by nsc library code.

Library code raises these; only the CLI turns them into one-line messages and
exit codes (1 for a failed input, 2 for a usage error).
"""

from __future__ import annotations

__all__ = [
    "NscError",
    "FormatError",
    "UnknownCodecError",
    "WeightsError",
    "AudioError",
    "BitrateError",
]


class NscError(Exception):
    """Base class of every error nsc raises on purpose; its message is one line."""


class FormatError(NscError):
    """A `.nsc` byte stream is malformed, damaged or of an unsupported version."""


class UnknownCodecError(NscError):
    """A codec name or wire id is not in the registry."""


class WeightsError(NscError):
    """Model weights are missing, fail their SHA-256 check, or do not match a file."""


class AudioError(NscError):
    """An input is not readable audio, is empty, or holds NaN/inf samples."""


class BitrateError(NscError):
    """A requested bitrate is not offered by the codec (the message lists those that are)."""
