"""One monthly cycle of a loan, and the causal effect of every collection action.

This is the only place where the synthetic world's behaviour is written down. The simulator calls
:func:`month_step` on every active loan each month; the oracle calls the very same function on
copies of a case's state, once per action, with common random numbers. So the oracle's "truth" is
the simulator's own dynamics, not a second model of them.

Latents per borrower: ``ability`` (capacity to pay, in [0, 1]; an income shock such as job loss or
illness multiplies it by ``shock_ability_factor`` (0.25) until the shock recovers, mean 8 months:
the mean US unemployment spell was near 40 weeks in 2010-2012, BLS CPS) and ``willingness`` (in
[0, 1]; pulled back towards the borrower's own base by 8% a month, pushed down by some actions: a
broken relationship mends slowly, our choice). Each cycle the borrower pays everything due (full:
the case cures), part of it (a share that shrinks with ability), or nothing, by a multinomial logit
in ability, willingness, burden (amount asked / (income × (0.1 + ability)): asking less helps most
where capacity binds), bucket, product, and the action decided at the previous cycle end.

Action effect table (A = ability, W = willingness, both in effect this month; b = bucket 1..7; the
gain is a logit shift on paying in full, half of it on paying in part; every number is a default
of the action catalogue, ``rollcure/core/actions.yaml``, where an action declares its gain and hurt
as a scale times named factors and which mechanism below it uses; default costs
0 / 1 / 10 / 25 / 50 / 300 / 5):

=============  ==================================================================================
action         effect on the next cycle (and after)
=============  ==================================================================================
none           nothing; the baseline (many able, willing cases cure on their own).
reminder       gain 0.6·A·W: a few points on the able and willing, next to nothing on others
               (reminders to debtors in arrears have small effects: Saulitis 2023).
restructuring  new instalment = annuity of the balance over 1.3 × the remaining term + 6 months,
               stretched further if needed so it is at most 0.5 × the old instalment;
               only that instalment is asked, and paying it re-ages the loan (arrears capitalised,
               DPD 0). Gain 3.5·W·(1−A): works on the willing but unable, whose burden also falls
               most (payment reduction is what lowers re-default: Haughwout, Okah & Tracy 2016;
               Agarwal et al. 2017). On able payers it defers cash and leaves a restructured loan.
field_visit    gain 2.6·A·(1−W): works on the able but unwilling. Hurts the willing but unable:
               willingness drops by 0.8·W·(1−A) (pressure on someone who cannot pay).
outsourcing    gain 0.35·(b−1)·(1−W/2): an agency's edge grows with the age of the debt; nothing
               in M1. Willingness drops by 0.5·(1−A) (pressure on those who cannot pay).
litigation     notice effect 0.5·A·(1−W) now; two cycles later the court rules: with probability
               0.85·A the debtor is made to pay everything due (cure); otherwise, on a secured
               loan, a collateral sale is ordered with probability 0.4 and happens six cycles
               later, recovering up to 0.7 × collateral value (the loan closes; a shortfall is
               charged off). Slow and costly: within a 90-day horizon it pays off on large
               arrears of able debtors; the sale lies beyond it. Willingness drops by 0.3·W
               (the relationship breaks).
settlement     the ``settlement`` mechanism: 0.8 of the interest accrued on the arrears (balance ×
               monthly rate × missed instalments, at most the arrears) is waived if the rest of
               what is due is paid in full this cycle (the case cures; the waiver is lost to the
               lender). Gain 2.0·W·(1−A/2): works on the willing who are short of the full amount.
=============  ==================================================================================

Flags (from their flag date): deceased and bankrupt cut ability to a tenth
(``flag_ability_factor``); disputed and fraud_suspected cut willingness to a fifth
(``flag_willingness_factor``).

DPD: ``missed`` counts unpaid instalments (grows by one per missed cycle, falls as arrears are
paid, 0 only when arrears are cleared); DPD = (missed − 1)·30 + (30 − due_day), so the bucket equals
min(missed, 7). The loan is charged off once missed reaches ``writeoff_after_missed`` (8: 210+ days
past due; the US FFIEC classification charges open-end credit off at 180 days) and closes when its
balance is repaid.

Why these sizes: decisions must matter about as much as field evidence says. Deployed optimisers
beat incumbent collection policies by about 8% of collections (Miller et al., Interfaces 2012; Abe
et al., KDD 2010) and the oracle bounds any deployed policy, so on held-out cases the oracle's value
(``rollcure.core.value``) exceeds the DPD ladder's by 8-20% with rules and capacities applied
(``tests/test_value.py``; README "The synthetic world's causal effects" has the table with each
source). Heterogeneity carries that headroom, as the table above says.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from rollcure.config.simulation import SimulationConfig
from rollcure.core.catalogue import Effect, Litigation, Restructuring, Settlement
from rollcure.core.domain import DAYS_PER_CYCLE, FLAGS, bucket_index

#: Positions of the actions the court and the waiver mechanisms serve (-1: no action uses it).
NO_ACTION = -1
#: ``restructured_ago`` of a loan never restructured (and the cap of the count).
NEVER_RESTRUCTURED = 999
#: Uniform draws consumed per loan and month (shock, payment choice, partial share, enforcement).
N_UNIFORMS = 4
_EPS = 0.005
#: Longest term a restructuring may stretch a loan to (months).
_MAX_TERM = 480
#: Flag codes: 0 = none, i + 1 = FLAGS[i].
FLAG_DISPUTED, FLAG_DECEASED, FLAG_BANKRUPT, FLAG_FRAUD = (FLAGS.index(f) + 1 for f in FLAGS)


@dataclass
class LoanState:
    """Struct of arrays: everything the next month depends on (the state is Markov)."""

    balance: np.ndarray  # outstanding after the last payment
    arrears: np.ndarray  # overdue amount after the last payment
    instalment: np.ndarray  # current scheduled instalment (restructuring lowers it)
    monthly_rate: np.ndarray
    remaining: np.ndarray  # scheduled instalments still to come (int)
    missed: np.ndarray  # unpaid instalments (int)
    due_day: np.ndarray  # day of month the instalment falls due (1..28)
    income: np.ndarray
    ability_base: np.ndarray
    willingness: np.ndarray
    willingness_base: np.ndarray
    shock: np.ndarray  # bool: income shock in progress
    shock_onset: np.ndarray  # monthly probability of a new shock
    legal: np.ndarray  # >0: cycles until the court rules; <0: cycles until a collateral sale; 0: none
    collateral: np.ndarray
    secured: np.ndarray  # bool: mortgage or housing-fund product
    micro: np.ndarray  # bool: micro loan
    flag: np.ndarray  # flag code (0 none)
    flag_in: np.ndarray  # cycles until the flag takes effect (<= 0: in effect)
    #: cycles since a restructuring last took effect (0: this cycle); large if never
    restructured_ago: np.ndarray

    def take(self, idx: np.ndarray) -> LoanState:
        return LoanState(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    def put(self, idx: np.ndarray, other: LoanState) -> None:
        for f in fields(self):
            getattr(self, f.name)[idx] = getattr(other, f.name)

    def repeat(self, n: int) -> LoanState:
        """Each case repeated ``n`` times in a row (for one copy per action)."""
        return LoanState(**{f.name: np.repeat(getattr(self, f.name), n) for f in fields(self)})

    def __len__(self) -> int:
        return len(self.balance)


@dataclass
class StepResult:
    due: np.ndarray
    paid: np.ndarray
    closed: np.ndarray  # bool: balance repaid this cycle
    written_off: np.ndarray  # bool: charged off after this cycle
    ability: np.ndarray  # ability in effect this cycle


def annuity(principal: np.ndarray, monthly_rate: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Level instalment repaying ``principal`` over ``n`` months."""
    n = np.maximum(np.asarray(n, dtype=float), 1.0)
    r = np.asarray(monthly_rate, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(r > 1e-9, r / (1.0 - (1.0 + r) ** (-n)), 1.0 / n)
    return principal * factor


def dpd_of(missed: np.ndarray, due_day: np.ndarray) -> np.ndarray:
    """Days past due at cycle end from the count of unpaid instalments."""
    missed = np.asarray(missed, dtype=np.int64)
    return np.where(missed > 0, (missed - 1) * DAYS_PER_CYCLE + (DAYS_PER_CYCLE - due_day), 0).astype(
        np.int64
    )


def bucket_now(state: LoanState) -> np.ndarray:
    """Bucket index (0 = M0 .. 7 = M7+) of each loan's DPD, by ``rollcure.core.domain`` (as written to
    ``cycles.bucket``); with due days 1..28 it equals min(missed, 7)."""
    return bucket_index(dpd_of(state.missed, state.due_day)).astype(np.int64)


def flag_active(state: LoanState) -> np.ndarray:
    return (state.flag > 0) & (state.flag_in <= 0)


def effective_latents(state: LoanState, cfg: SimulationConfig) -> tuple[np.ndarray, np.ndarray]:
    """Ability and willingness in effect now (shock and flags applied)."""
    active = flag_active(state)
    ability = state.ability_base * np.where(state.shock, cfg.latent.shock_ability_factor, 1.0)
    lat = cfg.latent
    ability = np.where(
        active & np.isin(state.flag, (FLAG_DECEASED, FLAG_BANKRUPT)),
        ability * lat.flag_ability_factor,
        ability,
    )
    will = np.where(
        active & np.isin(state.flag, (FLAG_DISPUTED, FLAG_FRAUD)),
        state.willingness * lat.flag_willingness_factor,
        state.willingness,
    )
    return ability, will


def _factors(ability: np.ndarray, will: np.ndarray, bucket: np.ndarray) -> dict[str, np.ndarray]:
    """The effect factors a catalogue entry may multiply, each in [0, 1]."""
    return {
        "ability": ability,
        "1-ability": 1 - ability,
        "1-ability/2": 1 - ability / 2,
        "willingness": will,
        "1-willingness": 1 - will,
        "1-willingness/2": 1 - will / 2,
        "bucket_age": np.clip((bucket - 1) / 6.0, 0.0, 1.0),
    }


def _effect(effect: Effect, factors: dict[str, np.ndarray], n: int) -> np.ndarray:
    value = np.full(n, effect.scale)
    for name in effect.factors:
        value = value * factors[name]
    return value


def action_response(
    action: np.ndarray, ability: np.ndarray, will: np.ndarray, bucket: np.ndarray, cfg: SimulationConfig
) -> tuple[np.ndarray, np.ndarray]:
    """The effect table: (logit shift on paying, drop in willingness) per case. Pure, vectorised.

    Each action's gain and hurt are ``scale`` times a product of factors, declared in the action
    catalogue; only the actions present are evaluated.
    """
    n = len(action)
    gain = np.zeros(n)
    hurt = np.zeros(n)
    factors = _factors(ability, will, bucket)
    for j, response in enumerate(cfg.effects.values()):
        here = action == j
        if not here.any():
            continue
        if response.gain.scale:
            gain = np.where(here, _effect(response.gain, factors, n), gain)
        if response.hurt.scale:
            hurt = np.where(here, _effect(response.hurt, factors, n), hurt)
    return gain, hurt


def _mechanisms(
    cfg: SimulationConfig,
) -> tuple[tuple[int, Restructuring | None], tuple[int, Litigation | None], tuple[int, Settlement | None]]:
    """(action position, parameters) of each mechanism; ``NO_ACTION`` where no action uses it."""
    restr: tuple[int, Restructuring | None] = (NO_ACTION, None)
    court: tuple[int, Litigation | None] = (NO_ACTION, None)
    settle: tuple[int, Settlement | None] = (NO_ACTION, None)
    for j, m in cfg.mechanisms():
        if isinstance(m, Restructuring):
            restr = (j, m)
        elif isinstance(m, Litigation):
            court = (j, m)
        else:
            settle = (j, m)
    return restr, court, settle


def restructured_terms(
    balance: np.ndarray,
    monthly_rate: np.ndarray,
    remaining: np.ndarray,
    instalment: np.ndarray,
    terms: Restructuring,
) -> tuple[np.ndarray, np.ndarray]:
    """New (instalment, term) after a restructuring: the balance (arrears capitalised) over a longer
    term, and never more than ``restructuring_max_instalment_share`` of the old instalment, the
    term stretched as far as needed (up to ``_MAX_TERM``) to get there."""
    n_min = np.ceil(np.maximum(remaining, 1) * terms.term_stretch) + terms.extra_months
    target = np.minimum(annuity(balance, monthly_rate, n_min), terms.max_instalment_share * instalment)
    target = np.maximum(target, 1e-6)
    ratio = monthly_rate * balance / target
    with np.errstate(divide="ignore", invalid="ignore"):
        n_needed = np.where(
            monthly_rate > 1e-9,
            np.where(ratio < 1, -np.log1p(-np.minimum(ratio, 1 - 1e-12)) / np.log1p(monthly_rate), _MAX_TERM),
            balance / target,
        )
    n = np.clip(np.ceil(n_needed), n_min, _MAX_TERM)
    # where even the longest term cannot get there, interest is partly deferred to the final instalment
    return np.minimum(annuity(balance, monthly_rate, n), target), n


def month_step(state: LoanState, action: np.ndarray, u: np.ndarray, cfg: SimulationConfig) -> StepResult:
    """Advance every loan in ``state`` by one cycle, in place, under ``action`` (decided last cycle).

    ``u`` holds ``N_UNIFORMS`` uniform draws per loan; passing the same draws for different actions
    gives common random numbers. Returns what was due and paid this cycle.
    """
    s = state
    lat, pay = cfg.latent, cfg.payment
    (a_restr, terms), (a_court, court), (a_settle, settlement) = _mechanisms(cfg)
    action = np.asarray(action, dtype=np.int8)
    # 1. latent shocks and flags
    s.shock = np.where(s.shock, u[:, 0] >= lat.shock_recovery, u[:, 0] < s.shock_onset)
    s.flag_in = s.flag_in - 1
    bucket = bucket_now(s)
    ability, will = effective_latents(s, cfg)
    gain, hurt = action_response(action, ability, will, bucket, cfg)
    s.willingness = np.clip(s.willingness - hurt, 0.0, 1.0)
    s.willingness = s.willingness + lat.willingness_reversion * (s.willingness_base - s.willingness)
    ability, will = effective_latents(s, cfg)
    # 2. restructuring: longer term, lower instalment; paying it re-ages the loan
    restr = action == a_restr
    if restr.any() and terms is not None:
        inst, n = restructured_terms(s.balance, s.monthly_rate, s.remaining, s.instalment, terms)
        s.remaining = np.where(restr, n, s.remaining).astype(np.int64)
        s.instalment = np.where(restr, inst, s.instalment)
    s.restructured_ago = np.where(restr, 0, np.minimum(s.restructured_ago + 1, NEVER_RESTRUCTURED))
    # 3. what is due
    bal_i = s.balance * (1.0 + s.monthly_rate)
    room = np.maximum(bal_i - s.arrears, 0.0)
    sched = np.where(s.remaining > 1, np.minimum(s.instalment, room), room)
    due = sched + s.arrears
    due_choice = np.where(restr, sched, due)  # restructured: only the new instalment is asked
    settle = action == a_settle
    waiver = np.zeros(len(due))
    if settle.any() and settlement is not None:  # part of the interest and penalties is waived
        interest = s.balance * s.monthly_rate * np.maximum(s.missed, 1)
        waiver = np.where(settle, settlement.waiver_share * np.minimum(interest, s.arrears), 0.0)
        due_choice = due_choice - waiver
    # 4. payment choice
    # burden against capacity (income scaled by ability): asking less helps most where capacity binds
    burden = due_choice / np.maximum(s.income * (pay.capacity_floor + ability), 1.0)
    current = s.missed == 0
    base = np.where(current, pay.current_intercept, pay.full_intercept - pay.bucket * (bucket - 1))
    lf = (
        base
        + pay.ability * ability
        + pay.willingness * will
        - pay.burden * burden
        + gain
        + pay.secured_bonus * s.secured
        - pay.micro_penalty * s.micro
    )
    lp = (
        pay.partial_intercept
        + pay.partial_ability * ability
        + pay.partial_willingness * will
        - pay.partial_bucket * bucket
        + 0.5 * gain
    )
    ef, ep = np.exp(np.clip(lf, -30, 30)), np.exp(np.clip(lp, -30, 30))
    tot = 1.0 + ef + ep
    pf, pp = ef / tot, ep / tot
    full = u[:, 1] < pf
    part = ~full & (u[:, 1] < pf + pp)
    share = pay.partial_share_low + (pay.partial_share_high - pay.partial_share_low) * u[:, 2]
    share = share * (pay.partial_ability_floor + (1 - pay.partial_ability_floor) * ability)
    paid = np.where(full, due_choice, np.where(part, share * np.where(current, sched, due), 0.0))
    reaged = restr & (paid >= sched - _EPS) & (sched > 0)
    # 5. the court: a ruling ``litigation_lag_cycles`` after filing makes an able debtor pay what is
    #    due; otherwise it may order the collateral sold, which happens ``litigation_sale_lag_cycles``
    #    later (legal < 0 counts that down); a shortfall after the sale is charged off
    sold = s.legal == -1
    won = np.zeros(len(due), dtype=bool)
    if court is not None:
        ruling = s.legal == 1
        p_won = court.enforce_ability * ability
        won = ruling & (u[:, 3] < p_won)
        p_order = p_won + court.collateral_sale * (1 - p_won)
        order_sale = ruling & ~won & (s.collateral > 0) & (u[:, 3] < p_order)
        sale = np.minimum(bal_i, court.collateral_recovery * s.collateral)
        paid = np.where(won, np.maximum(paid, due), np.where(sold, np.maximum(paid, sale), paid))
        pending = s.legal != 0
        s.legal = np.where(s.legal > 0, s.legal - 1, np.where(s.legal < 0, s.legal + 1, 0))
        s.legal = np.where(order_sale, -court.sale_lag_cycles, s.legal)
        s.legal = np.where((action == a_court) & ~pending, court.lag_cycles, s.legal)
    # the waiver holds only where the rest was paid in full by the debtor (not enforced by a court
    # or a collateral sale in the same cycle)
    forgiven = np.where(full & ~won & ~sold, waiver, 0.0)
    paid = np.minimum(paid, bal_i)
    forgiven = np.minimum(forgiven, bal_i - paid)
    # 6. balances, arrears, missed instalments
    balance = bal_i - paid - forgiven
    arrears = np.where(reaged, 0.0, np.maximum(due - paid - forgiven, 0.0))
    arrears = np.where(arrears < _EPS, 0.0, np.minimum(arrears, balance))
    balance = np.where(balance < _EPS, 0.0, balance)
    by_count = np.ceil(arrears / np.maximum(s.instalment, 1.0) - 1e-9).astype(np.int64)
    missed = np.where(paid <= 0, s.missed + 1, np.minimum(s.missed + 1, np.maximum(by_count, 1)))
    s.missed = np.where(arrears > 0, missed, 0).astype(np.int64)
    s.remaining = (s.remaining - 1).astype(np.int64)
    s.balance, s.arrears = balance, arrears
    closed = balance <= 0
    written_off = ~closed & ((s.missed >= cfg.writeoff_after_missed) | sold)
    return StepResult(due=due, paid=paid, closed=closed, written_off=written_off, ability=ability)
