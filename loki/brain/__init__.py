"""The brain: the orchestrator and its three tiers (local rules, text LLM, screen + vision)."""
