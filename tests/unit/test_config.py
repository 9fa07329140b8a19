"""Configuration: file choice, environment overrides, one-line errors, and the example file kept in
step with the models (secrets: test_config_secrets.py)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from config_support import ACCOUNT, EXAMPLE, SECRET, problems, write
from pydantic import BaseModel

from guardbot.config import (
    AccountConfig,
    ConfigError,
    Settings,
    load_settings,
)

# ----------------------------------------------------------------------------- which file


def test_explicit_path_beats_guardbot_config_beats_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "guardbot.toml", "[risk]\nmax_leverage = 1\n")
    write(tmp_path / "from_env.toml", "[risk]\nmax_leverage = 2\n")
    write(tmp_path / "explicit.toml", "[risk]\nmax_leverage = 3\n")
    env = {"GUARDBOT_CONFIG": "from_env.toml"}

    assert load_settings("explicit.toml", env).risk.max_leverage == 3
    assert load_settings(None, env).risk.max_leverage == 2
    default = load_settings(None, {})
    assert default.risk.max_leverage == 1
    assert default.source == tmp_path / "guardbot.toml"


def test_missing_default_file_means_defaults_and_no_accounts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(None, {})
    assert settings.source is None
    assert settings.accounts == []
    assert settings.risk.max_leverage == 5.0
    assert settings.guard.margin_ratio_reduce == 0.7
    assert settings.telegram.enabled is False
    assert settings.accounts == [] and settings.risk.risk_per_trade_pct == 1.0


def test_a_given_file_that_does_not_exist_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert problems("nope.toml") == ["nope.toml: config file not found"]
    assert problems(None, {"GUARDBOT_CONFIG": "gone.toml"}) == ["gone.toml: config file not found"]


def test_toml_syntax_error_is_one_line_with_position(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "bad.toml", "[risk]\nmax_leverage = = 3\n")
    (line,) = problems("bad.toml")
    assert line.startswith("bad.toml: invalid TOML: ")
    assert "line 2" in line and "column" in line


# ----------------------------------------------------------------------------- environment


def test_env_overrides_one_key_and_keeps_the_file_siblings(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", "[risk]\nmax_leverage = 4\nslippage_pct = 0.2\n" + ACCOUNT)
    settings = load_settings(
        cfg,
        {
            "GUARDBOT_RISK__MAX_LEVERAGE": "3",
            "GUARDBOT_TELEGRAM__CHAT_IDS": "[42, 43]",
            "GUARDBOT_ACCOUNTS__0__DRY_RUN": "false",
            "GUARDBOT_ACCOUNTS__0__SYMBOLS": '["BTC/USDT:USDT"]',
        },
    )
    assert settings.risk.max_leverage == 3
    assert settings.risk.slippage_pct == 0.2
    assert settings.telegram.chat_ids == [42, 43]
    account = settings.account("main")
    assert account.dry_run is False
    assert account.symbols == ["BTC/USDT:USDT"]
    assert account.api_key_env == "MAIN_KEY"


def test_overrides_come_from_the_given_environ_not_the_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GUARDBOT_RISK__MAX_LEVERAGE", "-7")
    monkeypatch.setenv("GUARDBOT_CONFIG", str(tmp_path / "missing.toml"))
    monkeypatch.chdir(tmp_path)
    assert load_settings(None, {}).risk.max_leverage == 5.0
    assert load_settings(None, {"GUARDBOT_RISK__MAX_LEVERAGE": "2"}).risk.max_leverage == 2


def test_env_error_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert problems(None, {"GUARDBOT_RISK__MAX_LEVERAGE": "-2"}) == [
        "GUARDBOT_RISK__MAX_LEVERAGE: must be greater than 0 (got -2)"
    ]
    assert problems(None, {"GUARDBOT_RISK__FOO": "1"}) == ["GUARDBOT_RISK__FOO: unknown key"]
    (line,) = problems(None, {"GUARDBOT_TELEGRAM__CHAT_IDS": "42,43"})
    assert line.startswith("GUARDBOT_TELEGRAM__CHAT_IDS: must be a JSON list")


def test_single_underscore_env_var_is_not_silently_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (line,) = problems(None, {"GUARDBOT_RISK_MAX_LEVERAGE": "3"})
    assert line.startswith(
        "GUARDBOT_RISK_MAX_LEVERAGE: not a setting; did you mean GUARDBOT_RISK__MAX_LEVERAGE"
    )
    # variables that merely share the prefix, like the default token variable, are fine
    load_settings(None, {"GUARDBOT_TELEGRAM_TOKEN": SECRET, "GUARDBOT_CONFIG": ""})


def test_env_value_breaking_a_rule_with_a_file_value_is_named(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", "[guard]\nmargin_ratio_warn = 0.5\n")
    (line,) = problems(cfg, {"GUARDBOT_GUARD__MARGIN_RATIO_REDUCE": "0.45"})
    assert line.startswith("GUARDBOT_GUARD__MARGIN_RATIO_REDUCE: guard.margin_ratio_warn: must be less than")


def test_env_override_of_an_account_that_does_not_exist(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", ACCOUNT)
    (line,) = problems(cfg, {"GUARDBOT_ACCOUNTS__1__DRY_RUN": "false"})
    assert line.startswith("GUARDBOT_ACCOUNTS__1__DRY_RUN: there is no accounts[1] to override")


def test_whole_sections_and_account_lists_as_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(
        None,
        {
            "GUARDBOT_ACCOUNTS": '[{"name": "main", "exchange": "bybit"}]',
            "GUARDBOT_RISK__SECTORS": '{"L1": ["ETH/USDT:USDT"]}',
            "GUARDBOT_RISK__SECTOR_CAPS": '{"L1": 100}',
        },
    )
    assert [a.name for a in settings.accounts] == ["main"]
    assert settings.risk.sector_caps == {"L1": 100}


def test_constructing_settings_directly_ignores_file_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "guardbot.toml", "[risk]\nmax_leverage = 2\n")
    monkeypatch.setenv("GUARDBOT_GUARD__CONFIRM_READINGS", "9")
    settings = Settings(accounts=[AccountConfig(name="a", exchange="bybit")])
    assert (settings.risk.max_leverage, settings.guard.confirm_readings) == (5.0, 2)
    assert settings.source is None


# ----------------------------------------------------------------------------- error lines


def test_error_line_names_file_dotted_path_and_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "config.toml", "[risk]\nmax_leverage = -2\n")
    assert problems("config.toml") == ["config.toml: risk.max_leverage: must be greater than 0 (got -2)"]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    cfg = write(
        tmp_path / "c.toml",
        ACCOUNT
        + '[[accounts]]\nname = "Main Account"\nexchange = "kraken"\n'
        + "[risk]\nmax_leverage = 0\n[schedule]\ninterval_s = 'fast'\n[telegram]\ndigest_time_utc = '8am'\n",
    )
    lines = problems(cfg)
    label = str(cfg)
    assert lines == [
        f'{label}: accounts[1].name: must be lowercase letters, digits, "_" or "-" (e.g. "main") '
        '(got "Main Account")',
        f'{label}: accounts[1].exchange: must be one of "binanceusdm", "aster", "bybit" or "hyperliquid" '
        '(got "kraken")',
        f"{label}: risk.max_leverage: must be greater than 0 (got 0)",
        f'{label}: telegram.digest_time_utc: must be a UTC time written HH:MM, e.g. "08:00" (got "8am")',
        f'{label}: schedule.interval_s: must be a number (got "fast")',
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[risk]\nmax_levrage = 3\n", 'risk.max_levrage: unknown key; did you mean "max_leverage"?'),
        ("[gaurd]\n", 'gaurd: unknown key; did you mean "guard"?'),
        ("[risk.sectors]\nl1 = ['A']\n[risk.foo]\nbar = 1\n", "risk.foo: unknown key"),
        (ACCOUNT + "dryrun = false\n", 'accounts[0].dryrun: unknown key; did you mean "dry_run"?'),
        ("[telegram]\nenable = true\n", 'telegram.enable: unknown key; did you mean "enabled"?'),
    ],
)
def test_unknown_keys_are_errors_at_every_level(tmp_path: Path, text: str, expected: str) -> None:
    cfg = write(tmp_path / "c.toml", text)
    assert problems(cfg) == [f"{cfg}: {expected}"]


def test_accounts_written_as_a_table_get_a_hint(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", '[accounts]\nname = "main"\n')
    (line,) = problems(cfg)
    assert "write one [[accounts]] table per account" in line


# ----------------------------------------------------------------------------- validation rules


@pytest.mark.parametrize(
    ("section", "text", "path"),
    [
        ("guard", "margin_ratio_warn = 0.75", "guard.margin_ratio_warn"),
        ("guard", "margin_ratio_flatten = 0.65", "guard.margin_ratio_reduce"),
        ("guard", "drawdown_halt_pct = 15", "guard.drawdown_halt_pct"),
        ("guard", "drawdown_flatten_pct = 12", "guard.drawdown_reduce_pct"),
        ("guard", "margin_ratio_target = 0.7", "guard.margin_ratio_target"),
        ("guard", "liquidation_reduce_pct = 15", "guard.liquidation_reduce_pct"),
        ("guard", "leverage_hard = 4", "guard.leverage_warn"),
        ("risk", "risk_per_trade = 100\nrisk_per_trade_pct = 1", "risk.risk_per_trade"),
        ("risk", "sector_caps = {defi = 50}", "risk.sector_caps.defi"),
    ],
)
def test_cross_field_rules(tmp_path: Path, section: str, text: str, path: str) -> None:
    cfg = write(tmp_path / "c.toml", f"[{section}]\n{text}\n")
    (line,) = problems(cfg)
    assert line.startswith(f"{cfg}: {path}: ")


@pytest.mark.parametrize(
    "text",
    [
        "[risk]\nrisk_per_trade_pct = 0",
        "[risk]\nrisk_per_trade_pct = 150",
        "[risk]\ncluster_threshold = 1.5",
        "[risk]\ntaker_fee = 0.05",  # 5 %: a percentage typed where a fraction belongs
        "[risk]\nmax_leverage = inf",
        "[risk]\ncorrelation_timeframe = 'hourly'",
        "[guard]\nmargin_ratio_flatten = 1.2",
        "[guard]\ndrawdown_reduce_fraction = 0",
        "[guard]\nday_reset_hour_utc = 24",
        "[guard]\nconfirm_readings = 0",
        "[guard]\nreduce_priority = ['unprotected', 'unprotected']",
        "[guard]\nreduce_priority = ['biggest']",
        "[telegram]\ndigest_time_utc = '24:00'",
        "[telegram]\nenabled = true",  # no chat to send to
        "[telegram]\napi_base_url = 'api.telegram.org'",
        "[schedule]\ninterval_s = 0",
        "[storage]\nsnapshot_retention_days = 0",
        ACCOUNT + "wallet_address = '0x1234'",
        ACCOUNT + "base_url = '127.0.0.1:8765'",
        ACCOUNT + ACCOUNT,
    ],
)
def test_values_out_of_range_are_rejected(tmp_path: Path, text: str) -> None:
    cfg = write(tmp_path / "c.toml", text + "\n")
    assert len(problems(cfg)) == 1


def test_amount_per_trade_replaces_the_default_percentage(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", "[risk]\nrisk_per_trade = 200\n")
    risk = load_settings(cfg, {}).risk
    assert (risk.risk_per_trade, risk.risk_per_trade_pct) == (200, None)


def test_settle_currency_defaults_to_the_venues_own(tmp_path: Path) -> None:
    """Hyperliquid's perpetuals settle in USDC: an account that does not name a currency gets it
    (before: USDT everywhere, and every Hyperliquid snapshot failed "no hyperliquid perpetual
    settles in USDT"); a currency given in the file or the environment still wins."""
    hl = '[[accounts]]\nname = "hl"\nexchange = "hyperliquid"\nwallet_address = "0x' + "ab" * 20 + '"\n'
    given = hl.replace('name = "hl"', 'name = "hl2"') + 'settle_currency = "USDT"\n'
    cfg = write(tmp_path / "c.toml", ACCOUNT + hl + given)
    settings = load_settings(cfg, {})
    assert [a.settle_currency for a in settings.accounts] == ["USDT", "USDC", "USDT"]
    wallet = "0x" + "cd" * 20
    env = {"GUARDBOT_ACCOUNTS": f'[{{"name": "x", "exchange": "hyperliquid", "wallet_address": "{wallet}"}}]'}
    [from_env] = load_settings(None, env).accounts
    assert from_env.settle_currency == "USDC"


def test_duplicate_account_names(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", ACCOUNT + ACCOUNT)
    assert problems(cfg) == [
        f'{cfg}: accounts[1].name: duplicate account name; accounts[0] already uses it (got "main")'
    ]


def test_unknown_account_lists_the_known_ones(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path / "c.toml", ACCOUNT), {})
    with pytest.raises(ConfigError, match="unknown account 'spare'; known accounts: main"):
        settings.account("spare")
    with pytest.raises(ConfigError, match="no accounts are configured"):
        Settings().account("main")


# ----------------------------------------------------------------------------- the example file


def test_example_file_loads_without_errors() -> None:
    settings = load_settings(EXAMPLE, {})
    assert settings.source == EXAMPLE
    assert all(a.dry_run for a in settings.accounts if a.base_url is None)  # real venues ship in dry-run
    testnet = next(a for a in settings.accounts if a.environment == "testnet")
    assert testnet.exchange == "binanceusdm"
    assert any(a.base_url == "http://127.0.0.1:8765" for a in settings.accounts)


def _fields(model: type[BaseModel], prefix: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name, field in model.model_fields.items():
        out.append((f"{prefix}{name}", name))
        nested = field.annotation
        args = getattr(nested, "__args__", ())
        for candidate in (nested, *args):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                out += _fields(candidate, f"{prefix}{name}.")
    return out


def test_example_file_documents_every_field() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    missing = [
        path
        for path, key in _fields(Settings, "")
        # as a key (possibly commented out), or as a table header
        if not re.search(rf"^\s*#?\s*{re.escape(key)}\s*=", text, re.MULTILINE)
        and not re.search(rf"^\s*\[+[a-z.]*{re.escape(key)}\]+", text, re.MULTILINE)
    ]
    assert missing == []
    assert {"accounts", "risk", "guard", "telegram", "storage", "schedule"} <= set(data)


def test_example_file_has_a_comment_above_every_key() -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    section = ""
    undocumented: list[str] = []
    for i, line in enumerate(lines):
        if line.startswith("["):
            section = line
        key = re.match(r"^#?\s*([a-z_]+)\s*=", line)
        if key is None or (section.startswith("[[accounts]]") and i > lines.index('name = "sim"')):
            continue  # the second account repeats keys documented on the first
        if section == "[risk.sectors]":
            continue  # user data, documented by the header comment
        above = lines[i - 1]
        if not above.startswith("#") or re.match(r"^#\s*[a-z_]+\s*=", above):
            undocumented.append(key.group(1))
    assert undocumented == []
