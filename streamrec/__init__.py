"""streamrec: a streaming online-learning recommendation engine.

One import name; its packages live in top-level folders of the repository:

- ``streamrec.contract`` (``contract/``): the event contract, messages, run configuration;
- ``streamrec.online`` (``online/``): learning and decisions, pure (no I/O);
- ``streamrec.state`` (``state/``): the RocksDB parameter store;
- ``streamrec.flows`` (``flows/``): the Bytewax dataflow wiring;
- ``streamrec.replay`` (``replay/``): offline evaluation through the same engine;
- ``streamrec.shell`` (``shell/``): the command line, embedded broker and demo.
"""

__version__ = "0.2.0"
