"""Binance error codes the emulator answers with, and the exception that carries them."""

from __future__ import annotations

# code -> (HTTP status, message), messages verbatim from Binance USDⓈ-M where known.
MESSAGES: dict[int, tuple[int, str]] = {
    -1000: (400, "An unknown error occurred while processing the request."),
    -1001: (503, "Internal error; unable to process your request. Please try again."),
    -1003: (429, "Too many requests; current limit of IP is 2400 requests per minute."),
    -1013: (400, "Filter failure: LOT_SIZE"),
    -1021: (400, "Timestamp for this request is outside of the recvWindow."),
    -1022: (400, "Signature for this request is not valid."),
    -1102: (400, "Mandatory parameter was not sent, was empty/null, or malformed."),
    -1106: (400, "Parameter 'reduceOnly' sent when not required."),
    -1111: (400, "Precision is over the maximum defined for this asset."),
    -1116: (400, "Invalid orderType."),
    -1117: (400, "Invalid side."),
    -1121: (400, "Invalid symbol."),
    -2011: (400, "Unknown order sent."),
    -2013: (400, "Order does not exist."),
    -2014: (401, "API-key format invalid."),
    -2015: (401, "Invalid API-key, IP, or permissions for action."),
    -2019: (400, "Margin is insufficient."),
    -2021: (400, "Order would immediately trigger."),
    -2022: (400, "ReduceOnly Order is rejected."),
    -2027: (400, "Exceeded the maximum allowable position at current leverage."),
    -4003: (400, "Quantity less than or equal to zero."),
    -4014: (400, "Price not increased by tick size."),
    -4028: (400, "Leverage is not valid"),
    -4046: (400, "No need to change margin type."),
    -4047: (400, "Margin type cannot be changed if there exists open orders."),
    -4048: (400, "Margin type cannot be changed if there exists position."),
    -4059: (400, "No need to change position side."),
    -4061: (400, "Order's position side does not match user's setting."),
    -4067: (400, "Position side cannot be changed if there exists open orders."),
    -4068: (400, "Position side cannot be changed if there exists position."),
    -4116: (400, "ClientOrderId is duplicated."),
    -4120: (
        400,
        "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.",
    ),
    -4164: (400, "Order's notional must be no smaller than 5 (unless you choose reduce only)."),
    -5022: (400, "Due to the order could not be executed as maker, the Post Only order will be rejected."),
}


class SimError(Exception):
    """A Binance-style rejection: HTTP status plus {"code": code, "msg": msg}."""

    def __init__(self, code: int, msg: str | None = None, status: int | None = None) -> None:
        default_status, default_msg = MESSAGES.get(code, (400, "Request rejected."))
        self.code = code
        self.msg = msg or default_msg
        self.status = status or default_status
        super().__init__(f"{code}: {self.msg}")

    def body(self) -> dict[str, object]:
        return {"code": self.code, "msg": self.msg}
