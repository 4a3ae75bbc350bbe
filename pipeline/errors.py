"""Named errors of the claim-intake library.

Every error subclasses a built-in so callers can catch it broadly, and every message
names the bad value and what would be valid. The CLI turns these into clean messages.
"""

from __future__ import annotations

__all__ = [
    "ClaimIntakeError",
    "ConfigError",
    "UnreadablePacketError",
    "UnsupportedFileError",
    "EncryptedDocumentError",
    "CorruptDocumentError",
    "PageTooLargeError",
    "OcrError",
    "OcrTimeoutError",
    "ModelNotFoundError",
    "NotFittedError",
    "UntrustedModelError",
    "ExportError",
    "LedgerError",
    "LeaseLostError",
    "LabelsError",
    "FeatureSetMismatchError",
    "PromotionRefusedError",
    "ReviewError",
]


class ClaimIntakeError(Exception):
    """Base of every error raised on purpose by claim-intake."""


class ConfigError(ClaimIntakeError, ValueError):
    """A configuration file or value is invalid; the message names file, key and valid options."""


class UnreadablePacketError(ClaimIntakeError, ValueError):
    """A packet cannot be processed at all; it is quarantined with this message as reason."""


class UnsupportedFileError(UnreadablePacketError):
    """A file's content is not a PDF, TIFF, PNG or JPEG, whatever its extension says."""


class EncryptedDocumentError(UnreadablePacketError):
    """A PDF is encrypted and cannot be opened without a password."""


class CorruptDocumentError(UnreadablePacketError):
    """A file claims a known format but its content is truncated or damaged."""


class PageTooLargeError(UnreadablePacketError):
    """A page image is larger than the configured pixel limit (decompression-bomb guard)."""


class OcrError(ClaimIntakeError, RuntimeError):
    """Tesseract failed on a page."""


class OcrTimeoutError(OcrError, TimeoutError):
    """Tesseract did not finish a page within the configured timeout."""


class ModelNotFoundError(ClaimIntakeError, FileNotFoundError):
    """A trained model artifact is missing from models/; `make models` rebuilds it."""


class NotFittedError(ClaimIntakeError, ValueError, AttributeError):
    """An estimator was used before `fit`."""


class UntrustedModelError(ClaimIntakeError, ValueError):
    """A model file is not a skops file or holds types that are not on the trusted list."""


class ExportError(ClaimIntakeError, ValueError):
    """A batch export was asked to list a file that is missing or lies outside OUT."""


class LedgerError(ClaimIntakeError, RuntimeError):
    """The packet ledger cannot be opened or refused an operation."""


class LeaseLostError(LedgerError):
    """A worker finished a packet whose lease another worker had already taken over."""


class LabelsError(ClaimIntakeError, ValueError):
    """A fraud labels CSV or claims folder is unreadable or does not match; names file and line."""


class FeatureSetMismatchError(ConfigError):
    """A saved fraud model was trained on another feature list than this code computes."""


class PromotionRefusedError(ClaimIntakeError, ValueError):
    """A fraud model candidate is worse than CURRENT; the message holds both metrics."""


class ReviewError(ClaimIntakeError, ValueError):
    """A review action names an unknown user, role, claim or field; the message lists valid ones."""
