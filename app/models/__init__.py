"""All models, imported here so Alembic and the app see one complete metadata."""

from app.models.access import ConsentRecord, Invitation
from app.models.agency import Agency
from app.models.audit import AuditEvent
from app.models.base import TenantScoped, utcnow
from app.models.caregiver import Caregiver, ClientCaregiver, Task
from app.models.careplan import CarePlan, CarePlanTask, CarePlanVersion
from app.models.client import Client, ClientLink
from app.models.document import Document, DocumentCategory
from app.models.feed import CalendarFeedToken
from app.models.invoice import Invoice, InvoiceLine, Payment
from app.models.lead import ClientLead, LeadAttachment, LeadNote
from app.models.message import Conversation, ConversationRead, Message
from app.models.outbox import OutboxMail
from app.models.storage import StoredFile
from app.models.user import PasswordResetRequest, UnknownNameAttempts, User
from app.models.visit import ScheduleRequest, Signature, Visit, VisitSeries, VisitTask

__all__ = [
    "Agency",
    "AuditEvent",
    "CalendarFeedToken",
    "CarePlan",
    "CarePlanTask",
    "CarePlanVersion",
    "Caregiver",
    "Client",
    "ClientCaregiver",
    "ClientLead",
    "ClientLink",
    "ConsentRecord",
    "Conversation",
    "ConversationRead",
    "Document",
    "DocumentCategory",
    "Invoice",
    "Invitation",
    "InvoiceLine",
    "LeadAttachment",
    "LeadNote",
    "Message",
    "OutboxMail",
    "PasswordResetRequest",
    "Payment",
    "ScheduleRequest",
    "Signature",
    "StoredFile",
    "Task",
    "TenantScoped",
    "UnknownNameAttempts",
    "User",
    "Visit",
    "VisitSeries",
    "VisitTask",
    "utcnow",
]
