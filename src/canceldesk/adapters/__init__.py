"""Adapters: ORM and repositories, downstream gateways, the queue — each behind a Protocol."""
