"""Collectors' contacts that follow each decision, stamped between the decision and the next cycle.

Channels per action come from the action catalogue (``simulation.contacts``: per channel a fixed
count and the chances of one more, e.g. a reminder is an SMS and a call, each sometimes repeated;
litigation a demand letter and sometimes a call). Outcomes follow the latents: unverified phones give
wrong numbers, the unwilling dodge calls and refuse, a reached debtor who will pay at the next
cycle usually promises to, and the willing-but-unable promise too and then break the promise. So a
kept or broken promise is visible one cycle later in ``cycles`` and is a real willingness signal.
Contacts are generated after the next cycle's payment is known, from a random stream of their own,
and they never feed back into the dynamics.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rollcure.config.simulation import SimulationConfig
from rollcure.core.catalogue import CONTACT_CHANCES
from rollcure.core.domain import CHANNELS, OUTCOMES, PARTIES
from simulation.dynamics import (
    FLAG_BANKRUPT,
    FLAG_DECEASED,
    FLAG_DISPUTED,
    FLAG_FRAUD,
)

_SMS, _CALL, _VISIT, _LETTER = (CHANNELS.index(c) for c in ("sms", "call", "visit", "letter"))
#: Columns of the per-case coin draws that decide each channel's extra contacts.
_N_COINS = sum(CONTACT_CHANCES.values())
_COIN_STARTS = np.cumsum([0, *CONTACT_CHANCES.values()])
_COINS = {ch: list(range(_COIN_STARTS[i], _COIN_STARTS[i + 1])) for i, ch in enumerate(CONTACT_CHANCES)}
_OUT = {o: i for i, o in enumerate(OUTCOMES)}
_CALL_PARTY_P = np.array([0.70, 0.15, 0.10, 0.05])
_VISIT_PARTY_P = np.array([0.80, 0.20, 0.0, 0.0])
#: Collectors contact between 09:00 and 20:00 (compliance: no night calls).
_FIRST_HOUR, _LAST_HOUR = 9, 20
_COLUMNS = ("loan_id", "ts", "channel", "party", "outcome", "ptp_amount", "ptp_date")
# Outcome model; pairs are (verified / flagged, otherwise).
#: A call reaches a wrong number this often, by phone verification.
_WRONG_NUMBER_P = (0.03, 0.25)
#: A call reaches the debtor with base + slope x willingness (the unwilling dodge calls).
_CALL_REACH_BASE, _CALL_REACH_WILL = 0.35, 0.5
#: Reach of a visit (by verified address), an SMS (by verified phone), a letter (by verified address).
_VISIT_REACH_P, _SMS_REACH_P, _LETTER_REACH_P = (0.8, 0.5), (0.9, 0.3), (0.9, 0.4)
#: The debtor "will pay" when next cycle's payment covers this share of what is due.
_PAYS_SHARE = 0.5
#: A spoken contact ends in a dispute this often, on a disputed or fraud-flagged loan or otherwise.
_DISPUTE_P = (0.5, 0.02)
#: Promise rate: a payer promises with _PROMISE_PAYER_P; others with
#: _PROMISE_UNABLE x W x (1 - A) + _PROMISE_WILLING x W (the willing but unable promise, then break).
_PROMISE_PAYER_P, _PROMISE_UNABLE, _PROMISE_WILLING = 0.75, 0.45, 0.1
#: A promise that will be broken is for low + span x U of what is due.
_PTP_SHARE_LOW, _PTP_SHARE_SPAN = 0.3, 0.7
#: Promise dates fall min + floor(span x U) days after the contact.
_PTP_MIN_DAYS, _PTP_SPAN_DAYS = 3, 18


def empty_contacts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "loan_id": pd.Series(dtype="int64"),
            "ts": pd.Series(dtype="datetime64[ns]"),
            "channel": pd.Series(dtype="str"),
            "party": pd.Series(dtype="str"),
            "outcome": pd.Series(dtype="str"),
            "ptp_amount": pd.Series(dtype="float64"),
            "ptp_date": pd.Series(dtype="datetime64[ns]"),
        }
    )


def _channel_counts(action: np.ndarray, rng: np.random.Generator, cfg: SimulationConfig) -> np.ndarray:
    """Contacts per case and channel: the catalogue's fixed count plus one per coin below its chance."""
    n = len(action)
    c = np.zeros((n, len(CHANNELS)), dtype=np.int64)
    coin = rng.random((n, _N_COINS))
    for j, response in enumerate(cfg.effects.values()):
        here = action == j
        for channel, (fixed, *chances) in response.contacts.items():
            count = np.full(n, int(fixed))
            for col, p in zip(_COINS[channel], chances, strict=False):
                count = count + (coin[:, col] < p)
            k = CHANNELS.index(channel)
            c[:, k] = np.where(here, count, c[:, k])
    return c


def contacts_after_decisions(
    loan_ids: np.ndarray,
    decided_at: np.datetime64,
    next_cycle: np.datetime64,
    action: np.ndarray,
    ability: np.ndarray,
    will: np.ndarray,
    phone_ok: np.ndarray,
    address_ok: np.ndarray,
    paid_next: np.ndarray,
    due_next: np.ndarray,
    flag: np.ndarray,
    rng: np.random.Generator,
    cfg: SimulationConfig,
) -> pd.DataFrame:
    """Contacts for decisions made at ``decided_at``; one row per contact, ts in (decided_at, next_cycle)."""
    counts = _channel_counts(action, rng, cfg)
    blocked = np.isin(flag, (FLAG_DISPUTED, FLAG_DECEASED, FLAG_BANKRUPT))
    counts[blocked] = 0
    rows = [np.repeat(np.arange(len(action)), counts[:, ch]) for ch in range(len(CHANNELS))]
    case = np.concatenate(rows)
    if len(case) == 0:
        return empty_contacts()
    channel = np.concatenate([np.full(len(r), ch) for ch, r in enumerate(rows)])
    m = len(case)
    u = rng.random((m, 7))
    span_d = (next_cycle - decided_at).astype("timedelta64[D]").astype(np.int64)
    day = np.floor(u[:, 0] * (span_d - 1)).astype(np.int64)  # 0 .. span-2: strictly before the next cycle
    hour = _FIRST_HOUR + np.floor(u[:, 6] * (_LAST_HOUR - _FIRST_HOUR)).astype(np.int64)
    ts = decided_at + day.astype("timedelta64[D]") + hour.astype("timedelta64[h]")

    party = np.zeros(m, dtype=np.int64)
    talk = channel == _CALL
    party = np.where(talk, (u[:, 1][:, None] > np.cumsum(_CALL_PARTY_P)).sum(axis=1), party)
    party = np.where(channel == _VISIT, (u[:, 1][:, None] > np.cumsum(_VISIT_PARTY_P)).sum(axis=1), party)
    party = np.minimum(party, len(PARTIES) - 1)

    w, a = will[case], ability[case]
    pays = paid_next[case] >= _PAYS_SHARE * np.maximum(due_next[case], 1e-9)
    wrong = talk & (u[:, 2] < np.where(phone_ok[case], *_WRONG_NUMBER_P))
    reach_p = np.select(
        [talk, channel == _VISIT],
        [_CALL_REACH_BASE + _CALL_REACH_WILL * w, np.where(address_ok[case], *_VISIT_REACH_P)],
        np.where(
            channel == _SMS,
            np.where(phone_ok[case], *_SMS_REACH_P),
            np.where(address_ok[case], *_LETTER_REACH_P),
        ),
    )
    reached = ~wrong & (u[:, 3] < reach_p)
    spoken = reached & np.isin(channel, (_CALL, _VISIT))
    disputes = spoken & (u[:, 4] < np.where(np.isin(flag[case], (FLAG_FRAUD, FLAG_DISPUTED)), *_DISPUTE_P))
    promise_p = np.where(pays, _PROMISE_PAYER_P, _PROMISE_UNABLE * w * (1 - a) + _PROMISE_WILLING * w)
    promise = spoken & ~disputes & (u[:, 5] < promise_p)
    refused = spoken & ~disputes & ~promise & (u[:, 4] > w)
    outcome = np.select(
        [wrong, ~reached, disputes, promise, refused],
        [_OUT["wrong_number"], _OUT["no_answer"], _OUT["dispute"], _OUT["promise_to_pay"], _OUT["refused"]],
        _OUT["right_party_contact"],
    )
    due_c = due_next[case]
    ptp_amount = np.where(
        promise, np.where(pays, paid_next[case], due_c * (_PTP_SHARE_LOW + _PTP_SHARE_SPAN * u[:, 2])), np.nan
    ).round(2)
    ptp_days = (_PTP_MIN_DAYS + np.floor(u[:, 1] * _PTP_SPAN_DAYS)).astype("timedelta64[D]")
    ptp_date = np.where(promise, ts.astype("datetime64[D]") + ptp_days, np.datetime64("NaT")).astype(
        "datetime64[ns]"
    )

    frame = pd.DataFrame(
        {
            "loan_id": loan_ids[case].astype(np.int64),
            "ts": ts.astype("datetime64[ns]"),
            "channel": pd.Categorical.from_codes(channel, categories=list(CHANNELS)),
            "party": pd.Categorical.from_codes(party, categories=list(PARTIES)),
            "outcome": pd.Categorical.from_codes(outcome, categories=list(OUTCOMES)),
            "ptp_amount": ptp_amount,
            "ptp_date": ptp_date,
        }
    )
    for col in ("channel", "party", "outcome"):
        frame[col] = frame[col].astype("str")
    return frame[list(_COLUMNS)]
