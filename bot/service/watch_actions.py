"""What a person may do about a divergence the serving watch raised (docs/watch.md), authorized
like a rollback: by the model's policy's ``rollback_groups`` (empty: its approver groups).

- ``move_alias_back`` records ``serving_alias_back``; its effect, ``mlflow.alias_back``, moves
  ``@champion`` back to the served version in MLflow, only while ``@champion`` still names the
  version the divergence saw.
- ``deploy_champion`` records ``serving_deploy_champion``; its effect, ``kfp.deploy_champion``,
  starts a promotion run of the version ``@champion`` names, whose guard asks the bot for the
  divergence (``GET /api/v1/divergences/{id}``) instead of an approval.

One of them per divergence (they undo each other); both are audited, and the alert shows who
asked. The watch's next round then sees serving and the registry agree, resolves the
divergence and updates its alert.
"""

from __future__ import annotations

from bot.domain import errors, text
from bot.domain.divergence import ALIAS_BACK, DEPLOY_CHAMPION, Divergence
from bot.domain.model import Person
from bot.ports.clock import Clock
from bot.ports.store import UnitOfWork, UnitOfWorkFactory
from bot.service.commands import Vouched
from bot.service.identity import Identity, IdentityKinds

WATCH_ACTIONS = (DEPLOY_CHAMPION, ALIAS_BACK)


class WatchActions:
    def __init__(self, uow: UnitOfWorkFactory, identities: IdentityKinds, clock: Clock) -> None:
        self.uow = uow
        self.identities = identities
        self.clock = clock
        # Why "Deploy the champion" cannot be carried out here (no promotion launcher), set by
        # the launcher's wiring: refused at the click instead of waiting in the outbox.
        self.deploy_unavailable: str | None = None

    def view(self, divergence_id: str) -> Divergence:
        """One divergence, open or resolved (what a deploy run's guard checks)."""
        found = None
        if text.is_plain(divergence_id) and len(divergence_id) <= 64:
            with self.uow() as uow:
                found = uow.divergences.get(divergence_id)
        if found is None:
            raise errors.NotFound(f"no divergence {divergence_id!r} (docs/watch.md)")
        return found

    def move_alias_back(
        self, divergence_id: str, who: Identity, vouched: Vouched | None = None
    ) -> Divergence:
        """``who`` asks for ``@champion`` back on the served version;
        ``Refused``/``NotEligible``/``NotFound``/``UnknownPerson`` say why not."""
        return self.act(divergence_id, who, ALIAS_BACK, vouched)

    def deploy_champion(
        self, divergence_id: str, who: Identity, vouched: Vouched | None = None
    ) -> Divergence:
        """``who`` asks for the version ``@champion`` names to be served (a promotion run)."""
        return self.act(divergence_id, who, DEPLOY_CHAMPION, vouched)

    def act(
        self, divergence_id: str, who: Identity, action: str, vouched: Vouched | None = None
    ) -> Divergence:
        """``action``: one of ``WATCH_ACTIONS`` (a button's value)."""
        if action not in WATCH_ACTIONS:
            raise errors.Refused(
                f"{action!r} is not something to do about a divergence "
                f"(one of {', '.join(WATCH_ACTIONS)})"
            )
        if action == DEPLOY_CHAMPION and self.deploy_unavailable:
            raise errors.Refused(
                f"this bot cannot deploy the champion: {self.deploy_unavailable}; move @champion "
                "back instead, or promote it with an approval (docs/watch.md)"
            )
        now = self.clock.now()
        with self.uow() as uow:
            found = uow.divergences.get(divergence_id, for_update=True)
            if found is None:
                raise errors.NotFound(f"no divergence {divergence_id!r} (docs/watch.md)")
            actor = self._authorized(uow, found, self._person(uow, who), vouched)
            if action == ALIAS_BACK:
                found.move_alias_back(actor, now)
            else:
                found.deploy_champion(actor, now)
            uow.divergences.save(found)
            uow.commit()
        return found

    def deploy_started(self, divergence_id: str, run_id: str) -> None:
        """The deploy's promotion run is ``run_id``: followed until it ends."""
        with self.uow() as uow:
            found = uow.divergences.get(divergence_id, for_update=True)
            if found is not None and found.deploying != run_id:
                found.deploy_started(run_id)
                uow.divergences.save(found)
                uow.commit()

    def deploying(self) -> list[Divergence]:
        """Open divergences whose asked deploy runs (``poll_deploys`` follows them)."""
        with self.uow(readonly=True) as uow:
            return [d for d in uow.divergences.open_all() if d.deploying]

    def deploy_failed(self, divergence_id: str, run_id: str, why: str) -> None:
        """The run failed: the alert says so and offers its buttons again."""
        now = self.clock.now()
        with self.uow() as uow:
            found = uow.divergences.get(divergence_id, for_update=True)
            if found is not None and found.deploying == run_id:
                found.deploy_failed(run_id, why, now)
                uow.divergences.save(found)
                uow.commit()

    def _person(self, uow: UnitOfWork, who: Identity) -> Person:
        kind = self.identities.of(who.channel)
        value = kind.canonical(who.value) if who.is_plain() else None
        person = uow.directory.person_by_identity(kind.name, value) if value else None
        if person is None:
            raise errors.UnknownPerson(who.label())
        return person

    @staticmethod
    def _authorized(
        uow: UnitOfWork, found: Divergence, person: Person, vouched: Vouched | None
    ) -> str:
        policy = uow.directory.policy_for(found.model)
        if policy is None:
            raise errors.NotEligible(f"no policy applies to {found.model}: nobody may do this")
        groups = uow.directory.groups_of(person.name)
        if vouched is not None and vouched.groups:
            groups |= vouched.groups & uow.directory.sourced_groups(vouched.source)
        if not policy.may_roll_back(groups):
            allowed = sorted(policy.rollback_groups or policy.approver_groups)
            which = "rollback_groups" if policy.rollback_groups else "approver groups"
            raise errors.NotEligible(
                f"{person.name} may not act on {found.model}'s divergence: that is for "
                f"{', '.join(allowed)} (the policy's {which}, docs/watch.md)"
            )
        return person.name
