"""What the two endpoint suites (test_command_endpoints.py, test_query_endpoints.py) share: the registry that ties
each test to the operation and outcome it covers (their last test fails when an operation lacks a case), the
check that a registered test really calls its operation over HTTP, and SQLite as their default backend.

A suite makes `COVERAGE = Coverage(...)` and imports the three fixtures below; pytest knows them by their
`name`s, which the imports do not spell, so that tests taking `database_url` or `api_settings` shadow nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from ptw_api.http.settings import ApiSettings
from tests.api.http.conftest import SECRET

Test = TypeVar("Test", bound=Callable[..., None])

ALL_BACKENDS = pytest.mark.parametrize(
    "database_url",
    ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
)


class Coverage:
    """Which operations the suite's tests cover, per outcome, and which the running test has called."""

    def __init__(self, operations: Collection[str], outcomes: tuple[str, str]) -> None:
        self.operations = operations
        self.covered: dict[str, set[str]] = {outcome: set() for outcome in outcomes}
        self.called: set[str] = set()

    def covers(self, operation: str, outcome: str) -> Callable[[Test], Test]:
        """Register the test as the `outcome` case of `operation`."""
        assert operation in self.operations, operation
        self.covered[outcome].add(operation)

        def register(test: Test) -> Test:
            test.covers = operation  # type: ignore[attr-defined]
            return test

        return register


@pytest.fixture(autouse=True, name="_calls_what_it_covers")
def calls_what_it_covers(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test registered for an operation must really call it over HTTP."""
    coverage: Coverage = request.module.COVERAGE
    coverage.called.clear()
    yield
    operation = getattr(request.function, "covers", None)
    assert operation is None or operation in coverage.called, (
        f"{request.function.__name__} never called {operation}"
    )


@pytest.fixture(name="database_url")
def sqlite_by_default(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite for the whole set; `ALL_BACKENDS` reruns a test on memory, SQLite and PostgreSQL."""
    backend = getattr(request, "param", "sqlite")
    if backend == "memory":
        return "memory://"
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'ptw.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(name="api_settings")
def patient_api_settings(database_url: str) -> ApiSettings:
    """As the shared fixture, with a read wait long enough for a loaded machine: a read still answers as soon
    as the projections pass the caller's last write or the position it waits for (RM-08), so this only removes
    timing from the tests."""
    return ApiSettings(
        database_url=database_url,
        jwt_secret=SECRET,
        rate_limits_enabled=False,
        openapi_ui=False,
        read_wait_seconds=60.0,
    )
