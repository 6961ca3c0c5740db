"""Persistence through the eventsourcing library: streams, the msgspec mapper and the store application."""
