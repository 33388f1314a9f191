"""Who may read and write what on Kafka, from what deploy/kafka/acls.sh grants.

acls.sh runs against a stand-in kafka-acls.sh that records its arguments; the
grants are read back as the broker would hold them (a prefixed grant covers
every topic whose name starts with it; All covers Read and Write). Senders are
the agencies and contracts/signers.toml, as intake knows them.
"""

import tomllib
from pathlib import Path

import pytest

from contracts import topics
from contracts.agencies import agencies
from contracts.signing import signers
from tests.unit.deploy.kafka_scripts import (
    OPERATOR,
    Grant,
    can,
    grants,
    run_script,
    shell_variables,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
ACL = dict[str, set[Grant]]


def senders() -> tuple[str, ...]:
    return tuple(signers())


def principals() -> list[str]:
    return ["intake", "decision", "notify", "desk", OPERATOR, *(f"research-{a}" for a in agencies()),
            *(f"agency-{s}" for s in senders())]


@pytest.fixture(scope="module")
def acl(tmp_path_factory: pytest.TempPathFactory) -> ACL:
    return grants(run_script(tmp_path_factory.mktemp("acls"), "acls.sh", principals()))


def sender_principals(acl: ACL) -> set[str]:
    found = {p for p in acl if p.startswith("agency-")}
    assert found == {f"agency-{s}" for s in senders()}
    return found


def test_principals_sh_knows_the_same_senders_as_the_contracts() -> None:
    declared = tomllib.loads((REPO_ROOT / "contracts" / "signers.toml").read_text())
    shell = shell_variables("AGENCIES", "CHANNELS")
    assert shell["CHANNELS"].split() == [s["name"] for s in declared["signer"]], \
        "deploy/kafka/principals.sh CHANNELS must list contracts/signers.toml's signers"
    agencies_toml = tomllib.loads((REPO_ROOT / "contracts" / "agencies.toml").read_text())
    assert shell["AGENCIES"].split() == [a["name"] for a in agencies_toml["agency"]]


def test_each_senders_feedback_is_read_by_that_sender_alone(acl: ACL) -> None:
    for sender in senders():
        topic = topics.feedback(sender)
        readers = {p for p in acl if p != OPERATOR and can(acl, p, "Read", topic)}
        assert readers == {f"agency-{sender}"}, topic


def test_nobody_but_the_operator_reads_feedback_by_prefix(acl: ACL) -> None:
    namespace = "mash.feedback."
    for principal, held in acl.items():
        if principal == OPERATOR:
            continue
        for op, kind, name in held:
            if kind == "topic" and op in ("Read", "All") and name.endswith("*"):
                prefix = name[:-1]
                assert not namespace.startswith(prefix), (principal, name)
                assert not prefix.startswith(namespace), (principal, name)


def test_intake_and_notify_write_every_senders_feedback(acl: ACL) -> None:
    for sender in senders():
        for writer in ("intake", "notify"):
            assert can(acl, writer, "Write", topics.feedback(sender)), (writer, sender)


def test_unattributed_rejections_are_for_the_operator_only(acl: ACL) -> None:
    rejected = topics.CONTACTS_REJECTED
    assert {p for p in acl if can(acl, p, "Read", rejected)} == {OPERATOR}
    assert can(acl, "intake", "Write", rejected)
    for principal in sender_principals(acl):
        assert not can(acl, principal, "Read", rejected), principal


def test_an_upgrade_takes_back_the_senders_read_of_rejections(tmp_path: Path) -> None:
    """Before the feedback topics every sender read mash.contacts.rejected."""
    earlier = [["kafka-acls.sh", "--add", "--allow-principal", f"User:agency-{s}",
                "--operation", "Read", "--topic", topics.CONTACTS_REJECTED] for s in senders()]
    after = grants(earlier + run_script(tmp_path, "acls.sh", principals()))
    for sender in senders():
        assert not can(after, f"agency-{sender}", "Read", topics.CONTACTS_REJECTED), sender


def test_only_research_services_write_findings(acl: ACL) -> None:
    research = {f"research-{a}" for a in agencies()}
    for topic in topics.lanes(topics.FINDINGS):
        writers = {p for p in acl if p != OPERATOR and can(acl, p, "Write", topic)}
        assert writers == research, topic


def internal_topics() -> list[str]:
    """Every topic where cases, enquiries, findings and decisions travel, and a
    few names not yet made, to catch a prefixed grant."""
    names = [*topics.all_topics(), topics.enquiries("an-agency-to-come"),
             topics.urgent(topics.enquiries("an-agency-to-come")), "mash.cases.to-come",
             "mash.findings.to-come"]
    internal = [t for t in names
                if t.startswith(("mash.enquiries.", "mash.findings", "mash.cases."))
                or t in (topics.DECISIONS, topics.DLQ)]
    assert {topics.DECISIONS, topics.DLQ, topics.FINDINGS, topics.CASES_OPENED} <= set(internal)
    return internal


def test_no_sender_reads_cases_enquiries_findings_decisions_or_dead_letters(acl: ACL) -> None:
    for principal in sender_principals(acl):
        for topic in internal_topics():
            assert not can(acl, principal, "Read", topic), (principal, topic)


def test_a_sender_may_submit_and_read_its_own_feedback_and_nothing_else(acl: ACL) -> None:
    for sender in senders():
        assert acl[f"agency-{sender}"] == {
            ("Write", "topic", topics.CONTACTS_SUBMITTED),
            ("Write", "topic", topics.urgent(topics.CONTACTS_SUBMITTED)),
            ("Read", "topic", topics.feedback(sender)),
            ("Read", "group", f"agency-{sender}*"),
        }, sender
