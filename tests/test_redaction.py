"""The one redaction (chatkit_pg.dsn.redact) over every libpq secret, in every form."""

from __future__ import annotations

import pytest

from chatkit_pg.dsn import SECRET_PARAMETERS, redact
from chatkit_pg.reports.mask import redact_setting

SECRET = "hunter2"


def test_the_libpq_secrets_are_all_known() -> None:
    assert SECRET_PARAMETERS == {"password", "sslpassword", "oauth_client_secret"}


@pytest.mark.parametrize("parameter", sorted(SECRET_PARAMETERS))
@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ("postgresql://app@db/chat?{p}=hunter2", "postgresql://app@db/chat?{p}=***"),
        (
            "postgresql://app@db/chat?sslmode=require&{p}=hunter2&connect_timeout=5",
            "postgresql://app@db/chat?sslmode=require&{p}=***&connect_timeout=5",
        ),
        ("postgres://app@db/chat?{P}=hunter2", "postgres://app@db/chat?{P}=***"),
        ("host=db user=app {p}=hunter2 dbname=chat", "host=db user=app {p}=*** dbname=chat"),
        ("host=db {p}='hunter2 and\\' more' dbname=chat", "host=db {p}=*** dbname=chat"),
        ("host=db {P} = hunter2 port=5432", "host=db {P}=*** port=5432"),
        (
            "cannot connect to postgresql://app@db/chat?{p}=hunter2: refused",
            "cannot connect to postgresql://app@db/chat?{p}=***: refused",
        ),
        ("dsn='host=db {p}=hunter2' failed", "dsn='host=db {p}=***' failed"),
    ],
)
def test_every_secret_parameter_in_every_form(parameter: str, form: str, expected: str) -> None:
    names = {"p": parameter, "P": parameter.upper()}
    given = form.format(**names)
    assert redact(given) == expected.format(**names)
    assert SECRET not in redact(given)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://app:hunter2@db/chat", "postgresql://app:***@db/chat"),
        (
            "postgresql+asyncpg://app:hunter2@db:6432/chat",
            "postgresql+asyncpg://app:***@db:6432/chat",
        ),
        ("postgresql://app:p%40ss%3Ahunter2@db/chat", "postgresql://app:***@db/chat"),
        ("postgresql://app:hunter2@[::1]:5432/chat", "postgresql://app:***@[::1]:5432/chat"),
        (
            "two: postgresql://a:hunter2@x/d and postgresql://b:hunter2@y/d",
            "two: postgresql://a:***@x/d and postgresql://b:***@y/d",
        ),
        ("PGPASSWORD=hunter2 psql -h db", "PGPASSWORD=*** psql -h db"),
        ("postgresql://app:hunter2@db:notaport/chat", "postgresql://app:***@db:notaport/chat"),
        ("postgresql://app:hunter2@[::1/chat", "postgresql://***@[::1/chat"),
    ],
)
def test_passwords_in_urls_and_shell_lines(given: str, expected: str) -> None:
    assert redact(given) == expected


@pytest.mark.parametrize(
    "harmless",
    [
        "postgresql://app@db/chat?sslmode=verify-full&sslrootcert=/etc/ca.pem",
        "host=/tmp/chatkit-pg-x/pgdata user=postgres dbname=chatkit_test",
        "sslkey=/home/app/.postgresql/client.key passfile=/home/app/.pgpass",
        "the password is not given here",
    ],
)
def test_text_without_secrets_is_unchanged(harmless: str) -> None:
    assert redact(harmless) == harmless


def test_settings_named_as_secrets_are_masked_others_kept() -> None:
    assert redact_setting("sslpassword", "x") == "***"
    assert redact_setting("oauth_client_secret", "x") == "***"
    assert redact_setting("api_key", "x") == "***"
    assert redact_setting("users", 40) == 40
    assert redact_setting("password", None) is None
