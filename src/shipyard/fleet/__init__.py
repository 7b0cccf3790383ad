"""The orchestrator: cycles, scheduling, planners, workers, the judge and wake-ups."""
