"""Contract suites, one per port: subclass the base class, implement its factory hook, and every
adapter (in-memory, real, third-party) is held to the same behaviour."""
