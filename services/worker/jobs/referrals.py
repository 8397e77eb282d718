"""Referrals' jobs: the referral clocks (``referral.receive``, ``.decide``, ``.no_show``, ``.take_over``,
``.follow_up``) are handled by ``core/referrals/routing.py``; importing it here registers the kinds with
``core.deadlines``, so the worker that fires clocks knows whom each step reminds and escalates to."""

from __future__ import annotations

from services.core.referrals import routing as routing  # registers the referral.* kinds (@deadline_kind)
