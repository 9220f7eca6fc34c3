"""Session-scoped pytest fixtures that start real servers on free loopback ports (or use URLs
from ``MOTADATA_TEST_*`` environment variables). A server that cannot start fails the run."""
