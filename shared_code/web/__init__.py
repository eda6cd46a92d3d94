"""deskmail's web face: ticket pages for staff, admin pages, the JSON API, /health.

One ASGI application (`app.create_app`), served by uvicorn locally (`python -m
shared_code.web`) and by `AsgiFunctionApp` in Azure (function_app.py, through `lazy.py` so
that importing function_app loads no web framework). Routes only translate requests into the
same service calls the command line makes.
"""
