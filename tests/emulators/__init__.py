"""Loopback emulators of the CRMs leadflow's adapters talk to (test infrastructure, not shipped).

Each emulator is a real HTTPS server on 127.0.0.1 that the real client library talks to; nothing
in a client is patched. They keep records in memory, count the requests they serve and have
switches for injecting faults.
"""
