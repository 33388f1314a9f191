"""Topic names: a public interface, defined here and nowhere else."""

from typing import Final

from contracts.agencies import agencies
from contracts.contact import Rag
from contracts.signing import signers

CONTACTS_SUBMITTED: Final = "mash.contacts.submitted"
# Rejections no valid signature attributes to a sender: for the operator
# alone (an attributed rejection goes to its sender's own feedback topic).
CONTACTS_REJECTED: Final = "mash.contacts.rejected"
CASES_OPENED: Final = "mash.cases.opened"
FINDINGS: Final = "mash.findings"
DECISIONS: Final = "mash.decisions"
OUTCOMES_SOCIAL_CARE: Final = "mash.outcomes.social-care"
OUTCOMES_EARLY_HELP: Final = "mash.outcomes.early-help"
OUTCOMES_NFA: Final = "mash.outcomes.nfa"
DLQ: Final = "mash.dlq"
# A contact that joins a case already open (a re-contact, or a sibling in the
# same incident); the case's other events stay on their own topics.
CASES_CONTACT_ADDED: Final = "mash.cases.contact-added"
# Practitioners' and managers' commands to the decision service.
DECISION_COMMANDS: Final = "mash.commands.decision"
SLA_WARNINGS: Final = "mash.sla.warnings"
SLA_BREACHED: Final = "mash.sla.breached"
OUTCOME_ACKS: Final = "mash.outcomes.acks"
OUTCOME_ESCALATIONS: Final = "mash.outcomes.escalations"
# Every change to a case's decision: proposed, recommended, authorised or
# overridden, flagged for review, reopened, a command refused.
CASE_HISTORY: Final = "mash.cases.history"

OUTCOME_TOPICS: Final = (OUTCOMES_SOCIAL_CARE, OUTCOMES_EARLY_HELP, OUTCOMES_NFA)


def enquiries(agency: str) -> str:
    """Each agency reads only its own enquiries."""
    return f"mash.enquiries.{agency}"


def research_commands(agency: str) -> str:
    """An agency researcher's additions, read by that agency's research
    service alone (written by the desk alone)."""
    return f"mash.commands.research.{agency}"


def feedback(sender: str) -> str:
    """Everything a sender of contacts hears about its own contacts, and
    nothing about anyone else's: receipts, rejections and what the MASH
    decided. Read by that sender's principal alone (deploy/kafka/acls.sh)."""
    return f"mash.feedback.{sender}"


def senders() -> tuple[str, ...]:
    """Who sends contacts, each with a feedback topic: the agencies and the
    channels in contracts/signers.toml (configuration, not code)."""
    return tuple(signers())


def urgent(topic: str) -> str:
    """The RED lane beside a topic where work can queue.

    Kafka hands a consumer one partition's messages in order, so a RED
    contact published behind thousands of GREEN ones waits for all of them.
    Each lane has a consumer of its own in the service that reads it, so RED
    work is picked up next whatever waits on the main topic. Events of one
    case stay on one lane (its RAG at the time), and every consumer already
    takes a case's events in any order.
    """
    return f"{topic}.urgent"


def unlaned(topic: str) -> str:
    """The main topic of a RED lane (a topic that is no lane, itself)."""
    return topic.removesuffix(".urgent")


def lanes(topic: str) -> tuple[str, str]:
    """A topic and its RED lane: what a reader of every such event follows."""
    return topic, urgent(topic)


def lane(topic: str, rag: Rag) -> str:
    """Where an event about work of this RAG is published."""
    return urgent(topic) if rag is Rag.RED else topic


def laned() -> tuple[str, ...]:
    """Topics with a RED lane: a contact's way to its decision."""
    return (CONTACTS_SUBMITTED, CASES_OPENED, FINDINGS, *(enquiries(a) for a in agencies()))


def all_topics() -> tuple[str, ...]:
    """Every topic the platform uses, for creating them up front."""
    per_agency = tuple(enquiries(a) for a in agencies()) + \
        tuple(research_commands(a) for a in agencies())
    per_sender = tuple(feedback(s) for s in senders())
    return (
        CONTACTS_SUBMITTED,
        CONTACTS_REJECTED,
        CASES_OPENED,
        FINDINGS,
        DECISIONS,
        *OUTCOME_TOPICS,
        DLQ,
        CASES_CONTACT_ADDED,
        DECISION_COMMANDS,
        SLA_WARNINGS,
        SLA_BREACHED,
        OUTCOME_ACKS,
        OUTCOME_ESCALATIONS,
        CASE_HISTORY,
        *per_agency,
        *per_sender,
        *(urgent(t) for t in laned()),
    )
