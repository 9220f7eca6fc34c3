"""PyTorch trainer: an MLP for tabular and text features, state dicts in safetensors (no pickle)."""

from motadata_ai.adapters.torch.encoding import TabularEncoder
from motadata_ai.adapters.torch.trainer import GpuUnavailableWarning, TorchModel, TorchTrainer, select_device

__all__ = ["GpuUnavailableWarning", "TabularEncoder", "TorchModel", "TorchTrainer", "select_device"]
