"""SES v2 as strict as AWS where moto is not (no CloudFormation types of its own).

Owns: CreateEmailIdentity of an identity that already exists answers ``AlreadyExistsException``
(HTTP 400), as AWS does; moto accepts the repeat, which hid a retried create (its first answer
lost) failing on AWS.
"""

from __future__ import annotations

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
