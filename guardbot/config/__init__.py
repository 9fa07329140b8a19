"""Settings: a TOML file overridden by GUARDBOT_* environment variables, validated up front.

The file is chosen as: explicit path (``--config``), else ``$GUARDBOT_CONFIG``, else ``./guardbot.toml``
(only that last one may be absent: then the defaults apply, with no accounts). Environment variables
``GUARDBOT_<SECTION>__<KEY>`` override single keys and keep the file's siblings.

Secrets never live in the file or in these models: the file names the environment variables that hold
them (``api_key_env = "BINANCE_MAIN_KEY"``), and they are resolved on demand into ``SecretStr`` values
(``NAME``, or the file named by ``NAME_FILE``, for Docker/Kubernetes secrets).

Every problem is reported at once, one line each:
``<file or env var>: <dotted.path>: <message> (got <value>)``.

    schema.py       the models, one per section, with defaults and cross-field rules
    metrics.py      [metrics]: the Prometheus endpoint and /healthz
    fields.py       field types (env var names, URLs, percentages) and the rule helpers
    secrets.py      Credentials; resolving NAME / NAME_FILE
    environment.py  GUARDBOT_* variables and the type each one sets
    loading.py      load_settings: file + environment, merged and validated
    messages.py     pydantic errors -> one line per problem
    render.py       the effective configuration, secrets masked (JSON-able and TOML)
"""

from __future__ import annotations

from guardbot.config.account import AccountConfig, Environment, Exchange
from guardbot.config.environment import CONFIG_ENV
from guardbot.config.loading import DEFAULT_CONFIG_FILE, load_settings
from guardbot.config.metrics import MetricsConfig
from guardbot.config.render import MASKED, UNSET, effective_config, render_effective_config
from guardbot.config.schema import (
    ENV_PREFIX,
    GuardConfig,
    RiskConfig,
    ScheduleConfig,
    Settings,
    TelegramConfig,
)
from guardbot.config.secrets import Credentials
from guardbot.config.storage import StorageConfig
from guardbot.errors import ConfigError

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG_FILE",
    "ENV_PREFIX",
    "MASKED",
    "UNSET",
    "AccountConfig",
    "ConfigError",
    "Credentials",
    "Environment",
    "Exchange",
    "GuardConfig",
    "MetricsConfig",
    "RiskConfig",
    "ScheduleConfig",
    "Settings",
    "StorageConfig",
    "TelegramConfig",
    "effective_config",
    "load_settings",
    "render_effective_config",
]
