"""`python -m services.marketdata`: serve marketdata alone.

The same as `quantmesh up --service marketdata`.
"""

from services.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main(["up", "--service", "marketdata"]))
