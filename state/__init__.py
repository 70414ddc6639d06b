"""RocksDB parameter store: layout, atomic saves, versions, epoch checkpoints.

Modules: ``layout`` (key layout), ``store`` (ParamStore), ``disk`` (state dir,
live-DB pointer, sizes), ``versions`` (snapshot/list/rollback), ``epochs``
(Bytewax recovery alignment), ``commands`` (``streamrec model ...``).
"""
