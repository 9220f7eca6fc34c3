"""LLMOps use-cases over the gateway and its usage ledger: budgets and their alerts, A/B experiments."""
