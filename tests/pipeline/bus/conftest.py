"""Fixtures for the bus tests: a private nats-server, bus settings unique per test."""

from tests.nats_server import bus, nats_server

__all__ = ["bus", "nats_server"]
