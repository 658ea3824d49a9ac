"""Autotask as a data source: the REST client, the entities read and their fields, records → frames.

    autotask   the REST client (zone discovery, POST queries and paging, limits, retries)
    schema     every entity the audit reads: its fields, the watermark and the frame columns
    records    API records (JSON) → typed pandas frames, one place for the conversion
    extract    the extractor's plan, fetching and merge into the previous snapshot's frames

Nothing here writes to disk: the extraction step (``audit.app.extract``) reads the previous
snapshot, hands its state and frames to ``extract``, and stages and publishes what comes back.
"""
