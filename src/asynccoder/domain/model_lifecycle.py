"""Model lifecycle: a catalogue model may be deprecated from one day and retired from another.

Dates are UTC calendar days, as the providers publish them. A model is *deprecated* from the start (00:00 UTC)
of ``deprecated_on`` and *retired* from the start of ``retires_on``: a retired model no longer answers at its
provider, so it is never chosen; a deprecated one still answers but is chosen only when nothing else fits.
``replacement_model_id`` names the catalogue model callers should move to.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING
from uuid import UUID

from asynccoder.domain.errors import FieldProblem, InvalidInput, Refused

if TYPE_CHECKING:
    from asynccoder.domain.ai_catalogue import CatalogueModel


def utc_day(moment: datetime) -> date:
    """The UTC calendar day of an aware ``moment``."""
    return moment.astimezone(UTC).date()


def is_retired(model: CatalogueModel, moment: datetime) -> bool:
    return model.retires_on is not None and utc_day(moment) >= model.retires_on


def is_deprecated(model: CatalogueModel, moment: datetime) -> bool:
    """Deprecated at ``moment`` (a retired model is deprecated too)."""
    return (model.deprecated_on is not None and utc_day(moment) >= model.deprecated_on) or is_retired(
        model, moment
    )


class ModelRetired(Refused):
    """The requested model is retired; ``replacement_model_id`` is the suggested model, if any."""

    code = "model_retired"

    def __init__(self, message: str, *, replacement_model_id: UUID | None) -> None:
        super().__init__(message)
        self.replacement_model_id = replacement_model_id

    def public_details(self) -> dict[str, object]:
        replacement = self.replacement_model_id
        return {"replacement_model_id": str(replacement) if replacement is not None else None}


def suggested_replacement(
    model: CatalogueModel, models: Mapping[UUID, CatalogueModel], moment: datetime
) -> UUID | None:
    """The first model along the ``replacement_model_id`` chain that is not retired at ``moment``.

    A replacement may itself retire later; the chain is followed (at most once per model, so a cycle ends it).
    ``None`` when the chain ends, leaves ``models`` or only meets retired models.
    """
    seen = {model.id}
    current = model.replacement_model_id
    while current is not None and current not in seen:
        seen.add(current)
        candidate = models.get(current)
        if candidate is None:
            return None
        if not is_retired(candidate, moment):
            return candidate.id
        current = candidate.replacement_model_id
    return None


def retired_error(
    model: CatalogueModel, models: Mapping[UUID, CatalogueModel], moment: datetime
) -> ModelRetired:
    return ModelRetired(
        f"This model was retired on {model.retires_on}.",
        replacement_model_id=suggested_replacement(model, models, moment),
    )


def validate_lifecycle(
    *,
    model_id: UUID,
    deprecated_on: date | None,
    retires_on: date | None,
    replacement: CatalogueModel | None,
    replacement_model_id: UUID | None,
    moment: datetime,
) -> None:
    """Retirement is not before deprecation; a replacement exists, is another model and is not retired.

    ``replacement`` is the catalogue model ``replacement_model_id`` names (``None`` if there is none); pass
    ``replacement_model_id=None`` when the replacement is not being changed.
    """
    problems: list[FieldProblem] = []
    if deprecated_on is not None and retires_on is not None and retires_on < deprecated_on:
        problems.append(FieldProblem("retires_on", "must not be before deprecated_on"))
    if replacement_model_id is not None:
        if replacement_model_id == model_id:
            problems.append(FieldProblem("replacement_model_id", "must name another model"))
        elif replacement is None:
            problems.append(FieldProblem("replacement_model_id", "is not a catalogued model"))
        elif is_retired(replacement, moment):
            problems.append(FieldProblem("replacement_model_id", "names a retired model"))
    if problems:
        raise InvalidInput("The model's lifecycle is not valid.", problems=problems)
