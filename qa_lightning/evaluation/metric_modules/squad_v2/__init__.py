"""Folder of the ``squad_v2`` evaluate module; a package only so that it ships in the wheel."""
