"""Make Chalice's API Gateway emulation (`chalice local`, chalice.test.Client) behave like API Gateway.

1. API Gateway turns a Lambda authorizer that fails with the message "Unauthorized" into a 401 and
   any other authorizer failure into a 500; the emulation lets the exception escape.
2. API Gateway evaluates the returned policy with IAM rules (an explicit Deny wins); the emulation
   only looks at Allow statements.
3. Our deployed API answers those cases with SPEC's JSON (infra's GatewayResponses); so does this.
This patches only the emulation, for local runs and tests; deployed code never imports this module.
"""

from __future__ import annotations

from typing import Any

from chalice import local

from chalicelib import gateway_responses, policy


class AuthorizerFailure(local.LocalGatewayException):
    CODE = 500


def install_api_gateway_behaviour() -> None:
    emulator = local.LocalGatewayAuthorizer
    if getattr(emulator.authorize, "_api_gateway_behaviour", False):
        return
    original = emulator.authorize

    def authorize(self: Any, raw_path: str, lambda_event: Any, lambda_context: Any) -> Any:
        headers = {
            "x-amzn-RequestId": lambda_context.aws_request_id,
            "X-Trace-Id": lambda_context.aws_request_id,
            "Content-Type": "application/json",
        }
        try:
            return original(self, raw_path, lambda_event, lambda_context)
        except local.ForbiddenError:
            raise local.ForbiddenError(
                headers, gateway_responses.body(gateway_responses.ACCESS_DENIED)
            ) from None
        except local.NotAuthorizedError:
            raise local.NotAuthorizedError(
                headers, gateway_responses.body(gateway_responses.UNAUTHORIZED)
            ) from None
        except local.LocalGatewayException:
            raise
        except Exception as error:
            if str(error) == "Unauthorized":
                raise local.NotAuthorizedError(
                    headers, gateway_responses.body(gateway_responses.UNAUTHORIZED)
                ) from None
            # Any other authorizer failure is a 500 on API Gateway: never an Allow.
            raise AuthorizerFailure(
                headers, gateway_responses.body(gateway_responses.AUTHORIZER_FAILURE)
            ) from None

    def check_can_invoke(self: Any, arn: str, auth_result: dict[str, Any]) -> bool:
        return policy.evaluate(auth_result.get("policyDocument") or {"Statement": []}, arn)

    authorize._api_gateway_behaviour = True  # type: ignore[attr-defined]
    emulator.authorize = authorize  # type: ignore[method-assign]
    emulator._check_can_invoke_view_function = check_can_invoke  # type: ignore[method-assign]
