"""Plugins: the hook specifications, the manager that loads entry points, and the built-in plugin.

Plugin authors import ``hookimpl`` from ``motadata_ai`` (or from here), never from pluggy.
"""

from motadata_ai.plugins.hookspecs import hookimpl
from motadata_ai.plugins.manager import PluginManager

__all__ = ["PluginManager", "hookimpl"]
