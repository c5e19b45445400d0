"""Tier-0 profiles: human-edited phrase files compiled to regular expressions."""
