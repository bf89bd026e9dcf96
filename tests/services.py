"""The machine's PostgreSQL (127.0.0.1:5432, trust auth) for tests: databases of their own, so
that tests never touch each other's tables (or another pytest-xdist worker's)."""
from typing import Text

import sqlalchemy as sa

POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432"


def postgres_database(name: Text) -> Text:
    """Create database `name` unless it exists; its URL."""
    admin = sa.create_engine(f"{POSTGRES_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"),
                              {"n": name}).scalar()
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{POSTGRES_SERVER}/{name}"
