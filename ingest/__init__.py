"""The ingest stage: TRACKiT's WebSocket → write-ahead journal → raw Parquet lake.

Pure parts (no I/O beyond plain files): ``journal`` (record format, writer, reader),
``segment`` (journaled frames as Arrow columns), ``rawfiles`` (raw-lake file names and
publishing), ``backoff``, ``frames`` (frame classification), ``credentials``, ``outbox``
(the command files ``trackit send-message`` / ``trackit getio`` drop), ``status``.
Thin asyncio parts: ``auth`` (HTTP token check), ``connection`` (the websockets client
that journals frames as they are parsed) and ``service`` (connect, reconnect, roll, outbox
poller, status line). See ``docs/ingest.md``.

Public entry points: :func:`ingest.service.run` / :func:`ingest.service.serve` with an
:class:`ingest.config.IngestConfig`, :func:`ingest.recovery.recover_journal`, and the
outbox functions :func:`ingest.outbox.queue_driver_message` /
:func:`ingest.outbox.queue_getio`.
"""
