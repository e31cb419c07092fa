"""Clients of other services, shared by every request of a worker. No Flask here."""
