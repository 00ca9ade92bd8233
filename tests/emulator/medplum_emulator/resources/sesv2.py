"""SES v2 as strict as AWS where moto is not (no CloudFormation types of its own).

Owns: CreateEmailIdentity of an identity that already exists answers ``AlreadyExistsException``
(HTTP 400), as AWS does; moto accepts the repeat, which hid a retried create (its first answer
lost) failing on AWS. GetAccount, which moto lacks: the account as a new AWS account's is, in
the sandbox (200 messages a day, 1 a second), or out of it when
``MEDPLUM_EMULATOR_SES_PRODUCTION=1`` (read at each call).
"""

from __future__ import annotations

import json
import os
from typing import Any

from moto.core.exceptions import ServiceException

from ._common import on_install


class AlreadyExistsException(ServiceException):
    code = "AlreadyExistsException"


@on_install
def _refuse_existing_identities() -> None:
    from moto.sesv2.responses import SESV2Response

    original = SESV2Response.create_email_identity

    def create_email_identity(self: SESV2Response) -> Any:
        name = self._get_param("EmailIdentity")
        if name in self.sesv2_backend.core_backend.email_identities:
            raise AlreadyExistsException(f"Email identity {name} already exist.")
        return original(self)

    SESV2Response.create_email_identity = create_email_identity


PRODUCTION = "MEDPLUM_EMULATOR_SES_PRODUCTION"


@on_install
def _account() -> None:
    from moto.sesv2.responses import SESV2Response

    def get_account(self: SESV2Response) -> str:
        production = os.environ.get(PRODUCTION) == "1"
        return json.dumps(
            {
                "DedicatedIpAutoWarmupEnabled": False,
                "EnforcementStatus": "HEALTHY",
                "ProductionAccessEnabled": production,
                "SendQuota": {
                    "Max24HourSend": 50000.0 if production else 200.0,
                    "MaxSendRate": 14.0 if production else 1.0,
                    "SentLast24Hours": 0.0,
                },
                "SendingEnabled": True,
                "SuppressionAttributes": {"SuppressedReasons": []},
            }
        )

    SESV2Response.get_account = get_account
    # moto's server routes only the paths its url map lists (its `/v2/.*` catch-all never
    # matches under werkzeug): list GetAccount's before the application is built.
    from moto.sesv2 import urls

    urls.url_paths["{0}/v2/email/account$"] = SESV2Response.dispatch
