"""The local snapshot store: what one night's extraction leaves for the audit to read.

snapshot   the published snapshot: parquet per entity, read, checked and healed
staging    a run being written, published atomically via a CURRENT pointer
state      state.json: watermarks, coverage, zone, rule-set version, the run log
files      the store's file names and its durable (fsynced) writes
lock       the store's run lock, with stale-lock recovery
history    the runs recorded in the store (``ticket-audit history``)
"""
