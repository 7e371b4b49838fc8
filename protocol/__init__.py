"""The TRACKiT socket protocol as the provider's manual defines it, free of any I/O.

Shared by the ingest client and the simulator server; what it implements is described in
``docs/protocol.md``.
"""
