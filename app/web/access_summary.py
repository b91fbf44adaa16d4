"""What a person will see of a client, in plain words, from the access policy itself.

The office's access grid shows these sentences under the switches, so "what did I just give
Susan?" is answered by the same rules the portal applies (`policies.link_allows` and friends),
not by a second description that could drift from them.
"""

from dataclasses import dataclass

from app.auth import policies
from app.i18n import _
from app.models.client import REL_PAYER


@dataclass
class AccessSummary:
    sees: list[str]
    does_not_see: list[str]


def _section_sentence(link, section: str, categories) -> str:
    payer = link.relationship_kind == REL_PAYER
    if section == policies.SCHEDULE:
        if policies.link_shows_visit_notes(link):
            return _("the visit schedule, with the caregivers' notes and the reasons a task was not done")
        return _("the visit schedule (times, caregiver, tasks), without the caregivers' notes")
    if section == policies.SCHEDULE_REQUESTS:
        return _("asking the office to add, move or cancel a visit")
    if section == policies.INVOICES:
        return _("the invoices billed to them") if payer else _("the client's invoices")
    if section == policies.PAYMENTS:
        return _("paying those invoices online")
    if section == policies.SIGNATURES:
        if policies.may_sign_visits(link):
            return _("the visit records, and signing them")
        return _("the visit records and their signatures (without signing)")
    if section == policies.MESSAGES:
        return _("messages with the office")
    if section == policies.DOCUMENTS:
        shown = [c.name for c in categories if policies.link_sees_category(link, c.id)]
        if not categories:
            return _("the client's documents")
        if not shown:
            return _("documents: no category is shown")
        return _("documents in: %(categories)s", categories=", ".join(shown))
    return _("the care plan")


_NOT_SEEN = {
    policies.SCHEDULE: lambda: _("the visit schedule"),
    policies.SCHEDULE_REQUESTS: lambda: _("schedule requests"),
    policies.INVOICES: lambda: _("invoices"),
    policies.PAYMENTS: lambda: _("paying invoices"),
    policies.SIGNATURES: lambda: _("visit records and signatures"),
    policies.MESSAGES: lambda: _("messages"),
    policies.DOCUMENTS: lambda: _("documents"),
    policies.CARE_PLAN: lambda: _("the care plan"),
}


def summarise(link, categories) -> AccessSummary:
    """`categories`: the agency's document categories, in their order."""
    sees, hidden = [], []
    for section in policies.SECTIONS:
        if policies.link_allows(link, section):
            sees.append(_section_sentence(link, section, categories))
        else:
            hidden.append(_NOT_SEEN[section]())
    return AccessSummary(sees, hidden)
