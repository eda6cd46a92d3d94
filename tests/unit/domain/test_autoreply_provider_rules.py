"""Rules for machine mail that carries none of the standard signals (found in the real-world corpus)."""
from email.message import EmailMessage

import pytest

from shared_code.domain.autoreply import detect_auto_reply
from shared_code.domain.mail import parse_mail


def _mail(subject="Hello", **headers) -> bytes:
    msg = EmailMessage()
    msg["From"] = "sender@example.net"
    msg["To"] = "support@contoso.example"
    msg["Subject"] = subject
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("body")
    return msg.as_bytes()


@pytest.mark.parametrize("raw,rule", [
    (_mail(x_amz_sns_message_type="Notification"), "machine-notification"),
    (_mail(X_MLServer="fml [fml 4.0]"), "list-server"),
    (_mail(X_ML_Info="If you have a question, mail to the admin"), "list-server"),
    (_mail("complaint about message from 192.0.2.1"), "subject:complaint"),
    (_mail("メールエラー通知"), "subject:undeliverable"),
])
def test_provider_specific_machine_mail_is_detected(raw, rule):
    assert detect_auto_reply(parse_mail(raw)) == rule


def test_a_person_complaining_is_not_machine_mail():
    assert detect_auto_reply(parse_mail(_mail("My complaint about the last invoice"))) is None


def test_complaint_reports_are_not_bypassed_by_the_allow_list():
    raw = _mail("complaint about message from 192.0.2.1")
    assert detect_auto_reply(parse_mail(raw), ("sender@example.net",)) == "subject:complaint"
