"""Credit use cases: grant, reserve, extend, settle, release, refund, expire; reading the balance and ledger.

The task engine calls ``ReserveCredits`` before it starts work (hold the maximum the task may cost),
``ExtendHold`` while long work runs, ``SettleHold`` with the actual cost when it finishes (the rest is
released in the same transaction) and ``ReleaseHold`` on failure or cancellation. Holds that nobody settles
expire (``ExpireHolds``, run by ``asynccoder expire-holds``) and their credits return.

Every call is idempotent by its ``idempotency_key`` (unique per user): repeating a call with the same key
returns the original result with ``replayed=True`` and moves no credits. Derive keys from your own ids, e.g.
``f"task:{task_id}:reserve"``, ``f"task:{task_id}:settle"``. Reusing a key for a different operation raises
``Conflict`` (``idempotency_key_reused``).

Each use case opens and commits its own unit of work around a function of an open unit of work that holds its
rules (``grant_in``, ``reserve_in``, ``extend_in``, ``settle_in``, ``release_in``); to commit a money move
together with other writes (e.g. inserting the task, finishing it), call that function inside your own unit
of work instead (see "Composite transactions" in the README).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from asynccoder.application.outbound_webhooks.outbox import publish_credits_low
from asynccoder.application.ports.billing import EntryFilter
from asynccoder.application.ports.system import (
    Clock,
    IdGenerator,
)
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.application.shared import Page, check_limit, page_of
from asynccoder.domain.billing import (
    MAX_REASON_LENGTH,
    CreditAccount,
    CreditHold,
    EntryKind,
    HoldStatus,
    InsufficientCredits,
    LedgerEntry,
    validate_amount,
    validate_idempotency_key,
)
from asynccoder.domain.errors import Conflict, FieldProblem, InvalidInput, NotFound, Refused
from asynccoder.domain.identity import Actor

DEFAULT_HOLD_TTL = timedelta(hours=1)
MAX_HOLD_TTL = timedelta(days=2)


def _key_reused() -> Conflict:
    return Conflict("This idempotency key was used for a different operation.", code="idempotency_key_reused")


def _reason(raw: str | None, *, required: bool = False) -> str | None:
    reason = (raw or "").strip()
    if (required and not reason) or len(reason) > MAX_REASON_LENGTH:
        raise InvalidInput(
            "A reason is required.",
            problems=[FieldProblem("reason", f"must be 1 to {MAX_REASON_LENGTH} characters")],
        )
    return reason or None


@dataclass(frozen=True, slots=True)
class EntryResult:
    entry: LedgerEntry
    account: CreditAccount
    replayed: bool


# --- grant, purchase, refund -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GrantCreditsInput:
    user_id: UUID
    amount: int
    idempotency_key: str
    kind: EntryKind = EntryKind.GRANT  # GRANT or PURCHASE
    reason: str | None = None
    reference: str | None = None


class GrantCredits:
    """Add credits to a user's available balance.

    Rules: the amount is a positive whole number; kind is ``grant`` or ``purchase``; the key makes it happen
    once (a replay returns the original entry); the user's account is created on first use.
    """

    def __init__(self, uow: UnitOfWork, clock: Clock, ids: IdGenerator) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids

    async def __call__(self, data: GrantCreditsInput) -> EntryResult:
        async with self._uow as uow:
            result = await grant_in(uow, self._clock, self._ids, data)
            await uow.commit()
            return result


async def grant_in(uow: UnitOfWork, clock: Clock, ids: IdGenerator, data: GrantCreditsInput) -> EntryResult:
    """``GrantCredits`` inside the caller's unit of work (no commit)."""
    if data.kind not in (EntryKind.GRANT, EntryKind.PURCHASE, EntryKind.REFUND):
        raise InvalidInput("Only grants, purchases and refunds add credits.")
    amount = validate_amount(data.amount)
    entry = LedgerEntry(
        id=ids.new_id(),
        user_id=data.user_id,
        kind=data.kind,
        available_delta=amount,
        held_delta=0,
        idempotency_key=validate_idempotency_key(data.idempotency_key),
        created_at=clock.now(),
        reference=data.reference,
        reason=_reason(data.reason),
    )
    stored, created = await uow.credits.post(entry)
    if not created and (stored.kind is not data.kind or stored.available_delta != amount):
        raise _key_reused()
    return EntryResult(stored, await uow.credits.get_account(data.user_id), replayed=not created)


@dataclass(frozen=True, slots=True)
class RefundCreditsInput:
    user_id: UUID
    amount: int
    idempotency_key: str
    reason: str | None = None
    reference: str | None = None


class RefundCredits:
    """Give credits back to a user (e.g. a task that failed through our fault after it was settled).

    Rules: positive amount; a ``refund`` entry adds to available; idempotent by key. To take credits back
    after a payment refund, the Stripe webhook posts a negative ``refund`` entry instead (never below zero).
    """

    def __init__(self, uow: UnitOfWork, clock: Clock, ids: IdGenerator) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids

    async def __call__(self, data: RefundCreditsInput) -> EntryResult:
        grant = GrantCreditsInput(
            data.user_id, data.amount, data.idempotency_key, EntryKind.REFUND, data.reason, data.reference
        )
        async with self._uow as uow:
            result = await grant_in(uow, self._clock, self._ids, grant)
            await uow.commit()
            return result


# --- holds -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReserveCreditsInput:
    user_id: UUID
    amount: int
    idempotency_key: str
    ttl: timedelta = DEFAULT_HOLD_TTL
    reference: str | None = None  # e.g. the task id


@dataclass(frozen=True, slots=True)
class HoldResult:
    hold: CreditHold
    account: CreditAccount
    replayed: bool
    entries: list[LedgerEntry] = field(default_factory=list)


class ReserveCredits:
    """Reserve (hold) credits for work about to start; returns the hold.

    Rules: positive amount; moves ``amount`` from available to held in one conditional statement, so
    concurrent reservations never overdraw; not enough available -> ``InsufficientCredits`` (HTTP 402,
    ``insufficient_credits``) and nothing changes; the hold expires after ``ttl`` (max 2 days) unless
    extended;
    idempotent by key (a replay returns the same hold).
    """

    def __init__(self, uow: UnitOfWork, clock: Clock, ids: IdGenerator) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids

    async def __call__(self, data: ReserveCreditsInput) -> HoldResult:
        async with self._uow as uow:
            result = await reserve_in(uow, self._clock, self._ids, data)
            await uow.commit()
            return result


async def reserve_in(
    uow: UnitOfWork, clock: Clock, ids: IdGenerator, data: ReserveCreditsInput
) -> HoldResult:
    """``ReserveCredits`` inside the caller's unit of work (no commit)."""
    amount = validate_amount(data.amount)
    if data.ttl <= timedelta(0) or data.ttl > MAX_HOLD_TTL:
        raise InvalidInput("The hold lifetime must be positive and at most 2 days.")
    now = clock.now()
    hold = CreditHold(
        id=ids.new_id(),
        user_id=data.user_id,
        amount=amount,
        status=HoldStatus.ACTIVE,
        expires_at=now + data.ttl,
        created_at=now,
        updated_at=now,
        reference=data.reference,
    )
    entry = LedgerEntry(
        id=ids.new_id(),
        user_id=data.user_id,
        kind=EntryKind.HOLD,
        available_delta=-amount,
        held_delta=amount,
        idempotency_key=validate_idempotency_key(data.idempotency_key),
        created_at=now,
        hold_id=hold.id,
        reference=data.reference,
    )
    stored, created = await uow.credits.post(entry)
    if not created:
        if stored.kind is not EntryKind.HOLD or stored.hold_id is None or stored.held_delta != amount:
            raise _key_reused()
        existing = await uow.credits.get_hold(stored.hold_id)
        if existing is None:  # pragma: no cover - the hold is written in the same transaction as its entry
            raise NotFound("No such hold.")
        return HoldResult(existing, await uow.credits.get_account(data.user_id), True, [stored])
    await uow.credits.add_hold(hold)
    account = await uow.credits.get_account(data.user_id)
    before, after = account.available + amount, account.available
    # The outbound webhook: credits.low when this hold took the balance below an endpoint's threshold.
    await publish_credits_low(uow, now, data.user_id, before=before, after=after, key=str(stored.id))
    return HoldResult(hold, account, False, [stored])


@dataclass(frozen=True, slots=True)
class ExtendHoldInput:
    user_id: UUID
    hold_id: UUID
    ttl: timedelta  # the hold now expires ``ttl`` from now (never earlier than before)
    idempotency_key: str | None = None


class ExtendHold:
    """Keep an active hold alive longer (long-running work calls it like a heartbeat).

    Rules: only the owner's active holds (someone else's -> ``NotFound``; finished -> ``Conflict``
    ``hold_not_active``); the expiry only moves forward, so repeating the call is harmless (idempotent by
    nature; the key is accepted for symmetry); at most 2 days ahead.
    """

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, data: ExtendHoldInput) -> CreditHold:
        async with self._uow as uow:
            hold = await extend_in(uow, self._clock, data)
            await uow.commit()
            return hold


async def extend_in(uow: UnitOfWork, clock: Clock, data: ExtendHoldInput) -> CreditHold:
    """``ExtendHold`` inside the caller's unit of work (no commit)."""
    if data.ttl <= timedelta(0) or data.ttl > MAX_HOLD_TTL:
        raise InvalidInput("The hold lifetime must be positive and at most 2 days.")
    hold = await uow.credits.get_hold(data.hold_id)
    if hold is None or hold.user_id != data.user_id:
        raise NotFound("No such hold.")
    now = clock.now()
    if not await uow.credits.extend_hold(hold.id, now + data.ttl, now):
        raise Conflict("The hold is no longer active.", code="hold_not_active")
    updated = await uow.credits.get_hold(hold.id)
    assert updated is not None
    return updated


@dataclass(frozen=True, slots=True)
class SettleHoldInput:
    user_id: UUID
    hold_id: UUID
    actual_amount: int
    idempotency_key: str


class SettleHold:
    """Spend the actual cost of the work out of its hold and release the rest, in one transaction.

    Rules: ``0 <= actual_amount <= hold.amount`` (more -> ``Refused`` ``settle_exceeds_hold``); a hold
    settles at most once (a different key on a finished hold -> ``Conflict`` ``hold_not_active``); the same
    key
    again returns the original result; the spent credits count toward the current subscription period's usage.
    """

    def __init__(self, uow: UnitOfWork, clock: Clock, ids: IdGenerator) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids

    async def __call__(self, data: SettleHoldInput) -> HoldResult:
        async with self._uow as uow:
            result = await settle_in(uow, self._clock, self._ids, data)
            await uow.commit()
            return result


async def settle_in(uow: UnitOfWork, clock: Clock, ids: IdGenerator, data: SettleHoldInput) -> HoldResult:
    """``SettleHold`` inside the caller's unit of work (no commit)."""
    actual = validate_amount(data.actual_amount, field="actual_amount", allow_zero=True)
    key = validate_idempotency_key(data.idempotency_key)
    result = await _finish(uow, clock, ids, data.user_id, data.hold_id, key, HoldStatus.SETTLED, actual)
    if not result.replayed and actual > 0:
        await _count_usage(uow, clock, data.user_id, actual)
    return result


@dataclass(frozen=True, slots=True)
class ReleaseHoldInput:
    user_id: UUID
    hold_id: UUID
    idempotency_key: str


class ReleaseHold:
    """Return a hold's whole amount to available (the work failed, was cancelled or never started).

    Rules: only an active hold of the user; it finishes once; idempotent by key.
    """

    def __init__(self, uow: UnitOfWork, clock: Clock, ids: IdGenerator) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids

    async def __call__(self, data: ReleaseHoldInput) -> HoldResult:
        async with self._uow as uow:
            result = await release_in(uow, self._clock, self._ids, data)
            await uow.commit()
            return result


async def release_in(uow: UnitOfWork, clock: Clock, ids: IdGenerator, data: ReleaseHoldInput) -> HoldResult:
    """``ReleaseHold`` inside the caller's unit of work (no commit)."""
    key = validate_idempotency_key(data.idempotency_key)
    return await _finish(uow, clock, ids, data.user_id, data.hold_id, key, HoldStatus.RELEASED, 0)


async def _finish(
    uow: UnitOfWork,
    clock: Clock,
    ids: IdGenerator,
    user_id: UUID,
    hold_id: UUID,
    key: str,
    status: HoldStatus,
    spent: int,
) -> HoldResult:
    first_kind = EntryKind.SETTLE if status is HoldStatus.SETTLED else EntryKind.RELEASE
    hold = await uow.credits.get_hold(hold_id)
    if hold is None or hold.user_id != user_id:
        raise NotFound("No such hold.")

    async def replay() -> HoldResult | None:
        existing = await uow.credits.find_entry(user_id, key)
        if existing is None:
            return None
        if existing.kind is not first_kind or existing.hold_id != hold_id:
            raise _key_reused()
        current = await uow.credits.get_hold(hold_id)
        assert current is not None
        return HoldResult(current, await uow.credits.get_account(user_id), True, [existing])

    if (done := await replay()) is not None:
        return done
    if spent > hold.amount:
        raise Refused(
            f"Cannot settle {spent} credits on a hold of {hold.amount}.", code="settle_exceeds_hold"
        )
    now = clock.now()
    if not await uow.credits.finish_hold(
        hold_id, status, now, spent if status is HoldStatus.SETTLED else None
    ):
        if (done := await replay()) is not None:  # a concurrent call with the same key won
            return done
        raise Conflict("The hold is no longer active.", code="hold_not_active")
    entries: list[LedgerEntry] = []
    rest = hold.amount - spent
    if status is HoldStatus.SETTLED:
        settle = LedgerEntry(
            ids.new_id(), user_id, EntryKind.SETTLE, 0, -spent, key, now, hold_id, hold.reference
        )
        entries.append((await uow.credits.post(settle))[0])
        release_key = f"{key}:release"
    else:
        release_key = key
    if rest > 0 or status is HoldStatus.RELEASED:
        release = LedgerEntry(
            ids.new_id(), user_id, EntryKind.RELEASE, rest, -rest, release_key, now, hold_id, hold.reference
        )
        entries.append((await uow.credits.post(release))[0])
    updated = await uow.credits.get_hold(hold_id)
    assert updated is not None
    return HoldResult(updated, await uow.credits.get_account(user_id), False, entries)


async def _count_usage(uow: UnitOfWork, clock: Clock, user_id: UUID, used: int) -> None:
    subscription = await uow.subscriptions.current_for_user(user_id)
    if subscription is None or subscription.current_period_start is None:
        return
    if not subscription.entitles_at(clock.now()):
        return
    await uow.subscriptions.add_usage(
        subscription.id,
        subscription.current_period_start,
        subscription.current_period_end,
        granted=0,
        used=used,
    )


@dataclass(frozen=True, slots=True)
class ExpireHoldsInput:
    limit: int = 500


class ExpireHolds:
    """Expire holds past their ``expires_at`` (their owner crashed or forgot): the held credits return.

    Rules: only active holds; each expires once (``expiry:{hold_id}`` key); a hold settled concurrently is
    skipped. Returns how many holds expired. Run periodically (``asynccoder expire-holds``).
    """

    def __init__(self, uow: UnitOfWork, clock: Clock, ids: IdGenerator) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids

    async def __call__(self, data: ExpireHoldsInput) -> int:
        now = self._clock.now()
        expired = 0
        async with self._uow as uow:
            for hold in await uow.credits.stale_holds(now, data.limit):
                if not await uow.credits.finish_hold(hold.id, HoldStatus.EXPIRED, now):
                    continue
                entry = LedgerEntry(
                    self._ids.new_id(),
                    hold.user_id,
                    EntryKind.EXPIRY,
                    hold.amount,
                    -hold.amount,
                    f"expiry:{hold.id}",
                    now,
                    hold.id,
                    hold.reference,
                )
                await uow.credits.post(entry)
                expired += 1
            await uow.commit()
        return expired


# --- admin adjustments ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AdjustCreditsInput:
    actor: Actor
    user_id: UUID
    amount: int  # signed: positive adds, negative takes away
    reason: str
    kind: EntryKind = EntryKind.ADJUSTMENT  # ADJUSTMENT (either sign) or GRANT (positive)
    idempotency_key: str | None = None


class AdjustCredits:
    """An admin grants or corrects a user's credits; the reason is mandatory and kept in the ledger.

    Rules: admins only (``Forbidden``); the user must exist (``NotFound``); a grant is positive, an
    adjustment non-zero; an adjustment never takes the balance below zero (``Refused``
    ``balance_would_go_negative``); corrections are new compensating entries, never edits.
    """

    def __init__(self, uow: UnitOfWork, clock: Clock, ids: IdGenerator) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids

    async def __call__(self, data: AdjustCreditsInput) -> EntryResult:
        data.actor.require_admin()
        reason = _reason(data.reason, required=True)
        if data.kind not in (EntryKind.GRANT, EntryKind.ADJUSTMENT):
            raise InvalidInput("kind must be grant or adjustment", problems=[FieldProblem("kind", "invalid")])
        if data.amount == 0 or (data.kind is EntryKind.GRANT and data.amount < 0):
            raise InvalidInput(
                "The amount is not valid.",
                problems=[FieldProblem("amount_credits", "must be non-zero (positive for a grant)")],
            )
        key = validate_idempotency_key(data.idempotency_key or f"admin:{self._ids.new_id()}")
        entry = LedgerEntry(
            self._ids.new_id(),
            data.user_id,
            data.kind,
            data.amount,
            0,
            key,
            self._clock.now(),
            reference=f"admin:{data.actor.user_id}",
            reason=reason,
        )
        async with self._uow as uow:
            if await uow.users.get(data.user_id) is None:
                raise NotFound("No such user.")
            try:
                stored, created = await uow.credits.post(entry)
            except InsufficientCredits:
                raise Refused(
                    "The adjustment would take the balance below zero.", code="balance_would_go_negative"
                ) from None
            if not created and (stored.kind is not data.kind or stored.available_delta != data.amount):
                raise _key_reused()
            account = await uow.credits.get_account(data.user_id)
            await uow.commit()
            return EntryResult(stored, account, not created)


# --- reading -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreditsOverview:
    account: CreditAccount
    recent: list[LedgerEntry]


class GetCredits:
    """The caller's available and held credits and their most recent ledger entries."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, actor: Actor, recent: int = 10) -> CreditsOverview:
        async with self._uow as uow:
            account = await uow.credits.get_account(actor.user_id)
            entries = await uow.credits.list_entries(actor.user_id, EntryFilter(), recent)
            return CreditsOverview(account, entries)


@dataclass(frozen=True, slots=True)
class ListTransactionsInput:
    actor: Actor
    limit: int = 20
    kind: EntryKind | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    cursor: UUID | None = None


class ListTransactions:
    """The caller's own ledger entries, newest first, filtered by kind and creation time; cursor paginated."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, data: ListTransactionsInput) -> Page[LedgerEntry]:
        limit = check_limit(data.limit)
        filt = EntryFilter(data.kind, data.created_after, data.created_before, data.cursor)
        async with self._uow as uow:
            rows = await uow.credits.list_entries(data.actor.user_id, filt, limit + 1)
        return page_of(rows, limit, lambda entry: entry.id)
