"""The one entry path: every new trade, whoever proposed it, goes the same way.

    intent -> sizing (risk core) -> pre-trade checks -> bracket through the gateway -> journal + alert

Intents come from three places: a person (Telegram `/open`, `guardbot open`: source `manual`), a
chart alert (the webhook: source `webhook`) and a strategy plug-in (source: the strategy's name).

    model.py     Intent and TakeProfit: what a proposal says (validated, pydantic)
    checks.py    pure: an intent on a snapshot -> a Plan (sized, take-profits split) or a refusal
    bracket.py   the entry, its reduce-only stop with it, its take-profits, through the gateway
    desk.py      one account's entry desk: journal, fresh read, check, place, alert
    follow.py    after each guard cycle: a bracket whose entry left the book unfilled loses its stop
    manual.py    `guardbot open` (the CLI front end of the manual source)
    cli_parsers.py  the arguments of `guardbot open` and `guardbot strategies` (argparse only)
"""
