"""Python packages: requirements, the target environment, import checks (no reporting)."""
