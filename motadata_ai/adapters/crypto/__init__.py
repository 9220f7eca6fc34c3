"""Encryption adapters on the ``cryptography`` package."""
