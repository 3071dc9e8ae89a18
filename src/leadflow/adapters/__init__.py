"""Adapters: the embedded SQLite store and the CRM adapters, found through entry points.

Nothing here is imported by ``import leadflow``; the core never imports an adapter.
"""
