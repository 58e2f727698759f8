"""Who may do what: RBAC, the one ``authorize()`` (check + denial audit), API tokens.

Every door (Python API, CLI, HTTP gateway, web UI) authorizes through
``mlward.access.authorize.authorize``; the domain services call it themselves, so no door
can skip the check or its audit.
"""
