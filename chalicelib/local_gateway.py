"""Make `chalice local` (and chalice.test.Client) answer 401 where API Gateway answers 401.

API Gateway turns a Lambda authorizer that fails with the message "Unauthorized" into a 401; Chalice's
local emulation turns any authorizer exception into a 500. This patches only the emulation, for local
runs and tests; deployed code never imports this module.
"""

from __future__ import annotations

from typing import Any

from chalice import local


def install_unauthorized_as_401() -> None:
    emulator = local.LocalGatewayAuthorizer
    if getattr(emulator.authorize, "_unauthorized_as_401", False):
        return
    original = emulator.authorize

    def authorize(self: Any, raw_path: str, lambda_event: Any, lambda_context: Any) -> Any:
        try:
            return original(self, raw_path, lambda_event, lambda_context)
        except Exception as error:
            if str(error) != "Unauthorized" or isinstance(error, local.LocalGatewayException):
                raise
            raise local.NotAuthorizedError(
                {
                    "x-amzn-RequestId": lambda_context.aws_request_id,
                    "x-amzn-ErrorType": "UnauthorizedException",
                },
                b'{"message":"Unauthorized"}',
            ) from None

    authorize._unauthorized_as_401 = True  # type: ignore[attr-defined]
    emulator.authorize = authorize  # type: ignore[method-assign]
