"""The TRACKiT socket protocol as the provider's manual defines it, free of any I/O.

Shared by the ingest client and the simulator server; see
``../shared/trackit-socket-manual.md``.
"""
