"""Database URLs shared by the tuning studies and the serving feedback store.

with_installed_driver("postgresql://u:pw@host/db")
# 'postgresql+psycopg2://u:pw@host/db' when only psycopg2 is installed
"""

from __future__ import annotations

import importlib.util


def with_installed_driver(url: str) -> str:
    """`url` with a plain postgresql:// pointed at whichever of psycopg (SQLAlchemy 2.1's default) and psycopg2
    is installed, so `pip install 'sentilstm[postgres]'` (psycopg2) works; any other URL is returned unchanged."""
    import sqlalchemy as sa

    try:
        parsed = sa.engine.make_url(url)
    except Exception:  # noqa: BLE001 - an unparsable URL fails later, where the caller explains what to give
        return url
    if (
        parsed.drivername == "postgresql"
        and importlib.util.find_spec("psycopg") is None
        and importlib.util.find_spec("psycopg2") is not None
    ):
        return parsed.set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)
    return url


__all__ = ["with_installed_driver"]
