"""The job's steps put together: what ``run``, ``doctor`` and the other commands do.

    pipeline   one night: extract → evaluate → score → render → gate (``run``, ``demo``, ``report``)
    extract    the incremental extraction into the store (plan, fetch, merge, publish)
    doctor     read-only checks of credentials, API, budget, mapping, store, rules and PDF engine

The Autotask client comes from the caller (the CLI), so this package never imports the sandbox.
"""
