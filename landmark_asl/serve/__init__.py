"""The web page of ``landmark-asl serve``: its protocol (:mod:`landmark_asl.serve.protocol`), its settings (:mod:`landmark_asl.serve.settings`), one connection (:mod:`landmark_asl.serve.session`), the ASGI app (:mod:`landmark_asl.serve.app`) and the static page.

Nothing is imported here: the app needs the ``serve`` extra (starlette, uvicorn), and the static
files must be reachable (``importlib.resources.files("landmark_asl.serve") / "static"``) without it.
"""
