"""The `[storage]` section: where the journal is, and how much of the accounts' history it keeps.

Its own module (like strategies.py) so schema.py stays readable; docs/journal.md explains what the
sampling and downsampling keys do and what they cost in disk.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from guardbot.config.fields import NonEmptyStr, Positive, num, raise_rules
from guardbot.store.sampling import SamplingPolicy


class StorageConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    path: NonEmptyStr = "guardbot.db"
    snapshot_retention_days: Annotated[int, Field(gt=0)] = 30
    # A snapshot row at least this often; in between, only when something meaningful changed.
    snapshot_every_s: Positive = 60.0
    # Equity moving by more than this percentage since the last kept row makes a row.
    snapshot_equity_move_pct: Annotated[float, Field(ge=0, lt=100)] = 0.25
    # The margin ratio moving by more than this many percentage points makes a row.
    snapshot_margin_ratio_move_pct: Annotated[float, Field(ge=0, lt=100)] = 0.25
    # Positions are kept with a row at least this often (and whenever positions or orders change).
    positions_every_s: Positive = 300.0
    # Past this age, each bucket keeps its extremes only (worst margin ratio, lowest/highest equity, last).
    downsample_after_days: Positive = 7.0
    downsample_bucket_minutes: Positive = 15.0

    @model_validator(mode="after")
    def _rules(self) -> StorageConfig:
        # a bucket shorter than the row interval would thin nothing and only cost work
        if self.downsample_bucket_minutes * 60 < self.snapshot_every_s:
            raise_rules(
                [
                    (
                        ("downsample_bucket_minutes",),
                        f"must be at least snapshot_every_s ({num(self.snapshot_every_s)} s) in minutes",
                        self.downsample_bucket_minutes,
                        (("snapshot_every_s",),),
                    )
                ]
            )
        return self

    def sampling(self) -> SamplingPolicy:
        """The journal's sampling policy from these keys."""
        return SamplingPolicy(
            every_ms=int(self.snapshot_every_s * 1000),
            equity_move=self.snapshot_equity_move_pct / 100,
            margin_ratio_move=self.snapshot_margin_ratio_move_pct / 100,
            positions_every_ms=int(self.positions_every_s * 1000),
            downsample_after_ms=int(self.downsample_after_days * 86_400_000),
            bucket_ms=int(self.downsample_bucket_minutes * 60_000),
        )
