"""Packaged prompt templates, one `{role}.md` per role (see `shipyard.agent.prompts`)."""
