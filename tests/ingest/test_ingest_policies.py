"""Backoff, credentials, instance lock and outbox claims: the small policies of ingest."""

from __future__ import annotations

import os
import random

import pytest

from ingest.backoff import Backoff
from ingest.credentials import Credentials, load_credentials
from ingest.errors import CredentialsError, JournalLockedError
from ingest.outbox import Outbox, queue_driver_message
from ingest.state import InstanceState, check_instance
from lake.layout import DataLayout


def test_backoff_grows_exponentially_with_jitter_and_is_capped():
    backoff = Backoff(initial_s=1, factor=2, cap_s=10, jitter=0.5, rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(8)]
    for attempt, delay in enumerate(delays):
        base = min(10, 2**attempt)
        assert base * 0.5 <= delay <= base
    assert max(delays) <= 10
    backoff.reset()
    assert backoff.next_delay() <= 1


def test_credentials_come_from_the_environment_and_never_show():
    creds = load_credentials({"TRACKIT_SESSID": "S" * 26, "TRACKIT_AUTHORIZATION": "A1"})
    assert "S" * 26 not in repr(creds) and "A1" not in repr(creds)
    assert creds.redact(f"closed: {'S' * 26}") == "closed: ***"


def test_missing_credentials_name_the_variables():
    with pytest.raises(CredentialsError, match="TRACKIT_SESSID and TRACKIT_AUTHORIZATION"):
        load_credentials({})


def test_config_file_readable_by_others_is_refused(tmp_path):
    config = tmp_path / "trackit.toml"
    config.write_text('sessid = "S1"\nauthorization = "A1"\n')
    config.chmod(0o644)
    with pytest.raises(CredentialsError, match="chmod 600") as info:
        load_credentials({}, config)
    assert "S1" not in str(info.value)
    config.chmod(0o600)
    assert load_credentials({"TRACKIT_SESSID": "ENV"}, config) == Credentials("ENV", "A1")


def test_invalid_config_file_error_does_not_quote_it(tmp_path):
    config = tmp_path / "trackit.toml"
    config.write_text('sessid = "SECRET\n')
    config.chmod(0o600)
    with pytest.raises(CredentialsError) as info:
        load_credentials({}, config)
    assert "SECRET" not in str(info.value)


def test_two_processes_cannot_share_an_instance(tmp_path):
    state = InstanceState(DataLayout(tmp_path), "u1")
    fd = state.acquire_lock()
    try:
        with pytest.raises(JournalLockedError, match="--instance"):
            state.acquire_lock()
    finally:
        os.close(fd)
    os.close(state.acquire_lock())


def test_instance_names_are_file_name_safe():
    assert check_instance("fleet-a.1") == "fleet-a.1"
    with pytest.raises(Exception, match="invalid instance"):
        check_instance("../x")


def test_only_one_ingest_claims_a_command(tmp_path):
    layout = DataLayout(tmp_path)
    queue_driver_message(layout, 1, "hi")
    outbox = Outbox(layout)
    (pending,) = outbox.pending()
    assert outbox.claim(pending, "a") is not None
    assert outbox.claim(pending, "b") is None
    assert [p.name.split("--")[0] for p in outbox.inflight("a")] == ["a"]
