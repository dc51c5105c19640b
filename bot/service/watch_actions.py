"""What a person may do about a divergence the serving watch raised (docs/watch.md), authorized
like a rollback: by the model's policy's ``rollback_groups`` (empty: its approver groups).

``move_alias_back`` records ``serving_alias_back`` (audited); its effect, ``mlflow.alias_back``,
moves ``@champion`` back to the served version in MLflow, only while ``@champion`` still names
the version the divergence saw. The watch's next round then sees them agree, resolves the
divergence and updates its alert.
"""

from __future__ import annotations

from bot.domain import errors
from bot.domain.divergence import Divergence
from bot.domain.model import Person
from bot.ports.store import UnitOfWork, UnitOfWorkFactory
from bot.service.identity import Identity, IdentityKinds


class WatchActions:
    def __init__(self, uow: UnitOfWorkFactory, identities: IdentityKinds) -> None:
        self.uow = uow
        self.identities = identities

    def move_alias_back(
        self, divergence_id: str, who: Identity, vouched: frozenset[str] = frozenset()
    ) -> Divergence:
        """``who`` (``vouched``: groups the channel vouches for) asks for ``@champion`` back on
        the served version; ``Refused``/``NotEligible``/``NotFound`` say why not."""
        with self.uow() as uow:
            found = uow.divergences.get(divergence_id)
            if found is None:
                raise errors.NotFound(f"no divergence {divergence_id!r} (docs/watch.md)")
            actor = self._authorized(uow, found, self._person(uow, who), vouched)
            found.move_alias_back(actor)
            uow.divergences.save(found)
            uow.commit()
        return found

    def _person(self, uow: UnitOfWork, who: Identity) -> Person:
        kind = self.identities.of(who.channel)
        value = kind.canonical(who.value) if who.is_plain() else None
        person = uow.directory.person_by_identity(kind.name, value) if value else None
        if person is None:
            raise errors.UnknownPerson(who.label())
        return person

    @staticmethod
    def _authorized(
        uow: UnitOfWork, found: Divergence, person: Person, vouched: frozenset[str]
    ) -> str:
        policy = uow.directory.policy_for(found.model)
        if policy is None:
            raise errors.NotEligible(f"no policy applies to {found.model}: nobody may do this")
        groups = uow.directory.groups_of(person.name) | vouched
        if not policy.may_roll_back(groups):
            allowed = sorted(policy.rollback_groups or policy.approver_groups)
            which = "rollback_groups" if policy.rollback_groups else "approver groups"
            raise errors.NotEligible(
                f"{person.name} may not move {found.model}'s @champion back: that is for "
                f"{', '.join(allowed)} (the policy's {which}, docs/watch.md)"
            )
        return person.name
