"""The web page of ``landmark-asl serve``: an ASGI app, its WebSocket protocol and the static page."""

from landmark_asl.serve.app import ServeSettings, create_app, run_app

__all__ = ["ServeSettings", "create_app", "run_app"]
