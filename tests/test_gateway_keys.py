"""Each agency's own Stripe keys (issue 9, item 4): set by the owner in office settings, stored
sealed (Fernet under GATEWAY_KEYS_SECRET), only ever shown masked, and used for Checkout and for
checking the webhook's signature instead of the deployment's keys."""

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from app.models import Agency, AuditEvent
from app.services import gateway_keys
from tests import test_payments as payments
from tests.conftest import get_one, in_app, login
from tests.test_admin_settings import _form
from tests.test_payments import _deliver, _event, _pay, _payments, _signed

# test_payments' bills, reused here (the Stripe stub's fixtures come from tests/stripe_stub.py).
bills = payments.bills

SECRET_KEY = "sk_live_51Agency0wnSecretKeyAbCdEfGh1234"
WEBHOOK_SECRET = "whsec_agencyOwnSigningSecret9876"


def _save(app, client, world, **fields):
    version = str(get_one(app, Agency, id=world.a.id).version)
    return client.post_form("/admin/settings", _form(version=version, **fields))


def _stored(app, world):
    agency = get_one(app, Agency, id=world.a.id)
    return agency.stripe_secret_key_encrypted, agency.stripe_webhook_secret_encrypted


def test_seal_and_unseal_round_trip(app):
    with app.app_context():
        token = gateway_keys.seal(SECRET_KEY)
        assert token != SECRET_KEY and SECRET_KEY not in token
        assert gateway_keys.unseal(token) == SECRET_KEY
        assert gateway_keys.seal(SECRET_KEY) != token  # a fresh IV each time
        with pytest.raises(gateway_keys.SealError):
            gateway_keys.unseal(token[:-4] + "AAAA")
    assert gateway_keys.masked(SECRET_KEY) == "sk_live_…1234"
    assert gateway_keys.masked(WEBHOOK_SECRET) == "whsec_…9876"
    assert gateway_keys.masked("rk_test_short") == "rk_test_…"  # too short to show any of it


def test_without_the_server_secret_nothing_is_sealed(app, monkeypatch):
    monkeypatch.setitem(app.config, "GATEWAY_KEYS_SECRET", None)
    with app.app_context():
        assert not gateway_keys.available()
        with pytest.raises(gateway_keys.SealError):
            gateway_keys.seal(SECRET_KEY)


def test_the_owner_stores_keys_sealed_and_sees_them_masked(app, client, world):
    login(client, "admin")
    response = _save(app, client, world, stripe_secret_key=SECRET_KEY, stripe_webhook_secret=WEBHOOK_SECRET)
    assert response.status_code == 303
    sealed_key, sealed_secret = _stored(app, world)
    assert sealed_key and sealed_secret
    with in_app(app) as session:
        raw = " ".join(
            str(value)
            for value in session.execute(
                text("SELECT stripe_secret_key_encrypted, stripe_webhook_secret_encrypted FROM agencies")
            ).scalars()
        )
        assert SECRET_KEY not in raw and WEBHOOK_SECRET not in raw and "1234" not in raw
        assert gateway_keys.unseal(sealed_key) == SECRET_KEY
        assert gateway_keys.unseal(sealed_secret) == WEBHOOK_SECRET
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "office_settings.changed")
        ).all()[-1]
        assert "stripe_secret_key" in event.details["fields"]
        assert "stripe_webhook_secret" in event.details["fields"]
        assert SECRET_KEY not in str(event.details) and WEBHOOK_SECRET not in str(event.details)
    page = client.get("/admin/settings").get_data(as_text=True)
    assert "sk_live_…1234" in page and "whsec_…9876" in page
    assert SECRET_KEY not in page and WEBHOOK_SECRET not in page
    assert SECRET_KEY[8:-4] not in page and WEBHOOK_SECRET[6:-4] not in page


def test_empty_keeps_the_stored_key_and_remove_clears_it(app, client, world):
    login(client, "admin")
    _save(app, client, world, stripe_secret_key=SECRET_KEY, stripe_webhook_secret=WEBHOOK_SECRET)
    before = _stored(app, world)
    response = _save(app, client, world, stripe_secret_key="", stripe_webhook_secret="")
    assert response.status_code == 303
    assert _stored(app, world) == before
    response = _save(app, client, world, stripe_secret_key_remove="y")
    assert response.status_code == 303
    assert _stored(app, world) == (None, before[1])
    _save(app, client, world, stripe_webhook_secret_remove="y")
    assert _stored(app, world) == (None, None)
    assert "…" not in client.get("/admin/settings").get_data(as_text=True)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("stripe_secret_key", "pk_live_publishable1234", "A secret key starts with sk_ or rk_"),
        ("stripe_secret_key", "sk_live_with space1234", "A secret key starts with sk_ or rk_"),
        ("stripe_secret_key", "sk_live_" + "x" * 248, "A secret key starts with sk_ or rk_"),
        ("stripe_webhook_secret", "sk_live_notasecret1234", "A signing secret starts with whsec_"),
        ("stripe_webhook_secret", "whsec_tab\tinside", "Keep this on one line"),  # the base Form
        ("stripe_webhook_secret", "whsec_nbsp\u00a0inside", "A signing secret starts with whsec_"),
    ],
)
def test_bad_keys_are_refused_beside_the_field(app, client, world, field, value, message):
    login(client, "admin")
    response = _save(app, client, world, **{field: value})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f'id="{field}-error" class="error">{message}' in page
    assert value not in page  # not even echoed back
    assert _stored(app, world) == (None, None)


def test_a_new_key_and_remove_together_are_refused(app, client, world):
    login(client, "admin")
    response = _save(app, client, world, stripe_secret_key=SECRET_KEY, stripe_secret_key_remove="y")
    assert response.status_code == 422
    assert "Enter a new key or remove the stored one, not both." in response.get_data(as_text=True)


def test_without_the_server_secret_keys_are_refused(app, client, world, monkeypatch):
    monkeypatch.setitem(app.config, "GATEWAY_KEYS_SECRET", None)
    login(client, "admin")
    response = _save(app, client, world, stripe_secret_key=SECRET_KEY)
    assert response.status_code == 422
    assert "GATEWAY_KEYS_SECRET is not set on the server" in response.get_data(as_text=True)
    assert _stored(app, world) == (None, None)


def test_staff_who_are_not_owners_cannot_reach_the_keys(app, client, make, world):
    make.user(world.a, "clerk", role="staff")
    login(client, "clerk")
    assert client.get("/admin/settings").status_code in (403, 404)
    token = client.csrf_token("/admin")
    refused = client.post("/admin/settings", data=_form(stripe_secret_key=SECRET_KEY, csrf_token=token))
    assert refused.status_code in (403, 404)
    assert _stored(app, world) == (None, None)


def _own_keys(app, world):
    with in_app(app) as session:
        agency = session.get(Agency, world.a.id)
        agency.stripe_secret_key_encrypted = gateway_keys.seal(SECRET_KEY)
        agency.stripe_webhook_secret_encrypted = gateway_keys.seal(WEBHOOK_SECRET)
        session.commit()


def test_checkout_uses_the_agencys_own_key(app, client, world, bills, stripe_stub):
    _own_keys(app, world)
    login(client, "margaretjones")
    assert _pay(client, bills.own, "10.00").status_code == 303
    [call] = stripe_stub.received
    assert call["auth"] == f"Bearer {SECRET_KEY}"


def test_the_webhook_is_checked_with_the_agencys_own_secret(app, client, world, bills):
    _own_keys(app, world)
    payload = _event(bills.own, 4000)
    assert _deliver(client, payload).status_code == 400  # signed with the deployment's secret
    assert _payments(app, bills.own) == []
    response = _deliver(client, payload, _signed(payload, secret=WEBHOOK_SECRET))
    assert response.status_code == 200 and response.json["outcome"] == "recorded"


def test_an_unreadable_stored_key_is_unavailable_not_a_500(app, client, world, bills, monkeypatch):
    _own_keys(app, world)
    monkeypatch.setitem(app.config, "GATEWAY_KEYS_SECRET", Fernet.generate_key().decode())
    login(client, "margaretjones")
    assert _pay(client, bills.own, "10.00").status_code == 503
    payload = _event(bills.own, 4000)
    assert _deliver(client, payload, _signed(payload, secret=WEBHOOK_SECRET)).status_code == 400
    office = app.test_client()
    login(office, "admin")
    page = office.get("/admin/settings").get_data(as_text=True)
    assert "cannot be read with this server" in page
