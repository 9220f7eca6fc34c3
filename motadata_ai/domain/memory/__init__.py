"""Agent memory: short-term buffer, long-term, episodic and semantic memories, bounded and aged."""

from motadata_ai.domain.memory.manager import Clock, Embedder, MemoryManager, ShortTermBuffer

__all__ = ["Clock", "Embedder", "MemoryManager", "ShortTermBuffer"]
