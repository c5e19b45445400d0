"""Actions: the schema, the policy and the executor — the only way LOKI touches the desktop."""
