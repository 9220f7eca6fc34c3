"""Pure logic of the SDK: policies, retrieval, agents, memory, model lifecycle, routing."""
