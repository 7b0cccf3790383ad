"""The doctor's warning: a root orchestrator without user namespaces has no sandbox to offer."""

from __future__ import annotations

from shipyard.agent.userns import host_userns_problem, userns_problem


def test_no_warning_for_an_ordinary_user_whatever_the_kernel_says() -> None:
    assert userns_problem(1000, 0, "bubblewrap cannot create a sandbox") is None


def test_root_with_user_namespaces_off_is_warned_with_the_fix() -> None:
    text = userns_problem(0, 0, "")
    assert text is not None and "max_user_namespaces = 0" in text and "sysctl" in text


def test_root_whose_sandbox_cannot_start_is_warned_with_the_reason() -> None:
    text = userns_problem(0, 15000, "bubblewrap cannot create a sandbox on this machine (EPERM)")
    assert text is not None and "(EPERM)" in text and "as root on the host" in text


def test_root_with_a_working_sandbox_is_fine() -> None:
    assert userns_problem(0, 15000, "") is None
    assert userns_problem(0, None, "") is None


def test_this_machine_runs_the_sandbox() -> None:
    # The suite needs bubblewrap working here (the escape tests use it): so no warning, root or not.
    assert host_userns_problem() is None
