"""What is checked before an account is guarded, so a mistake shows at start as one line.

- `secret_problems`: every secret variable the config names (API key, secret, passphrase, private
  key, Telegram token) and every credential the venue needs (a wallet address) is present. No
  network. `guardbot config check` and `guardbot run` both report them.
- `read_once`: the account is read once through its real client. A key the exchange rejects
  (`AuthenticationError`), a configured symbol the exchange does not list, and a live key that can
  withdraw or transfer funds (exchange/key_permissions.py) are problems; an exchange that does not
  answer, or a key whose permissions cannot be read, is only a warning (the guard starts and
  reports it blind).
  `guardbot run` does this at start, `guardbot config check --online` on request.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import ccxt.async_support as ccxt

from guardbot.config import AccountConfig, Settings
from guardbot.domain import AccountSnapshot, base_asset
from guardbot.errors import ConfigError
from guardbot.exchange.errors import SnapshotError, describe
from guardbot.exchange.key_permissions import permission_problems, read_key_permissions
from guardbot.exchange.session import AccountSession
from guardbot.redaction import redact

READ_TIMEOUT_S = 15.0

# Error codes that say which half of a key pair is wrong.
_SECRET_CODES = {"-1022", "10004"}  # Binance: signature not valid; Bybit: sign error
_KEY_CODES = {"-2014", "-2015", "10003", "33004"}  # API key format / invalid key, IP or permissions


def secret_problems(settings: Settings) -> list[str]:
    """One line per missing or unreadable secret, for every account and Telegram."""
    env = settings.environ
    problems: list[str] = []
    for account in settings.accounts:
        try:
            account.credentials(env)
        except ConfigError as err:
            problems += [f"{account.name}: {p}" for p in err.problems]
    try:
        settings.telegram.bot_token(env)
    except ConfigError as err:
        problems += [f"telegram: {p}" for p in err.problems]
    return problems


def _code_and_message(text: str) -> tuple[str | None, str]:
    """The venue's own code and message from a ccxt error text (`binanceusdm {"code":-1022,...}`)."""
    start = text.find("{")
    if start >= 0:
        try:
            body = json.loads(text[start:])
        except ValueError:
            body = None
        if isinstance(body, dict):
            code = body.get("code", body.get("retCode"))
            msg = body.get("msg", body.get("retMsg", body.get("message", "")))
            return (None if code is None else str(code)), str(msg)
    words = text.split(" ", 1)
    return None, redact(words[1] if len(words) == 2 else text)


def rejected_key(account: AccountConfig, exc: BaseException) -> str:
    """`main: the exchange rejected the API key (-1022 Signature ... not valid.): check MAIN_SECRET`"""
    code, msg = _code_and_message(str(exc))
    what = f"{code} {msg}".strip() if code else msg
    key, secret = account.api_key_env, account.api_secret_env
    if account.exchange in ("aster", "hyperliquid"):
        names = [n for n in (account.private_key_env,) if n] + ["wallet_address"]
        credential = "wallet key"
    elif code in _SECRET_CODES and secret:
        names, credential = [secret], "API key"
    elif code in _KEY_CODES and key:
        names, credential = [key], "API key"
        what += "; also check the key's IP restriction and permissions"
    else:
        names, credential = [n for n in (key, secret) if n], "API key"
    check = f": check {' and '.join(names)}" if names else ""
    return f"{account.name}: the exchange rejected the {credential} ({what[:200]}){check}"


def unlisted_symbols(account: AccountConfig, markets: dict[str, object]) -> list[str]:
    """A line per `symbols` entry the exchange does not list (with the symbol it probably meant)."""
    out = []
    for i, symbol in enumerate(account.symbols):
        if symbol in markets:
            continue
        close = [m for m in markets if base_asset(m).upper() == base_asset(symbol).upper() and ":" in m]
        hint = (
            f"; did you mean {close[0]!r}?" if close else " (symbols are ccxt symbols like 'BTC/USDT:USDT')"
        )
        out.append(
            f"{account.name}: accounts[{account.name}].symbols[{i}]: "
            f"the exchange does not list {symbol!r}{hint}"
        )
    return out


@dataclass(frozen=True, slots=True)
class AccountCheck:
    account: str
    problems: tuple[str, ...] = ()  # the config must change: a rejected key, an unlisted symbol
    unreachable: str | None = None  # the exchange did not answer (or failed otherwise)
    snapshot: AccountSnapshot | None = None
    warnings: tuple[str, ...] = ()  # worth saying, not worth refusing to guard


async def read_once(session: AccountSession, timeout_s: float = READ_TIMEOUT_S) -> AccountCheck:
    account = session.account
    try:
        snapshot = await asyncio.wait_for(session.snapshot(), timeout_s)
    except TimeoutError:
        return AccountCheck(account.name, unreachable=f"no answer within {timeout_s:g}s")
    except (SnapshotError, ccxt.BaseError, OSError) as exc:
        cause = exc.__cause__ if isinstance(exc, SnapshotError) else exc
        if isinstance(cause, ccxt.AuthenticationError):
            return AccountCheck(account.name, (rejected_key(account, cause),))
        return AccountCheck(account.name, unreachable=redact(str(exc)))
    markets = session.client.markets or {}
    problems = unlisted_symbols(account, markets)
    warnings: list[str] = []
    try:
        perms = await asyncio.wait_for(read_key_permissions(session.client), timeout_s)
    except (TimeoutError, ccxt.BaseError, OSError) as exc:
        # a proxy that forwards only the futures API, a venue hiccup: guard, but say it is unchecked
        warnings.append(f"could not read the API key's permissions ({describe(exc)}); not checked")
    else:
        problems += permission_problems(account, perms) if perms is not None else []
    return AccountCheck(account.name, tuple(problems), snapshot=snapshot, warnings=tuple(warnings))
