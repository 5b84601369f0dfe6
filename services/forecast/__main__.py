"""`python -m services.forecast`: serve forecast alone.

The same as `quantmesh up --service forecast`.
"""

from services.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main(["up", "--service", "forecast"]))
