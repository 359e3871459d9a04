"""Widgets of the synthetic GUI suite (each draws itself with a Canvas and a Style)."""
