"""The proof rules on their own: the domains a setting names, and the hourly count per account."""

import pytest

from mailer.issues.service import IssueError
from mailer.kv import MemoryStore
from mailer.mail.proof_rules import take_quota


def test_the_from_domain_counts_only_while_no_domain_is_named(settings):
    assert settings.proof_domain_set() == {"news.example.com"}
    named = settings.model_copy(update={"proof_domains": " @Partner.example, ,copy.example "})
    assert named.proof_domain_set() == {"partner.example", "copy.example"}


def test_the_hourly_count_is_per_account_and_per_clock_hour(settings):
    capped = settings.model_copy(update={"proofs_per_hour": 3})
    store = MemoryStore()
    hour = 3600 * 500_000
    take_quota(store, 1, 3, capped, hour + 10)
    with pytest.raises(IssueError) as refused:
        take_quota(store, 1, 1, capped, hour + 3000)
    assert refused.value.code == "proof_quota" and refused.value.params["minutes"] == 10
    take_quota(store, 2, 3, capped, hour + 3000)  # another account
    take_quota(store, 1, 3, capped, hour + 3600)  # the next hour
