"""Lightning callbacks the entry points attach: resumable checkpoints, evaluation, throughput.

Built by ``cli/``; they write through ``storage/`` and hand results to receivers (the
``tracking/`` writers) given at construction, so they import no logger themselves.
"""
