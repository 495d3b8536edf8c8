"""Widgets: render controller state and status samples, forward clicks. Nothing here mounts."""
