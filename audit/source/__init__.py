"""Autotask as a data source: the REST client, the entities read and their fields, records → frames.

    autotask   the REST client (zone discovery, POST queries and paging, limits, retries)
    schema     every entity the audit reads: its fields, the watermark and the frame columns
    records    API records (JSON) → typed pandas frames, one place for the conversion

Nothing here writes to disk: the extraction step (``audit.app.extract``) plans the requests, calls
the client and hands the frames to the store.
"""
