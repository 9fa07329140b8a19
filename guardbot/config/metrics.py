"""`[metrics]`: the daemon's Prometheus endpoint and `/healthz` (guardbot/ops).

Off by default and on loopback when on: the figures (equity, margin ratio) are private, so exposing
them beyond this machine is a choice the user makes by setting `host`, never a default.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from guardbot.config.fields import NonEmptyStr

DEFAULT_METRICS_PORT = 9464  # the port Prometheus' registry of default ports leaves to small exporters


class MetricsConfig(BaseModel):
    # the same strictness as every other section (fields.STRICT): a typo is an error
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    enabled: bool = False
    host: NonEmptyStr = "127.0.0.1"
    # 0 lets the OS pick a free port (tests; the bound port is logged at start)
    port: Annotated[int, Field(ge=0, le=65535)] = DEFAULT_METRICS_PORT
