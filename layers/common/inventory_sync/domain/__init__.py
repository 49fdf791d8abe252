"""Domain rules: pure, unit-testable without AWS or a database."""
