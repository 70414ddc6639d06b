"""RocksDB parameter store: layout, atomic saves, versions, epoch checkpoints.

Modules: ``layout`` (key layout), ``store`` (ParamStore), ``disk`` (state dir,
live-DB pointer, sizes), ``versions`` and ``shard_versions`` (snapshot/list/rollback),
``epochs`` (Bytewax recovery alignment: checkpoints, redo files, restore),
``epoch_commit`` (commits off the event path), ``capture`` and ``chunk_diff`` (the changed
chunks of an epoch), ``redo`` (redo files), ``commit_worker`` (the process that writes
RocksDB), ``settings``/``settings_guard``/``run_topology`` (what a state was started with).
"""
