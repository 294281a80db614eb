"""Reading the error an AWS call answers with, for tests that prove AWS's refusals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError


def api_error(call: Callable[..., Any], **kwargs: Any) -> tuple[str, str]:
    """(code, message) of the ClientError the call must raise."""
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    error = info.value.response["Error"]
    return error["Code"], error["Message"]
