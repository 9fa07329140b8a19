"""Mistakes that show at start, as one line each and exit 2: a key the exchange rejects, a symbol it
does not list, a secret variable that is not set (`guardbot run`, `guardbot config check [--online]`)."""

from __future__ import annotations

from pathlib import Path

from guardbot.sim import SimServer

from .cli import aguardbot, guardbot


def config(tmp_path: Path, base_url: str, names: tuple[str, ...], symbols: str = "[]") -> Path:
    text = ""
    for name in names:
        up = name.upper()
        text += (
            f'[[accounts]]\nname = "{name}"\nexchange = "binanceusdm"\nbase_url = "{base_url}"\n'
            f'api_key_env = "{up}_KEY"\napi_secret_env = "{up}_SECRET"\nsymbols = {symbols}\n\n'
        )
    text += f'[storage]\npath = "{tmp_path / "journal.sqlite"}"\n'
    path = tmp_path / "guardbot.toml"
    path.write_text(text)
    return path


async def test_run_refuses_rejected_keys_one_line_per_account(sim: SimServer, tmp_path: Path) -> None:
    alpha = sim.engine.create_account(10_000)
    config(tmp_path, sim.base_url, ("alpha", "beta", "gamma"))
    env = {
        "ALPHA_KEY": alpha.api_key,
        "ALPHA_SECRET": "not-the-secret",  # a wrong secret: -1022, the signature does not match
        "BETA_KEY": "no-such-key",  # a key the exchange does not know: -2015
        "BETA_SECRET": "whatever",
        "GAMMA_KEY": alpha.api_key,
        "GAMMA_SECRET": alpha.secret,  # this one is fine
    }
    ran = await aguardbot("run", cwd=tmp_path, env=env)
    assert ran.code == 2 and "Traceback" not in ran.err, ran.err
    problems = [line for line in ran.err_lines if not line[:4].isdigit()]  # not the log lines
    assert problems == [
        "alpha: the exchange rejected the API key (-1022 Signature for this request is not valid.): "
        "check ALPHA_SECRET",
        "beta: the exchange rejected the API key (-2015 Invalid API-key, IP, or permissions for action.; "
        "also check the key's IP restriction and permissions): check BETA_KEY",
    ], ran.err
    assert sim.mutating_requests() == []
    assert not (tmp_path / "journal.sqlite.lock").read_text()  # released: another run may start


async def test_run_refuses_a_symbol_the_exchange_does_not_list(sim: SimServer, tmp_path: Path) -> None:
    acct = sim.engine.create_account(10_000)
    config(tmp_path, sim.base_url, ("main",), symbols='["BTC/USDT:USDT", "PEPE/USDT:USDT", "ETH"]')
    env = {"MAIN_KEY": acct.api_key, "MAIN_SECRET": acct.secret}
    ran = await aguardbot("run", cwd=tmp_path, env=env)
    assert ran.code == 2, ran.err
    problems = [line for line in ran.err_lines if not line[:4].isdigit()]
    assert problems == [
        "main: accounts[main].symbols[1]: the exchange does not list 'PEPE/USDT:USDT' "
        "(symbols are ccxt symbols like 'BTC/USDT:USDT')",
        "main: accounts[main].symbols[2]: the exchange does not list 'ETH'; did you mean 'ETH/USDT:USDT'?",
    ], ran.err


def test_config_check_lists_every_missing_secret(tmp_path: Path) -> None:
    cfg = config(tmp_path, "http://127.0.0.1:9", ("alpha", "beta"))
    with cfg.open("a") as f:
        f.write("\n[telegram]\nenabled = true\nchat_ids = [1]\n")
    ran = guardbot("config", "check", cwd=tmp_path, env={"ALPHA_KEY": "k"})
    assert ran.code == 2 and "Traceback" not in ran.err
    assert "# OK" not in ran.err and "[[accounts]]" in ran.out  # the config is still shown
    assert ran.err_lines == [
        "alpha: ALPHA_SECRET: environment variable is not set (accounts[alpha].api_secret_env names it); "
        "export it, or set ALPHA_SECRET_FILE to a file holding it",
        "beta: BETA_KEY: environment variable is not set (accounts[beta].api_key_env names it); "
        "export it, or set BETA_KEY_FILE to a file holding it",
        "beta: BETA_SECRET: environment variable is not set (accounts[beta].api_secret_env names it); "
        "export it, or set BETA_SECRET_FILE to a file holding it",
        "telegram: GUARDBOT_TELEGRAM_TOKEN: environment variable is not set (telegram.bot_token_env names "
        "it); export it, or set GUARDBOT_TELEGRAM_TOKEN_FILE to a file holding it",
    ]


async def test_config_check_online_reads_each_account_once(sim: SimServer, tmp_path: Path) -> None:
    good = sim.engine.create_account(10_000)
    sim.engine.open_position(good.api_key, "BTCUSDT", "long", 0.1, leverage=10)
    config(tmp_path, sim.base_url, ("alpha", "beta"))
    env = {"ALPHA_KEY": good.api_key, "ALPHA_SECRET": good.secret, "BETA_KEY": good.api_key}
    env["BETA_SECRET"] = good.secret
    ran = await aguardbot("config", "check", "--online", cwd=tmp_path, env=env)
    assert ran.code == 0, ran.err
    assert "# alpha: read: 1 position(s), wallet 9,995.25" in ran.err
    assert "# OK:" in ran.err and "each account read once" in ran.err

    env["BETA_SECRET"] = "wrong"
    ran = await aguardbot("config", "check", "--online", cwd=tmp_path, env=env)
    assert ran.code == 2 and ran.err_lines == [
        "beta: the exchange rejected the API key (-1022 Signature for this request is not valid.): "
        "check BETA_SECRET"
    ], ran.err
    assert sim.mutating_requests() == []
