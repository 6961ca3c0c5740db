"""What commands look like on the wire: a request body per command, derived from the command's own fields.

A command's body is its payload without what the server supplies: the actor (from the token, ROLE-08), its
time (the clock, TIME-01), the request context (headers, AUD-01), the expected version (`If-Match`, SEC-10)
and the ids the path names (TEN-02). Deriving the bodies keeps one definition of every field, limit and type
(SEC-11) while the wire stays free of server facts: a body that sends `actor`, `at` or any other unknown or
derived field is refused naming it (SEC-12). Events never travel on the wire.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

import msgspec
from msgspec import NODEFAULT

from ptw_domain.commands import Command
from ptw_domain.service import CommandResult

PATH_IDS = re.compile(r"\{([a-z_]+):uuid\}")  # the ids a route's path names
SERVER_FIELDS = frozenset({"actor", "at", "context", "expected_version", "origin", "organisation_id"})


def body_type(
    command: type[Command], *, path: frozenset[str], created: frozenset[str]
) -> type[msgspec.Struct]:
    """The request body of `command`: its fields minus server facts and path ids; `created` ids are optional
    (the server makes one when the client does not choose it)."""
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for field in msgspec.structs.fields(command):
        if field.name in SERVER_FIELDS or field.name in path:
            continue
        if field.name in created:
            fields.append((field.name, UUID | None, None))
        elif field.required:
            fields.append((field.name, field.type))
        elif field.default is not NODEFAULT:
            fields.append((field.name, field.type, field.default))
        else:
            fields.append((field.name, field.type, msgspec.field(default_factory=field.default_factory)))
    return msgspec.defstruct(
        f"{command.__name__}Request",
        fields,
        kw_only=True,
        frozen=True,
        forbid_unknown_fields=True,
        module=__name__,
    )


class CommandOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What a command recorded. `position` is the store position its reads can wait for (RM-08); `version`
    is the target's new version, the next `If-Match` (SEC-10); `created` gives the ids the server made."""

    command: str
    stream_id: UUID | None
    version: int | None
    events: tuple[str, ...]
    position: int | None = None
    permit_number: str | None = None
    replayed: bool = False
    created: dict[str, UUID] = msgspec.field(default_factory=dict)

    @classmethod
    def of(cls, result: CommandResult, created: dict[str, UUID]) -> CommandOutcome:
        return cls(
            command=result.command,
            stream_id=result.stream_id,
            version=result.version,
            events=result.events,
            position=result.position,
            permit_number=result.permit_number,
            replayed=result.replayed,
            created=created,
        )
