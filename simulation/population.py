"""Borrowers, loans and their starting state: who is in the book and what the lender can see.

Latents first, observables from them plus noise: ``ability`` and ``willingness`` come from two
correlated normal scores; income, employment, bureau score, other debt and verified contact
details are drawn from those scores with enough noise that a model can learn the latents only in
part. One loan per borrower keeps every case's dynamics independent (so the oracle can replay a
case alone). Loans are either seasoned (originated 1..60 months before the window, started in
their schedule) or originated inside the window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rollcure.config.simulation import SimulationConfig
from rollcure.core.domain import EMPLOYMENTS, FLAGS, PRODUCTS, REGIONS, SECURED_PRODUCTS
from simulation.dynamics import NEVER_RESTRUCTURED, LoanState, annuity

#: product -> (principal / monthly income multiple, annual rate range, term choices in months)
_PRODUCT_TERMS: dict[str, tuple[float, tuple[float, float], tuple[int, ...]]] = {
    "card": (0.8, (0.16, 0.24), (36, 48, 60)),
    "consumer": (2.5, (0.07, 0.15), (24, 36, 48, 60)),
    "micro": (0.5, (0.20, 0.36), (6, 12, 24)),
    "mortgage": (45.0, (0.035, 0.055), (240, 360)),
    "housing_fund": (35.0, (0.028, 0.035), (180, 240, 300)),
}
_MAX_SEASONING = 60
_LOAN_ID_BASE = 1_000_000


@dataclass
class Population:
    borrowers: pd.DataFrame
    loans: pd.DataFrame
    state: LoanState
    origination_step: np.ndarray  # global step of origination (first cycle is the next step)
    employment_idx: np.ndarray


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _month_ends(first: pd.Timestamp, steps: np.ndarray) -> np.ndarray:
    """Month-end dates ``steps`` months after ``first`` (steps may be negative)."""
    base = pd.Timestamp(first).to_period("M")
    periods = pd.PeriodIndex.from_ordinals(base.ordinal + np.asarray(steps, dtype=np.int64), freq="M")
    return periods.to_timestamp(how="end").normalize().values.astype("datetime64[ns]")


def build_population(cfg: SimulationConfig, rng: np.random.Generator) -> Population:
    """Draw borrowers, loans and each loan's state at step 0 of the run (burn-in included)."""
    n = cfg.accounts
    z_a = rng.standard_normal(n)
    z_w = 0.35 * z_a + np.sqrt(1 - 0.35**2) * rng.standard_normal(n)
    ability = _sigmoid(1.3 * z_a + 0.8)
    willingness = _sigmoid(1.4 * z_w + 1.3)

    age = rng.integers(21, 71, n)
    emp_logits = np.column_stack(
        [np.full(n, 1.5), np.full(n, 0.2), -2.2 - 1.0 * z_a, np.where(age >= 60, 2.0, -6.0)]
    )
    emp_p = np.exp(emp_logits) / np.exp(emp_logits).sum(axis=1, keepdims=True)
    emp = (rng.random(n)[:, None] > np.cumsum(emp_p, axis=1)).sum(axis=1)
    emp = np.minimum(emp, len(EMPLOYMENTS) - 1)
    emp_income = np.array([0.0, 0.1, -0.8, -0.3])[emp]
    income = np.exp(8.3 + 0.30 * z_a + 0.35 * rng.standard_normal(n) + emp_income).round(2)
    bureau = np.clip(np.round(660 + 40 * z_a + 45 * z_w + 45 * rng.standard_normal(n)), 300, 850)
    other_debt = (income * rng.beta(2, 9, n) * np.where(z_a < 0, 1.4, 1.0)).round(2)
    borrowers = pd.DataFrame(
        {
            "borrower_id": np.arange(1, n + 1, dtype=np.int64),
            "age": age.astype(np.int64),
            "monthly_income": income,
            "employment": pd.array(np.asarray(EMPLOYMENTS)[emp], dtype="str"),
            "region": pd.array(np.asarray(REGIONS)[rng.integers(0, len(REGIONS), n)], dtype="str"),
            "bureau_score": bureau.astype(np.int64),
            "other_debt": other_debt,
            "dependants": rng.poisson(1.0, n).astype(np.int64),
            "phone_verified": rng.random(n) < _sigmoid(1.4 + 0.7 * z_w),
            "address_verified": rng.random(n) < _sigmoid(0.9 + 0.4 * z_w + 0.3 * z_a),
        }
    )

    mix = np.array([cfg.product_mix.get(p, 0.0) for p in PRODUCTS])
    prod = rng.choice(len(PRODUCTS), size=n, p=mix / mix.sum())
    multiple = np.array([_PRODUCT_TERMS[p][0] for p in PRODUCTS])[prod]
    lo = np.array([_PRODUCT_TERMS[p][1][0] for p in PRODUCTS])[prod]
    hi = np.array([_PRODUCT_TERMS[p][1][1] for p in PRODUCTS])[prod]
    rate = (lo + (hi - lo) * rng.random(n)).round(4)
    term = np.empty(n, dtype=np.int64)
    for i, p in enumerate(PRODUCTS):  # loop over five products, not accounts
        sel = prod == i
        term[sel] = rng.choice(_PRODUCT_TERMS[p][2], size=int(sel.sum()))
    principal = (income * multiple * np.exp(0.3 * rng.standard_normal(n))).round(2)
    instalment = annuity(principal, rate / 12, term).round(2)
    secured = np.isin(prod, [PRODUCTS.index(p) for p in SECURED_PRODUCTS])
    vehicle = (prod == PRODUCTS.index("consumer")) & (rng.random(n) < 0.2)
    collateral_type = np.where(secured, "property", np.where(vehicle, "vehicle", "none"))
    collateral_value = np.where(
        secured,
        principal / rng.uniform(0.55, 0.85, n),
        np.where(vehicle, principal * rng.uniform(0.8, 1.2, n), 0.0),
    ).round(2)
    guarantor = rng.random(n) < np.where(secured, 0.3, 0.08)

    # origination: seasoned loans are 1..min(term-1, 60) cycles old at the window start
    window0 = cfg.burn_in_months
    seasoning = 1 + np.floor(rng.random(n) * np.minimum(term - 1, _MAX_SEASONING)).astype(np.int64)
    new = rng.random(n) < cfg.new_loan_share
    o_new = window0 + rng.integers(0, max(cfg.months - 1, 1), n)
    origination = np.where(new, o_new, window0 - seasoning)
    paid_before = np.maximum(-origination, 0)  # instalments already paid before step 0
    r_m = rate / 12
    balance = principal * (1 + r_m) ** paid_before - instalment * (((1 + r_m) ** paid_before - 1) / r_m)
    first_cycle = pd.Timestamp(cfg.start_date)
    orig_dates = _month_ends(first_cycle, origination - window0) - np.timedelta64(1, "D") * rng.integers(
        0, 27, n
    )

    # rare flags, more likely among the unwilling; they take effect at a month inside the window
    flag = np.zeros(n, dtype=np.int64)
    u = rng.random(n)
    lo_edge = np.zeros(n)
    tilt = 2.0 * (1.0 - willingness)
    for i, f in enumerate(FLAGS):
        rate = cfg.latent.flag_rates.get(f, 0.0) * tilt
        flag = np.where((flag == 0) & (u >= lo_edge) & (u < lo_edge + rate), i + 1, flag)
        lo_edge = lo_edge + rate
    flag_step = np.maximum(
        window0 + rng.integers(0, cfg.months, n), origination + 1
    )  # not before its 1st cycle
    flag = np.where(flag_step < window0 + cfg.months, flag, 0)
    flag_dates = np.where(flag > 0, _month_ends(first_cycle, flag_step - window0), np.datetime64("NaT"))

    loans = pd.DataFrame(
        {
            "loan_id": _LOAN_ID_BASE + np.arange(1, n + 1, dtype=np.int64),
            "borrower_id": borrowers["borrower_id"].to_numpy(),
            "product": pd.array(np.asarray(PRODUCTS)[prod], dtype="str"),
            "origination_date": orig_dates.astype("datetime64[ns]"),
            "principal": principal,
            "annual_rate": rate,
            "term_months": term,
            "instalment": instalment,
            "collateral_type": pd.array(collateral_type, dtype="str"),
            "collateral_value": collateral_value,
            "has_guarantor": guarantor,
        }
    )
    for i, f in enumerate(FLAGS):
        loans[f] = flag == i + 1
    loans["flag_date"] = pd.Series(flag_dates, dtype="datetime64[ns]")

    onset = np.array([cfg.latent.shock_onset.get(e, 0.0) for e in EMPLOYMENTS])[emp]
    state = LoanState(
        balance=np.maximum(balance, 0.0),
        arrears=np.zeros(n),
        instalment=instalment.astype(float),
        monthly_rate=r_m,
        remaining=(term - paid_before).astype(np.int64),
        missed=np.zeros(n, dtype=np.int64),
        due_day=rng.integers(1, 29, n).astype(np.int64),
        income=income.astype(float),
        ability_base=ability,
        willingness=willingness.copy(),
        willingness_base=willingness,
        shock=rng.random(n) < onset / cfg.latent.shock_recovery,
        shock_onset=onset,
        legal=np.zeros(n, dtype=np.int64),
        restructured_ago=np.full(n, NEVER_RESTRUCTURED, dtype=np.int64),
        collateral=collateral_value.astype(float),
        secured=secured,
        micro=prod == PRODUCTS.index("micro"),
        flag=flag,
        flag_in=np.where(flag > 0, flag_step + 1, 10**6).astype(np.int64),
    )
    return Population(borrowers, loans, state, origination, emp)
