"""The embedded sandbox: a synthetic tenant with known planted violations, served by an API emulator.

    generator   the seeded tenant (tenant-specific picklist numbers, planted violations, ground truth)
    oracle      an independent per-ticket oracle of the planted violations
    emulator    the Autotask REST API emulator (in-process transport or loopback HTTP)
    client      an ``AutotaskClient`` wired to the emulator (``demo``, ``--sandbox``)
    synthetic   synthetic scorecards for rendering benchmarks and tests

Only the CLI and the tests import this package: the product's layers below never depend on it.
"""
