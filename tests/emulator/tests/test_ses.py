"""SES as an operator meets it: identities verified only by what happens outside AWS (the
control API's ``ses/verify`` stands in for the link or the DKIM records), GetAccount answered."""

from __future__ import annotations

import urllib.error

import pytest
from conftest_lifecycle import emu, emu_server  # noqa: F401


def test_an_identity_is_verified_only_when_the_operator_acts(emu) -> None:  # noqa: F811
    ses = emu.client("sesv2")
    ses.create_email_identity(EmailIdentity="support@example.com")
    ses.create_email_identity(EmailIdentity="example.com")
    assert ses.get_email_identity(EmailIdentity="support@example.com")["VerifiedForSendingStatus"] is False
    emu.control("POST", "ses/verify", {"identity": "support@example.com"})
    emu.control("POST", "ses/verify", {"identity": "example.com"})
    assert ses.get_email_identity(EmailIdentity="support@example.com")["VerifiedForSendingStatus"] is True
    domain = ses.get_email_identity(EmailIdentity="example.com")
    assert domain["VerifiedForSendingStatus"] is True
    assert domain["DkimAttributes"]["Status"] == "SUCCESS"


def test_verifying_an_unknown_identity_is_a_clear_400(emu) -> None:  # noqa: F811
    with pytest.raises(urllib.error.HTTPError) as caught:
        emu.control("POST", "ses/verify", {"identity": "nobody@example.com"})
    assert caught.value.code == 400


def test_get_account_is_answered_in_the_sandbox(emu) -> None:  # noqa: F811
    account = emu.client("sesv2").get_account()
    assert account["ProductionAccessEnabled"] is False
    assert account["SendingEnabled"] is True
