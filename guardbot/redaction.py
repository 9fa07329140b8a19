"""Error texts fit for a person: no request URL, query string, signature or token in them.

ccxt puts the whole signed request URL into its network errors, and a Telegram error can carry the
bot token. `redact` is the one function that strips them; everything that shows an exchange or
Telegram error to someone passes it: journal writes (store/codec.py), Telegram messages
(tg_format.clip), console alerts (Alert.render), log lines (logs.RedactFilter) and the CLI's
error boundary. It imports nothing from guardbot, so any layer can use it.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]+")
_BOT_TOKEN = re.compile(r"bot\d+:[A-Za-z0-9_-]+")
_SIGNED = re.compile(r"\b(signature|sign|apiKey|api_key|secret|token|privateKey)=[^\s&\"'<>]+", re.IGNORECASE)
_HTML = re.compile(r"<(html|!doctype)\b.*?(</html>|$)", re.IGNORECASE | re.DOTALL)


def _url_path(match: re.Match[str]) -> str:
    url = match.group(0)
    try:
        path = urlsplit(url).path
    except ValueError:
        path = ""
    return path or "(url)"


def redact(text: str) -> str:
    """An error text fit to show a person or write to the journal: every URL reduced to its path
    (ccxt puts the whole signed request URL, query string and signature included, into network
    errors), signatures, keys and bot tokens blanked, an HTML error page dropped.

    `binanceusdm GET https://fapi.binance.com/fapi/v1/order?symbol=X&signature=ab12 503 <html>...`
    becomes `binanceusdm GET /fapi/v1/order 503`. Everything that shows exchange or Telegram
    errors to a user (journal writes, Telegram replies, alerts, logs, CLI errors) passes it.
    """
    if "://" not in text and "=" not in text and "bot" not in text and "<" not in text:
        return text
    out = _HTML.sub("", text)
    out = _URL.sub(_url_path, out)
    out = _BOT_TOKEN.sub("bot<token>", out)
    out = _SIGNED.sub(lambda m: f"{m.group(1)}=…", out)
    return out.strip() if out != text else text
