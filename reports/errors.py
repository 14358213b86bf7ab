"""The one error a report raises for its input, apart from a folder that does not exist."""

from __future__ import annotations


class ReportInputError(ValueError):
    """A result file exists but is not in its agreed format; the message names the file."""
