"""The store's errors: one package base class beside each error's builtin base."""

from __future__ import annotations

import pickle

import pytest

import chatkit_pg
from chatkit_pg import (
    ChatKitPgError,
    ItemExistsError,
    NotFoundError,
    SortKeyConflictError,
    StoreTimeoutError,
    StoreUnavailableError,
    TransientConflictError,
)
from chatkit_pg.connections import PoolExhaustedError

ERRORS = [
    (ItemExistsError("msg_1", "thr_1"), ValueError),
    (SortKeyConflictError("x"), RuntimeError),
    (StoreUnavailableError("x"), RuntimeError),
    (PoolExhaustedError("x"), RuntimeError),
    (StoreTimeoutError("x"), TimeoutError),
    (TransientConflictError("x"), RuntimeError),
]


@pytest.mark.parametrize(("error", "builtin"), ERRORS, ids=lambda e: type(e).__name__)
def test_each_error_is_a_package_error_and_keeps_its_builtin_base(
    error: Exception, builtin: type[Exception]
) -> None:
    assert isinstance(error, ChatKitPgError)
    assert isinstance(error, builtin)
    copy = pickle.loads(pickle.dumps(error))  # still crosses process boundaries
    assert type(copy) is type(error) and str(copy) == str(error)


def test_every_exported_error_but_the_sdks_derives_from_the_base() -> None:
    exported = [getattr(chatkit_pg, name) for name in chatkit_pg.__all__]
    errors = [e for e in exported if isinstance(e, type) and issubclass(e, BaseException)]
    assert {e for e in errors if not issubclass(e, ChatKitPgError)} == {NotFoundError}
