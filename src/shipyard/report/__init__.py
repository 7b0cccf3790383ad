"""Views derived from the event log (agents, health, problems) and the run report with its plots."""
