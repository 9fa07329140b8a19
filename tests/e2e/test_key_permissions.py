"""A live account whose API key can move funds is refused at start, on the venues that let a key read
its own permissions (Binance `GET /sapi/v1/account/apiRestrictions`, Bybit `GET /v5/user/query-api`),
unless the trader sets `allow_transfer_permission = true`; a key that cannot trade is refused for
an account that is not in dry-run. Through `guardbot run` / `config check --online` as typed."""

from __future__ import annotations

from pathlib import Path

import pytest

from guardbot.config import AccountConfig
from guardbot.exchange.key_permissions import from_binance, from_bybit, permission_problems
from guardbot.sim import SimServer

from .cli import aguardbot

KEY_VENUES = ["binanceusdm", "bybit"]
MOVES_FUNDS = {
    "binanceusdm": "enableWithdrawals, enableInternalTransfer, permitsUniversalTransfer",
    "bybit": "Wallet.AccountTransfer, Wallet.SubMemberTransfer, Wallet.Withdraw",
}


def _config(tmp_path: Path, exchange: str, base_url: str, extra: str = "") -> None:
    (tmp_path / "guardbot.toml").write_text(
        f'[[accounts]]\nname = "main"\nexchange = "{exchange}"\nbase_url = "{base_url}"\n'
        f'api_key_env = "MAIN_KEY"\napi_secret_env = "MAIN_SECRET"\n{extra}\n'
        f'[storage]\npath = "{tmp_path / "journal.sqlite"}"\n'
    )


@pytest.mark.parametrize("exchange", KEY_VENUES, indirect=True)
async def test_a_live_key_that_can_move_funds_is_refused_unless_allowed(
    exchange: str, sim: SimServer, tmp_path: Path
) -> None:
    acct = sim.engine.create_account(10_000)
    acct.key_permissions = frozenset({"trade", "withdraw", "transfer"})
    env = {"MAIN_KEY": acct.api_key, "MAIN_SECRET": acct.secret}
    _config(tmp_path, exchange, sim.base_url, "dry_run = false")
    ran = await aguardbot("run", cwd=tmp_path, env=env)
    assert ran.code == 2 and "Traceback" not in ran.err, ran.err
    assert [line for line in ran.err_lines if not line[:4].isdigit()] == [
        f"main: the API key can move funds ({MOVES_FUNDS[exchange]}); guardbot needs only reading and "
        "futures trading: create a key without withdrawal or transfer permission, "
        "or set allow_transfer_permission = true to accept the risk"
    ], ran.err
    assert sim.mutating_requests() == []

    _config(tmp_path, exchange, sim.base_url, "dry_run = false\nallow_transfer_permission = true")
    ran = await aguardbot("config", "check", "--online", cwd=tmp_path, env=env)
    assert ran.code == 0 and "# OK:" in ran.err, ran.err

    acct.key_permissions = frozenset({"trade"})  # the key a trader should create
    _config(tmp_path, exchange, sim.base_url, "dry_run = false")
    ran = await aguardbot("config", "check", "--online", cwd=tmp_path, env=env)
    assert ran.code == 0 and "main: read: 0 position(s)" in ran.err, ran.err


@pytest.mark.parametrize("exchange", KEY_VENUES, indirect=True)
async def test_a_key_that_cannot_trade_only_watches(exchange: str, sim: SimServer, tmp_path: Path) -> None:
    acct = sim.engine.create_account(10_000)
    acct.key_permissions = frozenset()  # read-only
    env = {"MAIN_KEY": acct.api_key, "MAIN_SECRET": acct.secret}
    _config(tmp_path, exchange, sim.base_url, "dry_run = false")
    ran = await aguardbot("config", "check", "--online", cwd=tmp_path, env=env)
    assert ran.code == 2 and ran.err_lines == [
        "main: the API key cannot trade futures, so no stop could be placed: "
        "enable futures trading on the key, or set dry_run = true to only watch"
    ], ran.err
    _config(tmp_path, exchange, sim.base_url, "dry_run = true")
    ran = await aguardbot("config", "check", "--online", cwd=tmp_path, env=env)
    assert ran.code == 0, ran.err


def test_binances_documented_replies_read_as_they_mean() -> None:
    # developers.binance.com/docs/wallet/account/api-key-permission, "Response Example":
    # futures off and nothing that moves funds
    english = {
        "ipRestrict": False,
        "createTime": 1698645219000,
        "enableReading": True,
        "enableWithdrawals": False,
        "enableInternalTransfer": False,
        "enableMargin": False,
        "enableFutures": False,
        "permitsUniversalTransfer": False,
        "enableVanillaOptions": False,
        "enableFixApiTrade": False,
        "enableFixReadOnly": True,
        "enableSpotAndMarginTrading": False,
        "enablePortfolioMarginTrading": True,
    }
    perms = from_binance(english)
    assert (perms.trade, perms.withdraw, perms.transfer) == (False, False, False)
    # the same page in Chinese shows a key with internal and universal transfer on
    chinese = {**english, "enableInternalTransfer": True, "permitsUniversalTransfer": True}
    perms = from_binance(chinese)
    assert perms.transfer and not perms.withdraw
    assert perms.source == "enableInternalTransfer, permitsUniversalTransfer"


def test_bybit_read_only_and_wallet_permissions() -> None:
    # the fields of Bybit's "Get API Key Information" (GET /v5/user/query-api)
    trading = {"readOnly": 0, "permissions": {"ContractTrade": ["Order", "Position"], "Wallet": []}}
    assert from_bybit(trading) == from_bybit({**trading, "ips": ["1.2.3.4"]})
    perms = from_bybit(trading)
    assert perms.trade and not perms.withdraw and not perms.transfer
    read_only = {
        "readOnly": 1,
        "permissions": {"ContractTrade": ["Order", "Position"], "Wallet": ["AccountTransfer"]},
    }
    perms = from_bybit(read_only)
    assert not perms.trade and perms.transfer and not perms.withdraw


def test_testnet_keys_may_move_funds_but_must_still_trade() -> None:
    risky = from_binance({"enableFutures": True, "enableWithdrawals": True})
    testnet = AccountConfig(name="t", exchange="binanceusdm", environment="testnet", dry_run=False)
    assert permission_problems(testnet, risky) == []  # test money: no reason to refuse
    live = AccountConfig(name="l", exchange="binanceusdm", dry_run=False)
    [line] = permission_problems(live, risky)
    assert line.startswith("l: the API key can move funds (enableWithdrawals)")
