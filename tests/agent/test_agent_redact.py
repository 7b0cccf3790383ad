"""Redaction: secret values from the environment and key-shaped strings are masked, idempotently, even
when output truncation cuts a secret in two."""

from __future__ import annotations

import pytest

from shipyard.redact import MASK, Redactor, is_secret_name, redact_data, secret_values

ENV = {
    "OPENAI_API_KEY": "sk-proj-abcdefghijklmnop1234",
    "DB_PASSWORD": "correct-horse-battery",
    "MY_LLM": "plain-looking-value",
    "SSH_AUTH_SOCK": "/run/user/1000/ssh-agent.sock",
    "SHORT_TOKEN": "abc",
    "PATH": "/usr/bin:/bin",
}


def test_secret_values_come_from_secret_names_and_named_extras() -> None:
    assert secret_values(ENV) == ("sk-proj-abcdefghijklmnop1234", "correct-horse-battery")
    assert "plain-looking-value" in secret_values(ENV, names=["MY_LLM"])
    assert is_secret_name("GITHUB_TOKEN") and is_secret_name("aws_secret_access_key")
    assert not is_secret_name("SSH_AUTH_SOCK") and not is_secret_name("PATH")


def test_known_values_are_masked_longest_first_and_idempotently() -> None:
    redact = Redactor(["correct-horse-battery", "correct-horse"])
    text = "pw=correct-horse-battery and correct-horse"
    assert redact(text) == f"pw={MASK} and {MASK}"
    assert redact(redact(text)) == redact(text)
    assert Redactor(["short"])("short") == "short"  # too short to be told from ordinary words


@pytest.mark.parametrize(
    "secret",
    [
        "sk-ant-api03-" + "a1B2" * 10,
        "sk-proj-" + "Z9y8" * 8,
        "ghp_" + "a" * 36,
        "github_pat_" + "A1" * 20,
        "glpat-" + "x" * 20,
        "xoxb-1234567890-abcdef",
        "AKIAIOSFODNN7EXAMPLE",
        "AIza" + "b" * 35,
        "hf_" + "C" * 34,
        "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ],
)
def test_key_shaped_strings_are_masked(secret: str) -> None:
    assert Redactor(())(f"key: {secret} end") == f"key: {MASK} end"


def test_private_keys_urls_and_bearer_tokens_are_masked() -> None:
    redact = Redactor(())
    pem = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----"
    assert redact(f"a\n{pem}\nb") == f"a\n{MASK}\nb"
    assert redact("-----BEGIN RSA PRIVATE KEY-----\nMIIE cut") == MASK
    assert redact("https://bob:hunter22@example.com/repo.git") == f"https://bob:{MASK}@example.com/repo.git"
    assert redact("Authorization: Bearer abcdefghijklmnopqrstuvwxyz012") == f"Authorization: Bearer {MASK}"
    ordinary = "task-runner-implementation done; see https://example.com/a:b and def token(): pass"
    assert redact(ordinary) == ordinary


def test_a_cut_secret_is_masked_on_both_sides() -> None:
    redact = Redactor(["0123456789abcdef"])
    assert redact.cut("head 01234", "cdef tail") == (f"head {MASK}", f"{MASK} tail")
    assert redact.cut("head 012", "ef tail") == ("head 012", "ef tail")  # too little to tell


def test_structured_data_is_redacted_at_any_depth() -> None:
    redact = Redactor(["correct-horse-battery"])
    data = {"args": {"command": "echo correct-horse-battery"}, "out": ["correct-horse-battery", 3], "n": None}
    assert redact_data(data, redact) == {"args": {"command": f"echo {MASK}"}, "out": [MASK, 3], "n": None}


def test_the_default_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANTED_SECRET", "planted-secret-value-42")
    assert Redactor()("x planted-secret-value-42") == f"x {MASK}"
