"""`python -m services.backtest`: serve backtest alone.

The same as `quantmesh up --service backtest`.
"""

from services.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main(["up", "--service", "backtest"]))
