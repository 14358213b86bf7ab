"""The errors provisioning raises."""

from __future__ import annotations


class ProvisioningError(RuntimeError):
    """The requested PostgreSQL server could not be started or reached."""


class MissingProgramError(ProvisioningError):
    """A server program this machine does not have (Debian's PostgreSQL, PgBouncer).

    Its message says what to install. Tests skip on it outside CI and fail on it in CI.
    """
