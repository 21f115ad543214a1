"""Storage (foundation): atomic files and folders, checked cache entries, run-file names.

Imports no layer, and nothing heavy: the compare command reads run folders through it
without loading torch.
"""
