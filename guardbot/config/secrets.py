"""Secrets: never in the file nor in the models. The file names the environment variables that hold
them; they are resolved on demand (``NAME``, else the file named by ``NAME_FILE``) into ``SecretStr``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr


@dataclass(frozen=True, slots=True)
class Credentials:
    """Resolved secrets of one account. SecretStr keeps them out of repr, logs and JSON."""

    api_key: SecretStr | None = None
    secret: SecretStr | None = None
    password: SecretStr | None = None
    private_key: SecretStr | None = None
    wallet_address: str | None = None

    def as_ccxt(self) -> dict[str, str]:
        """The plain-text options ccxt expects (apiKey, secret, password, privateKey, walletAddress).
        Hand the result straight to the client; never log it."""
        pairs = {
            "apiKey": self.api_key,
            "secret": self.secret,
            "password": self.password,
            "privateKey": self.private_key,
        }
        out = {k: v.get_secret_value() for k, v in pairs.items() if v is not None}
        if self.wallet_address is not None:
            out["walletAddress"] = self.wallet_address
        return out


# Which credentials each venue needs to *read* an account (and, for Hyperliquid, to trade).
NEEDED: dict[str, tuple[str, ...]] = {
    "binanceusdm": ("api_key_env", "api_secret_env"),
    "bybit": ("api_key_env", "api_secret_env"),
    "aster": ("private_key_env", "wallet_address"),  # EIP-712 signing; key/secret are not supported
    "hyperliquid": ("wallet_address",),
}
SECRET_ENV_FIELDS = {  # *_env field -> Credentials attribute
    "api_key_env": "api_key",
    "api_secret_env": "secret",
    "password_env": "password",
    "private_key_env": "private_key",
}


def file_var(name: str) -> str:
    return f"{name}_FILE"


def resolve_secret(name: str, environ: Mapping[str, str], field: str) -> tuple[SecretStr | None, str | None]:
    """(secret, problem). NAME wins over NAME_FILE; the file's trailing newline is dropped."""
    value = environ.get(name)
    if value is not None:
        if value == "":
            return None, f"{name}: is set but empty ({field} names it)"
        return SecretStr(value), None
    file_env = file_var(name)
    file_path = environ.get(file_env)
    if file_path is None:
        return None, (
            f"{name}: environment variable is not set ({field} names it); "
            f"export it, or set {file_env} to a file holding it"
        )
    try:
        text = Path(file_path).read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        return None, f"{file_env}: cannot read {file_path}: {reason}"
    if not text:
        return None, f"{file_env}: {file_path} is empty"
    return SecretStr(text), None


# Keys that would hold a secret in the file, and the *_env key to use instead.
SECRET_KEYS = {
    "api_key": "api_key_env",
    "apikey": "api_key_env",
    "api_secret": "api_secret_env",
    "secret": "api_secret_env",
    "secret_key": "api_secret_env",
    "password": "password_env",
    "passphrase": "password_env",
    "private_key": "private_key_env",
    "privatekey": "private_key_env",
    "bot_token": "bot_token_env",
    "token": "bot_token_env",
}
