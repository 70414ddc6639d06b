"""The event contract: click events and item metadata in, recommendations and dead
letters out (``events``, ``messages``, JSON Schemas), and the run configuration
(``config``). Imports nothing else of streamrec; every other package may import it."""
