"""The built-in GUI suite: synthetic desktops drawn with Pillow, scored from pixels."""
