"""Folder of the ``squad`` evaluate module; a package only so that it ships in the wheel."""
