"""The durable board."""
