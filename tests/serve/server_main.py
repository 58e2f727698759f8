"""Run a gateway for tests: ``python server_main.py WORKSPACE PORT OVERRIDES_JSON``.

The settings the core ``serve:`` schema does not declare yet are passed as overrides,
exactly as ``create_app(..., overrides=...)`` takes them.
"""

from __future__ import annotations

import json
import sys

import uvicorn

from mlward.serve.app import create_app

if __name__ == "__main__":
    workspace, port, overrides = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
    app = create_app(workspace, overrides=overrides)
    # As mlward.serve.server.run: uvicorn's proxy headers off (it trusts 127.0.0.1 by default).
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, proxy_headers=False)
