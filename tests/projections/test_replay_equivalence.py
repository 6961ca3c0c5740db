"""AUD-07 as a property: for random command histories, every read model equals the one a fresh replay builds.

The permit lifecycle state machine of tests/domain/test_properties.py supplies the histories (its whole
vocabulary: the lifecycle, people, isolations, gas, handovers, extensions, the clock and the sweep), plus offline
sync commands for the sync ledger read model. Here its
domain invariants are switched off (that module checks them) and read-side rules join it: the projections catch
up at random points, in random batch sizes (1..50) and to random positions short of the head; runners restart
(fresh projection objects, as after a crash); now and then one is rebuilt blue/green; and `verify` (a scratch rebuild compared row by row) must find no difference, at random
points and at the end.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from ptw_domain.sync import SyncBatch, SyncItem
from ptw_projections.database import open_read_database
from ptw_projections.registry import projections
from ptw_projections.runner import Runner
from ptw_projections.verify import verify
from tests.builders import edit, submit
from tests.domain.test_properties import PermitMachine, _note
from tests.projections.conftest import run_machine


class ProjectedMachine(PermitMachine):
    """The lifecycle machine with the read side following it in small, random steps."""

    def __init__(self, database_url: str) -> None:
        super().__init__(database_url)
        self.db = open_read_database(database_url, pool_size=2)
        self.runners = [Runner(self.service.store, self.db, p, batch_size=50) for p in projections()]
        self.rebuilds = 0
        self.offline = 0

    def teardown(self) -> None:
        try:
            for runner in self.runners:
                runner.batch_size = 50
                runner.catch_up(runner.live_generation())
                result = verify(runner)
                assert result.ok, (runner.projection.name, result.differences)
                assert result.position == self.service.store.head_position()
        finally:
            self.db.dispose()
            super().teardown()

    # The domain invariants are test_properties' business (same names, no @invariant: switched off here).
    def statuses_follow_the_transition_table(self) -> None:
        pass

    def replay_equals_live(self) -> None:
        pass

    def every_chain_verifies(self) -> None:
        pass

    # --- the read side ----------------------------------------------------------------------------------------

    @rule(data=st.data(), batch_size=st.integers(min_value=1, max_value=50))
    def project(self, data: st.DataObject, batch_size: int) -> None:
        """One projection catches up part of the way (or all of it) in batches of `batch_size`."""
        runner = data.draw(st.sampled_from(self.runners), label="projection")
        runner.batch_size = batch_size
        generation = runner.live_generation()
        position = runner.catalogue.position_of(generation)
        head = self.service.store.head_position()
        until = data.draw(st.one_of(st.just(head), st.integers(min_value=position, max_value=head)))
        assert runner.catch_up(generation, until=until) <= until

    # drawn more often: the same rule under more names
    project_again = project
    project_once_more = project

    @rule(data=st.data(), submit_it=st.booleans(), behind=st.booleans())
    def sync_offline(self, data: st.DataObject, submit_it: bool, behind: bool) -> None:
        """A device's offline command (SYNC-07, SYNC-12: the sync ledger read model): a submit, which a failing
        guard puts on the review list, or an edit, applied (taking the permit off it) or, based on an older
        version, perhaps a conflict."""
        pid = data.draw(st.sampled_from(self.permits), label="permit")
        self.offline += 1
        command = submit(self.world, pid) if submit_it else edit(self.world, pid, title=f"t{self.offline}")
        base = self.state(pid).version - (1 if behind and self.state(pid).version > 1 else 0)
        offline = SyncItem(
            client_command_id=f"c{self.offline}",
            name=type(command).__name__,
            device_time=self.clock.now(),
            command=command,
            target=str(pid),
            based_on_version=base,
        )
        batch = SyncBatch(
            device_id="tablet", batch_id=f"b{self.offline}", sent_at=self.clock.now(), commands=(offline,)
        )
        report = self.service.sync(batch, self.actor("req"), within=self.world.project_id)
        outcome = report.results[0].outcome
        _note(f"sync {outcome.command}: {outcome.outcome} {outcome.reason or ''}")

    sync_again = sync_offline
    sync_once_more = sync_offline

    @rule(data=st.data())
    def verify_now(self, data: st.DataObject) -> None:
        """Wherever the live generation stands, a scratch rebuild to the same position equals it."""
        runner = data.draw(st.sampled_from(self.runners), label="projection")
        result = verify(runner)
        assert result.ok, (runner.projection.name, result.differences)

    @rule(data=st.data())
    def restart(self, data: st.DataObject) -> None:
        """A runner process restarts: a fresh projection object (empty caches) carries on from the tables."""
        index = data.draw(st.integers(min_value=0, max_value=len(self.runners) - 1), label="projection")
        name = self.runners[index].projection.name
        self.runners[index] = Runner(self.service.store, self.db, projections([name])[0], batch_size=50)

    @precondition(lambda self: self.rebuilds < 2)
    @rule(data=st.data(), batch_size=st.integers(min_value=1, max_value=50))
    def rebuild(self, data: st.DataObject, batch_size: int) -> None:
        """Blue/green: a new generation built beside the live one, then the live runner carries on with it."""
        runner = data.draw(st.sampled_from(self.runners), label="projection")
        runner.batch_size = batch_size
        before = runner.layout.active()
        after = runner.rebuild()
        assert before is None or after.generation > before.generation
        self.rebuilds += 1


def test_every_read_model_equals_a_fresh_replay_on_sqlite(tmp_path: Path) -> None:
    run_machine(
        lambda: ProjectedMachine(f"sqlite:///{tmp_path / uuid.uuid4().hex}.db"), examples=12, steps=25
    )


@pytest.mark.postgres
def test_every_read_model_equals_a_fresh_replay_on_postgres(fresh_postgres_url: Callable[[], str]) -> None:
    run_machine(lambda: ProjectedMachine(fresh_postgres_url()), examples=3, steps=15)
