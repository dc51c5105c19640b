"""SQLAlchemy 2 storage: tables, repositories, unit of work, migrations check."""

from bot.adapters.db.engine import DEFAULT_URL, make_engine, normalise_url
from bot.adapters.db.unit_of_work import SqlUnitOfWork, SqlUnitOfWorkFactory

__all__ = ["DEFAULT_URL", "SqlUnitOfWork", "SqlUnitOfWorkFactory", "make_engine", "normalise_url"]
