"""The access matrix of app/auth/policies.py, as DESIGN.md "People and what each may see" states it.

The policies are pure, so most rows here are plain in-memory ClientLink / Invoice objects. Column
defaults only apply on INSERT, so `link()` sets every switch explicitly, as a saved row would have.
The last tests run the SQL form of the invoice rule against a database and check it picks exactly
the invoices the Python rule shows, so a list page and a detail page cannot disagree.
"""

import pytest
from sqlalchemy import select

from app.auth import policies
from app.auth.policies import (
    CARE_PLAN,
    DOCUMENTS,
    INVOICES,
    MESSAGES,
    PAYMENTS,
    SCHEDULE,
    SCHEDULE_REQUESTS,
    SECTIONS,
    SIGNATURES,
    can_pay,
    invoice_criterion,
    invoice_visible,
    link_allows,
    link_sees_category,
)
from app.models import ClientLink, DocumentCategory, Invoice, User
from tests.conftest import in_app

CLIENT_ID, OTHER_CLIENT_ID = 10, 11
USER_ID, OTHER_PAYER_ID = 20, 21

SWITCHES = (
    "show_schedule",
    "show_schedule_requests",
    "show_invoices",
    "show_payments",
    "show_signatures",
    "show_messages",
    "show_documents",
)


def link(kind, *, care_plan=False, invoices=False, **switches):
    values = dict.fromkeys(SWITCHES, True) | switches
    return ClientLink(
        id=1,
        user_id=USER_ID,
        client_id=CLIENT_ID,
        relationship_kind=kind,
        may_view_care_plan=care_plan,
        may_view_invoices=invoices,
        **values,
    )


ALL = frozenset(SECTIONS)
FAMILY = frozenset({SCHEDULE, SCHEDULE_REQUESTS, SIGNATURES, MESSAGES, DOCUMENTS})
PAYER = frozenset({SCHEDULE, INVOICES, PAYMENTS, MESSAGES})

# (variant id, relationship, may_view_care_plan tick, may_view_invoices tick, sections visible).
# The ticks are set on relationships they do not apply to as well: they must change nothing there.
MATRIX = [
    ("self", "self", False, False, ALL),
    ("self-ticks", "self", True, True, ALL),
    ("legal-rep", "legal_representative", False, False, ALL - {CARE_PLAN}),
    ("legal-rep-invoice-tick", "legal_representative", False, True, ALL - {CARE_PLAN}),
    ("legal-rep-care-plan", "legal_representative", True, False, ALL),
    ("emergency", "emergency_contact", False, False, FAMILY),
    ("emergency-care-plan-tick", "emergency_contact", True, False, FAMILY),
    ("emergency-invoices", "emergency_contact", False, True, FAMILY | {INVOICES}),
    ("emergency-both-ticks", "emergency_contact", True, True, FAMILY | {INVOICES}),
    ("payer", "payer", False, False, PAYER),
    ("payer-ticks", "payer", True, True, PAYER),
]
MATRIX_IDS = [row[0] for row in MATRIX]


def test_sections_are_the_ones_the_design_names():
    assert set(SECTIONS) == {
        "schedule",
        "schedule_requests",
        "invoices",
        "payments",
        "signatures",
        "messages",
        "documents",
        "care_plan",
    }


@pytest.mark.parametrize("section", SECTIONS)
@pytest.mark.parametrize(("variant", "kind", "care_plan", "invoices", "visible"), MATRIX, ids=MATRIX_IDS)
def test_relationship_ceiling(variant, kind, care_plan, invoices, visible, section):
    assert link_allows(link(kind, care_plan=care_plan, invoices=invoices), section) is (section in visible)


@pytest.mark.parametrize("section", SECTIONS)
def test_unknown_relationship_sees_nothing(section):
    assert link_allows(link("neighbour", care_plan=True, invoices=True), section) is False


# What each per-user switch hides: payments ride on invoices (no paying what you cannot see) and
# schedule requests ride on the schedule.
SWITCH_HIDES = {
    "show_schedule": {SCHEDULE, SCHEDULE_REQUESTS},
    "show_schedule_requests": {SCHEDULE_REQUESTS},
    "show_invoices": {INVOICES, PAYMENTS},
    "show_payments": {PAYMENTS},
    "show_signatures": {SIGNATURES},
    "show_messages": {MESSAGES},
    "show_documents": {DOCUMENTS},
}


@pytest.mark.parametrize("switch", SWITCHES)
@pytest.mark.parametrize(("variant", "kind", "care_plan", "invoices", "visible"), MATRIX, ids=MATRIX_IDS)
def test_switch_turns_its_section_off(variant, kind, care_plan, invoices, visible, switch):
    switched_off = link(kind, care_plan=care_plan, invoices=invoices, **{switch: False})
    seen = {section for section in SECTIONS if link_allows(switched_off, section)}
    assert seen == visible - SWITCH_HIDES[switch]


@pytest.mark.parametrize(("variant", "kind", "care_plan", "invoices", "visible"), MATRIX, ids=MATRIX_IDS)
def test_all_switches_off_leaves_only_the_care_plan_tick(variant, kind, care_plan, invoices, visible):
    dark = link(kind, care_plan=care_plan, invoices=invoices, **dict.fromkeys(SWITCHES, False))
    seen = {section for section in SECTIONS if link_allows(dark, section)}
    # The care plan has no per-user switch: the relationship and the agency's tick decide it.
    assert seen == visible & {CARE_PLAN}


# --- document categories ------------------------------------------------------------------------


def category(category_id):
    return DocumentCategory(id=category_id, name=f"Category {category_id}")


@pytest.mark.parametrize(("variant", "kind", "care_plan", "invoices", "visible"), MATRIX, ids=MATRIX_IDS)
def test_hidden_document_category(variant, kind, care_plan, invoices, visible):
    holder = link(kind, care_plan=care_plan, invoices=invoices)
    holder.hidden_categories = [category(5)]
    sees_documents = DOCUMENTS in visible
    assert link_sees_category(holder, 5) is False
    assert link_sees_category(holder, 6) is sees_documents


def test_documents_switched_off_hides_every_category():
    holder = link("self", show_documents=False)
    assert link_sees_category(holder, 6) is False


# --- invoices: who sees which, who may pay ------------------------------------------------------


def invoice(billed_to_id=None, status="issued", client_id=CLIENT_ID, total_cents=10_000, paid_cents=0):
    return Invoice(
        id=99,
        number="INV-1",
        client_id=client_id,
        billed_to_id=billed_to_id,
        status=status,
        total_cents=total_cents,
        paid_cents=paid_cents,
    )


# (link variant, invoice billed to: None = the client itself / "me" = this link's user (a payer) /
#  "other" = another payer, visible?). billed_to_id names a payer; the client's own invoices have None.
VISIBILITY = [
    ("self", None, True),
    ("self", "other", False),
    ("legal-rep", None, True),
    ("legal-rep", "other", False),
    ("emergency-invoices", None, True),
    ("emergency-invoices", "other", False),
    ("emergency", None, False),
    ("payer", None, False),
    ("payer", "me", True),
    ("payer", "other", False),
]
VARIANTS = {row[0]: row[1:4] for row in MATRIX}


def variant_link(name, **switches):
    kind, care_plan, invoices = VARIANTS[name]
    return link(kind, care_plan=care_plan, invoices=invoices, **switches)


def billed(who):
    return {None: None, "me": USER_ID, "other": OTHER_PAYER_ID}[who]


@pytest.mark.parametrize(("variant", "billed_to", "visible"), VISIBILITY)
def test_invoice_visible(variant, billed_to, visible):
    assert invoice_visible(variant_link(variant), invoice(billed(billed_to))) is visible


@pytest.mark.parametrize("variant", ["self", "legal-rep", "emergency-invoices", "payer"])
def test_draft_invoices_are_invisible_to_everyone(variant):
    mine = "me" if variant == "payer" else None
    assert invoice_visible(variant_link(variant), invoice(billed(mine), status="draft")) is False


@pytest.mark.parametrize("variant", ["self", "legal-rep", "emergency-invoices", "payer"])
def test_invoice_of_another_client_is_invisible(variant):
    mine = "me" if variant == "payer" else None
    assert invoice_visible(variant_link(variant), invoice(billed(mine), client_id=OTHER_CLIENT_ID)) is False


@pytest.mark.parametrize("variant", ["self", "legal-rep", "emergency-invoices", "payer"])
def test_invoices_switched_off_hides_every_invoice(variant):
    mine = "me" if variant == "payer" else None
    assert invoice_visible(variant_link(variant, show_invoices=False), invoice(billed(mine))) is False


# (link variant, invoice billed to, may pay through a configured gateway?)
PAYING = [
    ("self", None, True),
    ("legal-rep", None, True),
    ("legal-rep-care-plan", None, True),
    ("payer", "me", True),
    ("payer", None, False),
    ("payer", "other", False),
    ("emergency-invoices", None, False),  # view and download only, never pay
    ("emergency-both-ticks", None, False),
    ("emergency", None, False),
]


@pytest.mark.parametrize(("variant", "billed_to", "may_pay"), PAYING)
def test_can_pay_outstanding_invoice(variant, billed_to, may_pay):
    assert can_pay(variant_link(variant), invoice(billed(billed_to)), "stripe") is may_pay


@pytest.mark.parametrize(("variant", "billed_to"), [(v, b) for v, b, ok in PAYING if ok])
def test_gateway_none_means_nobody_pays(variant, billed_to):
    assert can_pay(variant_link(variant), invoice(billed(billed_to)), "none") is False


@pytest.mark.parametrize(("variant", "billed_to"), [(v, b) for v, b, ok in PAYING if ok])
@pytest.mark.parametrize(
    "state",
    [
        {"status": "paid", "paid_cents": 10_000},
        {"status": "issued", "paid_cents": 10_000},
        {"status": "draft"},
        {"status": "void"},
    ],
    ids=["paid", "balance-zero", "draft", "void"],
)
def test_only_outstanding_invoices_can_be_paid(variant, billed_to, state):
    assert can_pay(variant_link(variant), invoice(billed(billed_to), **state), "stripe") is False


@pytest.mark.parametrize(("variant", "billed_to"), [(v, b) for v, b, ok in PAYING if ok])
@pytest.mark.parametrize("switch", ["show_payments", "show_invoices"])
def test_payments_switched_off_means_no_pay(variant, billed_to, switch):
    assert can_pay(variant_link(variant, **{switch: False}), invoice(billed(billed_to)), "stripe") is False


def test_policies_are_exposed_to_templates(app):
    """A hidden button and a refused URL share one rule: templates get this very module."""
    with app.test_request_context("/"):
        context = {}
        app.update_template_context(context)
        assert context["policies"] is policies


# --- the SQL form of the invoice rule agrees with the Python one --------------------------------


@pytest.mark.parametrize("holder", ["margaret", "susan", "robert", "paul"])
def test_invoice_criterion_matches_invoice_visible(app, make, world, holder):
    """Every invoice of every client × each kind of link: the SQL rule picks what the Python rule shows."""
    other_payer = make.user(world.a, "otherpayer", name="Other Payer")
    payer = world.robert
    for client in (world.client_a, world.client_a2):
        prefix = f"{client.id}-"
        make.invoice(client, prefix + "client")
        make.invoice(client, prefix + "client-draft", status="draft")
        make.invoice(client, prefix + "client-paid", status="paid", paid_cents=10_000)
        make.invoice(client, prefix + "payer", billed_to=payer)
        make.invoice(client, prefix + "payer-draft", billed_to=payer, status="draft")
        make.invoice(client, prefix + "other-payer", billed_to=other_payer)
    user = getattr(world, holder)
    with in_app(app) as session:
        links = session.scalars(select(ClientLink).where(ClientLink.user_id == user.id)).all()
        assert links
        every = session.scalars(select(Invoice)).all()
        for holder_link in links:
            expected = {i.number for i in every if invoice_visible(holder_link, i)}
            picked = set(session.scalars(select(Invoice.number).where(invoice_criterion(holder_link))))
            assert picked == expected, holder_link.relationship_kind


def test_the_sql_twin_of_link_allows_agrees_on_every_section(app, make):
    """`link_criterion(section)` (lists, the badge) and `link_allows` (one link) give one answer:
    every relationship, with each tick, with every switch on and each one off in turn."""
    agency = make.agency("twins", "twins.localhost")
    client = make.client(agency, "Twin Client")
    variants = [
        (kind, care_plan, invoices, off)
        for kind in ("self", "legal_representative", "emergency_contact", "payer")
        for care_plan in (False, True)
        for invoices in (False, True)
        for off in (None, *SWITCHES)
    ]
    with in_app(app) as session:
        links = {}
        for n, (kind, care_plan, invoices, off) in enumerate(variants):
            user = User(agency_id=agency.id, username=f"twin{n}", first_name="T", last_name=str(n))
            session.add(user)
            session.flush()
            row = ClientLink(
                agency_id=agency.id,
                user_id=user.id,
                client_id=client.id,
                relationship_kind=kind,
                may_view_care_plan=care_plan,
                may_view_invoices=invoices,
                **dict.fromkeys(SWITCHES, True) | ({off: False} if off else {}),
            )
            session.add(row)
            links[n] = row
        session.flush()
        for section in SECTIONS:
            in_sql = set(session.scalars(select(ClientLink.id).where(policies.link_criterion(section))))
            in_python = {row.id for row in links.values() if policies.link_allows(row, section)}
            assert in_sql == in_python, section
        session.rollback()
