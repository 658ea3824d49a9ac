"""The extractor's Autotask side: the request plan, the fetching, the merge into the previous frames.

    plan    every query of a run counted, and its requests estimated, before anything is fetched
    fetch   the queries run through the client (slices, ``ticketID in`` chunks), pages -> frames
    merge   new rows into the previous snapshot's frames; the new watermarks

The store is above this package: the previous snapshot's watermarks, row counts and frames are
passed in, and the frames to publish are handed back (``audit.app.extract`` stages and
publishes them).
"""
