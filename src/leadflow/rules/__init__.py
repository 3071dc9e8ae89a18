"""Rules as data: scorecards (the shared definition of a good lead) and SLA policies.

Each rule module holds the rules' data classes, their loading from TOML and plain dicts, and their
pure evaluation functions; nothing here reads a clock or does I/O beyond reading a file it is given.
"""

__all__: list[str] = []
