"""The schema's metadata (naming convention), the mapper registry and the column types every table
module uses (orm.py re-exports them: migrations name `canceldesk.adapters.orm.UTCDateTime`)."""
from __future__ import annotations

from datetime import timezone

from sqlalchemy import DateTime, MetaData, Text, TypeDecorator
from sqlalchemy.orm import registry

from . import crypto

metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s", "pk": "pk_%(table_name)s",
})
mapper_registry = registry(metadata=metadata)


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out — on SQLite as on PostgreSQL."""
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Encrypted(TypeDecorator):
    """Personal data: AES-GCM encrypted with the configured key ring (see adapters/crypto.py)."""
    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else crypto.active().encrypt(value)

    def process_result_value(self, value, dialect):
        return None if value is None else crypto.active().decrypt(value)
