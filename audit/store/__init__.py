"""The local snapshot store: what one night's extraction leaves for the audit to read.

snapshot   parquet per entity + state.json, staged and published atomically via a CURRENT pointer
lock       the store's run lock, with stale-lock recovery
history    the runs recorded in the store (``ticket-audit history``)
"""
