"""Alembic environment: always runs on the connection `Database.upgrade` hands over."""

from __future__ import annotations

from alembic import context

from lorairo.database.schema import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("LoRAIro migrations run through lorairo.database.engine.Database.upgrade")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
