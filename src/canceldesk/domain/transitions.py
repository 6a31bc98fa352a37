"""Named transitions: every stateful thing (request, line, subscription, step, batch) changes state
only through its own table of allowed moves.

A `Machine` is such a table. `check` raises `IllegalTransition` for a move the table does not
allow; the API answers it with 409 and the error's `code` (e.g. `ILLEGAL_LINE_TRANSITION`), the
pages with a 409 page — never a 500.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping


class IllegalTransition(Exception):
    """A state change the entity's transition table refuses."""

    def __init__(self, current: str, wanted: str, entity: str = "request"):
        super().__init__(f"a {entity} in '{current}' cannot become '{wanted}'")
        self.entity = entity
        self.current = str(current)
        self.wanted = str(wanted)
        self.code = f"ILLEGAL_{entity.upper()}_TRANSITION"
        self.message = str(self)

    def as_details(self) -> dict:
        return {"entity": self.entity, "from": self.current, "to": self.wanted}


@dataclass(frozen=True)
class Machine:
    """One entity's transition table: state → the states it may move to."""
    entity: str
    table: Mapping[str, frozenset[str]]

    def allows(self, current: str, wanted: str) -> bool:
        return str(wanted) in self.table.get(str(current), frozenset())

    def check(self, current: str, wanted: str) -> None:
        if not self.allows(current, wanted):
            raise IllegalTransition(current, wanted, self.entity)

    @property
    def terminal(self) -> frozenset[str]:
        return frozenset(s for s, nxt in self.table.items() if not nxt)
