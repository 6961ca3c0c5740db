"""Typed errors of the read side."""

from __future__ import annotations


class InvalidQuery(ValueError):
    """A query parameter the read models cannot take; names the parameter (the API answers 400/422 with it)."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.message = message


class NotCaughtUp(TimeoutError):
    """A read-your-writes wait (RM-08) ran out before the projection passed the position."""

    def __init__(self, name: str, position: int, reached: int) -> None:
        super().__init__(f"projection {name!r} is at {reached}, not yet at {position}")
        self.name = name
        self.position = position
        self.reached = reached


class NotFound(LookupError):
    """No such object in this project (an object of another project reads the same way: TEN-02)."""

    def __init__(self, kind: str, identifier: object) -> None:
        super().__init__(f"no {kind} {identifier}")
        self.kind = kind
        self.identifier = identifier
