"""The demo a newcomer signs in to (`flask seed-demo`): every account of the README's table works,
Margaret's dashboard is filled in, and what the seeding did is in an intact audit log, as if the
office had entered it through the product."""

from sqlalchemy import func, select

from app.demo import seed_demo
from app.models import AuditEvent, Client, OutboxMail, User, Visit, utcnow
from app.models.statuses import VisitStatus
from app.services.audit import verify_chain
from tests.conftest import in_app, login

SUNRISE = "sunrise.localhost"
NORTHSIDE = "northside.localhost"
DEMO_PASSWORD = "porchlight-demo"


def test_the_demo_accounts_sign_in_and_the_seeding_is_audited(app):
    # One seeding for every check: argon2 and a few hundred rows are the cost of this test.
    with in_app(app) as session:
        seed_demo("small")
        session.commit()
        margaret = session.scalar(select(Client).where(Client.first_name == "Margaret"))
        upcoming = session.scalar(
            select(func.count(Visit.id)).where(
                Visit.client_id == margaret.id,
                Visit.status == VisitStatus.SCHEDULED,
                Visit.starts_at >= utcnow(),
            )
        )
        actions = session.execute(
            select(AuditEvent.action, User.username)
            .join(User, User.id == AuditEvent.target_id)
            .where(AuditEvent.target_type == "User")
        ).all()
        office_mail = session.scalars(select(OutboxMail.to_address)).all()
        assert verify_chain() is None

    assert ("account.created", "margaretjones") in actions
    assert ("password.temporary_set", "dorothyparker") in actions
    # The two schedule requests told Sunrise's office, as a family's request does.
    assert office_mail == ["admin@sunrise.example.org"] * 2

    for username in ("margaretjones", "robertjones", "carolwhite", "admin"):
        client = app.test_client()
        response = login(client, username, DEMO_PASSWORD, host=SUNRISE)
        assert response.status_code == 303, username
        assert "/login" not in response.headers["Location"], username

    client = app.test_client()
    login(client, "margaretjones", DEMO_PASSWORD, host=SUNRISE)
    body = client.get("/dashboard", host=SUNRISE).get_data(as_text=True)
    assert "Margaret Jones" in body
    assert upcoming > 30
    assert f'Upcoming visits</a> <span class="badge">{upcoming}</span>' in body
    assert "No visits scheduled." not in body

    client = app.test_client()
    response = login(client, "dorothyparker", "Temporary-2024-pass", host=SUNRISE, follow=True)
    assert response.request.path == "/password/change"
    assert "Choose your password" in response.get_data(as_text=True)

    client = app.test_client()
    response = login(client, "alicebrown", DEMO_PASSWORD, host=NORTHSIDE, follow=True)
    assert response.status_code == 200
    assert "Alice Brown" in response.get_data(as_text=True)
    # Northside's address does not know Sunrise's people.
    assert login(app.test_client(), "margaretjones", DEMO_PASSWORD, host=NORTHSIDE).status_code != 303
