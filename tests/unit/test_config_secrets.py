"""Secrets: from the environment (or a file named by NAME_FILE), never from the config file, and
never in a repr, an error line or the effective config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from config_support import ACCOUNT, EXAMPLE, SECRET, problems, write
from pydantic import SecretStr

from guardbot.config import (
    AccountConfig,
    ConfigError,
    Credentials,
    TelegramConfig,
    effective_config,
    load_settings,
    render_effective_config,
)

# ----------------------------------------------------------------------------- secrets


def test_credentials_come_from_env_and_file(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path / "c.toml", ACCOUNT), {})
    secret_file = write(tmp_path / "secret", SECRET + "\n")
    creds = settings.account("main").credentials({"MAIN_KEY": "key-1", "MAIN_SECRET_FILE": str(secret_file)})
    assert creds.api_key is not None and creds.api_key.get_secret_value() == "key-1"
    assert creds.secret is not None and creds.secret.get_secret_value() == SECRET  # newline dropped
    assert creds.password is None and creds.private_key is None
    assert creds.as_ccxt() == {"apiKey": "key-1", "secret": SECRET}
    # the variable itself wins over its _FILE
    both = settings.account("main").credentials(
        {"MAIN_KEY": "k", "MAIN_SECRET": "direct", "MAIN_SECRET_FILE": str(secret_file)}
    )
    assert both.secret == SecretStr("direct")


def test_missing_secret_names_the_variable(tmp_path: Path) -> None:
    account = load_settings(write(tmp_path / "c.toml", ACCOUNT), {}).account("main")
    with pytest.raises(ConfigError) as info:
        account.credentials({"MAIN_KEY": "k"})
    (line,) = info.value.problems
    assert line.startswith("MAIN_SECRET: environment variable is not set")
    assert "MAIN_SECRET_FILE" in line
    with pytest.raises(ConfigError, match=r"MAIN_SECRET_FILE: cannot read .*nowhere"):
        account.credentials({"MAIN_KEY": "k", "MAIN_SECRET_FILE": str(tmp_path / "nowhere")})


def test_exchange_needs_are_checked_when_resolving() -> None:
    aster = AccountConfig(name="a", exchange="aster")
    with pytest.raises(ConfigError) as info:
        aster.credentials({})
    assert [p.split(":")[0] for p in info.value.problems] == [
        "accounts[a].private_key_env",
        "accounts[a].wallet_address",
    ]
    wallet = "0x" + "ab" * 20
    watch_only = AccountConfig(name="h", exchange="hyperliquid", wallet_address=wallet)
    assert watch_only.credentials({}) == Credentials(wallet_address=wallet)
    with pytest.raises(ConfigError, match="private_key_env"):
        watch_only.model_copy(update={"dry_run": False}).credentials({})


def test_bot_token_required_only_when_enabled(tmp_path: Path) -> None:
    off = TelegramConfig()
    assert off.bot_token({}) is None
    assert off.bot_token({"GUARDBOT_TELEGRAM_TOKEN": SECRET}) == SecretStr(SECRET)
    on = TelegramConfig(enabled=True, chat_ids=[1], bot_token_env="TG")
    with pytest.raises(ConfigError, match=r"^TG: environment variable is not set"):
        on.bot_token({})
    token_file = write(tmp_path / "tok", SECRET + "\n")
    assert on.bot_token({"TG_FILE": str(token_file)}) == SecretStr(SECRET)


@pytest.mark.parametrize(
    ("text", "path", "env_key"),
    [
        (ACCOUNT + f"api_key = '{SECRET}'", "accounts[0].api_key", "api_key_env"),
        (ACCOUNT + f"secret = '{SECRET}'", "accounts[0].secret", "api_secret_env"),
        (ACCOUNT + f"private_key = '{SECRET}'", "accounts[0].private_key", "private_key_env"),
        (f"[telegram]\nbot_token = '{SECRET}'", "telegram.bot_token", "bot_token_env"),
    ],
)
def test_secret_in_the_file_is_rejected_explicitly(
    tmp_path: Path, text: str, path: str, env_key: str
) -> None:
    cfg = write(tmp_path / "c.toml", text + "\n")
    assert problems(cfg) == [
        f'{cfg}: {path}: secrets are not read from the config file; set {env_key} = "NAME" and export NAME'
    ]


def test_sector_names_are_not_mistaken_for_secrets(tmp_path: Path) -> None:
    cfg = write(
        tmp_path / "c.toml", "[risk]\nsector_caps = {token = 50}\n[risk.sectors]\ntoken = ['UNI/USDT:USDT']\n"
    )
    assert load_settings(cfg, {}).risk.sectors == {"token": ["UNI/USDT:USDT"]}


def test_secret_pasted_as_a_variable_name_is_not_echoed(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", ACCOUNT + f"password_env = '{SECRET}'\n")
    (line,) = problems(cfg)
    assert line.startswith(f"{cfg}: accounts[0].password_env: must be the NAME of an environment variable")
    assert SECRET not in line


def test_secrets_never_appear_in_repr_errors_or_effective_config(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", ACCOUNT + "[telegram]\nenabled = true\nchat_ids = [7]\n")
    env = {"MAIN_KEY": SECRET, "MAIN_SECRET": SECRET, "GUARDBOT_TELEGRAM_TOKEN": SECRET}
    settings = load_settings(cfg, env)
    creds = settings.account("main").credentials(env)
    token = settings.telegram.bot_token(env)
    outputs = [
        repr(settings),
        str(settings),
        repr(creds),
        str(creds),
        repr(token),
        str(token),
        json.dumps(effective_config(settings)),
        render_effective_config(settings),
        settings.model_dump_json(),
    ]
    for text in outputs:
        assert SECRET not in text
    effective = effective_config(settings)
    account = effective["accounts"][0]
    assert (account["api_key_env"], account["api_key"]) == ("MAIN_KEY", "**********")
    assert effective["telegram"]["bot_token"] == "**********"
    assert effective_config(settings, {})["accounts"][0]["api_secret"] == "(unset)"
    assert settings.environ is env  # what the daemon passes to credentials() and bot_token()


def test_effective_config_renders_loadable_toml(tmp_path: Path) -> None:
    settings = load_settings(EXAMPLE, {"SIM_API_KEY": SECRET, "GUARDBOT_RISK__MAX_LEVERAGE": "3"})
    text = render_effective_config(settings)
    assert f"# source: {EXAMPLE}" in text
    assert "# api_key = **********" in text and "# api_key = (unset)" in text
    again = load_settings(write(tmp_path / "effective.toml", text), {})
    assert again.model_dump() == settings.model_dump()
    assert again.risk.max_leverage == 3
